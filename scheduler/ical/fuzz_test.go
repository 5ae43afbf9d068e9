package ical_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"sanji/scheduler/ical"
	"sanji/scheduler/ical/icaltest"
)

// plain is what a TEXT value reads back as: invalid UTF-8 replaced, every line break one "\n",
// other control characters gone (Escape's contract).
func plain(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || (r >= 0x20 && r != 0x7f) {
			return r
		}
		return -1
	}, s)
}

// FuzzCalendar encodes a calendar of one event whose texts, zone and times come from the input
// (the feed's name and the sessions' titles, places and notes are typed by staff) and reads it
// back with an independent parser. Invariants: every physical line is CRLF-ended, at most 75
// octets and valid UTF-8; the structure is sound; each TEXT value reads back as Escape promises;
// start, end and sequence come back unchanged.
func FuzzCalendar(f *testing.F) {
	f.Add("上城区接访大厅", "市长接访（张三）", "主会场、清波街道接访室", "接访领导：市长 张三\n分管领域：住建", "session-1@sanji", "Asia/Shanghai", int32(8*3600), int64(1772413200), int32(3600), int32(3))
	f.Add("a;b,c\\d", "line\r\nbreak\rcr", "\x00\x01\x7f", strings.Repeat("长", 60), "x", "Etc/UTC", int32(0), int64(0), int32(0), int32(0))
	f.Add("\xff\xfe", "tab\there", "", "", "u", "Odd;Zone:\"x\"", int32(-5*3600-1800), int64(-1), int32(-60), int32(-1))
	f.Fuzz(func(t *testing.T, name, summary, location, desc, uid, zone string, offset int32, start int64, length, seq int32) {
		if zone == "" {
			zone = "UTC"
		}
		// A zone is a configured constant within ±18 h; times stay within years a calendar shows.
		z := &ical.Zone{ID: zone, Name: "Z", Offset: int(offset) % (18 * 3600)}
		st := time.Unix(start%(1<<35), 0).UTC()
		en := st.Add(time.Duration(length) * time.Second)
		cal := ical.Calendar{ProdID: "-//Sanji//Fuzz//ZH", Name: name, Refresh: time.Hour, Zone: z,
			Events: []ical.Event{{UID: uid, Stamp: st, Start: st, End: en, Sequence: int(seq), Status: ical.StatusConfirmed,
				Summary: summary, Location: location, Description: desc}}}
		if st.Year() < 1 || st.Year() > 9999 || en.Year() < 1 || en.Year() > 9999 {
			return // outside what the basic format's four-digit year writes
		}
		out := cal.Encode()
		got := icaltest.Parse(t, out)
		if n := icaltest.Text(t, got.Component, "X-WR-CALNAME"); n != plain(name) {
			t.Fatalf("name %q read back as %q", plain(name), n)
		}
		evs := got.Events()
		if len(evs) != 1 {
			t.Fatalf("%d events", len(evs))
		}
		e := evs[0].Component
		for prop, want := range map[string]string{"SUMMARY": summary, "LOCATION": location, "DESCRIPTION": desc, "UID": uid} {
			if g := icaltest.Text(t, e, prop); g != plain(want) {
				t.Fatalf("%s %q read back as %q", prop, plain(want), g)
			}
		}
		if s := e.Props.Get("SEQUENCE"); s == nil || s.Value != strconv.Itoa(int(seq)) {
			t.Fatalf("SEQUENCE %v, want %d", s, seq)
		}
		for prop, want := range map[string]time.Time{"DTSTART": st, "DTEND": en} {
			p := e.Props.Get(prop)
			if p == nil {
				t.Fatalf("no %s", prop)
			}
			loc := time.FixedZone(z.ID, z.Offset)
			g, err := time.ParseInLocation("20060102T150405", p.Value, loc)
			if err != nil || !g.Equal(want) {
				t.Fatalf("%s %q: %v, want %v", prop, p.Value, err, want)
			}
		}
	})
}
