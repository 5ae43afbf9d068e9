package rates

import (
	"errors"
	"testing"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

func TestComputeRates(t *testing.T) {
	bj := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, calendar.ChinaTZ) }
	ev := func(to casework.CaseStatus, at time.Time) casework.CaseEvent {
		return casework.CaseEvent{Kind: "status", To: to, At: at}
	}
	pet := func(id string) []casework.Petitioner {
		return []casework.Petitioner{{Name: "x", IDNumber: id, Role: casework.PetitionerSelf}}
	}
	hs := []CaseHistory{
		{ // A: accepted on day 3, answered on day 30: timely and on time.
			Case:   casework.Case{ID: 1, UnitID: 9, ResponsibleUnitID: 20, CategoryID: 1, Title: "拖欠工资", Petitioners: pet("X"), RegisteredAt: bj(3, 2), AcceptedAt: bj(3, 5)},
			Events: []casework.CaseEvent{ev(casework.StRegistered, bj(3, 2)), ev(casework.StAccepted, bj(3, 5)), ev(casework.StInProgress, bj(3, 5)), ev(casework.StAnswered, bj(4, 1))},
		},
		{ // B: assigned to 21 on 3-3, accepted 3-25 (due 3-18): late; answered 6-1 (due 5-25): late.
			Case: casework.Case{ID: 2, UnitID: 9, ResponsibleUnitID: 21, CategoryID: 1, Petitioners: pet("Y"), RegisteredAt: bj(3, 2), AcceptedAt: bj(3, 25)},
			Events: []casework.CaseEvent{ev(casework.StRegistered, bj(3, 2)), {Kind: casework.EvStatus, To: casework.StAssigned, At: bj(3, 3), ResponsibleUnitID: 21}, ev(casework.StAccepted, bj(3, 25)),
				ev(casework.StInProgress, bj(3, 25)), ev(casework.StAnswered, bj(6, 1))},
		},
		{ // C: never decided; its acceptance period ended 3-17: counts against.
			Case:   casework.Case{ID: 3, UnitID: 9, CategoryID: 2, Petitioners: pet("X"), RegisteredAt: bj(3, 2)},
			Events: []casework.CaseEvent{ev(casework.StRegistered, bj(3, 2))},
		},
		{ // D: the same person, category and matter as A, later: a repeat. Extended: handling due 7-9, not yet.
			Case:   casework.Case{ID: 4, UnitID: 9, ResponsibleUnitID: 20, CategoryID: 1, Title: "工资拖欠", Petitioners: pet("X"), RegisteredAt: bj(4, 10), AcceptedAt: bj(4, 10)},
			Events: []casework.CaseEvent{ev(casework.StRegistered, bj(4, 10)), ev(casework.StAccepted, bj(4, 10)), ev(casework.StInProgress, bj(4, 10)), ev(casework.StExtended, bj(6, 1))},
		},
	}
	evals := []casework.Evaluation{{Stage: casework.EvalResult, Score: casework.ScoreSatisfied}, {Stage: casework.EvalResult, Score: casework.ScoreUnsatisfied},
		{Stage: casework.EvalResult, Score: casework.ScoreBasically}, {Stage: casework.EvalAcceptance, Score: casework.ScoreUnsatisfied}}
	in := RatesInput{Cases: hs, Evaluations: evals}
	r, err := ComputeRates(in, calendar.DefaultCalendar(), casework.DefaultRules(), bj(7, 1))
	if err != nil {
		t.Fatal(err)
	}
	if r.TimelyRouting != (Rate{3, 4}) {
		t.Errorf("routing %+v", r.TimelyRouting)
	}
	if r.Cases != 4 || r.TimelyAcceptance != (Rate{2, 4}) || r.OnTimeClosure != (Rate{1, 2}) || r.Satisfaction != (Rate{2, 3}) || r.Repeat != (Rate{1, 4}) {
		t.Errorf("rates %+v", r)
	}
	if r.Scores[casework.ScoreSatisfied] != 1 || r.Scores[casework.ScoreBasically] != 1 || r.Scores[casework.ScoreUnsatisfied] != 1 {
		t.Errorf("result ratings by score %v", r.Scores)
	}
	// B late at 21 twice (acceptance and handling); C never decided, against its registering unit.
	// C was not routed either: the registering office's 15 days (to 3-17) ran out at 9.
	if len(r.Overdue) != 2 || r.Overdue[21] != (UnitOverdue{Acceptance: 1, Handling: 1}) || r.Overdue[9] != (UnitOverdue{Acceptance: 1, Routing: 1}) {
		t.Errorf("overdue by unit %v", r.Overdue)
	}
	if len(r.Counts) != 3 || r.Counts[CountKey{1, "", "2026-03"}] != 2 || r.Counts[CountKey{2, "", "2026-03"}] != 1 || r.Counts[CountKey{1, "", "2026-04"}] != 1 {
		t.Errorf("counts %v", r.Counts)
	}
	// Ten days later D's extended period has ended: it counts against the on-time rate.
	r, _ = ComputeRates(in, calendar.DefaultCalendar(), casework.DefaultRules(), bj(7, 10))
	if r.OnTimeClosure != (Rate{1, 3}) || r.Overdue[20] != (UnitOverdue{Handling: 1}) {
		t.Errorf("after D's period: %+v", r)
	}
	if (Rate{}).Value() != 0 || (Rate{1, 4}).Value() != 0.25 {
		t.Error("Rate.Value")
	}
}

func TestCheckEvaluation(t *testing.T) {
	now := time.Now()
	c := casework.Case{Type: casework.TypeClaim, Status: casework.StClosed, AcceptedAt: now, ClosedAt: now}
	ok := casework.Evaluation{Stage: casework.EvalResult, Score: casework.ScoreSatisfied, Via: casework.ViaQueryPage}
	if err := casework.CheckEvaluation(c, nil, ok); err != nil {
		t.Error(err)
	}
	// Answered, not closed: the result is rated once the 处理意见书 is served.
	answered := casework.Case{Type: casework.TypeClaim, Status: casework.StAnswered, AcceptedAt: now}
	served := []casework.CaseEvent{{Kind: casework.EvServed, Reason: casework.DocAnswer, At: now}}
	if err := casework.CheckEvaluation(answered, served, ok); err != nil {
		t.Errorf("answered and served: %v", err)
	}
	phone := ok
	phone.Via, phone.RecordedBy = casework.ViaPhone, 7
	if err := casework.CheckEvaluation(c, nil, phone); err != nil {
		t.Errorf("by phone: %v", err)
	}
	var fe *org.FieldError
	for field, tc := range map[string]struct {
		c   casework.Case
		evs []casework.CaseEvent
		e   casework.Evaluation
	}{
		"case":        {casework.Case{Type: casework.TypeAccusation, Status: casework.StClosed}, nil, ok},
		"score":       {c, nil, casework.Evaluation{Stage: casework.EvalResult, Score: "great", Via: casework.ViaQueryPage}},
		"stage":       {answered, nil, ok},
		"via":         {c, nil, casework.Evaluation{Stage: casework.EvalResult, Score: casework.ScoreSatisfied, Via: "fax"}},
		"recorded_by": {c, nil, casework.Evaluation{Stage: casework.EvalResult, Score: casework.ScoreSatisfied, Via: casework.ViaPhone}},
	} {
		if err := casework.CheckEvaluation(tc.c, tc.evs, tc.e); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	if err := casework.CheckEvaluation(casework.Case{Type: casework.TypeClaim}, nil, casework.Evaluation{Stage: casework.EvalAcceptance,
		Score: casework.ScoreSatisfied, Via: casework.ViaQueryPage}); !errors.As(err, &fe) || fe.Field != "stage" {
		t.Errorf("acceptance before accepted: %v", err)
	}
}

func TestRatesLeaveOutWhatTheCalendarCannotCount(t *testing.T) {
	bj := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 0, 0, 0, calendar.ChinaTZ) }
	ev := func(to casework.CaseStatus, at time.Time) casework.CaseEvent {
		return casework.CaseEvent{Kind: "status", To: to, At: at}
	}
	hs := []CaseHistory{
		{Case: casework.Case{ID: 1, UnitID: 9, RegisteredAt: bj(2026, 3, 2), AcceptedAt: bj(2026, 3, 3)},
			Events: []casework.CaseEvent{ev(casework.StAccepted, bj(2026, 3, 3)), ev(casework.StAnswered, bj(2026, 4, 1))}},
		// Accepted 2026-11-20: its 60 days end in 2027, which the calendar lacks; answered 2027-01-25,
		// after the 60th day (01-19): in time only if the calendar moves the end past it.
		{Case: casework.Case{ID: 2, UnitID: 9, RegisteredAt: bj(2026, 11, 19), AcceptedAt: bj(2026, 11, 20)},
			Events: []casework.CaseEvent{ev(casework.StAccepted, bj(2026, 11, 20)), ev(casework.StAnswered, bj(2027, 1, 25))}},
		// Accepted 2026-11-25, not answered: past its 60th day (01-24) at 01-30, due or not by the
		// 2027 calendar.
		{Case: casework.Case{ID: 3, UnitID: 9, RegisteredAt: bj(2026, 11, 24), AcceptedAt: bj(2026, 11, 25)},
			Events: []casework.CaseEvent{ev(casework.StAccepted, bj(2026, 11, 25))}},
		// Registered 2026-12-28, undecided: its acceptance period's 15th day is 2027-01-12, and so is
		// its routing period's.
		{Case: casework.Case{ID: 4, UnitID: 9, RegisteredAt: bj(2026, 12, 28)}},
	}
	r, err := ComputeRates(RatesInput{Cases: hs}, calendar.DefaultCalendar(), casework.DefaultRules(), bj(2027, 1, 30))
	if err != nil {
		t.Fatal(err)
	}
	if r.Uncounted != 4 || r.TimelyRouting != (Rate{3, 3}) || r.TimelyAcceptance != (Rate{3, 3}) || r.OnTimeClosure != (Rate{1, 1}) || r.Repeat.Den != 4 || len(r.Overdue) != 0 {
		t.Errorf("rates %+v", r)
	}
}

// TestRatesSettledBeforeAMissingYear: a period ending in a year the calendar lacks still settles
// what happened before its last day counted as if every day were a working day — rest days only
// move the end later.
func TestRatesSettledBeforeAMissingYear(t *testing.T) {
	bj := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 0, 0, 0, calendar.ChinaTZ) }
	ev := func(to casework.CaseStatus, at time.Time) casework.CaseEvent {
		return casework.CaseEvent{Kind: "status", To: to, At: at}
	}
	hs := []CaseHistory{
		// Accepted 2026-11-27 and answered 2026-12-10, long before the 60th day (2027-01-26).
		{Case: casework.Case{ID: 1, UnitID: 9, RegisteredAt: bj(2026, 11, 27), AcceptedAt: bj(2026, 11, 27)},
			Events: []casework.CaseEvent{ev(casework.StAccepted, bj(2026, 11, 27)), ev(casework.StInProgress, bj(2026, 11, 27)), ev(casework.StAnswered, bj(2026, 12, 10))}},
		// Extended by 30 days: answered 2027-02-20, before the 90th day (2027-02-25).
		{Case: casework.Case{ID: 2, UnitID: 9, RegisteredAt: bj(2026, 11, 27), AcceptedAt: bj(2026, 11, 27)},
			Events: []casework.CaseEvent{ev(casework.StAccepted, bj(2026, 11, 27)), ev(casework.StInProgress, bj(2026, 11, 27)),
				{Kind: casework.EvStatus, To: casework.StExtended, At: bj(2027, 1, 10), Days: 30}, ev(casework.StAnswered, bj(2027, 2, 20))}},
		// Fast track (10 working days) accepted 2026-12-28, still open on 2027-01-05: fewer than
		// ten days of any kind have passed.
		{Case: casework.Case{ID: 3, UnitID: 9, RegisteredAt: bj(2026, 12, 28), AcceptedAt: bj(2026, 12, 28), FastTrack: true},
			Events: []casework.CaseEvent{ev(casework.StAccepted, bj(2026, 12, 28))}},
	}
	// At 2027-01-05 (before case 2's answer): case 3's period runs, not counted.
	r, err := ComputeRates(RatesInput{Cases: []CaseHistory{hs[0], hs[2]}}, calendar.DefaultCalendar(), casework.DefaultRules(), bj(2027, 1, 5))
	if err != nil {
		t.Fatal(err)
	}
	if r.Uncounted != 0 || r.OnTimeClosure != (Rate{1, 1}) || r.TimelyAcceptance != (Rate{2, 2}) {
		t.Errorf("at 2027-01-05: %+v", r)
	}
	r, _ = ComputeRates(RatesInput{Cases: hs}, calendar.DefaultCalendar(), casework.DefaultRules(), bj(2027, 3, 1))
	// Case 3's tenth working day cannot be told without the 2027 calendar by 03-01.
	if r.Uncounted != 1 || r.OnTimeClosure != (Rate{2, 2}) {
		t.Errorf("at 2027-03-01: %+v", r)
	}
}

// TestRatesRepeatAndReturnAfterClosure: a repeat is a later case of the same person and matter
// (ID numbers compared without case; casework.MatchMatter), wherever it was registered; a closed
// case comes back when such a case follows within the window, and counts once its window has
// ended or it came back.
func TestRatesRepeatAndReturnAfterClosure(t *testing.T) {
	bj := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, calendar.ChinaTZ) }
	const wages, noise = "建筑公司拖欠工资三个月", "楼下饭店噪音扰民"
	closed := func(id int64, person string, cat int64, reg, at time.Time) CaseHistory {
		return CaseHistory{Case: casework.Case{ID: id, UnitID: 9, CategoryID: cat, RegisteredAt: reg, Status: casework.StClosed, Title: wages,
			Petitioners: []casework.Petitioner{{IDNumber: person}}}, Events: []casework.CaseEvent{{Kind: casework.EvStatus, To: casework.StClosed, At: at}}}
	}
	in := RatesInput{
		Cases: []CaseHistory{
			closed(1, "11010519491231002X", 1, bj(1, 5), bj(2, 1)),  // back on 3-15 (42 days): comes back
			closed(2, "220102198001010011", 1, bj(1, 5), bj(2, 1)),  // back on 6-1 (120 days): too late to count
			closed(3, "330102199001010022", 1, bj(1, 5), bj(5, 20)), // window open at 6-1, nobody back yet
			closed(4, "440102199001010033", 1, bj(1, 5), bj(2, 1)),  // back with another category
		},
		Related: []casework.Case{
			{ID: 11, CategoryID: 1, Title: wages, RegisteredAt: bj(3, 15), Petitioners: []casework.Petitioner{{IDNumber: "11010519491231002x"}}},
			{ID: 12, CategoryID: 1, Title: wages, RegisteredAt: bj(6, 1), Petitioners: []casework.Petitioner{{IDNumber: "220102198001010011"}}},
			{ID: 14, CategoryID: 2, Title: noise, RegisteredAt: bj(3, 1), Petitioners: []casework.Petitioner{{IDNumber: "440102199001010033"}}},
			// Person 3 again, same category, another matter: not back.
			{ID: 16, CategoryID: 1, Title: noise, RegisteredAt: bj(5, 25), Petitioners: []casework.Petitioner{{IDNumber: "330102199001010022"}}},
			// An earlier case of person 2: case 2 is a repeat.
			{ID: 15, CategoryID: 1, Title: wages, RegisteredAt: bj(1, 1), Petitioners: []casework.Petitioner{{IDNumber: "220102198001010011"}}},
		},
	}
	r, err := ComputeRates(in, calendar.DefaultCalendar(), casework.DefaultRules(), bj(6, 1))
	if err != nil {
		t.Fatal(err)
	}
	if r.RepetitionDays != DefaultRepetitionDays || r.Repetitioned != (Rate{1, 3}) || r.Repeat != (Rate{1, 4}) {
		t.Errorf("90-day window: %+v", r)
	}
	in.RepetitionDays = 30 // case 1 came back after 42 days: not within 30
	if r, _ := ComputeRates(in, calendar.DefaultCalendar(), casework.DefaultRules(), bj(6, 1)); r.Repetitioned != (Rate{0, 3}) {
		t.Errorf("30-day window: %+v", r)
	}
	in.RepetitionDays = 150
	if r, _ := ComputeRates(in, calendar.DefaultCalendar(), casework.DefaultRules(), bj(6, 1)); r.Repetitioned != (Rate{2, 2}) {
		t.Errorf("150-day window: %+v", r)
	}
}

// TestCountsAnswerOnlyWhenExact: the counts are read only with the rules they were kept with and a
// calendar whose rest periods fit their slack; otherwise the rates come from the timelines.
func TestCountsAnswerOnlyWhenExact(t *testing.T) {
	cal := calendar.DefaultCalendar()
	if !countsAnswer(cal, casework.DefaultRules()) {
		t.Fatal("the shipped calendar and the default rules must be answered from the counts")
	}
	rules := casework.DefaultRules()
	r := rules[casework.RuleHandling]
	r.Days = 90
	rules[casework.RuleHandling] = r
	if countsAnswer(cal, rules) {
		t.Error("other rules than the counts were kept with")
	}
	if countsAnswer(cal.WithProvisional(true), casework.DefaultRules()) {
		t.Error("a provisional calendar")
	}
	// An operator's 20-day holiday is longer than any due day can be moved in the counts.
	var days []calendar.Holiday
	for d := calendar.Date(2026, 7, 1); d.Before(calendar.Date(2026, 7, 21)); d = d.AddDate(0, 0, 1) {
		days = append(days, calendar.Holiday{Date: d.Format("2006-01-02"), Kind: calendar.DayOff, Name: "长假"})
	}
	long, err := calendar.NewCalendar(cal.Years(), append(cal.Days(), days...))
	if err != nil {
		t.Fatal(err)
	}
	if countsAnswer(long, casework.DefaultRules()) {
		t.Error("a calendar with a 20-day rest period")
	}
}

// TestDayIndexIsTheCalendar: the table lookups give, for every start day from before the covered
// years to after them, every rule the rates use and every extension, the due day the calendar's
// own count gives, or the same missing-year refusal.
func TestDayIndexIsTheCalendar(t *testing.T) {
	cal := calendar.DefaultCalendar()
	x := newDayIndex(cal)
	rules := casework.DefaultRules()
	for start := LegalDayNumber(calendar.Date(2024, 11, 1)); start <= LegalDayNumber(calendar.Date(2027, 1, 31)); start++ {
		for _, rule := range []calendar.Rule{rules[casework.RuleAcceptance], rules[casework.RuleHandling], rules[casework.RuleFastTrack]} {
			for _, ext := range []int{0, 1, 7, 30} {
				want, werr := cal.ComputeDays(rule, dayNumberDate(start), 0, ext)
				got, gerr := x.due(rule, start, ext)
				if errors.Is(werr, calendar.ErrCalendarYear) != errors.Is(gerr, calendar.ErrCalendarYear) || (werr == nil && got != LegalDayNumber(want.Due)) {
					t.Fatalf("%s from %s +%d: index %s %v, calendar %s %v", rule.Key, dayNumberDate(start).Format("2006-01-02"), ext,
						dayNumberDate(got).Format("2006-01-02"), gerr, want.Due.Format("2006-01-02"), werr)
				}
			}
		}
	}
}
