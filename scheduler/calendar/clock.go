package calendar

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"sanji/i18n"
	"sanji/scheduler/org"
)

// The legal clock (法定时限). Pure functions over dates: no store, no wall clock. Rules from
// shared/domain.md "Rules": "日" is calendar days, "工作日" working days; the start day is not
// counted (Civil Code art. 201); a period whose last day is a rest day ends on the next working
// day (art. 203).

// ChinaTZ is the zone the legal day is counted in: a deadline day ends at 24:00 Beijing time.
var ChinaTZ = time.FixedZone("CST", 8*3600)

// ErrCalendarYear is returned when a date falls in a year the working-day calendar does not
// cover: guessing holidays would silently shift deadlines.
var ErrCalendarYear = errors.New("scheduler: year missing from the working-day calendar")

// DayOf is the legal date (midnight UTC carrying the Beijing calendar date) of an instant.
func DayOf(t time.Time) time.Time {
	y, m, d := t.In(ChinaTZ).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Date builds a legal date.
func Date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// EndOfDay is the instant a legal date ends (24:00 Beijing time).
func EndOfDay(day time.Time) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, ChinaTZ)
}

// Calendar tells working days from rest days. It is data an operator extends each year: the
// store's public_holidays table (LoadCalendar), seeded from holidays.txt when a store opens.
type Calendar struct {
	years     map[int]bool      // covered years → verified
	off, work map[string]string // date → holiday or make-up name
	// provisional: a year the calendar lacks is counted by the fixed-date rule (fixedHolidays)
	// instead of failing, and every deadline that needed it says so (Deadline.Provisional).
	provisional bool
}

// fixedHolidays are the statutory holidays the law fixes by Gregorian date (全国年节及纪念日放假办法,
// as amended in 2024: 元旦 1 January, 劳动节 1–2 May, 国庆节 1–3 October). Lunar holidays and the
// yearly 调休 arrangement are not known before the State Council publishes them.
var fixedHolidays = map[string]string{"01-01": "元旦", "05-01": "劳动节", "05-02": "劳动节", "10-01": "国庆节", "10-02": "国庆节", "10-03": "国庆节"}

// ProvisionalNote explains a provisional deadline to people, Chinese first.
func ProvisionalNote(years []int) string {
	var ys []string
	for _, y := range years {
		ys = append(ys, strconv.Itoa(y))
	}
	list := i18n.Text{ZH: strings.Join(ys, "、"), EN: strings.Join(ys, ", ")}
	return i18n.T("calendar.provisional.note", "years", list).String()
}

// NewCalendar builds a calendar from stored days: years lists the covered years (→ verified);
// a year with days but not listed counts as covered and unverified.
func NewCalendar(years map[int]bool, days []Holiday) (*Calendar, error) {
	c := &Calendar{years: map[int]bool{}, off: map[string]string{}, work: map[string]string{}}
	for y, v := range years {
		c.years[y] = v
	}
	for _, h := range days {
		d, err := time.Parse("2006-01-02", h.Date)
		if err != nil {
			return nil, fmt.Errorf("%w: calendar day %q", org.ErrInvalid, h.Date)
		}
		if _, ok := c.years[d.Year()]; !ok {
			c.years[d.Year()] = false
		}
		switch h.Kind {
		case DayOff:
			c.off[h.Date] = h.Name
		case DayWorkday:
			c.work[h.Date] = h.Name
		default:
			return nil, fmt.Errorf("%w: calendar day %s has kind %q", org.ErrInvalid, h.Date, h.Kind)
		}
	}
	return c, nil
}

// HolidaySource is what LoadCalendar reads.
type HolidaySource interface {
	// ListHolidays returns the entries between from and to (YYYY-MM-DD, inclusive), by date.
	ListHolidays(ctx context.Context, from, to string) ([]Holiday, error)
	// ListCalendarYears returns the years the calendar covers (→ verified). A year is covered
	// once the release's holidays.txt seeded it or an operator entered a day of it (PutHoliday).
	ListCalendarYears(ctx context.Context) (map[int]bool, error)
}

// HolidayStore is where the working-day calendar's entries are kept.
type HolidayStore interface {
	HolidaySource
	// PutHoliday stores or replaces the calendar entry of a date.
	PutHoliday(ctx context.Context, h Holiday) error
}

// LoadCalendar reads the working-day calendar from the store, the one source of truth; it
// refuses the years it lacks (WithProvisional to count them provisionally).
func LoadCalendar(ctx context.Context, st HolidaySource) (*Calendar, error) {
	years, err := st.ListCalendarYears(ctx)
	if err != nil {
		return nil, fmt.Errorf("load calendar: %w", err)
	}
	days, err := st.ListHolidays(ctx, "0001-01-01", "9999-12-31")
	if err != nil {
		return nil, fmt.Errorf("load calendar: %w", err)
	}
	return NewCalendar(years, days)
}

// WithProvisional returns a copy of c that counts the years it lacks provisionally (on) or
// refuses them with ErrCalendarYear (off). Deadlines people watch are provisional; records that
// count against a unit (the rates) wait for the real calendar.
func (c *Calendar) WithProvisional(on bool) *Calendar {
	cp := *c
	cp.provisional = on
	return &cp
}

// Years are the covered years (→ verified).
func (c *Calendar) Years() map[int]bool {
	out := map[int]bool{}
	for y, v := range c.years {
		out[y] = v
	}
	return out
}

// Days are the calendar's holidays and make-up workdays, by date.
func (c *Calendar) Days() []Holiday {
	var out []Holiday
	for d, n := range c.off {
		out = append(out, Holiday{Date: d, Kind: DayOff, Name: n})
	}
	for d, n := range c.work {
		out = append(out, Holiday{Date: d, Kind: DayWorkday, Name: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date < out[j].Date })
	return out
}

//go:embed holidays.txt
var defaultHolidays string

// DefaultCalendar is the embedded calendar (2025 and 2026, each checked against its notice).
func DefaultCalendar() *Calendar {
	c, err := ParseCalendar(strings.NewReader(defaultHolidays))
	if err != nil {
		panic(fmt.Sprintf("scheduler: embedded holidays.txt: %v", err)) // a build defect, caught by tests
	}
	return c
}

// ParseCalendar reads the holidays.txt format (see that file's header).
func ParseCalendar(r io.Reader) (*Calendar, error) {
	c := &Calendar{years: map[int]bool{}, off: map[string]string{}, work: map[string]string{}}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		bad := func(why string) error {
			return fmt.Errorf("%w: %s", org.ErrInvalid, i18n.T("calendar.file.line_invalid", "line", n, "why", why).String())
		}
		if f[0] == "year" {
			if len(f) < 2 {
				return nil, bad("year")
			}
			y, err := strconv.Atoi(f[1])
			if err != nil || y < 2000 || y > 2100 {
				return nil, bad("year")
			}
			c.years[y] = !(len(f) > 2 && f[2] == "unverified")
			continue
		}
		if len(f) < 2 {
			return nil, bad("fields")
		}
		d, err := time.Parse("2006-01-02", f[0])
		if err != nil {
			return nil, bad("date")
		}
		if _, ok := c.years[d.Year()]; !ok {
			return nil, bad("date before its year line")
		}
		name := strings.Join(f[2:], " ")
		switch f[1] {
		case "off":
			c.off[f[0]] = name
		case "work":
			if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
				return nil, bad("make-up workday on a weekday")
			}
			c.work[f[0]] = name
		default:
			return nil, bad("kind must be off or work")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scheduler: read working-day calendar: %w", err)
	}
	return c, nil
}

// Covers reports whether the calendar knows the year, and whether an operator verified it.
func (c *Calendar) Covers(year int) (covered, verified bool) {
	v, ok := c.years[year]
	return ok, v
}

// IsWorkingDay reports whether day is a working day.
func (c *Calendar) IsWorkingDay(day time.Time) (bool, error) {
	if _, ok := c.years[day.Year()]; !ok {
		if c.provisional {
			if _, off := fixedHolidays[day.Format("01-02")]; off {
				return false, nil
			}
			wd := day.Weekday()
			return wd != time.Saturday && wd != time.Sunday, nil
		}
		return false, fmt.Errorf("%w: %s", ErrCalendarYear, i18n.T("calendar.year_missing", "year", day.Year()).String())
	}
	k := day.Format("2006-01-02")
	if _, ok := c.work[k]; ok {
		return true, nil
	}
	if _, ok := c.off[k]; ok {
		return false, nil
	}
	wd := day.Weekday()
	return wd != time.Saturday && wd != time.Sunday, nil
}

// Provisional reports whether c counts the years it lacks provisionally (WithProvisional).
func (c *Calendar) Provisional() bool { return c.provisional }

// why names a rest day for explanations.
func (c *Calendar) why(day time.Time) string {
	if n, ok := c.off[day.Format("2006-01-02")]; ok {
		return "法定节假日 " + n
	}
	if _, covered := c.years[day.Year()]; !covered {
		if n, ok := fixedHolidays[day.Format("01-02")]; ok {
			return "法定节假日 " + n + "（暂按固定日期）"
		}
	}
	return "周末 " + day.Weekday().String()
}

// DayUnit says how a rule counts.
type DayUnit string

// Day units.
const (
	CalendarDays DayUnit = "day"         // 日
	WorkingDays  DayUnit = "working_day" // 工作日
)

// Rule is one legal period.
type Rule struct {
	Key  string
	Name string // Chinese name, for explanations
	Days int
	Unit DayUnit
}

// Deadline is a computed period: it can explain itself.
type Deadline struct {
	Rule  Rule
	Start time.Time // the legal date the period starts from (not counted)
	// PausedDays are calendar days that do not count (a hearing during re-review).
	PausedDays int
	// ExtendedDays were added by an approved extension.
	ExtendedDays int
	Due          time.Time // the last day, after moving off rest days
	Steps        []string  // the explanation, in order
	// ProvisionalYears are the years the count needed that the calendar lacks (counted by the
	// fixed-date rule); the deadline is exact when there are none.
	ProvisionalYears []int
	// Paused: a hearing is under way, so the due date moves a day later each day until it ends.
	Paused bool
}

// Provisional reports whether the deadline was counted with a year the calendar lacks.
func (d Deadline) Provisional() bool { return len(d.ProvisionalYears) > 0 }

// DueAt is the instant the period ends (24:00 Beijing time on Due).
func (d Deadline) DueAt() time.Time { return EndOfDay(d.Due) }

// Explain answers "why is the due date this day?".
func (d Deadline) Explain() string { return strings.Join(d.Steps, "；") }

// Compute runs rule from the instant start (its legal day is not counted).
func (c *Calendar) Compute(rule Rule, start time.Time) (Deadline, error) {
	return c.ComputeDays(rule, DayOf(start), 0, 0)
}

// ComputeDays runs rule from the legal date start (not counted), with paused calendar days that do
// not count and extended days an approved extension added.
func (c *Calendar) ComputeDays(rule Rule, start time.Time, paused, extended int) (Deadline, error) {
	if rule.Days <= 0 {
		return Deadline{}, fmt.Errorf("%w: rule %q has %d days", org.ErrInvalid, rule.Key, rule.Days)
	}
	d := Deadline{Rule: rule, Start: start, PausedDays: paused, ExtendedDays: extended}
	ds := func(t time.Time) string { return t.Format("2006-01-02") }
	working := func(day time.Time) (bool, error) {
		if _, covered := c.years[day.Year()]; !covered && c.provisional && !slices.Contains(d.ProvisionalYears, day.Year()) {
			d.ProvisionalYears = append(d.ProvisionalYears, day.Year())
		}
		return c.IsWorkingDay(day)
	}
	d.Steps = append(d.Steps, fmt.Sprintf("%s时限 %d %s，自 %s 的次日起算（起始日不计入）", rule.Name, rule.Days, unitZH(rule.Unit), ds(start)))
	var last time.Time
	switch rule.Unit {
	case CalendarDays:
		last = start.AddDate(0, 0, rule.Days+paused+extended)
		if paused > 0 {
			d.Steps = append(d.Steps, fmt.Sprintf("中止 %d 日不计入", paused))
		}
		if extended > 0 {
			d.Steps = append(d.Steps, fmt.Sprintf("经批准延期 %d 日", extended))
		}
		d.Steps = append(d.Steps, fmt.Sprintf("第 %d 日为 %s", rule.Days+paused+extended, ds(last)))
		next := last
		for i := 0; ; i++ {
			ok, err := working(next)
			if err != nil {
				return Deadline{}, err
			}
			if ok {
				break
			}
			if i == 60 {
				return Deadline{}, fmt.Errorf("%w: no working day in 60 days after %s", org.ErrInvalid, ds(last))
			}
			next = next.AddDate(0, 0, 1)
		}
		if !next.Equal(last) {
			d.Steps = append(d.Steps, fmt.Sprintf("%s 为休息日（%s），顺延至下一个工作日 %s", ds(last), c.why(last), ds(next)))
		}
		last = next
	case WorkingDays:
		day, n := start, 0
		for n < rule.Days+paused+extended {
			day = day.AddDate(0, 0, 1)
			ok, err := working(day)
			if err != nil {
				return Deadline{}, err
			}
			if ok {
				n++
			}
		}
		skipped := int(day.Sub(start).Hours()/24) - n
		d.Steps = append(d.Steps, fmt.Sprintf("跳过 %d 个休息日（周末、法定节假日；调休上班日计入），第 %d 个工作日为 %s", skipped, n, ds(day)))
		last = day
	default:
		return Deadline{}, fmt.Errorf("%w: rule %q has unit %q", org.ErrInvalid, rule.Key, rule.Unit)
	}
	d.Due = last
	if d.Provisional() {
		var ys []string
		for _, y := range d.ProvisionalYears {
			ys = append(ys, strconv.Itoa(y))
		}
		d.Steps = append(d.Steps, strings.Join(ys, "、")+" 年节假日安排尚未录入，暂按周末及固定日期的法定节假日计算，录入后重新计算")
	}
	return d, nil
}

func unitZH(u DayUnit) string {
	if u == WorkingDays {
		return "个工作日"
	}
	return "日"
}

// Extend applies the one extension allowed: at most the extension rule's days, once.
func (c *Calendar) Extend(d Deadline, days int, max Rule) (Deadline, error) {
	if d.ExtendedDays > 0 {
		return Deadline{}, org.Invalid("extension", "calendar.extension.once")
	}
	if days <= 0 || days > max.Days {
		return Deadline{}, org.Invalid("days", "calendar.extension.days", "max", max.Days)
	}
	return c.ComputeDays(d.Rule, d.Start, d.PausedDays, days)
}

// Pause adds calendar days that do not count (hearing time during review and re-review).
func (c *Calendar) Pause(d Deadline, days int) (Deadline, error) {
	if days < 0 {
		return Deadline{}, org.Invalid("days", "calendar.pause.negative")
	}
	return c.ComputeDays(d.Rule, d.Start, d.PausedDays+days, d.ExtendedDays)
}

// Warning levels: the share of the period used.
const (
	WarnNone    = 0
	WarnHalf    = 50
	WarnNear    = 80
	WarnOverdue = 100
)

// Progress is the share of the period used at now: 0 when counting begins (00:00 after the start
// day), 1 when the due day ends.
func (d Deadline) Progress(now time.Time) float64 {
	begin := EndOfDay(d.Start)
	end := d.DueAt()
	if !now.After(begin) {
		return 0
	}
	return float64(now.Sub(begin)) / float64(end.Sub(begin))
}

// Warning is the highest level reached at now: 0, 50, 80 or 100 (overdue: the due day has ended).
func (d Deadline) Warning(now time.Time) int {
	if !now.Before(d.DueAt()) {
		return WarnOverdue
	}
	p := d.Progress(now)
	switch {
	case p >= 0.8:
		return WarnNear
	case p >= 0.5:
		return WarnHalf
	}
	return WarnNone
}
