// Package icaltest reads iCalendar output back for tests: a strict check of the physical lines
// (CRLF ends, at most 75 octets, each valid UTF-8, continuations starting with a space), then an
// independent parser (github.com/emersion/go-ical), whose encoder also checks the structure:
// BEGIN/END nesting, PRODID and VERSION once in the calendar, UID and DTSTAMP once in each event.
package icaltest

import (
	"bytes"
	"io"
	"testing"
	"unicode/utf8"

	goical "github.com/emersion/go-ical"
)

// Parse checks b and returns the calendar it holds; it fails t on anything wrong.
func Parse(t testing.TB, b []byte) *goical.Calendar {
	t.Helper()
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Fatalf("the stream does not end with CRLF")
	}
	lines := bytes.Split(b[:len(b)-2], []byte("\r\n"))
	for i, l := range lines {
		switch {
		case bytes.ContainsAny(l, "\r\n"):
			t.Fatalf("line %d has a bare CR or LF: %q", i+1, l)
		case len(l) > 75:
			t.Fatalf("line %d is %d octets, more than 75: %q", i+1, len(l), l)
		case !utf8.Valid(l):
			t.Fatalf("line %d is not valid UTF-8 on its own (a fold split a character): %q", i+1, l)
		case len(l) == 0:
			t.Fatalf("line %d is empty", i+1)
		case i == 0 && l[0] == ' ':
			t.Fatalf("the first line is a continuation")
		}
	}
	cal, err := goical.NewDecoder(bytes.NewReader(b)).Decode()
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, b)
	}
	if err := goical.NewEncoder(io.Discard).Encode(cal); err != nil {
		t.Fatalf("structure: %v\n%s", err, b)
	}
	return cal
}

// Text is the unescaped TEXT value of comp's property name ("" when absent).
func Text(t testing.TB, comp *goical.Component, name string) string {
	t.Helper()
	p := comp.Props.Get(name)
	if p == nil {
		return ""
	}
	s, err := p.Text()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}
