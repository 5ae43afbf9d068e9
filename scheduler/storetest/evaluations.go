package storetest

import (
	"testing"
	"time"

	"sanji/scheduler"
)

// testEvaluations: a petitioner rates by query code, once per stage; accusations are excluded;
// the rates come out of the store's events.
func testEvaluations(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	cat := scheduler.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	bj := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, scheduler.ChinaTZ) }
	code, hash, err := scheduler.NewQueryCode()
	if err != nil {
		t.Fatal(err)
	}
	c := scheduler.Case{UnitID: tr.D1.ID, Territory: "330102", Form: scheduler.FormVideo, Type: scheduler.TypeClaim, CategoryID: cat.ID,
		Title: "欠薪", QueryCodeHash: hash, RegisteredAt: bj(3, 2),
		Petitioners: []scheduler.Petitioner{{Name: "王五", IDNumber: "330102198001011111", Role: scheduler.PetitionerSelf}}}
	if err := s.CreateCase(ctx, &c, scheduler.CaseEvent{Actor: "intake"}); err != nil {
		t.Fatal(err)
	}
	found, err := s.GetCaseByQueryHash(ctx, scheduler.QueryCodeHash(code))
	if err != nil || found.ID != c.ID {
		t.Fatalf("by query code: %v", err)
	}
	wantErr(t, s.AddEvaluation(ctx, &scheduler.Evaluation{CaseID: c.ID, Stage: scheduler.EvalAcceptance, Score: scheduler.ScoreSatisfied}),
		scheduler.ErrInvalid, "rate acceptance before it happened")
	for _, st := range []struct {
		from, to scheduler.CaseStatus
		at       time.Time
	}{{scheduler.StRegistered, scheduler.StAccepted, bj(3, 4)}, {scheduler.StAccepted, scheduler.StInProgress, bj(3, 4)},
		{scheduler.StInProgress, scheduler.StAnswered, bj(4, 20)}, {scheduler.StAnswered, scheduler.StClosed, bj(4, 21)}} {
		ev := scheduler.CaseEvent{CaseID: c.ID, From: st.from, To: st.to, At: st.at, Reason: "办理", Result: scheduler.ResultSupport}
		if err := s.TransitionCase(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	acc := scheduler.Evaluation{CaseID: found.ID, Stage: scheduler.EvalAcceptance, Score: scheduler.ScoreBasically, Via: "query_page", At: bj(4, 22)}
	if err := s.AddEvaluation(ctx, &acc); err != nil {
		t.Fatal(err)
	}
	again := acc
	wantErr(t, s.AddEvaluation(ctx, &again), scheduler.ErrConflict, "the same stage twice")
	res := scheduler.Evaluation{CaseID: c.ID, Stage: scheduler.EvalResult, Score: scheduler.ScoreSatisfied, Via: "terminal", At: bj(4, 22)}
	if err := s.AddEvaluation(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if got := mustCase(t, s, c.ID); got.Status != scheduler.StEvaluated {
		t.Errorf("status after the result rating: %s", got.Status)
	}
	if es, err := s.ListEvaluations(ctx, c.ID); err != nil || len(es) != 2 || es[1].Score != scheduler.ScoreSatisfied || !es[1].At.Equal(bj(4, 22)) {
		t.Errorf("evaluations: %+v %v", es, err)
	}

	acc2 := newCase(t, s, tr, cat.ID, "检举", bj(3, 2)) // an accusation: excluded
	ev := scheduler.CaseEvent{CaseID: acc2.ID, From: scheduler.StRegistered, To: scheduler.StAccepted, At: bj(3, 25)}
	if err := s.TransitionCase(ctx, &ev); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.AddEvaluation(ctx, &scheduler.Evaluation{CaseID: acc2.ID, Stage: scheduler.EvalAcceptance, Score: scheduler.ScoreSatisfied}),
		scheduler.ErrInvalid, "rating an accusation")

	r, err := scheduler.RatesFor(ctx, s, scheduler.RatesQuery{UnderPaths: []string{tr.City.Path}}, scheduler.DefaultCalendar(), scheduler.DefaultRules(), bj(5, 1))
	if err != nil {
		t.Fatal(err)
	}
	// c: accepted on time and answered on time; acc2: accepted 3-25, after its 3-17 end.
	if r.TimelyAcceptance != (scheduler.Rate{Num: 1, Den: 2}) || r.OnTimeClosure != (scheduler.Rate{Num: 1, Den: 1}) ||
		r.Satisfaction != (scheduler.Rate{Num: 1, Den: 1}) || r.Repeat != (scheduler.Rate{Num: 0, Den: 2}) {
		t.Errorf("rates: %+v", r)
	}
	if r, _ := scheduler.RatesFor(ctx, s, scheduler.RatesQuery{UnderPaths: []string{tr.D2.Path}}, scheduler.DefaultCalendar(), scheduler.DefaultRules(), bj(5, 1)); r.Repeat.Den != 0 {
		t.Errorf("another district's rates count these cases: %+v", r)
	}
}
