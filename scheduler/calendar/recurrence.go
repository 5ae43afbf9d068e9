package calendar

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"sanji/i18n"
	"sanji/scheduler/org"
)

// Shanghai is the time zone of every reception: China has no daylight saving time, so a fixed
// +08:00 zone is exact and needs no tzdata on the host.
var Shanghai = time.FixedZone("CST", 8*3600)

// Frequencies of the RRULE subset.
const (
	FreqWeekly  = "WEEKLY"
	FreqMonthly = "MONTHLY"
)

// ByDay is one BYDAY entry: a weekday, and for a monthly rule an optional position (2TU = the
// second Tuesday, -1FR = the last Friday; 0 = every such weekday).
type ByDay struct {
	Nth     int
	Weekday time.Weekday
}

// Recurrence is the RFC 5545 RRULE subset receptions use: FREQ=WEEKLY or MONTHLY, INTERVAL,
// BYDAY (with nth for monthly), UNTIL or COUNT; EXDATE dates are removed after expansion, as in
// RFC 5545 (so COUNT counts them).
type Recurrence struct {
	Freq     string
	Interval int // ≥ 1
	ByDay    []ByDay
	Until    time.Time // zero: none; inclusive, compared with the occurrence's start
	Count    int       // 0: none
	ExDates  []string  // YYYY-MM-DD in Asia/Shanghai
}

var weekdayCodes = map[string]time.Weekday{"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday,
	"WE": time.Wednesday, "TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday}

func weekdayCode(d time.Weekday) string {
	for k, v := range weekdayCodes {
		if v == d {
			return k
		}
	}
	return ""
}

func badRule(k i18n.Key, args ...any) error { return org.Invalid("rrule", k, args...) }

// ParseRRule parses an RRULE value ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"). Anything outside the
// subset is refused rather than ignored, so a rule never means less than it says.
func ParseRRule(s string) (Recurrence, error) {
	r := Recurrence{Interval: 1}
	s = strings.TrimPrefix(strings.TrimSpace(s), "RRULE:")
	if s == "" {
		return r, badRule("calendar.rrule.empty")
	}
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return r, badRule("calendar.rrule.part", "part", part)
		}
		switch strings.ToUpper(k) {
		case "FREQ":
			r.Freq = strings.ToUpper(v)
			if r.Freq != FreqWeekly && r.Freq != FreqMonthly {
				return r, badRule("calendar.rrule.freq")
			}
		case "INTERVAL":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 52 {
				return r, badRule("calendar.rrule.interval_range")
			}
			r.Interval = n
		case "COUNT":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				return r, badRule("calendar.rrule.count_range")
			}
			r.Count = n
		case "UNTIL":
			t, err := parseUntil(v)
			if err != nil {
				return r, badRule("calendar.rrule.until")
			}
			r.Until = t
		case "BYDAY":
			for _, d := range strings.Split(v, ",") {
				bd, err := parseByDay(strings.ToUpper(strings.TrimSpace(d)))
				if err != nil {
					return r, err
				}
				r.ByDay = append(r.ByDay, bd)
			}
		case "WKST":
			if strings.ToUpper(v) != "MO" {
				return r, badRule("calendar.rrule.wkst")
			}
		default:
			return r, badRule("calendar.rrule.unsupported", "part", k)
		}
	}
	return r, r.Validate()
}

func parseUntil(v string) (time.Time, error) {
	if t, err := time.ParseInLocation("20060102T150405Z", v, time.UTC); err == nil {
		return t, nil
	}
	d, err := time.ParseInLocation("20060102", v, Shanghai)
	if err != nil {
		return time.Time{}, err
	}
	// A date UNTIL includes the whole day.
	return d.Add(24*time.Hour - time.Second), nil
}

func parseByDay(s string) (ByDay, error) {
	if len(s) < 2 {
		return ByDay{}, badRule("calendar.rrule.byday", "entry", s)
	}
	wd, ok := weekdayCodes[s[len(s)-2:]]
	if !ok {
		return ByDay{}, badRule("calendar.rrule.byday_weekday", "entry", s)
	}
	bd := ByDay{Weekday: wd}
	if p := s[:len(s)-2]; p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n == 0 || n < -5 || n > 5 {
			return ByDay{}, badRule("calendar.rrule.byday_position", "entry", s)
		}
		bd.Nth = n
	}
	return bd, nil
}

// Validate checks a rule built in code.
func (r Recurrence) Validate() error {
	if r.Freq != FreqWeekly && r.Freq != FreqMonthly {
		return badRule("calendar.rrule.freq")
	}
	if r.Interval < 1 {
		return badRule("calendar.rrule.interval_min")
	}
	if r.Count > 0 && !r.Until.IsZero() {
		return badRule("calendar.rrule.until_and_count")
	}
	for _, d := range r.ByDay {
		if d.Nth != 0 && r.Freq == FreqWeekly {
			return badRule("calendar.rrule.weekly_position")
		}
	}
	for _, x := range r.ExDates {
		if _, err := time.ParseInLocation("2006-01-02", x, Shanghai); err != nil {
			return org.Invalid("exdates", "calendar.rrule.exdate", "date", x)
		}
	}
	return nil
}

// String renders the rule back as an RRULE value (without EXDATE).
func (r Recurrence) String() string {
	parts := []string{"FREQ=" + r.Freq}
	if r.Interval > 1 {
		parts = append(parts, "INTERVAL="+strconv.Itoa(r.Interval))
	}
	if len(r.ByDay) > 0 {
		var ds []string
		for _, d := range r.ByDay {
			p := weekdayCode(d.Weekday)
			if d.Nth != 0 {
				p = strconv.Itoa(d.Nth) + p
			}
			ds = append(ds, p)
		}
		parts = append(parts, "BYDAY="+strings.Join(ds, ","))
	}
	if r.Count > 0 {
		parts = append(parts, "COUNT="+strconv.Itoa(r.Count))
	}
	if !r.Until.IsZero() {
		parts = append(parts, "UNTIL="+r.Until.UTC().Format("20060102T150405Z"))
	}
	return strings.Join(parts, ";")
}

// HolidayKind tells a public holiday from a make-up workday (调休上班).
type HolidayKind string

// Holiday kinds.
const (
	DayOff     HolidayKind = "holiday"
	DayWorkday HolidayKind = "workday"
)

// Holiday is one day of the State Council's calendar, kept as data.
type Holiday struct {
	Date string // YYYY-MM-DD
	Kind HolidayKind
	Name string
}

// Holidays maps a date (YYYY-MM-DD) to its entry.
type Holidays map[string]Holiday

// Off reports whether the date is a listed public holiday, and its name. Weekends are not
// flagged: a reception on a Saturday was meant to be on a Saturday.
func (h Holidays) Off(date time.Time) (bool, string) {
	d := date.In(Shanghai)
	if e, ok := h[d.Format("2006-01-02")]; ok {
		return e.Kind == DayOff, e.Name
	}
	return false, ""
}

// Occurrence is one expanded date of a schedule.
type Occurrence struct {
	Start, End time.Time
	// Holiday names the public holiday the occurrence falls on ("" when none).
	Holiday string
	// Skipped is true when the schedule skips holidays and this one falls on one.
	Skipped bool
}

// Expand returns the occurrences of r starting at dtstart (its first possible occurrence, a time
// in Asia/Shanghai whose clock time every occurrence keeps) that start within [from, to), each
// lasting dur. Holiday occurrences are flagged, and marked Skipped when skipHolidays is set.
// It is a pure function: same input, same output.
func Expand(r Recurrence, dtstart time.Time, dur time.Duration, from, to time.Time, hol Holidays, skipHolidays bool) ([]Occurrence, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	ds := dtstart.In(Shanghai)
	ex := map[string]bool{}
	for _, x := range r.ExDates {
		ex[x] = true
	}
	var out []Occurrence
	n := 0 // occurrences generated, for COUNT (EXDATEs count, as in RFC 5545)
	emit := func(day time.Time) bool {
		start := time.Date(day.Year(), day.Month(), day.Day(), ds.Hour(), ds.Minute(), ds.Second(), 0, Shanghai)
		if start.Before(ds) {
			return true
		}
		if !r.Until.IsZero() && start.After(r.Until) {
			return false
		}
		if r.Count > 0 && n >= r.Count {
			return false
		}
		n++
		if !start.Before(to) {
			return false
		}
		if start.Before(from) || ex[start.Format("2006-01-02")] {
			return true
		}
		o := Occurrence{Start: start, End: start.Add(dur)}
		if off, name := hol.Off(start); off {
			o.Holiday, o.Skipped = name, skipHolidays
		}
		out = append(out, o)
		return true
	}
	// A hard cap on periods walked keeps a bad window from looping for ever.
	const maxPeriods = 5000
	switch r.Freq {
	case FreqWeekly:
		days := r.ByDay
		if len(days) == 0 {
			days = []ByDay{{Weekday: ds.Weekday()}}
		}
		offs := make([]int, 0, len(days))
		for _, d := range days {
			offs = append(offs, (int(d.Weekday)+6)%7) // Monday = 0 (WKST=MO)
		}
		sort.Ints(offs)
		monday := time.Date(ds.Year(), ds.Month(), ds.Day()-(int(ds.Weekday())+6)%7, 0, 0, 0, 0, Shanghai)
		for p := 0; p < maxPeriods; p++ {
			wk := monday.AddDate(0, 0, 7*r.Interval*p)
			for _, o := range offs {
				if !emit(wk.AddDate(0, 0, o)) {
					return out, nil
				}
			}
		}
	case FreqMonthly:
		first := time.Date(ds.Year(), ds.Month(), 1, 0, 0, 0, 0, Shanghai)
		for p := 0; p < maxPeriods; p++ {
			m := first.AddDate(0, r.Interval*p, 0)
			for _, d := range monthDays(m, r.ByDay, ds.Day()) {
				if !emit(d) {
					return out, nil
				}
			}
		}
	}
	return out, nil
}

// monthDays lists the days of month m (its first day) a monthly rule selects, in order. Without
// BYDAY it is dtstart's day of the month, and months that lack that day are skipped (RFC 5545).
func monthDays(m time.Time, by []ByDay, dom int) []time.Time {
	last := m.AddDate(0, 1, -1).Day()
	if len(by) == 0 {
		if dom > last {
			return nil
		}
		return []time.Time{m.AddDate(0, 0, dom-1)}
	}
	seen := map[int]bool{}
	for _, b := range by {
		var all []int
		for d := 1; d <= last; d++ {
			if m.AddDate(0, 0, d-1).Weekday() == b.Weekday {
				all = append(all, d)
			}
		}
		switch {
		case b.Nth == 0:
			for _, d := range all {
				seen[d] = true
			}
		case b.Nth > 0 && b.Nth <= len(all):
			seen[all[b.Nth-1]] = true
		case b.Nth < 0 && -b.Nth <= len(all):
			seen[all[len(all)+b.Nth]] = true
		}
	}
	var ds []int
	for d := range seen {
		ds = append(ds, d)
	}
	sort.Ints(ds)
	out := make([]time.Time, len(ds))
	for i, d := range ds {
		out[i] = m.AddDate(0, 0, d-1)
	}
	return out
}

// FormatDate is the YYYY-MM-DD of t in Asia/Shanghai.
func FormatDate(t time.Time) string { return t.In(Shanghai).Format("2006-01-02") }
