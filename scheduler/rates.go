package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Evaluation and the rates (shared/domain.md: 及时受理率, 按期办结率, 群众满意率, repeat share).
// Rates are computed here from case events and evaluations; nothing stores or accepts a rate.

// Evaluation stages and scores.
const (
	EvalAcceptance = "acceptance" // 受理环节
	EvalResult     = "result"     // 办理结果

	ScoreSatisfied   = "satisfied"   // 满意
	ScoreBasically   = "basically"   // 基本满意
	ScoreUnsatisfied = "unsatisfied" // 不满意
)

// Evaluation is the petitioner's rating of one stage, once per stage.
type Evaluation struct {
	ID     int64
	CaseID int64
	Stage  string
	Score  string
	Via    string // "terminal" or "query_page"
	At     time.Time
}

// EvaluationExcluded reports whether a case is excluded from satisfaction evaluation: accusations
// (检举控告) are, since the petitioner's satisfaction is not the measure of an investigation. This
// is the one rule here taken as an assumption; change it if the province's rules differ.
func EvaluationExcluded(c Case) bool { return c.Type == TypeAccusation }

// CheckEvaluation says whether the petitioner may rate stage of c now.
func CheckEvaluation(c Case, e Evaluation) error {
	if EvaluationExcluded(c) {
		return invalid("case", "检举控告类事项不参加满意度评价", "accusations are not rated for satisfaction")
	}
	switch e.Score {
	case ScoreSatisfied, ScoreBasically, ScoreUnsatisfied:
	default:
		return invalid("score", "评价应为 satisfied、basically 或 unsatisfied", "score must be satisfied, basically or unsatisfied")
	}
	switch e.Stage {
	case EvalAcceptance:
		if c.AcceptedAt.IsZero() {
			return invalid("stage", "事项尚未受理，暂不能评价受理环节", "the case is not accepted yet; the acceptance stage cannot be rated")
		}
	case EvalResult:
		if c.Status != StClosed && c.Status != StEvaluated { // evaluated: the insert then reports the repeat
			return invalid("stage", "事项办结后才能评价办理结果", "the result can be rated once the case is closed")
		}
	default:
		return invalid("stage", "评价环节应为 acceptance 或 result", "stage must be acceptance or result")
	}
	return nil
}

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

// Rates are the leaders' figures for a set of cases.
type Rates struct {
	TimelyAcceptance Rate // decided (accepted or not) within the acceptance period; overdue undecided count against
	OnTimeClosure    Rate // answered within the handling period (+ extension); overdue unanswered count against
	Satisfaction     Rate // satisfied or basically satisfied result ratings
	Repeat           Rate // cases of the same person and category after an earlier one (同人同事)
	Overdue          map[int64]int
	// Uncounted are the periods (a case's acceptance or handling period) that reach a year the
	// working-day calendar lacks: left out of their rate (never guessed) and counted here so the
	// dashboard can say so.
	Uncounted int
}

// CaseHistory is a case with its timeline.
type CaseHistory struct {
	Case   Case
	Events []CaseEvent
}

func firstTo(evs []CaseEvent, to ...CaseStatus) (CaseEvent, bool) {
	for _, e := range evs {
		for _, t := range to {
			if e.Kind == "status" && e.To == t {
				return e, true
			}
		}
	}
	return CaseEvent{}, false
}

// RateClock is what the rates read of a case: its two periods, each from its start to the event
// that ends it (zero while it runs). It is derived from the timeline only.
type RateClock struct {
	AccStart time.Time // the routing event (or registration) the acceptance period runs from
	Decided  time.Time // accepted or not accepted, first
	Accepted time.Time // the handling period runs from here; zero: no handling period
	Fast     bool      // fast track: the working-day rule
	ExtDays  int       // the first extension's days; 0: not extended
	Answered time.Time // the handling opinion, first
	UnitOf   int64     // the unit an overdue case counts against: the responsible one, else the registering one
}

// ClockOf derives the clock of a case from its timeline.
func ClockOf(c Case, evs []CaseEvent, rules Rules) RateClock {
	cl := RateClock{AccStart: c.RegisteredAt, Accepted: c.AcceptedAt, Fast: c.FastTrack, UnitOf: c.ResponsibleUnitID}
	if cl.UnitOf == 0 {
		cl.UnitOf = c.UnitID
	}
	decided, isDecided := firstTo(evs, StAccepted, StNotAccepted)
	if isDecided {
		cl.Decided = decided.At
	}
	// Acceptance runs from the last routing (forwarded, assigned) at or before the decision.
	for _, e := range evs {
		if e.Kind == EvStatus && (e.To == StForwarded || e.To == StAssigned) && (!isDecided || !e.At.After(decided.At)) {
			cl.AccStart = e.At
		}
	}
	if e, ok := firstTo(evs, StExtended); ok {
		cl.ExtDays = e.Days
		if cl.ExtDays == 0 { // timelines from before the days were recorded
			cl.ExtDays = rules[RuleExtension].Days
		}
	}
	if e, ok := firstTo(evs, StAnswered); ok {
		cl.Answered = e.At
	}
	return cl
}

// HandlingRule is the rule of a case's handling period.
func (cl RateClock) HandlingRule(rules Rules) Rule {
	if cl.Fast {
		return rules[RuleFastTrack]
	}
	return rules[RuleHandling]
}

// periodDue is the due day of a period from start under rule, extended by ext days.
func periodDue(cal *Calendar, rules Rules, rule Rule, start time.Time, ext int) (Deadline, error) {
	d, err := cal.Compute(rule, start)
	if err == nil && ext > 0 {
		d, err = cal.Extend(d, ext, rules[RuleExtension])
	}
	return d, err
}

// RepeatIDs are the ID numbers by which a case is the same person's (同人; with the same category,
// 同事): masked numbers (a copy from a masked export) name nobody.
func RepeatIDs(c Case) []string {
	var out []string
	for _, p := range c.Petitioners {
		if p.IDNumber != "" && !strings.Contains(p.IDNumber, "*") {
			out = append(out, p.IDNumber)
		}
	}
	return out
}

func personKeys(c Case) []string {
	var out []string
	for _, id := range RepeatIDs(c) {
		out = append(out, id+"/"+strconv.FormatInt(c.CategoryID, 10))
	}
	return out
}

// ComputeRates computes the rates at now from the histories and the evaluations: the reference
// the store's counts (RatesFor) are checked against.
func ComputeRates(hs []CaseHistory, evals []Evaluation, cal *Calendar, rules Rules, now time.Time) (Rates, error) {
	r := Rates{Overdue: map[int64]int{}}
	earliest := map[string]time.Time{}
	for _, h := range hs {
		for _, k := range personKeys(h.Case) {
			if t, ok := earliest[k]; !ok || h.Case.RegisteredAt.Before(t) {
				earliest[k] = h.Case.RegisteredAt
			}
		}
	}
	for _, h := range hs {
		c := h.Case
		r.Repeat.Den++
		for _, k := range personKeys(c) {
			if earliest[k].Before(c.RegisteredAt) {
				r.Repeat.Num++
				break
			}
		}
		cl := ClockOf(c, h.Events, rules)
		acc, err := periodDue(cal, rules, rules[RuleAcceptance], cl.AccStart, 0)
		switch {
		case errors.Is(err, ErrCalendarYear):
			r.Uncounted++
		case err != nil:
			return Rates{}, fmt.Errorf("rates: case %s: %w", c.Number, err)
		case !cl.Decided.IsZero():
			r.TimelyAcceptance.Den++
			if cl.Decided.Before(acc.DueAt()) {
				r.TimelyAcceptance.Num++
			}
		case !now.Before(acc.DueAt()):
			r.TimelyAcceptance.Den++
		}
		if cl.Accepted.IsZero() {
			continue
		}
		d, err := periodDue(cal, rules, cl.HandlingRule(rules), cl.Accepted, cl.ExtDays)
		switch {
		case errors.Is(err, ErrCalendarYear):
			r.Uncounted++
		case err != nil:
			return Rates{}, fmt.Errorf("rates: case %s: %w", c.Number, err)
		case !cl.Answered.IsZero():
			r.OnTimeClosure.Den++
			if cl.Answered.Before(d.DueAt()) {
				r.OnTimeClosure.Num++
			} else {
				r.Overdue[cl.UnitOf]++
			}
		case !now.Before(d.DueAt()):
			r.OnTimeClosure.Den++
			r.Overdue[cl.UnitOf]++
		}
	}
	for _, e := range evals {
		if e.Stage != EvalResult {
			continue
		}
		r.Satisfaction.Den++
		if e.Score == ScoreSatisfied || e.Score == ScoreBasically {
			r.Satisfaction.Num++
		}
	}
	return r, nil
}

// RatesFor computes the rates of a subtree ("" for every case) from the counts the store keeps
// (RateCounts), or, when those cannot answer exactly (rules other than the defaults they were
// kept with, a calendar with rest periods longer than they allow for, a moment before the day the
// counts were last folded at), from every case's timeline. Reading the rates on a new day first
// folds the counts up to it (FoldRateCounts), a write.
func RatesFor(ctx context.Context, st Store, underPath string, cal *Calendar, rules Rules, now time.Time) (Rates, error) {
	if countsAnswer(cal, rules) {
		horizon, err := st.FoldRateCounts(ctx, LegalDayNumber(now))
		if err != nil {
			return Rates{}, fmt.Errorf("rates: %w", err)
		}
		// The counts hold running periods folded as overdue at the horizon: a moment before it
		// is read from the timelines.
		if LegalDayNumber(now) >= horizon {
			rows, err := st.RateCounts(ctx, underPath)
			if err != nil {
				return Rates{}, fmt.Errorf("rates: %w", err)
			}
			return RatesFromCounts(rows, cal, rules, now)
		}
	}
	return RatesFromTimelines(ctx, st, underPath, cal, rules, now)
}

// RatesFromTimelines loads the cases of a subtree with their timelines and evaluations and
// computes the rates with ComputeRates.
func RatesFromTimelines(ctx context.Context, st Store, underPath string, cal *Calendar, rules Rules, now time.Time) (Rates, error) {
	var hs []CaseHistory
	var evals []Evaluation
	var before int64
	for {
		cs, err := st.ListCases(ctx, CaseFilter{UnderPath: underPath, BeforeID: before, Limit: 500})
		if err != nil {
			return Rates{}, fmt.Errorf("rates: %w", err)
		}
		if len(cs) == 0 {
			break
		}
		before = cs[len(cs)-1].ID
		for _, c := range cs {
			evs, err := st.ListCaseEvents(ctx, c.ID)
			if err != nil {
				return Rates{}, fmt.Errorf("rates: %w", err)
			}
			ev, err := st.ListEvaluations(ctx, c.ID)
			if err != nil {
				return Rates{}, fmt.Errorf("rates: %w", err)
			}
			hs, evals = append(hs, CaseHistory{c, evs}), append(evals, ev...)
		}
	}
	return ComputeRates(hs, evals, cal, rules, now)
}
