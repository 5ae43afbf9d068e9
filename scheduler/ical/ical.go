// Package ical writes iCalendar (RFC 5545) calendars of events, the format calendar clients
// subscribe to. It writes what the scheduler's feeds need and nothing else: one VCALENDAR of
// VEVENTs, their times in one zone without daylight saving time (a VTIMEZONE with a single
// STANDARD rule, e.g. Asia/Shanghai) or in UTC; text escaped (§3.3.11); content lines folded at
// 75 octets without splitting a UTF-8 character (§3.1); CRLF line ends.
package ical

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Calendar is a VCALENDAR.
type Calendar struct {
	ProdID string // e.g. "-//Sanji//Reception Calendar//ZH"
	Name   string // shown by clients as the calendar's name (NAME, X-WR-CALNAME)
	// Refresh is how often clients should fetch the calendar again (REFRESH-INTERVAL,
	// X-PUBLISHED-TTL); zero leaves it to the client.
	Refresh time.Duration
	// Zone, when set, is the zone of the events' start and end (DTSTART;TZID=…), written as a
	// VTIMEZONE; it also keeps a calendar without events valid (RFC 5545 wants a component).
	// Without it, times are UTC.
	Zone   *Zone
	Events []Event
}

// Zone is a time zone without daylight saving time, such as Asia/Shanghai (UTC+8 since 1991).
type Zone struct {
	ID     string // TZID, e.g. "Asia/Shanghai"
	Name   string // TZNAME, e.g. "CST"
	Offset int    // seconds east of UTC
}

// Event statuses (STATUS).
const (
	StatusConfirmed = "CONFIRMED"
	StatusCancelled = "CANCELLED"
)

// Event is a VEVENT.
type Event struct {
	UID string // stable across fetches: the client matches updates by it
	// Stamp is DTSTAMP: in a calendar without METHOD, when the event's information last changed.
	Stamp       time.Time
	Created     time.Time // CREATED; zero omits it
	Modified    time.Time // LAST-MODIFIED; zero omits it
	Start, End  time.Time
	Sequence    int // SEQUENCE: the revision; clients take a higher one as newer
	Status      string
	Summary     string
	Location    string
	Description string
}

// Encode returns the calendar as an iCalendar stream.
func (c Calendar) Encode() []byte {
	var w writer
	w.line("BEGIN:VCALENDAR")
	w.line("VERSION:2.0")
	w.prop("PRODID", c.ProdID)
	w.line("CALSCALE:GREGORIAN")
	if c.Name != "" {
		w.prop("NAME", c.Name)
		w.prop("X-WR-CALNAME", c.Name)
	}
	if c.Zone != nil {
		w.prop("X-WR-TIMEZONE", c.Zone.ID)
	}
	if c.Refresh > 0 {
		d := duration(c.Refresh)
		w.line("REFRESH-INTERVAL;VALUE=DURATION:" + d)
		w.line("X-PUBLISHED-TTL:" + d)
	}
	if z := c.Zone; z != nil {
		off := utcOffset(z.Offset)
		w.line("BEGIN:VTIMEZONE")
		w.prop("TZID", z.ID)
		w.line("BEGIN:STANDARD")
		w.line("DTSTART:19700101T000000")
		w.line("TZOFFSETFROM:" + off)
		w.line("TZOFFSETTO:" + off)
		if z.Name != "" {
			w.prop("TZNAME", z.Name)
		}
		w.line("END:STANDARD")
		w.line("END:VTIMEZONE")
	}
	for _, e := range c.Events {
		w.line("BEGIN:VEVENT")
		w.prop("UID", e.UID)
		w.time("DTSTAMP", e.Stamp)
		w.zoned("DTSTART", e.Start, c.Zone)
		w.zoned("DTEND", e.End, c.Zone)
		if !e.Created.IsZero() {
			w.time("CREATED", e.Created)
		}
		if !e.Modified.IsZero() {
			w.time("LAST-MODIFIED", e.Modified)
		}
		w.line("SEQUENCE:" + strconv.Itoa(e.Sequence))
		if e.Status != "" {
			w.line("STATUS:" + e.Status)
		}
		w.prop("SUMMARY", e.Summary)
		if e.Location != "" {
			w.prop("LOCATION", e.Location)
		}
		if e.Description != "" {
			w.prop("DESCRIPTION", e.Description)
		}
		w.line("END:VEVENT")
	}
	w.line("END:VCALENDAR")
	return w.b.Bytes()
}

type writer struct{ b bytes.Buffer }

// prop writes a property whose value is TEXT.
func (w *writer) prop(name, text string) { w.line(name + ":" + Escape(text)) }

func (w *writer) time(name string, t time.Time) {
	w.line(name + ":" + t.UTC().Format("20060102T150405Z"))
}

// zoned writes a time in zone z (a local time with TZID), or in UTC when z is nil.
func (w *writer) zoned(name string, t time.Time, z *Zone) {
	if z == nil {
		w.time(name, t)
		return
	}
	local := t.In(time.FixedZone(z.ID, z.Offset))
	w.line(name + ";TZID=" + paramValue(z.ID) + ":" + local.Format("20060102T150405"))
}

// paramValue quotes a parameter value that holds a separator (§3.2). A DQUOTE cannot be in one,
// nor a control character (§3.1, QSAFE-CHAR), and the line must stay UTF-8: those are dropped.
func paramValue(v string) string {
	v = strings.Map(func(r rune) rune {
		if r == '"' || r == utf8.RuneError || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, v)
	if strings.ContainsAny(v, ";:,") {
		return `"` + v + `"`
	}
	return v
}

// utcOffset formats seconds east of UTC as ±hhmm.
func utcOffset(sec int) string {
	sign := '+'
	if sec < 0 {
		sign, sec = '-', -sec
	}
	return fmt.Sprintf("%c%02d%02d", sign, sec/3600, sec%3600/60)
}

// line writes one content line, folded: no physical line is longer than 75 octets, and a
// continuation starts with a space (which counts). A break never falls inside a UTF-8
// sequence, so each physical line is valid UTF-8 on its own.
func (w *writer) line(s string) {
	const limit = 75
	n := 0
	for len(s) > 0 {
		_, size := utf8.DecodeRuneInString(s)
		if n+size > limit {
			w.b.WriteString("\r\n ")
			n = 1
		}
		w.b.WriteString(s[:size])
		n += size
		s = s[size:]
	}
	w.b.WriteString("\r\n")
}

// Escape makes s a TEXT value: backslash, semicolon and comma escaped, every line break (CRLF,
// LF or CR) as \n, other control characters dropped (TEXT may not hold them), invalid UTF-8
// replaced.
func Escape(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == ';' || c == ',':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			b.WriteString(`\n`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t' || (c >= 0x20 && c != 0x7f):
			b.WriteByte(c) // bytes of multi-byte characters are all ≥ 0x80
		}
	}
	return b.String()
}

// duration formats d as an RFC 5545 DURATION in whole minutes (at least one).
func duration(d time.Duration) string {
	return "PT" + strconv.FormatInt(max(1, int64(d/time.Minute)), 10) + "M"
}
