package storetest

import (
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/rates"
)

// testEvaluations: a petitioner rates by query code, once per stage; accusations are excluded;
// the rates come out of the store's events.
func testEvaluations(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	cat := org.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	bj := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, calendar.ChinaTZ) }
	code, hash, err := casework.NewQueryCode()
	if err != nil {
		t.Fatal(err)
	}
	c := casework.Case{UnitID: tr.D1.ID, Territory: "330102", Form: casework.FormVideo, Type: casework.TypeClaim, CategoryID: cat.ID,
		Title: "欠薪", QueryCodeHash: hash, RegisteredAt: bj(3, 2),
		Petitioners: []casework.Petitioner{{Name: "王五", IDNumber: "330102198001011111", Role: casework.PetitionerSelf}}}
	if err := s.CreateCase(ctx, &c, casework.CaseEvent{Actor: "intake"}); err != nil {
		t.Fatal(err)
	}
	found, err := s.GetCaseByQueryHash(ctx, casework.QueryCodeHash(code))
	if err != nil || found.ID != c.ID {
		t.Fatalf("by query code: %v", err)
	}
	wantErr(t, s.AddEvaluation(ctx, &casework.Evaluation{CaseID: c.ID, Stage: casework.EvalAcceptance, Score: casework.ScoreSatisfied}),
		org.ErrInvalid, "rate acceptance before it happened")
	for _, st := range []struct {
		from, to casework.CaseStatus
		at       time.Time
	}{{casework.StRegistered, casework.StAccepted, bj(3, 4)}, {casework.StAccepted, casework.StInProgress, bj(3, 4)},
		{casework.StInProgress, casework.StAnswered, bj(4, 20)}, {casework.StAnswered, casework.StClosed, bj(4, 21)}} {
		ev := casework.CaseEvent{CaseID: c.ID, From: st.from, To: st.to, At: st.at, Reason: "办理", Result: casework.ResultSupport}
		if err := s.TransitionCase(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	acc := casework.Evaluation{CaseID: found.ID, Stage: casework.EvalAcceptance, Score: casework.ScoreBasically, Via: "query_page", At: bj(4, 22)}
	if err := s.AddEvaluation(ctx, &acc); err != nil {
		t.Fatal(err)
	}
	again := acc
	wantErr(t, s.AddEvaluation(ctx, &again), org.ErrConflict, "the same stage twice")
	res := casework.Evaluation{CaseID: c.ID, Stage: casework.EvalResult, Score: casework.ScoreSatisfied, Via: "terminal", At: bj(4, 22)}
	if err := s.AddEvaluation(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if got := mustCase(t, s, c.ID); got.Status != casework.StEvaluated {
		t.Errorf("status after the result rating: %s", got.Status)
	}
	if es, err := s.ListEvaluations(ctx, c.ID); err != nil || len(es) != 2 || es[1].Score != casework.ScoreSatisfied || !es[1].At.Equal(bj(4, 22)) {
		t.Errorf("evaluations: %+v %v", es, err)
	}

	acc2 := newCase(t, s, tr, cat.ID, "检举", bj(3, 2)) // an accusation: excluded
	ev := casework.CaseEvent{CaseID: acc2.ID, From: casework.StRegistered, To: casework.StAccepted, At: bj(3, 25)}
	if err := s.TransitionCase(ctx, &ev); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.AddEvaluation(ctx, &casework.Evaluation{CaseID: acc2.ID, Stage: casework.EvalAcceptance, Score: casework.ScoreSatisfied}),
		org.ErrInvalid, "rating an accusation")

	r, err := rates.RatesFor(ctx, s, rates.RatesQuery{UnderPaths: []string{tr.City.Path}}, calendar.DefaultCalendar(), casework.DefaultRules(), bj(5, 1))
	if err != nil {
		t.Fatal(err)
	}
	// c: accepted on time and answered on time; acc2: accepted 3-25, after its 3-17 end.
	if r.TimelyAcceptance != (rates.Rate{Num: 1, Den: 2}) || r.OnTimeClosure != (rates.Rate{Num: 1, Den: 1}) ||
		r.Satisfaction != (rates.Rate{Num: 1, Den: 1}) || r.Repeat != (rates.Rate{Num: 0, Den: 2}) {
		t.Errorf("rates: %+v", r)
	}
	if r, _ := rates.RatesFor(ctx, s, rates.RatesQuery{UnderPaths: []string{tr.D2.Path}}, calendar.DefaultCalendar(), casework.DefaultRules(), bj(5, 1)); r.Repeat.Den != 0 {
		t.Errorf("another district's rates count these cases: %+v", r)
	}
}
