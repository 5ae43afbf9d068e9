package casework

import (
	"errors"
	"strings"
	"testing"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
)

func TestCompute(t *testing.T) {
	c, r := calendar.DefaultCalendar(), DefaultRules()
	at := func(d time.Time) time.Time { return d.Add(10 * time.Hour) } // 18:00 Beijing, same day
	cases := []struct {
		name  string
		rule  string
		start time.Time
		want  time.Time
	}{
		{"15 days, plain", RuleRegistration, at(calendar.Date(2025, 3, 3)), calendar.Date(2025, 3, 18)},
		{"15 days onto Sunday moves to Monday", RuleAcceptance, at(calendar.Date(2025, 3, 1)), calendar.Date(2025, 3, 17)},
		{"15 days onto 国庆 moves past the holiday", RuleRegistration, at(calendar.Date(2025, 9, 16)), calendar.Date(2025, 10, 9)},
		{"15 days onto a 调休 Sunday stays", RuleRegistration, at(calendar.Date(2025, 9, 13)), calendar.Date(2025, 9, 28)},
		{"60 days onto 国庆 weekend", RuleHandling, at(calendar.Date(2025, 8, 5)), calendar.Date(2025, 10, 9)},
		{"the 60th day is 2026-10-09", RuleHandling, at(calendar.Date(2026, 8, 10)), calendar.Date(2026, 10, 9)},
		{"5 working days across 国庆, 调休 counts", RuleObjection, at(calendar.Date(2025, 9, 26)), calendar.Date(2025, 10, 10)},
		{"10 working days across 春节 with two 调休", RuleFastTrack, at(calendar.Date(2025, 1, 20)), calendar.Date(2025, 2, 8)},
		{"5 working days across 2026 春节", RuleObjection, at(calendar.Date(2026, 2, 12)), calendar.Date(2026, 2, 26)},
		{"30 days supervision feedback", RuleSupervisionAnswer, at(calendar.Date(2025, 5, 2)), calendar.Date(2025, 6, 3)},
		{"review 30 days", RuleReviewAnswer, at(calendar.Date(2025, 3, 3)), calendar.Date(2025, 4, 2)},
		// 20:00 UTC is 04:00 the next day in Beijing: the legal start day is 3-4.
		{"start day is the Beijing date", RuleRegistration, calendar.Date(2025, 3, 3).Add(20 * time.Hour), calendar.Date(2025, 3, 19)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := c.Compute(r[tc.rule], tc.start)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Due.Equal(tc.want) {
				t.Errorf("due %s, want %s (%s)", d.Due.Format("2006-01-02"), tc.want.Format("2006-01-02"), d.Explain())
			}
			if !d.DueAt().Equal(time.Date(tc.want.Year(), tc.want.Month(), tc.want.Day()+1, 0, 0, 0, 0, calendar.ChinaTZ)) {
				t.Errorf("due at %s", d.DueAt())
			}
		})
	}
	// 30 days from 2026-12-20 ends in 2027, which the calendar does not know: an error, not a guess.
	if _, err := c.Compute(r[RuleHandling], calendar.Date(2026, 12, 20)); !errors.Is(err, calendar.ErrCalendarYear) {
		t.Errorf("into 2027: %v, want ErrCalendarYear", err)
	}
}

func TestExplain(t *testing.T) {
	c := calendar.DefaultCalendar()
	d, err := c.Compute(DefaultRules()[RuleHandling], calendar.Date(2025, 8, 5))
	if err != nil {
		t.Fatal(err)
	}
	e := d.Explain()
	for _, want := range []string{"2025-08-05", "次日起算", "第 60 日为 2025-10-04", "顺延", "国庆节", "2025-10-09"} {
		if !strings.Contains(e, want) {
			t.Errorf("explanation %q lacks %q", e, want)
		}
	}
}

func TestExtendAndPause(t *testing.T) {
	c, r := calendar.DefaultCalendar(), DefaultRules()
	d, err := c.Compute(r[RuleHandling], calendar.Date(2025, 6, 1))
	if err != nil || !d.Due.Equal(calendar.Date(2025, 7, 31)) {
		t.Fatalf("handling from 6-1: %v %v", d.Due, err)
	}
	if _, err := c.Extend(d, 31, r[RuleExtension]); !errors.Is(err, org.ErrInvalid) {
		t.Errorf("31 days: %v, want ErrInvalid", err)
	}
	if _, err := c.Extend(d, 0, r[RuleExtension]); !errors.Is(err, org.ErrInvalid) {
		t.Errorf("0 days: %v, want ErrInvalid", err)
	}
	x, err := c.Extend(d, 30, r[RuleExtension])
	if err != nil {
		t.Fatal(err)
	}
	// 90th day is Saturday 2025-08-30: moves to Monday 9-1.
	if !x.Due.Equal(calendar.Date(2025, 9, 1)) || !strings.Contains(x.Explain(), "延期 30 日") {
		t.Errorf("extended: %s %s", x.Due.Format("2006-01-02"), x.Explain())
	}
	if _, err := c.Extend(x, 5, r[RuleExtension]); !errors.Is(err, org.ErrInvalid) {
		t.Errorf("second extension: %v, want ErrInvalid", err)
	}

	rv, err := c.Compute(r[RuleReReviewAnswer], calendar.Date(2025, 3, 3))
	if err != nil || !rv.Due.Equal(calendar.Date(2025, 4, 2)) {
		t.Fatalf("re-review: %v %v", rv.Due, err)
	}
	// A 3-day hearing: day 33 is Saturday 4-5 (清明), 4-6 too: Monday 4-7.
	p, err := c.Pause(rv, 3)
	if err != nil || !p.Due.Equal(calendar.Date(2025, 4, 7)) {
		t.Errorf("paused: %v %v %s", p.Due, err, p.Explain())
	}
	if _, err := c.Pause(rv, -1); !errors.Is(err, org.ErrInvalid) {
		t.Errorf("negative pause: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	c := calendar.DefaultCalendar()
	d, err := c.Compute(DefaultRules()[RuleRegistration], calendar.Date(2025, 3, 3)) // due 3-18; 15 days from 3-4 00:00
	if err != nil {
		t.Fatal(err)
	}
	bj := func(m time.Month, day, h int) time.Time { return time.Date(2025, m, day, h, 0, 0, 0, calendar.ChinaTZ) }
	cases := []struct {
		now  time.Time
		want int
	}{
		{bj(3, 3, 12), calendar.WarnNone},
		{bj(3, 11, 11), calendar.WarnNone},
		{bj(3, 11, 12), calendar.WarnHalf}, // 7.5 of 15 days
		{bj(3, 15, 23), calendar.WarnHalf},
		{bj(3, 16, 0), calendar.WarnNear}, // 12 of 15
		{bj(3, 18, 23), calendar.WarnNear},
		{bj(3, 19, 0), calendar.WarnOverdue},
		{bj(4, 1, 0), calendar.WarnOverdue},
	}
	for _, tc := range cases {
		if got := d.Warning(tc.now); got != tc.want {
			t.Errorf("%s: warning %d, want %d (progress %.3f)", tc.now, got, tc.want, d.Progress(tc.now))
		}
	}
}

// TestProvisionalCalendar: a year the calendar lacks is counted by weekends and the fixed-date
// holidays when asked, and every deadline that needed it says so; the strict calendar refuses it.
func TestProvisionalCalendar(t *testing.T) {
	strict := calendar.DefaultCalendar()
	c := strict.WithProvisional(true)
	for day, want := range map[time.Time]bool{
		calendar.Date(2027, 1, 1):  false, // 元旦, fixed by date
		calendar.Date(2027, 5, 1):  false, // 劳动节 (a Saturday anyway)
		calendar.Date(2027, 5, 3):  true,  // a Monday: 调休 unknown until the notice
		calendar.Date(2027, 10, 1): false, // 国庆节
		calendar.Date(2027, 10, 4): true,
		calendar.Date(2027, 2, 8):  true, // 春节 is lunar: not guessed
	} {
		if got, err := c.IsWorkingDay(day); err != nil || got != want {
			t.Errorf("%s: working %v %v, want %v", day.Format("2006-01-02"), got, err, want)
		}
	}
	if _, err := strict.IsWorkingDay(calendar.Date(2027, 1, 4)); !errors.Is(err, calendar.ErrCalendarYear) {
		t.Errorf("strict: %v", err)
	}
	r := DefaultRules()
	// Objection: 5 working days from Tuesday 2026-12-29 → 12-30, 12-31, (元旦 01-01), 01-04, 01-05, 01-06.
	d, err := c.Compute(r[RuleObjection], time.Date(2026, 12, 29, 10, 0, 0, 0, calendar.ChinaTZ))
	if err != nil || !d.Due.Equal(calendar.Date(2027, 1, 6)) || !d.Provisional() || len(d.ProvisionalYears) != 1 || d.ProvisionalYears[0] != 2027 {
		t.Errorf("objection across the year: %v %v %v", d.Due, d.ProvisionalYears, err)
	}
	if !strings.Contains(d.Explain(), "2027 年节假日安排尚未录入") {
		t.Errorf("explanation: %s", d.Explain())
	}
	if _, err := strict.Compute(r[RuleObjection], time.Date(2026, 12, 29, 10, 0, 0, 0, calendar.ChinaTZ)); !errors.Is(err, calendar.ErrCalendarYear) {
		t.Errorf("strict objection: %v", err)
	}
	// Calendar days: 2026-12-02 + 30 = 2027-01-01, 元旦 → Monday 2027-01-04 (the 2nd and 3rd are a weekend).
	d, _ = c.Compute(r[RuleReviewAnswer], time.Date(2026, 12, 2, 10, 0, 0, 0, calendar.ChinaTZ))
	if !d.Due.Equal(calendar.Date(2027, 1, 4)) || !d.Provisional() || !strings.Contains(d.Explain(), "暂按固定日期") {
		t.Errorf("review across the year: %v %s", d.Due, d.Explain())
	}
	// A period inside known years is exact even when provisional counting is allowed.
	if d, _ := c.Compute(r[RuleHandling], time.Date(2026, 3, 2, 10, 0, 0, 0, calendar.ChinaTZ)); d.Provisional() {
		t.Errorf("2026 period marked provisional: %v", d.ProvisionalYears)
	}
	note := calendar.ProvisionalNote([]int{2027})
	if !strings.Contains(note, "2027 年") || !strings.Contains(note, "provisional") || !strings.Contains(note, " / ") {
		t.Errorf("note: %s", note)
	}
}
