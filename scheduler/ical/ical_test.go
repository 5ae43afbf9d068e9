package ical_test

import (
	"bytes"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the parser looks the TZID up; the test must not depend on the host's zoneinfo

	"sanji/scheduler/ical"
	"sanji/scheduler/ical/icaltest"
)

var shanghai = ical.Zone{ID: "Asia/Shanghai", Name: "CST", Offset: 8 * 3600}

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{`a\b`, `a\\b`},
		{"a;b,c", `a\;b\,c`},
		{"一\r\n二\n三\r四", `一\n二\n三\n四`},
		{"tab\there", "tab\there"},
		{"bell\x07 del\x7f nul\x00", "bell del nul"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{"逗号，分号；", "逗号，分号；"}, // full-width punctuation needs no escape
	} {
		if got := ical.Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestFolding puts values of every UTF-8 width at every offset against the 75-octet limit: the
// strict reader fails on a line too long or a character split, and the parser must give back
// exactly what went in.
func TestFolding(t *testing.T) {
	at := time.Date(2026, 11, 5, 1, 0, 0, 0, time.UTC)
	var events []ical.Event
	for pad := 0; pad < 8; pad++ {
		for _, unit := range []string{"a", "é", "接", "😀"} {
			s := strings.Repeat("x", pad) + strings.Repeat(unit, 60)
			events = append(events, ical.Event{UID: s[:pad] + unit, Stamp: at, Start: at, End: at.Add(time.Hour), Summary: s,
				Description: "第一行\n" + s + "，;\\", Location: s})
		}
	}
	b := ical.Calendar{ProdID: "-//Sanji//Test//ZH", Name: "测试日历", Events: events}.Encode()
	cal := icaltest.Parse(t, b)
	got := cal.Events()
	if len(got) != len(events) {
		t.Fatalf("%d events parsed, %d written", len(got), len(events))
	}
	for i, e := range got {
		if s := icaltest.Text(t, e.Component, "SUMMARY"); s != events[i].Summary {
			t.Errorf("event %d: summary %q, want %q", i, s, events[i].Summary)
		}
		if s := icaltest.Text(t, e.Component, "DESCRIPTION"); s != events[i].Description {
			t.Errorf("event %d: description %q, want %q", i, s, events[i].Description)
		}
	}
}

// TestLineLimit: a line of exactly 75 octets stays whole; one more octet folds.
func TestLineLimit(t *testing.T) {
	at := time.Date(2026, 11, 5, 1, 0, 0, 0, time.UTC)
	for _, n := range []int{75, 76} {
		summary := strings.Repeat("s", n-len("SUMMARY:"))
		b := ical.Calendar{ProdID: "-//Sanji//Test//ZH", Events: []ical.Event{{UID: "u", Stamp: at, Start: at, End: at, Summary: summary}}}.Encode()
		folded := bytes.Contains(b, []byte("\r\n s"))
		if folded != (n > 75) {
			t.Errorf("a line of %d octets folded=%v", n, folded)
		}
		icaltest.Parse(t, b)
	}
}

func TestEventFields(t *testing.T) {
	sh := time.FixedZone("CST", 8*3600)
	start := time.Date(2026, 11, 5, 9, 30, 0, 0, sh)
	e := ical.Event{UID: "session-7@sanji.example", Stamp: start.Add(-time.Hour), Created: start.Add(-48 * time.Hour),
		Modified: start.Add(-time.Hour), Start: start, End: start.Add(2 * time.Hour), Sequence: 3, Status: ical.StatusCancelled,
		Summary: "副市长张三视频接访", Location: "市领导接访室, 上城区接访大厅"}
	b := ical.Calendar{ProdID: "-//Sanji//Test//ZH", Name: "张三", Zone: &shanghai, Refresh: time.Hour,
		Events: []ical.Event{e}}.Encode()
	cal := icaltest.Parse(t, b)
	if v := cal.Props.Get("REFRESH-INTERVAL"); v == nil || v.Value != "PT60M" {
		t.Errorf("refresh interval: %+v", v)
	}
	ev := cal.Events()[0]
	st, err := ev.DateTimeStart(time.UTC)
	if err != nil || !st.Equal(start) {
		t.Errorf("DTSTART %v %v, want %v", st, err, start)
	}
	end, err := ev.DateTimeEnd(time.UTC)
	if err != nil || !end.Equal(e.End) {
		t.Errorf("DTEND %v %v", end, err)
	}
	if !bytes.Contains(b, []byte("\r\nDTSTART;TZID=Asia/Shanghai:20261105T093000\r\n")) {
		t.Errorf("DTSTART is not in Beijing time with its zone:\n%s", b)
	}
	tz := cal.Children[0]
	if tz.Name != "VTIMEZONE" || tz.Props.Get("TZID").Value != "Asia/Shanghai" || len(tz.Children) != 1 ||
		tz.Children[0].Props.Get("TZOFFSETTO").Value != "+0800" || tz.Children[0].Props.Get("TZOFFSETFROM").Value != "+0800" {
		t.Errorf("VTIMEZONE: %+v", tz)
	}
	for name, want := range map[string]string{"UID": e.UID, "SEQUENCE": "3", "STATUS": "CANCELLED", "DTSTAMP": "20261105T003000Z",
		"CREATED": "20261103T013000Z", "LAST-MODIFIED": "20261105T003000Z"} {
		if p := ev.Props.Get(name); p == nil || p.Value != want {
			t.Errorf("%s = %+v, want %s", name, p, want)
		}
	}
	if loc := icaltest.Text(t, ev.Component, "LOCATION"); loc != e.Location {
		t.Errorf("LOCATION %q", loc)
	}
	if !bytes.Contains(b, []byte(`LOCATION:市领导接访室\, 上城区接访大厅`)) {
		t.Errorf("the comma in LOCATION is not escaped:\n%s", b)
	}
}

// TestEmptyCalendar: with its zone, a calendar without events is still a valid iCalendar object
// (RFC 5545 wants at least one component); without a zone, times are UTC.
func TestEmptyCalendar(t *testing.T) {
	cal := icaltest.Parse(t, ical.Calendar{ProdID: "-//Sanji//Test//ZH", Zone: &shanghai}.Encode())
	if len(cal.Events()) != 0 || len(cal.Children) != 1 {
		t.Errorf("components: %+v", cal.Children)
	}
	at := time.Date(2026, 11, 5, 1, 30, 0, 0, time.UTC)
	b := ical.Calendar{ProdID: "-//Sanji//Test//ZH", Events: []ical.Event{{UID: "u", Stamp: at, Start: at, End: at.Add(time.Hour), Summary: "s"}}}.Encode()
	icaltest.Parse(t, b)
	if !bytes.Contains(b, []byte("\r\nDTSTART:20261105T013000Z\r\n")) {
		t.Errorf("without a zone, DTSTART is not UTC:\n%s", b)
	}
}
