package rates

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
)

// Rate counts: what the store keeps so that the statistics of a subtree with a million cases are
// read from tens of thousands of rows instead of computed from a million timelines.
// docs/benchmarks.md has the numbers, docs/architecture.md the outline.
//
// Each case adds cells (RateCell) to every unit its statistics count it under: the units above
// its registering unit and above the unit it is routed to. A cell holds what the statistics need
// of a case and nothing the calendar decides, so that the counts never go stale when an operator
// corrects the calendar. A clock period's cell holds its nominal last day L (start + the rule's
// days + the extension's: the due day is never before it) and where its end fell from L. An end on
// or before L is on time whatever the calendar says, and all such periods of a subtree share one
// cell; an end more than W days after L is late, W being longer than the calendar can move a due
// day (checked when the counts are read); the ends in between keep their day, and the due day
// decides at read time. A late period whose due day is counted with days of one year only keeps
// that year instead of L (the year must be covered for it to count). Running periods fold the same
// way once they are overdue whatever the calendar says, L + W before the store's horizon: a day
// the statistics were read on, which only moves forward; moving it re-keys the cells it folds
// (FoldRateCounts), so the counts always equal the sum of every case's cells under the current
// horizon. A case's facts are derived from its timeline (ClockOf), its rating and the other cases
// of its petitioners, in the transaction of every change. A level's forwarding period (逐级转送)
// runs for the working days the province sets, which the counts do not know: its L is the day after
// its start, where the shortest setting could end it (forwardNominal), and the province's days are
// applied when the counts are read.

// Metrics of a rate cell.
const (
	MetricCases      = "cases"   // every case
	MetricCount      = "count"   // UnitOf: the territory, Variant: the category, Day: the month of registration
	MetricRepeat     = "repeat"  // a repeat petition (an earlier case of the same person and matter, anywhere)
	MetricScore      = "score"   // a result rating; Bucket: its score (scoreCodes)
	MetricReturn     = "return"  // a closed case; Day: the day closed, Bucket: days until the person came back
	MetricAcceptance = "acc"     // the acceptance period; UnitOf: the unit that had to decide
	MetricHandling   = "h"       // the handling period; UnitOf: the unit counted against
	MetricRouting    = "route"   // the registering office's routing period; UnitOf: that office
	MetricOutcome    = "out"     // how a case ended; Bucket: its outcome (casework.Outcomes), or OutcomeUnclassified
	MetricRatable    = "ratable" // a result that should be rated (ShouldRateResult)
	MetricForward    = "fwd"     // a level's forwarding period (ForwardPeriods); UnitOf: the unit forwarded to
)

// OutcomeUnclassified is the bucket of an outcome cell of a closed case that names no outcome.
var OutcomeUnclassified = len(casework.Outcomes)

// Buckets and days of cells besides the days after L.
const (
	BucketRunning = -1   // the period has not ended; a return cell: the person has not come back
	BucketOnTime  = 0    // ended on or before L
	BucketLate    = 1000 // ended more than W days after L
	// DayAny is the day of a cell that no longer needs one: an on-time period, a return.
	DayAny = -1
	// DayLongAgo is the day of a return cell of a case closed longer ago than any window.
	DayLongAgo = -2
)

// The W of the buckets: how far past L a due day can lie. A calendar-day rule's due day moves
// off a run of rest days; a working-day rule's lies past L by the rest days it skipped.
const (
	rateSlackCalendar = 15
	rateSlackWorking  = 40
	// RateSlackMax is the larger of the two.
	RateSlackMax = rateSlackWorking
	// MaxRepetitionDays is the longest "back within N days" window the counts answer.
	MaxRepetitionDays = 365
)

var scoreCodes = []string{casework.ScoreSatisfied, casework.ScoreBasically, casework.ScoreUnsatisfied}

// RateCell is one count of a unit's subtree.
type RateCell struct {
	Metric  string
	UnitOf  int64
	Variant int // MetricHandling: extension days × 2 + 1 for the fast track
	Day     int // a day as days since 1970-01-01, or minus the year of a folded period cell
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
	// folds the cells that can be folded before it; it returns the horizon.
	FoldRateCounts(ctx context.Context, day int) (int, error)
}

// CaseFacts is what a case adds to the counts.
type CaseFacts struct {
	Clock     RateClock
	Category  int64
	Territory string
	Month     int    // of registration, as year × 12 + month − 1 (Beijing)
	Score     string // the result rating, "" when none
	Repeat    bool   // an earlier case of the same person and category exists
	Closed    time.Time
	Returned  time.Time // the person's first case of the same category registered after Closed
	Outcome   casework.CaseOutcome
	// Registered is when the case was registered: its routing period runs from it to Clock.Routed.
	Registered time.Time
	RegUnit    int64 // the registering office
	Ratable    bool  // its result should be rated (ShouldRateResult)
	// Forwards are the levels' forwarding periods (ForwardPeriods).
	Forwards []ForwardPeriod
}

// LegalDayNumber is the legal date of an instant as days since 1970-01-01.
func LegalDayNumber(t time.Time) int { return int(calendar.DayOf(t).Unix() / 86400) }

func dayNumberDate(n int) time.Time { return time.Unix(int64(n)*86400, 0).UTC() }

// MonthNumber is the month of an instant's legal date as year × 12 + month − 1.
func MonthNumber(t time.Time) int {
	d := calendar.DayOf(t)
	return d.Year()*12 + int(d.Month()) - 1
}

// keptRules are the rules the counts are kept with (read-only).
var keptRules = casework.DefaultRules()

// forwardNominal is the forwarding period the counts keep, whatever days the province sets (1 to
// 15): its last day is never after the real one's, so an end on or before it is on time.
var forwardNominal = casework.ForwardRule(1)

// maxForwardDays is the longest per-level period the counts answer; W bounds how far past L the
// due day of a longer one can lie (countsAnswer).
const maxForwardDays = 15

// periodRule is the rule and extension of a period cell.
func periodRule(metric string, variant int) (calendar.Rule, int) {
	switch metric {
	case MetricAcceptance:
		return keptRules[casework.RuleAcceptance], 0
	case MetricRouting:
		return keptRules[casework.RuleRegistration], 0
	case MetricForward:
		return forwardNominal, 0
	}
	if variant%2 == 1 {
		return keptRules[casework.RuleFastTrack], variant / 2
	}
	return keptRules[casework.RuleHandling], variant / 2
}

func slack(rule calendar.Rule) int {
	if rule.Unit == calendar.WorkingDays {
		return rateSlackWorking
	}
	return rateSlackCalendar
}

// foldYear is the year of every day a period's due day can be counted with (from the first day
// the count reads to L + W), or 0 when they span two years.
func foldYear(c RateCell) int {
	rule, ext := periodRule(c.Metric, c.Variant)
	first := c.Day // a calendar-day count reads from L on
	if rule.Unit == calendar.WorkingDays {
		first = c.Day - rule.Days - ext + 1
	}
	if y := dayNumberDate(first).Year(); y == dayNumberDate(c.Day+slack(rule)).Year() {
		return y
	}
	return 0
}

// Fold is the cell c is kept under at horizon: a running period folded into its year once it is
// overdue whatever the calendar says; a closed case's return folded once the return is past (it is
// then past every window it missed), or its window once it is past any window; ok is false when c
// stays as it is.
func Fold(c RateCell, horizon int) (RateCell, bool) {
	switch {
	case c.Metric == MetricReturn && c.Bucket == BucketRunning && c.Day >= 0 && c.Day+MaxRepetitionDays < horizon:
		c.Day = DayLongAgo
		return c, true
	case c.Metric == MetricReturn && c.Bucket >= 0 && c.Day >= 0 && c.Day+c.Bucket <= horizon:
		c.Day = DayAny
		return c, true
	case isPeriod(c.Metric) && c.Bucket == BucketRunning && c.Day >= 0:
		rule, _ := periodRule(c.Metric, c.Variant)
		if c.Day+slack(rule) >= horizon {
			return c, false
		}
		if y := foldYear(c); y != 0 {
			c.Day, c.Variant = -y, 0
			return c, true
		}
	}
	return c, false
}

// isPeriod reports whether metric counts a clock period.
func isPeriod(metric string) bool {
	return metric == MetricAcceptance || metric == MetricHandling || metric == MetricRouting || metric == MetricForward
}

func periodCell(metric string, unitOf int64, variant int, start, end time.Time, horizon int) RateCell {
	rule, ext := periodRule(metric, variant)
	c := RateCell{Metric: metric, UnitOf: unitOf, Variant: variant, Day: LegalDayNumber(start) + rule.Days + ext, Bucket: BucketRunning}
	if end.IsZero() {
		c, _ = Fold(c, horizon)
		return c
	}
	off := LegalDayNumber(end) - c.Day
	switch {
	case off <= 0: // on time whatever the calendar, and counted against nobody
		return RateCell{Metric: metric, Day: DayAny, Bucket: BucketOnTime}
	case off > slack(rule):
		c.Bucket = BucketLate
		if y := foldYear(c); y != 0 {
			c.Day, c.Variant = -y, 0
		}
	default:
		c.Bucket = off
	}
	return c
}

// Cells are what a case with facts f adds, at horizon, to each subtree it is counted in.
func (f CaseFacts) Cells(horizon int) []RateCell {
	cl := f.Clock
	out := []RateCell{{Metric: MetricCases}}
	territory, _ := strconv.ParseInt(f.Territory, 10, 64) // division codes are digits
	out = append(out, RateCell{Metric: MetricCount, UnitOf: territory, Variant: int(f.Category), Day: f.Month})
	if f.Repeat {
		out = append(out, RateCell{Metric: MetricRepeat})
	}
	if f.Ratable {
		out = append(out, RateCell{Metric: MetricRatable})
	}
	for i, s := range scoreCodes {
		if f.Score == s {
			out = append(out, RateCell{Metric: MetricScore, Bucket: i})
		}
	}
	if !f.Closed.IsZero() {
		c := RateCell{Metric: MetricReturn, Day: LegalDayNumber(f.Closed), Bucket: BucketRunning}
		if !f.Returned.IsZero() {
			if off := LegalDayNumber(f.Returned) - c.Day; off <= MaxRepetitionDays {
				c.Bucket = off
			}
		}
		c, _ = Fold(c, horizon)
		out = append(out, c)
	}
	switch i := slices.Index(casework.Outcomes, f.Outcome); {
	case i >= 0:
		out = append(out, RateCell{Metric: MetricOutcome, Bucket: i})
	case !f.Closed.IsZero():
		out = append(out, RateCell{Metric: MetricOutcome, Bucket: OutcomeUnclassified})
	}
	if !f.Registered.IsZero() {
		out = append(out, periodCell(MetricRouting, f.RegUnit, 0, f.Registered, cl.Routed, horizon))
	}
	out = append(out, periodCell(MetricAcceptance, cl.AccUnit, 0, cl.AccStart, cl.Decided, horizon))
	if !cl.Accepted.IsZero() {
		variant := cl.ExtDays * 2
		if cl.Fast {
			variant++
		}
		out = append(out, periodCell(MetricHandling, cl.UnitOf, variant, cl.Accepted, cl.Answered, horizon))
	}
	for _, p := range f.Forwards {
		out = append(out, periodCell(MetricForward, p.Unit, 0, p.Start, p.End, horizon))
	}
	return out
}

// countsAnswer reports whether the counts give exactly what ComputeRates would: they were kept
// with the default rules (the forwarding days are any the province may set), and W must exceed how
// far the calendar can move a due day.
func countsAnswer(cal *calendar.Calendar, rules casework.Rules) bool {
	if cal.Provisional() { // the counts never guess a year; a provisional calendar does
		return false
	}
	for _, k := range []string{casework.RuleRegistration, casework.RuleAcceptance, casework.RuleHandling, casework.RuleFastTrack, casework.RuleExtension} {
		if rules[k] != keptRules[k] {
			return false
		}
	}
	fwd := forwardRule(rules)
	if fwd.Unit != calendar.WorkingDays || fwd.Days > maxForwardDays {
		return false
	}
	// A forwarding period's due day lies within W of its L when the W + 1 days from L hold its
	// working days: at most W + 1 − days rest days in any such window.
	fwdSpan := rateSlackWorking + 1
	fwdRests, maxFwdRests := 0, 0
	var fwdWindow []bool
	// Walk the covered days in order: the longest run of rest days, and the most rest days in any
	// window a working-day period with its extension and slack can span.
	span := keptRules[casework.RuleFastTrack].Days + keptRules[casework.RuleExtension].Days + rateSlackWorking
	lo, hi := 0, 0
	for y := range cal.Years() {
		if lo == 0 || y < lo {
			lo = y
		}
		hi = max(hi, y)
	}
	run, rests, maxRun, maxRests := 0, 0, 0, 0
	var window []bool
	for d := calendar.Date(lo, 1, 1); lo != 0 && d.Year() <= hi; d = d.AddDate(0, 0, 1) {
		working, err := cal.IsWorkingDay(d)
		if err != nil { // a year between covered ones is missing: start afresh after it
			run, rests, window = 0, 0, window[:0]
			fwdRests, fwdWindow = 0, fwdWindow[:0]
			continue
		}
		if working {
			run = 0
		} else {
			run++
			rests++
		}
		window = append(window, !working)
		if len(window) > span {
			if window[0] {
				rests--
			}
			window = window[1:]
		}
		maxRun, maxRests = max(maxRun, run), max(maxRests, rests)
		if fwdWindow = append(fwdWindow, !working); !working {
			fwdRests++
		}
		if len(fwdWindow) > fwdSpan {
			if fwdWindow[0] {
				fwdRests--
			}
			fwdWindow = fwdWindow[1:]
		}
		maxFwdRests = max(maxFwdRests, fwdRests)
	}
	return maxRun <= rateSlackCalendar && maxRests <= rateSlackWorking && maxFwdRests <= fwdSpan-fwd.Days
}

// dayIndex answers due days with table lookups over the days the calendar covers: the statistics
// read tens of thousands of cells, and walking the calendar for each would cost more than reading
// them. It gives what the calendar's own count gives (a test compares the two for every start day
// of three years).
type dayIndex struct {
	first, last int   // day numbers of the first and last entries
	nextWork    []int // the first working day from here within covered days, -1 when an uncovered day or the end comes first
	workBefore  []int // working days before this one
	uncovBefore []int // uncovered days before this one
}

func newDayIndex(cal *calendar.Calendar) *dayIndex {
	lo, hi := 0, 0
	for y := range cal.Years() {
		if lo == 0 || y < lo {
			lo = y
		}
		hi = max(hi, y)
	}
	x := &dayIndex{first: 1, last: 0}
	if lo != 0 {
		x.first, x.last = LegalDayNumber(calendar.Date(lo, 1, 1)), LegalDayNumber(calendar.Date(hi, 12, 31))
	}
	n := x.last - x.first + 1
	covered, working := make([]bool, n), make([]bool, n)
	x.nextWork, x.workBefore, x.uncovBefore = make([]int, n), make([]int, n+1), make([]int, n+1)
	for i := range n {
		w, err := cal.IsWorkingDay(dayNumberDate(x.first + i))
		covered[i], working[i] = err == nil, err == nil && w
		x.workBefore[i+1], x.uncovBefore[i+1] = x.workBefore[i], x.uncovBefore[i]
		if working[i] {
			x.workBefore[i+1]++
		}
		if !covered[i] {
			x.uncovBefore[i+1]++
		}
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

// due is the last day of rule's period from the day start with ext more days.
func (x *dayIndex) due(rule calendar.Rule, start, ext int) (int, error) {
	if rule.Unit == calendar.WorkingDays {
		// The (days+ext)-th working day after start, every day up to it covered.
		from := start + 1
		if from < x.first || from > x.last {
			return 0, calendar.ErrCalendarYear
		}
		want := x.workBefore[from-x.first] + rule.Days + ext
		if x.workBefore[len(x.workBefore)-1] < want {
			return 0, calendar.ErrCalendarYear
		}
		lo, hi := from-x.first, len(x.workBefore)-2 // the first i with workBefore[i+1] == want
		for lo < hi {
			mid := (lo + hi) / 2
			if x.workBefore[mid+1] >= want {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		if x.uncovBefore[lo+1] != x.uncovBefore[from-x.first] {
			return 0, calendar.ErrCalendarYear
		}
		return x.first + lo, nil
	}
	// Calendar days: the last day, moved off rest days.
	day := start + rule.Days + ext
	if day < x.first || day > x.last || x.nextWork[day-x.first] < 0 {
		return 0, calendar.ErrCalendarYear
	}
	return x.nextWork[day-x.first], nil
}

// RatesFromCounts computes the statistics at now from a subtree's counts kept at a horizon on or
// before now, with the "back within N days" window repetitionDays (0: the default); it gives what
// ComputeRates gives for the same cases (a conformance test holds both stores to it).
func RatesFromCounts(rows []RateRow, cal *calendar.Calendar, rules casework.Rules, repetitionDays int, now time.Time) (Rates, error) {
	r := Rates{Scores: map[string]int{}, Overdue: map[int64]UnitOverdue{}, Counts: map[CountKey]int{}, RepetitionDays: repetitionDays,
		Outcomes: map[casework.CaseOutcome]int{}}
	if r.RepetitionDays <= 0 {
		r.RepetitionDays = DefaultRepetitionDays
	}
	if r.RepetitionDays > MaxRepetitionDays {
		return Rates{}, fmt.Errorf("rates: a window of %d days is longer than the counts keep", r.RepetitionDays)
	}
	today := LegalDayNumber(now)
	days := newDayIndex(cal)
	covered := cal.Years()
	for _, row := range rows {
		n := int(row.N)
		switch row.Metric {
		case MetricCases:
			r.Cases += n
			r.Repeat.Den += n
			continue
		case MetricCount:
			y, m := row.Day/12, time.Month(row.Day%12+1)
			r.Counts[CountKey{CategoryID: int64(row.Variant), Territory: strconv.FormatInt(row.UnitOf, 10), Month: fmt.Sprintf("%04d-%02d", y, m)}] += n
			continue
		case MetricRepeat:
			r.Repeat.Num += n
			continue
		case MetricRatable:
			r.Participation.Den += n
			continue
		case MetricScore:
			if row.Bucket < 0 || row.Bucket >= len(scoreCodes) {
				return Rates{}, fmt.Errorf("rates: unknown score %d in the counts", row.Bucket)
			}
			r.Satisfaction.Den += n
			r.Participation.Num += n
			r.Scores[scoreCodes[row.Bucket]] += n
			if scoreCodes[row.Bucket] != casework.ScoreUnsatisfied {
				r.Satisfaction.Num += n
			}
			continue
		case MetricReturn:
			back := row.Bucket >= 0 && row.Bucket <= r.RepetitionDays
			if back {
				r.Repetitioned.Num += n
			}
			// The window of a case closed on day d ends with day d + N; a folded return lies before
			// the horizon, so a window it missed has ended.
			if back || row.Day < 0 || today > row.Day+r.RepetitionDays {
				r.Repetitioned.Den += n
			}
			continue
		case MetricOutcome:
			switch {
			case row.Bucket == OutcomeUnclassified:
				r.Unclassified += n
			case row.Bucket >= 0 && row.Bucket < len(casework.Outcomes):
				r.Outcomes[casework.Outcomes[row.Bucket]] += n
			default:
				return Rates{}, fmt.Errorf("rates: unknown outcome %d in the counts", row.Bucket)
			}
			continue
		case MetricAcceptance, MetricHandling, MetricRouting, MetricForward:
		default:
			return Rates{}, fmt.Errorf("rates: unknown metric %q in the counts", row.Metric)
		}
		kept, ext := periodRule(row.Metric, row.Variant)
		rule := rules[kept.Key]
		if row.Metric == MetricForward {
			rule = forwardRule(rules)
		}
		// The period's start, and its last day as if every day were a working day (L, but for a
		// forwarding period kept with forwardNominal, later): the due day is never before it.
		start := row.Day - kept.Days - ext
		last := start + rule.Days + ext
		o := notDue
		switch {
		case row.Bucket == BucketOnTime:
			o = onTime
		case row.Day < 0: // folded: late, if its year is covered
			o = late
			if _, ok := covered[-row.Day]; !ok {
				o = unknown
			}
		case row.Bucket == BucketRunning && today <= last: // not due whatever the calendar
		default:
			d, err := days.due(rule, start, ext)
			switch {
			case errors.Is(err, calendar.ErrCalendarYear) && row.Bucket != BucketRunning && row.Bucket != BucketLate && row.Day+row.Bucket <= last:
				o = onTime // ended before any due day, as judge counts it
			case errors.Is(err, calendar.ErrCalendarYear):
				o = unknown
			case row.Bucket == BucketRunning:
				if today > d {
					o = late
				}
			case row.Bucket != BucketLate && row.Day+row.Bucket <= d:
				o = onTime
			default:
				o = late
			}
		}
		r.tally(row.Metric, row.UnitOf, o, n)
	}
	return r, nil
}
