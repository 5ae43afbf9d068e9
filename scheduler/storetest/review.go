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

// Review by the higher body (复查, 复核), the final matter (不再受理) and the outcomes, worked through
// one matter of 2026 with the dates written out (docs/casework.md).

// reviewCase registers a claim of petitioner idn at unit about the unit complained about.
func reviewCase(t *testing.T, s scheduler.Store, unit, complained, cat int64, title, content, idn string, at time.Time) casework.Case {
	t.Helper()
	_, hash, err := casework.NewQueryCode()
	if err != nil {
		t.Fatal(err)
	}
	c := casework.Case{UnitID: unit, Territory: "330102", Form: casework.FormVisit, Type: casework.TypeClaim, CategoryID: cat,
		Title: title, Content: content, QueryCodeHash: hash, ComplainedUnitID: complained, RegisteredAt: at,
		Petitioners: []casework.Petitioner{{Name: "孙八", IDNumber: idn, Role: casework.PetitionerSelf}}}
	if err := s.CreateCase(ctx, &c, casework.CaseEvent{ActorID: 1, Actor: "intake", UnitID: unit, Reason: "登记"}); err != nil {
		t.Fatalf("register %s: %v", title, err)
	}
	return c
}

func testReviewByHigherBody(t *testing.T, s scheduler.Store) {
	tr, cat := treeWithCategory(t, s)
	other := org.Category{Code: "09", Name: "城市建设与管理"}
	if err := s.CreateCategory(ctx, &other); err != nil {
		t.Fatal(err)
	}
	cal, rules := calendar.DefaultCalendar(), casework.DefaultRules()
	bj := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, calendar.ChinaTZ) }
	const idn = "330102198203036789"
	c := reviewCase(t, s, tr.D1.ID, tr.T1.ID, cat.ID, "拖欠工伤待遇", "清波街道某厂拖欠工伤保险待遇两年，多次反映未果", idn, bj(3, 2))
	move := func(c *casework.Case, to casework.CaseStatus, at time.Time, mod func(*casework.CaseEvent)) error {
		ev := casework.CaseEvent{CaseID: c.ID, From: c.Status, To: to, Reason: "办理", At: at, Actor: "officer", ActorID: 1}
		if mod != nil {
			mod(&ev)
		}
		err := s.TransitionCase(ctx, &ev)
		if err == nil {
			*c = mustCase(t, s, c.ID)
		}
		return err
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	due := func(c casework.Case, now time.Time, rule string, want time.Time) {
		t.Helper()
		d, ok, err := casework.CaseDeadline(ctx, s, cal, rules, c, now)
		if err != nil || !ok || d.Rule.Key != rule || !d.Due.Equal(want) {
			t.Errorf("at %s: %s due %s (%v %v), want %s due %s", now.Format("01-02"), d.Rule.Key, d.Due.Format("2006-01-02"), ok, err, rule, want.Format("2006-01-02"))
		}
	}
	// Assigned 03-03 to the district's department, accepted 03-05, answered 04-10: not supported.
	must(move(&c, casework.StAssigned, bj(3, 3), func(e *casework.CaseEvent) { e.ResponsibleUnitID = tr.Dept.ID }))
	must(move(&c, casework.StAccepted, bj(3, 5), nil))
	must(move(&c, casework.StInProgress, bj(3, 5), nil))
	must(move(&c, casework.StAnswered, bj(4, 10), func(e *casework.CaseEvent) { e.Result = casework.ResultNotSupport }))
	// An outcome belongs to not accepting or closing only.
	wantErr(t, move(&c, casework.StReview, bj(4, 20), func(e *casework.CaseEvent) { e.Outcome = casework.OutcomeResolved }), org.ErrInvalid, "outcome on a review")

	// 复查 asked 04-20: the body one level above the department is the district (上城区), and the
	// review's own 30 days run to 05-20 (a Wednesday).
	must(move(&c, casework.StReview, bj(4, 20), nil))
	if c.ReviewUnitID != tr.D1.ID || c.ResponsibleUnitID != tr.Dept.ID {
		t.Errorf("review body %d (responsible %d), want the district %d", c.ReviewUnitID, c.ResponsibleUnitID, tr.D1.ID)
	}
	if evs, _ := s.ListCaseEvents(ctx, c.ID); evs[len(evs)-1].ResponsibleUnitID != tr.D1.ID {
		t.Errorf("review event names %d, want the district", evs[len(evs)-1].ResponsibleUnitID)
	}
	due(c, bj(4, 21), casework.RuleReviewAnswer, calendar.Date(2026, 5, 20))
	if got := casework.ReviewOpinion(casework.CaseEvent{Kind: casework.EvReviewAnswered}); got != casework.DocReviewOpinion {
		t.Errorf("the review answer needs %q", got)
	}
	// Had the district let its 30 days pass (the job run on 05-21), the supervision item would be
	// the district's, not the department's whose handling it reviews.
	if n, err := casework.OpenOverdueSupervisions(ctx, s, cal, rules, bj(5, 21)); err != nil || n != 1 {
		t.Fatalf("overdue job: %d %v", n, err)
	}
	if sv, err := s.OpenSupervisionFor(ctx, c.ID); err != nil || sv.UnitID != tr.D1.ID {
		t.Errorf("the late review's supervision: unit %d %v, want the district %d", sv.UnitID, err, tr.D1.ID)
	}
	c = mustCase(t, s, c.ID)
	// The district answers 05-15 with its 复查意见书, signed by the district and naming the city
	// for the 复核 (the API generates it: casework.DocumentSigner). Until it is served no window
	// runs; served by post on Monday 05-18, the petitioner may ask for 复核 within 30 days of
	// service, to 06-17 (a Wednesday) — not to 06-14 (a Sunday, so 06-15) counted from the answer.
	if signer, err := casework.DocumentSigner(c, casework.DocReviewOpinion); err != nil || signer != tr.D1.ID {
		t.Errorf("the 复查意见书 is signed by %d (%v), want the district %d", signer, err, tr.D1.ID)
	}
	ans := casework.CaseEvent{CaseID: c.ID, Kind: casework.EvReviewAnswered, Reason: "复查意见：维持", At: bj(5, 15), Actor: "district", ActorID: 2}
	must(s.AddClockEvent(ctx, &ans))
	if _, ok, err := casework.CaseDeadline(ctx, s, cal, rules, c, bj(5, 16)); ok || err != nil {
		t.Errorf("the 复核 window runs before the 复查意见书 is served: %v %v", ok, err)
	}
	serveDoc(t, s, c.ID, casework.DocReviewOpinion, bj(5, 15), bj(5, 18))
	due(c, bj(5, 19), casework.RuleReReviewRequest, calendar.Date(2026, 6, 17))
	// 复核 asked 05-25: the body above the district is the city; 30 days to 06-24.
	must(move(&c, casework.StReReview, bj(5, 25), nil))
	if c.ReviewUnitID != tr.City.ID {
		t.Errorf("re-review body %d, want the city %d", c.ReviewUnitID, tr.City.ID)
	}
	due(c, bj(5, 26), casework.RuleReReviewAnswer, calendar.Date(2026, 6, 24))
	if signer, err := casework.DocumentSigner(c, casework.DocReReviewOpinion); err != nil || signer != tr.City.ID {
		t.Errorf("the 复核意见书 is signed by %d (%v), want the city %d", signer, err, tr.City.ID)
	}
	wantErr(t, func() error { _, err := casework.DocumentSigner(c, casework.DocReviewOpinion); return err }(), org.ErrInvalid,
		"a 复查意见书 during the re-review")
	// Closed 06-20 with the 复核意见书: terminated by default, and final.
	if got := casework.ReviewOpinion(casework.CaseEvent{Kind: casework.EvStatus, From: casework.StReReview, To: casework.StClosed}); got != casework.DocReReviewOpinion {
		t.Errorf("the re-review close needs %q", got)
	}
	must(move(&c, casework.StClosed, bj(6, 20), nil))
	if !c.Final || c.Outcome != casework.OutcomeTerminated {
		t.Errorf("after re-review: final %v outcome %q", c.Final, c.Outcome)
	}

	// 07-01 the same person brings the same matter again (reworded, same category, same unit):
	// registered, marked as the final matter's repeat, and only 不再受理 is possible.
	again := reviewCase(t, s, tr.D1.ID, tr.T1.ID, cat.ID, "工伤待遇拖欠", "某厂两年来一直拖欠我的工伤保险待遇，多次反映没有结果", idn, bj(7, 1))
	if again.FinalOfID != c.ID || !strings.Contains(again.FinalWhy, "相似度") || !strings.Contains(again.FinalWhy, "similarity") {
		t.Fatalf("repeat of a final matter: of %d why %q", again.FinalOfID, again.FinalWhy)
	}
	if g := mustCase(t, s, again.ID); g.FinalOfID != c.ID || g.FinalWhy != again.FinalWhy {
		t.Errorf("stored: %d %q", g.FinalOfID, g.FinalWhy)
	}
	wantErr(t, move(&again, casework.StAccepted, bj(7, 2), nil), org.ErrInvalid, "accepting a final matter")
	wantErr(t, move(&again, casework.StAssigned, bj(7, 2), func(e *casework.CaseEvent) { e.ResponsibleUnitID = tr.Dept.ID }), org.ErrInvalid, "assigning a final matter")
	wantErr(t, move(&again, casework.StNotAccepted, bj(7, 2), func(e *casework.CaseEvent) { e.Outcome = casework.OutcomeNotAccepted }), org.ErrInvalid, "a plain not-accepted")
	must(move(&again, casework.StNotAccepted, bj(7, 2), nil))
	if again.Outcome != casework.OutcomeNoLongerAccepted {
		t.Errorf("outcome %q, want no_longer_accepted", again.Outcome)
	}
	// Another matter of the same person (another category, unit and text) is accepted as usual.
	fresh := reviewCase(t, s, tr.D1.ID, 0, other.ID, "噪音扰民", "楼下饭店夜间噪音扰民", idn, bj(7, 3))
	if fresh.FinalOfID != 0 {
		t.Errorf("another matter marked final: %q", fresh.FinalWhy)
	}

	// Outcomes of not accepting: a legal channel names which.
	lc := reviewCase(t, s, tr.D1.ID, 0, other.ID, "合同纠纷", "与某公司买卖合同纠纷", "330102197001012345", bj(7, 3))
	wantErr(t, move(&lc, casework.StNotAccepted, bj(7, 4), func(e *casework.CaseEvent) { e.Outcome = casework.OutcomeLegalChannel }), org.ErrInvalid, "legal channel unnamed")
	wantErr(t, move(&lc, casework.StNotAccepted, bj(7, 4), func(e *casework.CaseEvent) {
		e.Outcome, e.Channel = casework.OutcomeNotAccepted, casework.ChannelLitigation
	}), org.ErrInvalid, "channel without the legal-channel outcome")
	wantErr(t, move(&lc, casework.StNotAccepted, bj(7, 4), func(e *casework.CaseEvent) { e.Outcome = casework.OutcomeResolved }), org.ErrInvalid, "a closing outcome on not accepting")
	must(move(&lc, casework.StNotAccepted, bj(7, 4), func(e *casework.CaseEvent) {
		e.Outcome, e.Channel = casework.OutcomeLegalChannel, casework.ChannelLitigation
	}))
	if lc.Outcome != casework.OutcomeLegalChannel || lc.Channel != casework.ChannelLitigation {
		t.Errorf("legal channel: %q %q", lc.Outcome, lc.Channel)
	}
	if evs, _ := s.ListCaseEvents(ctx, lc.ID); evs[len(evs)-1].Outcome != casework.OutcomeLegalChannel || evs[len(evs)-1].Channel != casework.ChannelLitigation {
		t.Errorf("event: %+v", evs[len(evs)-1])
	}
	// A close names how: partly resolved.
	pr := reviewCase(t, s, tr.D1.ID, 0, other.ID, "路灯损坏", "小区门口路灯损坏", "330102197001019999", bj(7, 3))
	for _, to := range []casework.CaseStatus{casework.StAccepted, casework.StInProgress} {
		must(move(&pr, to, bj(7, 4), nil))
	}
	must(move(&pr, casework.StAnswered, bj(7, 10), func(e *casework.CaseEvent) { e.Result = casework.ResultSupport }))
	wantErr(t, move(&pr, casework.StClosed, bj(7, 11), func(e *casework.CaseEvent) { e.Outcome = casework.OutcomeLegalChannel }), org.ErrInvalid, "not-accepted outcome on a close")
	must(move(&pr, casework.StClosed, bj(7, 11), func(e *casework.CaseEvent) { e.Outcome = casework.OutcomePartly }))

	// A case the city handled: the body above is outside this system.
	top := reviewCase(t, s, tr.City.ID, 0, other.ID, "市级事项", "市级部门办理的事项", "330102197001018888", bj(7, 3))
	for _, to := range []casework.CaseStatus{casework.StAccepted, casework.StInProgress} {
		must(move(&top, to, bj(7, 4), nil))
	}
	must(move(&top, casework.StAnswered, bj(7, 10), func(e *casework.CaseEvent) { e.Result = casework.ResultExplain }))
	wantErr(t, move(&top, casework.StReview, bj(7, 12), nil), org.ErrInvalid, "review above the city")

	// The statistics count each outcome, from the timelines and from the kept counts alike.
	at := bj(7, 20)
	for name, get := range map[string]func() (rates.Rates, error){
		"timelines": func() (rates.Rates, error) {
			return rates.RatesFromTimelines(ctx, s, rates.RatesQuery{UnderPaths: []string{tr.City.Path}}, cal, rules, at)
		},
		"counts": func() (rates.Rates, error) {
			return rates.RatesFor(ctx, s, rates.RatesQuery{UnderPaths: []string{tr.City.Path}}, cal, rules, at)
		},
	} {
		r, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := map[casework.CaseOutcome]int{casework.OutcomeTerminated: 1, casework.OutcomeNoLongerAccepted: 1,
			casework.OutcomeLegalChannel: 1, casework.OutcomePartly: 1}
		if len(r.Outcomes) != len(want) || r.Unclassified != 0 {
			t.Errorf("%s: outcomes %v unclassified %d", name, r.Outcomes, r.Unclassified)
		}
		for o, n := range want {
			if r.Outcomes[o] != n {
				t.Errorf("%s: %s = %d, want %d", name, o, r.Outcomes[o], n)
			}
		}
		// Six cases; five routed within the office's 15 days (the first on 03-03, a day after
		// registration). The fresh one, registered 07-03, is not routed: its 15th day 07-18 is a
		// Saturday, so its period runs to Monday 07-20 and is not counted yet.
		if r.TimelyRouting != (rates.Rate{Num: 5, Den: 5}) {
			t.Errorf("%s: routing %+v", name, r.TimelyRouting)
		}
	}
}

// testOnwardForward: a forwarded matter is passed on down the tree only, and each level's
// forwarding period runs from the forward that brought it there.
func testOnwardForward(t *testing.T, s scheduler.Store) {
	tr, cat := treeWithCategory(t, s)
	cal := calendar.DefaultCalendar()
	bj := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, calendar.ChinaTZ) }
	c := reviewCase(t, s, tr.City.ID, 0, cat.ID, "道路破损", "某路段路面破损", "330102197505051234", bj(2, 27))
	fwd := func(to int64, at time.Time) error {
		ev := casework.CaseEvent{CaseID: c.ID, From: c.Status, To: casework.StForwarded, Reason: "转送", ResponsibleUnitID: to, At: at, Actor: "office"}
		err := s.TransitionCase(ctx, &ev)
		if err == nil {
			c = mustCase(t, s, c.ID)
		}
		return err
	}
	if err := fwd(tr.D1.ID, bj(3, 2)); err != nil {
		t.Fatal(err)
	}
	// Forwarded on Monday 03-02: 5 working days are 03-03 … 03-06 and Monday 03-09.
	evs, _ := s.ListCaseEvents(ctx, c.ID)
	d, ok, err := casework.ForwardClock(c, evs, cal, casework.ForwardRule(0), bj(3, 3))
	if err != nil || !ok || !d.Due.Equal(calendar.Date(2026, 3, 9)) {
		t.Errorf("forwarding period: %s %v %v", d.Due.Format("2006-01-02"), ok, err)
	}
	wantErr(t, fwd(tr.D2.ID, bj(3, 4)), org.ErrInvalid, "sideways to the other district")
	wantErr(t, fwd(tr.City.ID, bj(3, 4)), org.ErrInvalid, "back up")
	if err := fwd(tr.T1.ID, bj(3, 4)); err != nil {
		t.Fatal(err)
	}
	// The township's own period, with the province's 3 days: Wednesday 03-04 → 03-09.
	evs, _ = s.ListCaseEvents(ctx, c.ID)
	if d, _, _ := casework.ForwardClock(c, evs, cal, casework.ForwardRule(3), bj(3, 5)); !d.Due.Equal(calendar.Date(2026, 3, 9)) || c.ResponsibleUnitID != tr.T1.ID {
		t.Errorf("the township's period: %s, responsible %d", d.Due.Format("2006-01-02"), c.ResponsibleUnitID)
	}
	// Accepted there: no forwarding period runs any more.
	ev := casework.CaseEvent{CaseID: c.ID, From: casework.StForwarded, To: casework.StAccepted, At: bj(3, 6), Actor: "township"}
	if err := s.TransitionCase(ctx, &ev); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := casework.ForwardClock(mustCase(t, s, c.ID), nil, cal, casework.ForwardRule(0), bj(3, 6)); ok {
		t.Error("a forwarding period on an accepted case")
	}
}
