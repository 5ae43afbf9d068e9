package calendar

import (
	"errors"
	"strings"
	"testing"
	"time"

	"sanji/scheduler/org"
)

func sh(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, Shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

func dates(os []Occurrence) string {
	var b []string
	for _, o := range os {
		d := o.Start.In(Shanghai).Format("2006-01-02 15:04")
		if o.Holiday != "" {
			d += "!" + o.Holiday
		}
		if o.Skipped {
			d += "(skip)"
		}
		b = append(b, d)
	}
	return strings.Join(b, ",")
}

func TestExpand(t *testing.T) {
	hol := Holidays{
		"2026-10-01": {Date: "2026-10-01", Kind: DayOff, Name: "国庆节"},
		"2026-10-10": {Date: "2026-10-10", Kind: DayWorkday, Name: "国庆节调休"},
	}
	cases := []struct {
		name, rule, start string
		from, to          string
		ex                []string
		skip              bool
		want              string
	}{
		{"weekly", "FREQ=WEEKLY;BYDAY=WE", "2026-01-07 09:00", "2026-01-01 00:00", "2026-02-01 00:00", nil, false,
			"2026-01-07 09:00,2026-01-14 09:00,2026-01-21 09:00,2026-01-28 09:00"},
		{"weekly no BYDAY uses dtstart's weekday", "FREQ=WEEKLY;COUNT=2", "2026-03-05 14:30", "2026-01-01 00:00", "2027-01-01 00:00", nil, false,
			"2026-03-05 14:30,2026-03-12 14:30"},
		{"every other week across a month end", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "2026-03-24 09:00", "2026-03-01 00:00", "2026-05-01 00:00", nil, false,
			"2026-03-24 09:00,2026-04-07 09:00,2026-04-21 09:00"},
		{"dtstart after BYDAY in its week", "FREQ=WEEKLY;BYDAY=MO,FR", "2026-01-07 09:00", "2026-01-01 00:00", "2026-01-13 00:00", nil, false,
			"2026-01-09 09:00,2026-01-12 09:00"},
		{"monthly 2TU", "FREQ=MONTHLY;BYDAY=2TU;COUNT=4", "2026-01-01 09:00", "2026-01-01 00:00", "2027-01-01 00:00", nil, false,
			"2026-01-13 09:00,2026-02-10 09:00,2026-03-10 09:00,2026-04-14 09:00"},
		{"monthly last friday", "FREQ=MONTHLY;BYDAY=-1FR", "2026-01-01 09:00", "2026-01-01 00:00", "2026-04-01 00:00", nil, false,
			"2026-01-30 09:00,2026-02-27 09:00,2026-03-27 09:00"},
		{"monthly 5th monday only where it exists", "FREQ=MONTHLY;BYDAY=5MO", "2026-01-01 09:00", "2026-01-01 00:00", "2026-07-01 00:00", nil, false,
			"2026-03-30 09:00,2026-06-29 09:00"},
		{"monthly on the 31st skips short months", "FREQ=MONTHLY", "2026-01-31 09:00", "2026-01-01 00:00", "2026-06-01 00:00", nil, false,
			"2026-01-31 09:00,2026-03-31 09:00,2026-05-31 09:00"},
		{"monthly on the 29th in a leap year", "FREQ=MONTHLY;INTERVAL=12", "2028-02-29 09:00", "2028-01-01 00:00", "2033-01-01 00:00", nil, false,
			"2028-02-29 09:00,2032-02-29 09:00"},
		{"every other week across the year end", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", "2026-12-21 09:00", "2026-12-01 00:00", "2027-02-01 00:00", nil, false,
			"2026-12-21 09:00,2027-01-04 09:00,2027-01-18 09:00"},
		{"monthly two positions, ordered within the month", "FREQ=MONTHLY;BYDAY=-1FR,1MO;COUNT=4", "2026-01-01 09:00", "2026-01-01 00:00", "2027-01-01 00:00", nil, false,
			"2026-01-05 09:00,2026-01-30 09:00,2026-02-02 09:00,2026-02-27 09:00"},
		{"monthly every other month from a leap day", "FREQ=MONTHLY;INTERVAL=2;BYDAY=-1SU", "2028-02-29 10:00", "2028-01-01 00:00", "2028-09-01 00:00", nil, false,
			"2028-04-30 10:00,2028-06-25 10:00,2028-08-27 10:00"},
		{"count includes skipped holidays", "FREQ=WEEKLY;BYDAY=TH;COUNT=2", "2026-10-01 09:00", "2026-09-01 00:00", "2027-01-01 00:00", nil, true,
			"2026-10-01 09:00!国庆节(skip),2026-10-08 09:00"},
		{"until date inclusive", "FREQ=WEEKLY;BYDAY=WE;UNTIL=20260121", "2026-01-07 09:00", "2026-01-01 00:00", "2027-01-01 00:00", nil, false,
			"2026-01-07 09:00,2026-01-14 09:00,2026-01-21 09:00"},
		{"exdate removed but counted", "FREQ=WEEKLY;BYDAY=WE;COUNT=3", "2026-01-07 09:00", "2026-01-01 00:00", "2027-01-01 00:00", []string{"2026-01-14"}, false,
			"2026-01-07 09:00,2026-01-21 09:00"},
		{"window clips both ends, count from dtstart", "FREQ=WEEKLY;BYDAY=WE;COUNT=4", "2026-01-07 09:00", "2026-01-10 00:00", "2026-01-22 00:00", nil, false,
			"2026-01-14 09:00,2026-01-21 09:00"},
		{"holiday flagged and kept", "FREQ=WEEKLY;BYDAY=TH", "2026-09-24 09:00", "2026-09-24 00:00", "2026-10-09 00:00", nil, false,
			"2026-09-24 09:00,2026-10-01 09:00!国庆节,2026-10-08 09:00"},
		{"holiday flagged and skipped; make-up workday not flagged", "FREQ=WEEKLY;BYDAY=TH,SA", "2026-09-24 09:00", "2026-09-30 00:00", "2026-10-11 00:00", nil, true,
			"2026-10-01 09:00!国庆节(skip),2026-10-03 09:00,2026-10-08 09:00,2026-10-10 09:00"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := ParseRRule(c.rule)
			if err != nil {
				t.Fatal(err)
			}
			r.ExDates = c.ex
			got, err := Expand(r, sh(c.start), time.Hour, sh(c.from), sh(c.to), hol, c.skip)
			if err != nil {
				t.Fatal(err)
			}
			if dates(got) != c.want {
				t.Errorf("got  %s\nwant %s", dates(got), c.want)
			}
			for _, o := range got {
				if o.End.Sub(o.Start) != time.Hour {
					t.Errorf("duration %v", o.End.Sub(o.Start))
				}
			}
		})
	}
}

func TestParseRRuleRefuses(t *testing.T) {
	for _, s := range []string{"", "FREQ=DAILY", "FREQ=WEEKLY;BYDAY=2TU", "FREQ=WEEKLY;BYHOUR=9", "FREQ=MONTHLY;BYDAY=6MO",
		"FREQ=WEEKLY;INTERVAL=0", "FREQ=WEEKLY;COUNT=2;UNTIL=20260101", "FREQ=WEEKLY;BYDAY=XX", "FREQ=WEEKLY;UNTIL=tomorrow"} {
		_, err := ParseRRule(s)
		var fe *org.FieldError
		if !errors.As(err, &fe) || fe.Field != "rrule" || fe.ZH == "" || fe.EN == "" {
			t.Errorf("%q: got %v, want a bilingual rrule field error", s, err)
		}
	}
}

func TestRRuleRoundTrip(t *testing.T) {
	for _, s := range []string{"FREQ=WEEKLY;BYDAY=WE", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;COUNT=10", "FREQ=MONTHLY;BYDAY=2TU,-1FR;UNTIL=20261231T155959Z"} {
		r, err := ParseRRule(s)
		if err != nil {
			t.Fatal(err)
		}
		if r.String() != s {
			t.Errorf("%s → %s", s, r.String())
		}
	}
}
