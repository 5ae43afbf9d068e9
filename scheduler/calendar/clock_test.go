package calendar

import (
	"errors"
	"strings"
	"testing"
	"time"

	"sanji/scheduler/org"
)

func TestCalendarDefault(t *testing.T) {
	c := DefaultCalendar()
	if cov, ver := c.Covers(2025); !cov || !ver {
		t.Errorf("2025: covered %v verified %v, want both", cov, ver)
	}
	if cov, ver := c.Covers(2026); !cov || !ver {
		t.Errorf("2026: covered %v verified %v, want covered and verified (the 2025-11-04 notice)", cov, ver)
	}
	cases := []struct {
		day  time.Time
		want bool
	}{
		{Date(2025, 1, 1), false},  // 元旦
		{Date(2025, 1, 26), true},  // Sunday, 春节调休
		{Date(2025, 1, 27), true},  // Monday
		{Date(2025, 1, 28), false}, // 春节
		{Date(2025, 2, 8), true},   // Saturday, 调休
		{Date(2025, 3, 1), false},  // Saturday
		{Date(2025, 10, 8), false}, // 国庆中秋
		{Date(2025, 10, 9), true},
		{Date(2026, 2, 14), true}, // Saturday, 调休
		{Date(2026, 2, 23), false},
		{Date(2026, 10, 10), true},
	}
	for _, tc := range cases {
		got, err := c.IsWorkingDay(tc.day)
		if err != nil || got != tc.want {
			t.Errorf("%s: working %v, %v; want %v", tc.day.Format("2006-01-02"), got, err, tc.want)
		}
	}
	if _, err := c.IsWorkingDay(Date(2027, 3, 1)); !errors.Is(err, ErrCalendarYear) {
		t.Errorf("2027: %v, want ErrCalendarYear", err)
	}
}

func TestParseCalendarRefuses(t *testing.T) {
	for _, in := range []string{
		"2025-01-01 off 元旦\n",                // no year line
		"year 2025\n2025-01-06 work 周一\n",    // make-up workday on a Monday
		"year 2025\n2025-01-01 holiday 元旦\n", // unknown kind
		"year 2025\n2025-13-01 off x\n",      // bad date
		"year abc\n",                         // bad year
	} {
		if _, err := ParseCalendar(strings.NewReader(in)); !errors.Is(err, org.ErrInvalid) {
			t.Errorf("%q: %v, want ErrInvalid", in, err)
		}
	}
}

func TestNewCalendar(t *testing.T) {
	c, err := NewCalendar(map[int]bool{2030: true}, []Holiday{{Date: "2030-01-01", Kind: DayOff, Name: "元旦"},
		{Date: "2031-01-04", Kind: DayWorkday, Name: "调休"}})
	if err != nil {
		t.Fatal(err)
	}
	if cov, ver := c.Covers(2031); !cov || ver {
		t.Errorf("a year with days but no year entry: covered %v verified %v", cov, ver)
	}
	if ok, _ := c.IsWorkingDay(Date(2030, 1, 1)); ok {
		t.Error("2030-01-01 should be off")
	}
	if ok, _ := c.IsWorkingDay(Date(2031, 1, 4)); !ok {
		t.Error("2031-01-04 (a Saturday make-up day) should be a working day")
	}
	if _, err := NewCalendar(nil, []Holiday{{Date: "2030-01-01", Kind: "maybe"}}); !errors.Is(err, org.ErrInvalid) {
		t.Errorf("bad kind: %v", err)
	}
	days := DefaultCalendar().Days()
	if len(days) == 0 || days[0].Date != "2025-01-01" {
		t.Errorf("Days: %v", days[:1])
	}
}
