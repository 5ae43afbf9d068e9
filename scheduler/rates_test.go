package scheduler

import (
	"errors"
	"testing"
	"time"
)

func TestComputeRates(t *testing.T) {
	bj := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, ChinaTZ) }
	ev := func(to CaseStatus, at time.Time) CaseEvent { return CaseEvent{Kind: "status", To: to, At: at} }
	pet := func(id string) []Petitioner { return []Petitioner{{Name: "x", IDNumber: id, Role: PetitionerSelf}} }
	hs := []CaseHistory{
		{ // A: accepted on day 3, answered on day 30: timely and on time.
			Case:   Case{ID: 1, UnitID: 9, ResponsibleUnitID: 20, CategoryID: 1, Petitioners: pet("X"), RegisteredAt: bj(3, 2), AcceptedAt: bj(3, 5)},
			Events: []CaseEvent{ev(StRegistered, bj(3, 2)), ev(StAccepted, bj(3, 5)), ev(StInProgress, bj(3, 5)), ev(StAnswered, bj(4, 1))},
		},
		{ // B: assigned 3-3, accepted 3-25 (due 3-18): late; answered 6-1 (due 5-25): late.
			Case: Case{ID: 2, UnitID: 9, ResponsibleUnitID: 21, CategoryID: 1, Petitioners: pet("Y"), RegisteredAt: bj(3, 2), AcceptedAt: bj(3, 25)},
			Events: []CaseEvent{ev(StRegistered, bj(3, 2)), ev(StAssigned, bj(3, 3)), ev(StAccepted, bj(3, 25)),
				ev(StInProgress, bj(3, 25)), ev(StAnswered, bj(6, 1))},
		},
		{ // C: never decided; its acceptance period ended 3-17: counts against.
			Case:   Case{ID: 3, UnitID: 9, CategoryID: 2, Petitioners: pet("X"), RegisteredAt: bj(3, 2)},
			Events: []CaseEvent{ev(StRegistered, bj(3, 2))},
		},
		{ // D: the same person and category as A, later: a repeat. Extended: handling due 7-9, not yet.
			Case:   Case{ID: 4, UnitID: 9, ResponsibleUnitID: 20, CategoryID: 1, Petitioners: pet("X"), RegisteredAt: bj(4, 10), AcceptedAt: bj(4, 10)},
			Events: []CaseEvent{ev(StRegistered, bj(4, 10)), ev(StAccepted, bj(4, 10)), ev(StInProgress, bj(4, 10)), ev(StExtended, bj(6, 1))},
		},
	}
	evals := []Evaluation{{Stage: EvalResult, Score: ScoreSatisfied}, {Stage: EvalResult, Score: ScoreUnsatisfied},
		{Stage: EvalResult, Score: ScoreBasically}, {Stage: EvalAcceptance, Score: ScoreUnsatisfied}}
	r, err := ComputeRates(hs, evals, DefaultCalendar(), DefaultRules(), bj(7, 1))
	if err != nil {
		t.Fatal(err)
	}
	if r.TimelyAcceptance != (Rate{2, 4}) || r.OnTimeClosure != (Rate{1, 2}) || r.Satisfaction != (Rate{2, 3}) || r.Repeat != (Rate{1, 4}) {
		t.Errorf("rates %+v", r)
	}
	if len(r.Overdue) != 1 || r.Overdue[21] != 1 {
		t.Errorf("overdue by unit %v", r.Overdue)
	}
	// Ten days later D's extended period has ended: it counts against the on-time rate.
	r, _ = ComputeRates(hs, evals, DefaultCalendar(), DefaultRules(), bj(7, 10))
	if r.OnTimeClosure != (Rate{1, 3}) || r.Overdue[20] != 1 {
		t.Errorf("after D's period: %+v", r)
	}
	if (Rate{}).Value() != 0 || (Rate{1, 4}).Value() != 0.25 {
		t.Error("Rate.Value")
	}
}

func TestCheckEvaluation(t *testing.T) {
	c := Case{Type: TypeClaim, Status: StClosed, AcceptedAt: time.Now()}
	if err := CheckEvaluation(c, Evaluation{Stage: EvalResult, Score: ScoreSatisfied}); err != nil {
		t.Error(err)
	}
	var fe *FieldError
	for field, tc := range map[string]struct {
		c Case
		e Evaluation
	}{
		"case":  {Case{Type: TypeAccusation, Status: StClosed}, Evaluation{Stage: EvalResult, Score: ScoreSatisfied}},
		"score": {c, Evaluation{Stage: EvalResult, Score: "great"}},
		"stage": {Case{Type: TypeClaim, Status: StInProgress, AcceptedAt: time.Now()}, Evaluation{Stage: EvalResult, Score: ScoreSatisfied}},
	} {
		if err := CheckEvaluation(tc.c, tc.e); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	if err := CheckEvaluation(Case{Type: TypeClaim}, Evaluation{Stage: EvalAcceptance, Score: ScoreSatisfied}); !errors.As(err, &fe) || fe.Field != "stage" {
		t.Errorf("acceptance before accepted: %v", err)
	}
}

func TestRatesLeaveOutWhatTheCalendarCannotCount(t *testing.T) {
	bj := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 0, 0, 0, ChinaTZ) }
	ev := func(to CaseStatus, at time.Time) CaseEvent { return CaseEvent{Kind: "status", To: to, At: at} }
	hs := []CaseHistory{
		{Case: Case{ID: 1, UnitID: 9, RegisteredAt: bj(2026, 3, 2), AcceptedAt: bj(2026, 3, 3)},
			Events: []CaseEvent{ev(StAccepted, bj(2026, 3, 3)), ev(StAnswered, bj(2026, 4, 1))}},
		// Accepted 2026-11-20: its 60 days end in 2027, which the calendar lacks.
		{Case: Case{ID: 2, UnitID: 9, RegisteredAt: bj(2026, 11, 19), AcceptedAt: bj(2026, 11, 20)},
			Events: []CaseEvent{ev(StAccepted, bj(2026, 11, 20))}},
		// Registered 2026-12-28: even its acceptance period ends in 2027.
		{Case: Case{ID: 3, UnitID: 9, RegisteredAt: bj(2026, 12, 28)}, Events: nil},
	}
	r, err := ComputeRates(hs, nil, DefaultCalendar(), DefaultRules(), bj(2026, 12, 30))
	if err != nil {
		t.Fatal(err)
	}
	if r.Uncounted != 2 || r.TimelyAcceptance != (Rate{2, 2}) || r.OnTimeClosure != (Rate{1, 1}) || r.Repeat.Den != 3 {
		t.Errorf("rates %+v", r)
	}
}

// TestCountsAnswerOnlyWhenExact: the counts are read only with the rules they were kept with and a
// calendar whose rest periods fit their slack; otherwise the rates come from the timelines.
func TestCountsAnswerOnlyWhenExact(t *testing.T) {
	cal := DefaultCalendar()
	if !countsAnswer(cal, DefaultRules()) {
		t.Fatal("the shipped calendar and the default rules must be answered from the counts")
	}
	rules := DefaultRules()
	r := rules[RuleHandling]
	r.Days = 90
	rules[RuleHandling] = r
	if countsAnswer(cal, rules) {
		t.Error("other rules than the counts were kept with")
	}
	if countsAnswer(cal.WithProvisional(true), DefaultRules()) {
		t.Error("a provisional calendar")
	}
	// An operator's 20-day holiday is longer than any due day can be moved in the counts.
	var days []Holiday
	for d := Date(2026, 7, 1); d.Before(Date(2026, 7, 21)); d = d.AddDate(0, 0, 1) {
		days = append(days, Holiday{Date: d.Format("2006-01-02"), Kind: DayOff, Name: "长假"})
	}
	long, err := NewCalendar(cal.Years(), append(cal.Days(), days...))
	if err != nil {
		t.Fatal(err)
	}
	if countsAnswer(long, DefaultRules()) {
		t.Error("a calendar with a 20-day rest period")
	}
}

// TestDayIndexIsTheCalendar: the table lookups give, for every start day from before the covered
// years to after them, every rule the rates use and every extension, the due day Compute and
// Extend give, or the same missing-year refusal.
func TestDayIndexIsTheCalendar(t *testing.T) {
	cal := DefaultCalendar()
	x := newDayIndex(cal)
	rules := DefaultRules()
	for start := LegalDayNumber(Date(2024, 11, 1)); start <= LegalDayNumber(Date(2027, 1, 31)); start++ {
		for _, rule := range []Rule{rules[RuleAcceptance], rules[RuleHandling], rules[RuleFastTrack]} {
			for _, ext := range []int{0, 1, 7, 30} {
				want, werr := periodDue(cal, rules, rule, dayNumberDate(start), ext)
				got, gerr := x.due(rule, start, ext)
				if errors.Is(werr, ErrCalendarYear) != errors.Is(gerr, ErrCalendarYear) || (werr == nil && got != LegalDayNumber(want.Due)) {
					t.Fatalf("%s from %s +%d: index %s %v, calendar %s %v", rule.Key, dayNumberDate(start).Format("2006-01-02"), ext,
						dayNumberDate(got).Format("2006-01-02"), gerr, want.Due.Format("2006-01-02"), werr)
				}
			}
		}
	}
}
