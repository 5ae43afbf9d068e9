package rates

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
)

// The rates (shared/domain.md: 及时受理率, 按期办结率, 群众满意率, repeat share). Rates are computed
// here from case events and evaluations (casework.Evaluation); nothing stores or accepts a rate.

// Rate is a share with its parts, so a reader can check it.
type Rate struct {
	Num, Den int
}

// Value is Num/Den, 0 when there is nothing to count.
func (r Rate) Value() float64 {
	if r.Den == 0 {
		return 0
	}
	return float64(r.Num) / float64(r.Den)
}

// Add adds o's parts to r's (rates of disjoint sets of cases).
func (r *Rate) Add(o Rate) { r.Num, r.Den = r.Num+o.Num, r.Den+o.Den }

// UnitOverdue counts, for one unit, the cases it let go overdue: acceptance (a case routed to it
// not decided in time) and handling (a case not answered in time).
type UnitOverdue struct {
	Acceptance, Handling int
	Routing              int // the office's own routing (登记转送交办 15 日) not done in time
	Forwarding           int // a forwarded matter not passed on or decided within the per-level days (逐级转送)
}

// CountKey is one cell of the case counts: a category, a territory and the month of registration.
type CountKey struct {
	CategoryID int64
	Territory  string // the case's division code
	Month      string // YYYY-MM of the registration day in Beijing
}

// DefaultRepetitionDays is how long after its closure a case counts as "closed but petitioned
// again" when the same person brings the same category of matter back.
const DefaultRepetitionDays = 90

// Rates are the leaders' figures for a set of cases. Every figure is counted from the cases'
// timelines and the petitioners' ratings; none is stored or accepted from outside.
type Rates struct {
	Cases            int  // the cases counted
	TimelyAcceptance Rate // decided (accepted or not) within the acceptance period; overdue undecided count against
	OnTimeClosure    Rate // answered within the handling period (+ extension); overdue unanswered count against
	Satisfaction     Rate // satisfied or basically satisfied result ratings
	// Participation (参评率): the results rated, out of the results that should be rated — of a
	// case not excluded from rating whose 处理意见书 was served or that was closed.
	Participation Rate
	Scores        map[string]int
	Repeat        Rate // cases of the same person and matter after an earlier one (同人同事, casework.MatchMatter)
	// Repetitioned: closed cases whose person came back with the same matter within
	// RepetitionDays of the closure, out of the closed cases whose window has ended or that came back.
	Repetitioned   Rate
	RepetitionDays int
	Overdue        map[int64]UnitOverdue // by the unit that had to act
	Counts         map[CountKey]int
	// TimelyRouting: cases the registering office routed (forwarded, assigned, accepted or not
	// accepted) within its own routing period; overdue unrouted count against.
	TimelyRouting Rate
	// TimelyForwarding (逐级转送按期率): the per-level forwarding periods (ForwardPeriods) the
	// receiving unit ended — forwarded on or decided — within the per-level working days; overdue
	// running ones count against.
	TimelyForwarding Rate
	// Outcomes counts the cases that ended by how (casework.CaseOutcome); Unclassified the closed
	// ones that name none (closed after an explanation before outcomes were recorded).
	Outcomes     map[casework.CaseOutcome]int
	Unclassified int
	// Uncounted are the periods (a case's acceptance or handling period) left out of their rate
	// because the outcome hinges on a year the working-day calendar lacks (never guessed); counted
	// here so the dashboard can say so.
	Uncounted int
}

// CaseHistory is a case with its timeline.
type CaseHistory struct {
	Case   casework.Case
	Events []casework.CaseEvent
}

// RatesInput is what the rates are computed from.
type RatesInput struct {
	Cases       []CaseHistory         // the cases counted
	Evaluations []casework.Evaluation // the ratings of those cases
	// Related are the other cases of the same persons, wherever and whenever registered: a
	// repeat or a return after closure is judged on a person's whole history across tiers.
	Related        []casework.Case
	RepetitionDays int // 0: DefaultRepetitionDays
}

func firstTo(evs []casework.CaseEvent, to ...casework.CaseStatus) (casework.CaseEvent, bool) {
	for _, e := range evs {
		for _, t := range to {
			if e.Kind == casework.EvStatus && e.To == t {
				return e, true
			}
		}
	}
	return casework.CaseEvent{}, false
}

// outcome is how one clock of a case stands for the rates.
type outcome int

const (
	notDue  outcome = iota // running and not yet due: not counted
	onTime                 // done within the period
	late                   // done after it, or not done and the period has ended
	unknown                // hinges on a year the calendar lacks
)

// judge weighs the act done at done (zero: not done yet) against rule's period from start
// (plus extra days granted), at now.
func judge(cal *calendar.Calendar, rule calendar.Rule, start time.Time, extra int, done, now time.Time) (outcome, error) {
	end := now
	if !done.IsZero() {
		end = done
	}
	d, err := cal.ComputeDays(rule, calendar.DayOf(start), 0, extra)
	switch {
	case err == nil:
		if end.Before(d.DueAt()) {
			if done.IsZero() {
				return notDue, nil
			}
			return onTime, nil
		}
		return late, nil
	case !errors.Is(err, calendar.ErrCalendarYear):
		return 0, err
	}
	// The due day needs a year the calendar lacks, but it is never before the period's last day
	// counted as if every day were a working day: rest days only move it later. Whatever is
	// settled before that day ends is settled without guessing.
	if end.Before(calendar.EndOfDay(calendar.DayOf(start).AddDate(0, 0, rule.Days+extra))) {
		if done.IsZero() {
			return notDue, nil
		}
		return onTime, nil
	}
	return unknown, nil
}

// registration is a case of a person, as the repeat rule compares it.
type registration struct {
	caseID int64
	at     time.Time
	c      casework.Case
}

// ComputeRates computes the rates at now.
func ComputeRates(in RatesInput, cal *calendar.Calendar, rules casework.Rules, now time.Time) (Rates, error) {
	r := Rates{Cases: len(in.Cases), Scores: map[string]int{}, Overdue: map[int64]UnitOverdue{}, Counts: map[CountKey]int{},
		RepetitionDays: in.RepetitionDays, Outcomes: map[casework.CaseOutcome]int{}}
	if r.RepetitionDays <= 0 {
		r.RepetitionDays = DefaultRepetitionDays
	}
	// Every known registration of each person and matter, counted cases and related ones alike.
	regs := map[string][]registration{} // by ID number
	seen := map[int64]bool{}
	note := func(c casework.Case) {
		if seen[c.ID] {
			return
		}
		seen[c.ID] = true
		for _, id := range PersonIDs(c) {
			regs[id] = append(regs[id], registration{c.ID, c.RegisteredAt, c})
		}
	}
	for _, h := range in.Cases {
		note(h.Case)
	}
	for _, c := range in.Related {
		note(c)
	}
	for _, h := range in.Cases {
		c, evs := h.Case, h.Events
		r.Counts[CountKey{c.CategoryID, c.Territory, calendar.DayOf(c.RegisteredAt).Format("2006-01")}]++
		r.Repeat.Den++
		// Two cases registered at the same instant are ordered by id.
		if anyOther(regs, c, func(g registration) bool {
			return g.at.Before(c.RegisteredAt) || g.at.Equal(c.RegisteredAt) && g.caseID < c.ID
		}) {
			r.Repeat.Num++
		}
		if closed, ok := firstTo(evs, casework.StClosed); ok {
			end := calendar.EndOfDay(calendar.DayOf(closed.At).AddDate(0, 0, r.RepetitionDays))
			back := anyOther(regs, c, func(g registration) bool { return g.at.After(closed.At) && g.at.Before(end) })
			if back {
				r.Repetitioned.Num++
			}
			if back || !now.Before(end) {
				r.Repetitioned.Den++
			}
		}
		_, closed := firstTo(evs, casework.StClosed)
		r.countOutcome(c.Outcome, closed, 1)
		cl := ClockOf(c, evs, rules)
		o, err := judge(cal, rules[casework.RuleRegistration], c.RegisteredAt, 0, cl.Routed, now)
		if err != nil {
			return Rates{}, fmt.Errorf("rates: case %s: %w", c.Number, err)
		}
		r.tally(MetricRouting, c.UnitID, o, 1)
		o, err = judge(cal, rules[casework.RuleAcceptance], cl.AccStart, 0, cl.Decided, now)
		if err != nil {
			return Rates{}, fmt.Errorf("rates: case %s: %w", c.Number, err)
		}
		r.tally(MetricAcceptance, cl.AccUnit, o, 1)
		for _, p := range ForwardPeriods(evs) {
			o, err := judge(cal, forwardRule(rules), p.Start, 0, p.End, now)
			if err != nil {
				return Rates{}, fmt.Errorf("rates: case %s: forwarding period: %w", c.Number, err)
			}
			r.tally(MetricForward, p.Unit, o, 1)
		}
		if ShouldRateResult(c, evs) {
			r.Participation.Den++
		}
		if cl.Accepted.IsZero() {
			continue
		}
		o, err = judge(cal, cl.HandlingRule(rules), cl.Accepted, cl.ExtDays, cl.Answered, now)
		if err != nil {
			return Rates{}, fmt.Errorf("rates: case %s: %w", c.Number, err)
		}
		r.tally(MetricHandling, cl.UnitOf, o, 1)
	}
	for _, e := range in.Evaluations {
		if e.Stage != casework.EvalResult {
			continue
		}
		r.Satisfaction.Den++
		r.Participation.Num++
		r.Scores[e.Score]++
		if e.Score == casework.ScoreSatisfied || e.Score == casework.ScoreBasically {
			r.Satisfaction.Num++
		}
	}
	return r, nil
}

// countOutcome counts n cases that ended with outcome (closed: a close is on their timeline).
func (r *Rates) countOutcome(o casework.CaseOutcome, closed bool, n int) {
	switch {
	case o != "":
		r.Outcomes[o] += n
	case closed:
		r.Unclassified += n
	}
}

// ShouldRateResult reports whether the petitioner should rate the result of c with timeline evs:
// it is not excluded from rating, and its 处理意见书 was served or it was closed (the denominator of
// 参评率; casework.RatingStart opens the result's rating on the same events).
func ShouldRateResult(c casework.Case, evs []casework.CaseEvent) bool {
	if casework.EvaluationExcluded(c) {
		return false
	}
	if _, ok := casework.ServedAt(evs, casework.DocAnswer); ok {
		return true
	}
	_, closed := firstTo(evs, casework.StClosed)
	return closed
}

// tally adds n periods of outcome o to the rate of the period metric (MetricRouting,
// MetricAcceptance, MetricHandling or MetricForward), the late ones against unit.
func (r *Rates) tally(metric string, unit int64, o outcome, n int) {
	rate := &r.TimelyAcceptance
	switch metric {
	case MetricHandling:
		rate = &r.OnTimeClosure
	case MetricRouting:
		rate = &r.TimelyRouting
	case MetricForward:
		rate = &r.TimelyForwarding
	}
	switch o {
	case onTime:
		rate.Num += n
		rate.Den += n
	case late:
		rate.Den += n
		u := r.Overdue[unit]
		switch metric {
		case MetricHandling:
			u.Handling += n
		case MetricRouting:
			u.Routing += n
		case MetricForward:
			u.Forwarding += n
		default:
			u.Acceptance += n
		}
		r.Overdue[unit] = u
	case unknown:
		r.Uncounted += n
	}
}

// PersonIDs are the ID numbers of a case's petitioners as the statistics compare them
// (casework.PersonIDs).
func PersonIDs(c casework.Case) []string { return casework.PersonIDs(c) }

// RateClock is what the rates read of a case's two periods, derived from its timeline only.
type RateClock struct {
	AccStart time.Time // the routing that led to the decision, or the registration
	AccUnit  int64     // the unit that had to decide: the one routed to, else the registering one
	Decided  time.Time // accepted or not accepted, first
	Accepted time.Time // the handling period runs from here; zero: none
	Fast     bool      // fast track: the working-day rule
	ExtDays  int       // the first extension's days; 0: not extended
	Answered time.Time // the handling opinion, first
	UnitOf   int64     // the unit the handling counts against: the responsible one, else the registering one
	// Routed: the registering office's first routing act (forwarded, assigned, accepted or not
	// accepted), which ends its own routing period from registration.
	Routed time.Time
}

// ClockOf derives the clock of a case from its timeline.
func ClockOf(c casework.Case, evs []casework.CaseEvent, rules casework.Rules) RateClock {
	cl := RateClock{AccStart: c.RegisteredAt, AccUnit: c.UnitID, Accepted: c.AcceptedAt, Fast: c.FastTrack, UnitOf: unitOf(c)}
	decided, isDecided := firstTo(evs, casework.StAccepted, casework.StNotAccepted)
	cl.Decided = decided.At
	for _, e := range evs {
		if e.Kind == casework.EvStatus && (e.To == casework.StForwarded || e.To == casework.StAssigned) && (!isDecided || !e.At.After(decided.At)) {
			cl.AccStart, cl.AccUnit = e.At, e.ResponsibleUnitID
		}
	}
	if e, ok := firstTo(evs, casework.StExtended); ok {
		cl.ExtDays = e.Days
		if cl.ExtDays == 0 { // timelines from before the days were recorded
			cl.ExtDays = rules[casework.RuleExtension].Days
		}
	}
	answered, _ := firstTo(evs, casework.StAnswered)
	cl.Answered = answered.At
	routed, _ := firstTo(evs, casework.StForwarded, casework.StAssigned, casework.StAccepted, casework.StNotAccepted)
	cl.Routed = routed.At
	return cl
}

// ForwardPeriod is one level's forwarding period (逐级转送, casework.ForwardRule): from the forward
// that brought a matter to Unit until that unit forwarded it on or decided on it (End; zero: it
// has not yet).
type ForwardPeriod struct {
	Unit       int64
	Start, End time.Time
}

// ForwardPeriods are the forwarding periods of a timeline, in order. A forwarded case leaves that
// status only by the receiving unit's act (forwarded on, accepted, not accepted), so the status
// change after a forward ends its period, as casework.ForwardClock shows it on the case.
func ForwardPeriods(evs []casework.CaseEvent) []ForwardPeriod {
	var out []ForwardPeriod
	open := false
	for _, e := range evs {
		if e.Kind != casework.EvStatus {
			continue
		}
		if open {
			out[len(out)-1].End, open = e.At, false
		}
		if e.To == casework.StForwarded {
			out, open = append(out, ForwardPeriod{Unit: e.ResponsibleUnitID, Start: e.At}), true
		}
	}
	return out
}

// forwardRule is the per-level forwarding rule of rules: the province's, else the default.
func forwardRule(rules casework.Rules) calendar.Rule {
	return casework.ForwardRule(rules[casework.RuleForwardLevel].Days)
}

// HandlingRule is the rule of the handling period.
func (cl RateClock) HandlingRule(rules casework.Rules) calendar.Rule {
	if cl.Fast {
		return rules[casework.RuleFastTrack]
	}
	return rules[casework.RuleHandling]
}

// anyOther reports whether a person of c has another case of the same matter (同人同事,
// casework.MatchMatter) that match accepts.
func anyOther(regs map[string][]registration, c casework.Case, match func(registration) bool) bool {
	for _, id := range PersonIDs(c) {
		for _, g := range regs[id] {
			if g.caseID != c.ID && match(g) && casework.MatchMatter(c, g.c).Same() {
				return true
			}
		}
	}
	return false
}

func unitOf(c casework.Case) int64 {
	if c.ResponsibleUnitID != 0 {
		return c.ResponsibleUnitID
	}
	return c.UnitID
}

// RatesQuery selects the cases the rates count.
type RatesQuery struct {
	// UnderPaths are subtrees: a case counts when it was registered in one, or routed to a unit
	// of one (once, however many of them it is in).
	UnderPaths []string
	// From and To are legal dates (inclusive) of registration; zero: open-ended.
	From, To       time.Time
	RepetitionDays int // 0: DefaultRepetitionDays
}

// Store is what the rates read: the cases with their timelines and evaluations, and the kept
// counts.
type Store interface {
	casework.CaseStore
	RateStore
}

// RatesFor computes the rates of q at now: from the counts the store keeps (RatesFromCounts) when
// they can answer it exactly — one subtree (or nested ones), no period, the default rules, a
// calendar whose rest periods fit their slack, a moment not before the day they were folded at —
// else from every case's timeline (RatesFromTimelines). Reading on a new day first folds the
// counts up to it (FoldRateCounts), a write.
func RatesFor(ctx context.Context, st Store, q RatesQuery, cal *calendar.Calendar, rules casework.Rules, now time.Time) (Rates, error) {
	root, one := singleRoot(q.UnderPaths)
	if one && q.From.IsZero() && q.To.IsZero() && countsAnswer(cal, rules) {
		today := LegalDayNumber(now)
		horizon, err := st.FoldRateCounts(ctx, today)
		if err != nil {
			return Rates{}, fmt.Errorf("rates: %w", err)
		}
		if today >= horizon {
			rows, err := st.RateCounts(ctx, root)
			if err != nil {
				return Rates{}, fmt.Errorf("rates: %w", err)
			}
			return RatesFromCounts(rows, cal, rules, q.RepetitionDays, now)
		}
	}
	return RatesFromTimelines(ctx, st, q, cal, rules, now)
}

// singleRoot is the one subtree that holds every path of paths, when there is one.
func singleRoot(paths []string) (string, bool) {
	if len(paths) == 0 {
		return "", false
	}
	root := paths[0]
	for _, p := range paths[1:] {
		if len(p) < len(root) {
			root, p = p, root
		}
		if !strings.HasPrefix(p, root) {
			return "", false
		}
	}
	return root, true
}

// RatesFromTimelines loads the cases of q with their timelines, ratings and the persons' other
// cases, and computes the rates at now with ComputeRates.
func RatesFromTimelines(ctx context.Context, st Store, q RatesQuery, cal *calendar.Calendar, rules casework.Rules, now time.Time) (Rates, error) {
	in := RatesInput{RepetitionDays: q.RepetitionDays}
	var from, before time.Time
	if !q.From.IsZero() {
		from = calendar.EndOfDay(q.From.AddDate(0, 0, -1))
	}
	if !q.To.IsZero() {
		before = calendar.EndOfDay(q.To)
	}
	counted := map[int64]bool{}
	ids := map[string]bool{}
	for _, path := range q.UnderPaths {
		for _, f := range []casework.CaseFilter{{UnderPath: path}, {ResponsibleUnder: path}} {
			f.RegisteredFrom, f.RegisteredBefore, f.Limit = from, before, 500
			for {
				cs, err := st.ListCases(ctx, f)
				if err != nil {
					return Rates{}, fmt.Errorf("rates: %w", err)
				}
				if len(cs) == 0 {
					break
				}
				f.BeforeID = cs[len(cs)-1].ID
				for _, c := range cs {
					if counted[c.ID] {
						continue
					}
					counted[c.ID] = true
					evs, err := st.ListCaseEvents(ctx, c.ID)
					if err != nil {
						return Rates{}, fmt.Errorf("rates: %w", err)
					}
					ev, err := st.ListEvaluations(ctx, c.ID)
					if err != nil {
						return Rates{}, fmt.Errorf("rates: %w", err)
					}
					in.Cases, in.Evaluations = append(in.Cases, CaseHistory{c, evs}), append(in.Evaluations, ev...)
					for _, id := range PersonIDs(c) {
						ids[id] = true
					}
				}
			}
		}
	}
	for id := range ids {
		cs, err := st.CasesByIDNumber(ctx, id, casework.PersonLookback)
		if err != nil {
			return Rates{}, fmt.Errorf("rates: a person's cases: %w", err)
		}
		in.Related = append(in.Related, cs...)
	}
	return ComputeRates(in, cal, rules, now)
}
