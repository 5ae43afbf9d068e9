package scheduler

import (
	"context"
	"errors"
	"fmt"
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
	// Uncounted are cases whose periods reach a year the working-day calendar lacks: left out of
	// the clock rates (never guessed) and counted here so the dashboard can say so.
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

// ComputeRates computes the rates at now from the histories and the evaluations.
func ComputeRates(hs []CaseHistory, evals []Evaluation, cal *Calendar, rules Rules, now time.Time) (Rates, error) {
	r := Rates{Overdue: map[int64]int{}}
	type key struct {
		id  string
		cat int64
	}
	earliest := map[key]time.Time{}
	for _, h := range hs {
		for _, p := range h.Case.Petitioners {
			if p.IDNumber == "" {
				continue
			}
			k := key{p.IDNumber, h.Case.CategoryID}
			if t, ok := earliest[k]; !ok || h.Case.RegisteredAt.Before(t) {
				earliest[k] = h.Case.RegisteredAt
			}
		}
	}
	for _, h := range hs {
		c, evs := h.Case, h.Events
		r.Repeat.Den++
		for _, p := range c.Petitioners {
			if t, ok := earliest[key{p.IDNumber, c.CategoryID}]; ok && p.IDNumber != "" && t.Before(c.RegisteredAt) {
				r.Repeat.Num++
				break
			}
		}
		// Acceptance clock: from the routing event (or registration) to the decision.
		start := c.RegisteredAt
		decided, isDecided := firstTo(evs, StAccepted, StNotAccepted)
		for _, e := range evs {
			if e.Kind == "status" && (e.To == StForwarded || e.To == StAssigned) && (!isDecided || !e.At.After(decided.At)) {
				start = e.At
			}
		}
		acc, err := cal.Compute(rules[RuleAcceptance], start)
		if errors.Is(err, ErrCalendarYear) {
			r.Uncounted++
			continue
		}
		if err != nil {
			return Rates{}, fmt.Errorf("rates: case %s: %w", c.Number, err)
		}
		switch {
		case isDecided:
			r.TimelyAcceptance.Den++
			if decided.At.Before(acc.DueAt()) {
				r.TimelyAcceptance.Num++
			}
		case !now.Before(acc.DueAt()):
			r.TimelyAcceptance.Den++
		}
		// Handling clock: from acceptance to the answer.
		if !c.AcceptedAt.IsZero() {
			rule := rules[RuleHandling]
			if c.FastTrack {
				rule = rules[RuleFastTrack]
			}
			d, err := cal.Compute(rule, c.AcceptedAt)
			if err == nil {
				if e, ext := firstTo(evs, StExtended); ext {
					days := e.Days
					if days == 0 { // timelines from before the days were recorded
						days = rules[RuleExtension].Days
					}
					d, err = cal.Extend(d, days, rules[RuleExtension])
				}
			}
			if errors.Is(err, ErrCalendarYear) {
				r.Uncounted++
				continue
			}
			if err != nil {
				return Rates{}, fmt.Errorf("rates: case %s: %w", c.Number, err)
			}
			answered, isAnswered := firstTo(evs, StAnswered)
			switch {
			case isAnswered:
				r.OnTimeClosure.Den++
				if answered.At.Before(d.DueAt()) {
					r.OnTimeClosure.Num++
				} else {
					r.Overdue[unitOf(c)]++
				}
			case !now.Before(d.DueAt()):
				r.OnTimeClosure.Den++
				r.Overdue[unitOf(c)]++
			}
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

func unitOf(c Case) int64 {
	if c.ResponsibleUnitID != 0 {
		return c.ResponsibleUnitID
	}
	return c.UnitID
}

// RatesFor loads the cases of a subtree with their timelines and evaluations and computes the rates.
func RatesFor(ctx context.Context, st Store, underPath string, cal *Calendar, rules Rules, now time.Time) (Rates, error) {
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
