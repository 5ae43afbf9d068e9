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
	rateSlackWorking  = 60
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

// RateStore keeps the counts. Errors wrap ErrNotFound for an unknown path.
type RateStore interface {
	// RateCounts returns the non-zero cells of the subtree at underPath ("" for every case).
	RateCounts(ctx context.Context, underPath string) ([]RateRow, error)
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

func periodCell(metric string, unitOf int64, variant int, rule Rule, ext int, start, end time.Time) RateCell {
	s := LegalDayNumber(start)
	l := s + rule.Days + ext
	w, first := rateSlackCalendar, s+rule.Days // the first day the count reads
	if rule.Unit == WorkingDays {
		w, first = rateSlackWorking, s+1
	}
	c := RateCell{Metric: metric, UnitOf: unitOf, Variant: variant, Day: l, Bucket: BucketRunning}
	if end.IsZero() {
		return c
	}
	off := LegalDayNumber(end) - l
	switch {
	case off <= 0:
		c.Bucket = BucketOnTime
	case off > w:
		c.Bucket = BucketLate
	default:
		c.Bucket = off
		return c
	}
	if y := dayNumberDate(first).Year(); y == dayNumberDate(l+w).Year() {
		c.Day = -y
	}
	return c
}

// Cells are what a case with facts f adds to the subtree of a unit at depth (0: the root) on its
// path. They are the same at every depth except the repeat cell.
func (f CaseFacts) Cells(depth int) []RateCell {
	rules := DefaultRules()
	cl := f.Clock
	out := []RateCell{{Metric: MetricCases}}
	if f.RepeatDepth >= depth {
		out = append(out, RateCell{Metric: MetricRepeat})
	}
	if f.Sat >= 0 {
		out = append(out, RateCell{Metric: MetricSatisfied, Bucket: f.Sat})
	}
	out = append(out, periodCell(MetricAcceptance, 0, 0, rules[RuleAcceptance], 0, cl.AccStart, cl.Decided))
	if !cl.Accepted.IsZero() {
		variant := cl.ExtDays * 2
		if cl.Fast {
			variant++
		}
		out = append(out, periodCell(MetricHandling, cl.UnitOf, variant, cl.HandlingRule(rules), cl.ExtDays, cl.Accepted, cl.Answered))
	}
	return out
}

// countsAnswer reports whether the counts give exactly what ComputeRates would: they were kept
// with the default rules, and the buckets' W must exceed how far the calendar can move a due day.
func countsAnswer(cal *Calendar, rules Rules) bool {
	if cal.provisional { // the counts never guess a year; a provisional calendar does
		return false
	}
	def := DefaultRules()
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

// RatesFromCounts computes the rates at now from a subtree's counts; it gives what ComputeRates
// gives for the same cases (a conformance test holds both stores to it).
func RatesFromCounts(rows []RateRow, cal *Calendar, rules Rules, now time.Time) (Rates, error) {
	r := Rates{Overdue: map[int64]int{}}
	today := LegalDayNumber(now)
	type dueKey struct {
		metric         string
		variant, start int
	}
	dues := map[dueKey]int{}
	due := func(c RateCell) (int, error) {
		rule, ext := rules[RuleAcceptance], 0
		if c.Metric == MetricHandling {
			rule, ext = rules[RuleHandling], c.Variant/2
			if c.Variant%2 == 1 {
				rule = rules[RuleFastTrack]
			}
		}
		k := dueKey{c.Metric, c.Variant, c.Day - rule.Days - ext}
		if d, ok := dues[k]; ok {
			return d, nil
		}
		d, err := periodDue(cal, rules, rule, dayNumberDate(k.start), ext)
		if err != nil {
			return 0, err
		}
		dues[k] = LegalDayNumber(d.Due)
		return dues[k], nil
	}
	for _, row := range rows {
		n := int(row.N)
		var rate *Rate
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
			rate = &r.OnTimeClosure
		default:
			return Rates{}, fmt.Errorf("rates: unknown metric %q in the counts", row.Metric)
		}
		late := func() {
			rate.Den += n
			if row.Metric == MetricHandling {
				r.Overdue[row.UnitOf] += n
			}
		}
		if row.Day < 0 { // folded: every day the period's count reads lies in this year
			if covered, _ := cal.Covers(-row.Day); !covered {
				r.Uncounted += n
			} else if row.Bucket == BucketOnTime {
				rate.Den += n
				rate.Num += n
			} else {
				late()
			}
			continue
		}
		d, err := due(row.RateCell)
		if errors.Is(err, ErrCalendarYear) {
			r.Uncounted += n
			continue
		}
		if err != nil {
			return Rates{}, fmt.Errorf("rates: %w", err)
		}
		switch {
		case row.Bucket == BucketRunning:
			if today > d {
				late()
			}
		case row.Bucket == BucketOnTime || (row.Bucket != BucketLate && row.Day+row.Bucket <= d):
			rate.Den += n
			rate.Num += n
		default:
			late()
		}
	}
	return r, nil
}
