package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Rate counts: what the store keeps so that the rates of a subtree with a million cases are read
// from a few thousand rows instead of computed from a million timelines. docs/benchmarks.md.
//
// Each case adds to cells (RateCell) of every unit above its registering unit, itself included:
// one for being a case, one for being a repeat where it is one, one for its result rating, one
// per clock period. A period's cell holds the facts the rate needs and nothing the calendar
// decides, so that the counts never go stale when an operator corrects the calendar: the nominal
// last day L (start + the rule's days + the extension's, which the real due day is never before)
// and where the end event fell from L. Ends on or before L are on time whatever the calendar says;
// ends more than W days after L are late, W being longer than any run of rest days the calendar
// allows (checked when the rates are read); the ends in between keep their day, and the due day
// decides at read time. A cell of an ended period whose count reads days of one year only keeps
// the year instead of the day, which folds the many on-time periods of a unit into one row.
// Running periods fold the same way once they are overdue whatever the calendar says (L + W
// before the store's horizon, a day the rates have been read at): the horizon only moves forward,
// and moving it re-keys the cells it folds (FoldRateCounts), so the counts always equal the sum of
// every case's cells under the current horizon.
// The case's clock is derived from its timeline (ClockOf), in the same transaction as every
// change of it.

// Metrics of a rate cell.
const (
	MetricCases      = "cases"  // every case: the repeat share's denominator
	MetricRepeat     = "repeat" // a repeat petition in this subtree
	MetricSatisfied  = "sat"    // a result rating; Bucket 1: satisfied or basically, 0: not
	MetricAcceptance = "acc"    // the acceptance period
	MetricHandling   = "h"      // the handling period; UnitOf is the unit it counts against
)

// Buckets of a period cell besides the days after L.
const (
	BucketRunning = -1      // the period has not ended
	BucketOnTime  = 0       // ended on or before L
	BucketLate    = 1 << 20 // ended more than W days after L
)

// The W of the buckets: how far past L a due day can lie. A calendar-day rule's due day moves
// off a run of rest days; a working-day rule's lies past L by the rest days it skipped.
const (
	rateSlackCalendar = 15
	rateSlackWorking  = 40
	// RateSlackMax is the larger of the two.
	RateSlackMax = rateSlackWorking
)

// RateCell is one count of a unit's subtree.
type RateCell struct {
	Metric  string
	UnitOf  int64 // MetricHandling: the unit counted against
	Variant int   // MetricHandling: extension days × 2 + 1 for the fast track
	Day     int   // period cells: L as days since 1970-01-01, or minus the year of a folded cell
	Bucket  int
}

// RateRow is a cell with its count.
type RateRow struct {
	RateCell
	N int64
}

// RateStore keeps the counts.
type RateStore interface {
	// RateCounts returns the non-zero cells of the subtree at underPath ("" for every case).
	RateCounts(ctx context.Context, underPath string) ([]RateRow, error)
	// FoldRateCounts moves the horizon forward to day (a LegalDayNumber; never backward) and
	// folds the running cells that are overdue before it; it returns the horizon.
	FoldRateCounts(ctx context.Context, day int) (int, error)
}

// CaseFacts is what a case adds to the counts: its clock, its result rating and how far up the
// tree it is a repeat.
type CaseFacts struct {
	Clock RateClock
	// Sat is the result rating: -1 none, 0 unsatisfied, 1 satisfied or basically satisfied.
	Sat int
	// RepeatDepth is the depth (0 for the root) of the deepest unit whose subtree holds an
	// earlier case of the same person and category; -1: none. The case is a repeat in the
	// subtrees of the units on its path down to that depth.
	RepeatDepth int
}

// SatOf turns a case's evaluations into CaseFacts.Sat.
func SatOf(evals []Evaluation) int {
	for _, e := range evals {
		if e.Stage == EvalResult {
			if e.Score == ScoreSatisfied || e.Score == ScoreBasically {
				return 1
			}
			return 0
		}
	}
	return -1
}

// LegalDayNumber is the legal date of an instant as days since 1970-01-01.
func LegalDayNumber(t time.Time) int { return int(DayOf(t).Unix() / 86400) }

func dayNumberDate(n int) time.Time { return time.Unix(int64(n)*86400, 0).UTC() }

// keptRules are the rules the counts are kept with (read-only).
var keptRules = DefaultRules()

// periodRule is the rule and extension of a period cell.
func periodRule(metric string, variant int) (Rule, int) {
	rules := keptRules
	if metric == MetricAcceptance {
		return rules[RuleAcceptance], 0
	}
	if variant%2 == 1 {
		return rules[RuleFastTrack], variant / 2
	}
	return rules[RuleHandling], variant / 2
}

// foldYear is the year every day a period's count reads (from its first to L + W) lies in, or 0
// when they span two years.
func foldYear(c RateCell) int {
	rule, ext := periodRule(c.Metric, c.Variant)
	start := c.Day - rule.Days - ext
	w, first := rateSlackCalendar, start+rule.Days
	if rule.Unit == WorkingDays {
		w, first = rateSlackWorking, start+1
	}
	if y := dayNumberDate(first).Year(); y == dayNumberDate(c.Day+w).Year() {
		return y
	}
	return 0
}

func slack(c RateCell) int {
	if rule, _ := periodRule(c.Metric, c.Variant); rule.Unit == WorkingDays {
		return rateSlackWorking
	}
	return rateSlackCalendar
}

// FoldRunning is the cell a running period's cell c is kept under at horizon: folded into its
// year once it is overdue whatever the calendar says; ok is false when c stays as it is.
func FoldRunning(c RateCell, horizon int) (RateCell, bool) {
	if c.Bucket != BucketRunning || c.Day < 0 || c.Day+slack(c) >= horizon {
		return c, false
	}
	y := foldYear(c)
	if y == 0 {
		return c, false
	}
	return folded(c, y), true
}

// folded is c kept under its year only: what it says (on time, late) no longer depends on the
// calendar or the rule, so the extension and the fast track are dropped too.
func folded(c RateCell, year int) RateCell {
	c.Day, c.Variant = -year, 0
	return c
}

func periodCell(metric string, unitOf int64, variant int, start, end time.Time, horizon int) RateCell {
	rule, ext := periodRule(metric, variant)
	c := RateCell{Metric: metric, UnitOf: unitOf, Variant: variant, Day: LegalDayNumber(start) + rule.Days + ext, Bucket: BucketRunning}
	if end.IsZero() {
		c, _ = FoldRunning(c, horizon)
		return c
	}
	off := LegalDayNumber(end) - c.Day
	switch {
	case off <= 0:
		c.Bucket = BucketOnTime
	case off > slack(c):
		c.Bucket = BucketLate
	default:
		c.Bucket = off
		return c
	}
	if y := foldYear(c); y != 0 {
		c = folded(c, y)
	}
	return c
}

// Cells are what a case with facts f adds, at horizon, to the subtree of a unit at depth (0: the
// root) on its path. They are the same at every depth except the repeat cell.
func (f CaseFacts) Cells(depth, horizon int) []RateCell {
	cl := f.Clock
	out := []RateCell{{Metric: MetricCases}}
	if f.RepeatDepth >= depth {
		out = append(out, RateCell{Metric: MetricRepeat})
	}
	if f.Sat >= 0 {
		out = append(out, RateCell{Metric: MetricSatisfied, Bucket: f.Sat})
	}
	out = append(out, periodCell(MetricAcceptance, 0, 0, cl.AccStart, cl.Decided, horizon))
	if !cl.Accepted.IsZero() {
		variant := cl.ExtDays * 2
		if cl.Fast {
			variant++
		}
		out = append(out, periodCell(MetricHandling, cl.UnitOf, variant, cl.Accepted, cl.Answered, horizon))
	}
	return out
}

// countsAnswer reports whether the counts give exactly what ComputeRates would: they were kept
// with the default rules, and the buckets' W must exceed how far the calendar can move a due day.
// (A running period folded at the horizon is late: the rates are read at or after the horizon.)
func countsAnswer(cal *Calendar, rules Rules) bool {
	if cal.provisional { // the counts never guess a year; a provisional calendar does
		return false
	}
	def := keptRules
	for _, k := range []string{RuleAcceptance, RuleHandling, RuleFastTrack, RuleExtension} {
		if rules[k] != def[k] {
			return false
		}
	}
	run, window := 0, []bool{}
	rests, maxRun, maxRests := 0, 0, 0
	span := def[RuleFastTrack].Days + def[RuleExtension].Days + rateSlackWorking
	// Walk the covered days in order: the longest run of rest days, and the most rest days in any
	// window a working-day period with its extension and slack can span.
	lo, hi := 0, 0
	for y := range cal.Years() {
		if lo == 0 || y < lo {
			lo = y
		}
		if y > hi {
			hi = y
		}
	}
	for d := Date(lo, 1, 1); lo != 0 && d.Year() <= hi; d = d.AddDate(0, 0, 1) {
		working, err := cal.IsWorkingDay(d)
		if err != nil { // a year between covered ones is missing: start afresh after it
			run, rests, window = 0, 0, window[:0]
			continue
		}
		rest := !working
		if rest {
			run++
			rests++
		} else {
			run = 0
		}
		window = append(window, rest)
		if len(window) > span {
			if window[0] {
				rests--
			}
			window = window[1:]
		}
		maxRun, maxRests = max(maxRun, run), max(maxRests, rests)
	}
	return maxRun <= rateSlackCalendar && maxRests <= rateSlackWorking
}

// dayIndex answers due days with table lookups over the days the calendar covers: the rates read
// thousands of cells, and walking the calendar for each would cost more than reading them. It
// gives what Calendar.Compute and Extend give (the conformance test compares the two ways).
type dayIndex struct {
	first, last int   // day numbers of the first and last entries
	nextWork    []int // the first working day from here within covered days, -1 when an uncovered day or the end comes first
	workBefore  []int // working days before this one
	uncovBefore []int // uncovered days before this one
}

func newDayIndex(cal *Calendar) *dayIndex {
	lo, hi := 0, 0
	for y := range cal.Years() {
		if lo == 0 || y < lo {
			lo = y
		}
		hi = max(hi, y)
	}
	x := &dayIndex{first: LegalDayNumber(Date(lo, 1, 1)), last: LegalDayNumber(Date(hi, 12, 31))}
	if lo == 0 {
		x.first, x.last = 1, 0
	}
	n := x.last - x.first + 1
	covered, working := make([]bool, n), make([]bool, n)
	x.nextWork, x.workBefore, x.uncovBefore = make([]int, n), make([]int, n+1), make([]int, n+1)
	for i := range n {
		w, err := cal.IsWorkingDay(dayNumberDate(x.first + i))
		covered[i], working[i] = err == nil, err == nil && w
		x.workBefore[i+1] = x.workBefore[i] + b2int(working[i])
		x.uncovBefore[i+1] = x.uncovBefore[i] + b2int(!covered[i])
	}
	next := -1
	for i := n - 1; i >= 0; i-- {
		switch {
		case !covered[i]:
			next = -1
		case working[i]:
			next = x.first + i
		}
		x.nextWork[i] = next
	}
	return x
}

func b2int(b bool) int {
	if b {
		return 1
	}
	return 0
}

// roll is the first working day from day on, reading only covered days.
func (x *dayIndex) roll(day int) (int, error) {
	if day < x.first || day > x.last || x.nextWork[day-x.first] < 0 {
		return 0, ErrCalendarYear
	}
	return x.nextWork[day-x.first], nil
}

// due is the last day of rule's period from the day start, extended by ext days.
func (x *dayIndex) due(rule Rule, start, ext int) (int, error) {
	if rule.Unit == WorkingDays {
		// The (days+ext)-th working day after start, every day up to it covered.
		from := start + 1
		if from < x.first || from > x.last {
			return 0, ErrCalendarYear
		}
		want := x.workBefore[from-x.first] + rule.Days + ext
		if x.workBefore[len(x.workBefore)-1] < want {
			return 0, ErrCalendarYear
		}
		// The first i with workBefore[i+1] == want.
		lo, hi := from-x.first, len(x.workBefore)-2
		for lo < hi {
			mid := (lo + hi) / 2
			if x.workBefore[mid+1] >= want {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		if x.uncovBefore[lo+1] != x.uncovBefore[from-x.first] {
			return 0, ErrCalendarYear
		}
		return x.first + lo, nil
	}
	// Calendar days: the unextended period is counted first (Extend recounts it), so its days are
	// read even when the extension moves past them.
	if _, err := x.roll(start + rule.Days); err != nil {
		return 0, err
	}
	return x.roll(start + rule.Days + ext)
}

// RatesFromCounts computes the rates at now from a subtree's counts kept at a horizon on or before
// now; it gives what ComputeRates gives for the same cases (a conformance test holds both stores
// to it).
func RatesFromCounts(rows []RateRow, cal *Calendar, rules Rules, now time.Time) (Rates, error) {
	r := Rates{Overdue: map[int64]int{}}
	today := LegalDayNumber(now)
	days := newDayIndex(cal)
	acceptance, handling, fast := rules[RuleAcceptance], rules[RuleHandling], rules[RuleFastTrack]
	covered := map[int]bool{}
	for y := range cal.Years() {
		covered[y] = true
	}
	for _, row := range rows {
		n := int(row.N)
		var rate *Rate
		rule, ext := acceptance, 0
		switch row.Metric {
		case MetricCases:
			r.Repeat.Den += n
			continue
		case MetricRepeat:
			r.Repeat.Num += n
			continue
		case MetricSatisfied:
			r.Satisfaction.Den += n
			if row.Bucket == 1 {
				r.Satisfaction.Num += n
			}
			continue
		case MetricAcceptance:
			rate = &r.TimelyAcceptance
		case MetricHandling:
			rate, rule, ext = &r.OnTimeClosure, handling, row.Variant/2
			if row.Variant%2 == 1 {
				rule = fast
			}
		default:
			return Rates{}, fmt.Errorf("rates: unknown metric %q in the counts", row.Metric)
		}
		// What the cell says: on time, late (counted against its unit), running and not yet due,
		// or uncounted.
		onTime, late := false, false
		if row.Day < 0 { // folded: every day the period's count reads lies in this year
			if !covered[-row.Day] {
				r.Uncounted += n
				continue
			}
			onTime, late = row.Bucket == BucketOnTime, row.Bucket != BucketOnTime
		} else {
			d, err := days.due(rule, row.Day-rule.Days-ext, ext)
			if errors.Is(err, ErrCalendarYear) {
				r.Uncounted += n
				continue
			}
			switch {
			case row.Bucket == BucketRunning:
				late = today > d
			case row.Bucket == BucketOnTime || (row.Bucket != BucketLate && row.Day+row.Bucket <= d):
				onTime = true
			default:
				late = true
			}
		}
		switch {
		case onTime:
			rate.Den += n
			rate.Num += n
		case late:
			rate.Den += n
			if row.Metric == MetricHandling {
				r.Overdue[row.UnitOf] += n
			}
		}
	}
	return r, nil
}
