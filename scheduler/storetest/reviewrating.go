package storetest

import (
	"strings"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/rates"
)

// testRatingAfterReview: the petitioner rates the result again after a 复查, once the 复查意见书
// is served and within the window from that service; the review's rating is kept apart from the
// result's, which alone counts in 满意率 and 参评率 (docs/casework.md "评价"). The dates by hand:
// answered 2026-04-01, the 处理意见书 served 04-03, the result rated 04-05 (unsatisfied); 复查
// asked 04-20, answered 05-15, the 复查意见书 served by post 05-18 → the review's result may be
// rated to 05-18 + 30 = 06-17; the review closed 05-19 and rated 05-20, which evaluates the case.
func testRatingAfterReview(t *testing.T, s scheduler.Store) {
	tr, cat := treeWithCategory(t, s)
	bj := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, calendar.ChinaTZ) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	move := func(c *casework.Case, to casework.CaseStatus, at time.Time) {
		t.Helper()
		ev := casework.CaseEvent{CaseID: c.ID, From: c.Status, To: to, Reason: "办理", At: at, Actor: "officer", ActorID: 1}
		must(s.TransitionCase(ctx, &ev))
		*c = mustCase(t, s, c.ID)
	}
	rate := func(c casework.Case, stage, score string, at time.Time) error {
		return s.AddEvaluation(ctx, &casework.Evaluation{CaseID: c.ID, Stage: stage, Score: score, Via: casework.ViaQueryPage, At: at})
	}
	c := reviewCase(t, s, tr.D1.ID, 0, cat.ID, "拆迁补偿", "拆迁补偿款未按协议支付", "330102198505051234", bj(3, 2, 9))
	toAnswered(t, s, c.ID, bj(4, 1, 9))
	serveDoc(t, s, c.ID, casework.DocAnswer, bj(4, 1, 8), bj(4, 3, 10))
	must(rate(c, casework.EvalResult, casework.ScoreUnsatisfied, bj(4, 5, 9)))
	c = mustCase(t, s, c.ID)

	move(&c, casework.StReview, bj(4, 20, 9))
	wantErr(t, rate(c, casework.EvalReviewResult, casework.ScoreSatisfied, bj(4, 21, 9)), org.ErrInvalid, "rating a review not answered")
	ans := casework.CaseEvent{CaseID: c.ID, Kind: casework.EvReviewAnswered, Reason: "复查意见：撤销原处理意见", At: bj(5, 15, 9), Actor: "review", ActorID: 2}
	must(s.AddClockEvent(ctx, &ans))
	err := rate(c, casework.EvalReviewResult, casework.ScoreSatisfied, bj(5, 16, 9))
	wantErr(t, err, org.ErrInvalid, "rating the review before its opinion is served")
	if err == nil || !strings.Contains(err.Error(), "复查意见书送达后") {
		t.Errorf("the refusal names the 复查意见书: %v", err)
	}
	serveDoc(t, s, c.ID, casework.DocReviewOpinion, bj(5, 15, 8), bj(5, 18, 15))

	// The window from the service, as the API checks it.
	evs, err := s.ListCaseEvents(ctx, c.ID)
	must(err)
	if start, ok := casework.RatingStart(c, evs, casework.EvalReviewResult); !ok || !start.Equal(bj(5, 18, 15)) {
		t.Errorf("review rating start %v %v, want the service 05-18", start, ok)
	}
	if err := casework.CheckRatingWindow(c, evs, casework.EvalReviewResult, 30, bj(6, 17, 23)); err != nil {
		t.Errorf("the review's result on 06-17: %v", err)
	}
	if err := casework.CheckRatingWindow(c, evs, casework.EvalReviewResult, 30, bj(6, 18, 0)); err == nil || !strings.Contains(err.Error(), "2026-06-17") {
		t.Errorf("the review's result on 06-18: %v", err)
	}
	if got := casework.PendingRatings(c, evs, []casework.Evaluation{{Stage: casework.EvalResult}}, 30, bj(5, 19, 9)); strings.Join(got, ",") != "review_result" {
		t.Errorf("pending after the review's service: %v", got)
	}
	wantErr(t, rate(c, casework.EvalReReviewResult, casework.ScoreSatisfied, bj(5, 19, 9)), org.ErrInvalid, "rating a 复核 that never was")

	move(&c, casework.StClosed, bj(5, 19, 9))
	must(rate(c, casework.EvalReviewResult, casework.ScoreSatisfied, bj(5, 20, 9)))
	if got := mustCase(t, s, c.ID); got.Status != casework.StEvaluated {
		t.Errorf("the review's rating of a closed case leaves it %s, want evaluated", got.Status)
	}
	wantErr(t, rate(c, casework.EvalReviewResult, casework.ScoreBasically, bj(5, 21, 9)), org.ErrConflict, "the review's result twice")
	es, err := s.ListEvaluations(ctx, c.ID)
	if err != nil || len(es) != 2 || es[0].Stage != casework.EvalResult || es[1].Stage != casework.EvalReviewResult || es[1].Score != casework.ScoreSatisfied {
		t.Errorf("ratings kept: %+v %v", es, err)
	}

	// 满意率 and 参评率 count the result's rating once per case: unsatisfied, not the review's
	// satisfied; the same from the kept counts and from the timelines.
	q := rates.RatesQuery{UnderPaths: []string{tr.City.Path}}
	now := bj(6, 1, 9)
	fromCounts, err := rates.RatesFor(ctx, s, q, calendar.DefaultCalendar(), casework.DefaultRules(), now)
	must(err)
	fromTimelines, err := rates.RatesFromTimelines(ctx, s, q, calendar.DefaultCalendar(), casework.DefaultRules(), now)
	must(err)
	for name, r := range map[string]rates.Rates{"counts": fromCounts, "timelines": fromTimelines} {
		if r.Satisfaction != (rates.Rate{Num: 0, Den: 1}) || r.Participation != (rates.Rate{Num: 1, Den: 1}) || r.Scores[casework.ScoreSatisfied] != 0 {
			t.Errorf("from the %s: 满意率 %+v 参评率 %+v scores %v", name, r.Satisfaction, r.Participation, r.Scores)
		}
	}
}
