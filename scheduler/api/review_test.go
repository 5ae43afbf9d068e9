package api

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// TestFinalMatterAndOutcomes: a matter closed after re-review is not accepted again when the same
// person registers it again (the registration says which and why); a matter not accepted names
// its outcome, and a legal channel names which.
func TestFinalMatterAndOutcomes(t *testing.T) {
	f := newFixture(t, Config{})
	old := f.newCase(f.t1, nil) // the township handled it: the district reviews, the city re-reviews
	f.walk(old, casework.StAccepted, casework.StInProgress, casework.StAnswered, casework.StReview, casework.StReReview, casework.StClosed)
	if g, err := f.st.GetCase(bg, old.ID); err != nil || !g.Final || g.Outcome != casework.OutcomeTerminated || g.ReviewUnitID != f.d1.ParentID {
		t.Fatalf("after re-review: %+v %v", g, err)
	}
	officer := f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	req := map[string]any{"unit_id": f.d1.ID, "territory": "330102", "form": "visit", "type": "accusation", "category_id": old.CategoryID,
		"title": "反映问题", "content": "再次检举某科长", "petitioners": []map[string]any{{"name": "张三", "id_number": "330102199001011234", "role": "petitioner"}}}
	resp, body := officer.do("POST", "/api/v1/cases", req)
	wantStatus(t, resp, body, 201)
	again := decodeJSON[CaseView](t, body)
	if again.FinalOfID != old.ID || again.FinalWhy == "" {
		t.Fatalf("registration of a final matter: %+v", again)
	}
	u := caseURL(casework.Case{ID: again.ID}, "/transitions")
	// With the notices there, the refusals below are the final matter's.
	f.document(casework.Case{ID: again.ID}, casework.DocAcceptNotice)
	f.document(casework.Case{ID: again.ID}, casework.DocNotAcceptNotice)
	resp, body = officer.do("POST", u, map[string]any{"to": "accepted"})
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); old.Number == "" || !strings.Contains(e.Message, old.Number) {
		t.Errorf("accepting a final matter: %+v", e)
	}
	resp, body = officer.do("POST", u, map[string]any{"to": "not_accepted", "reason": "同一事实和理由已复核终结", "outcome": "not_accepted"})
	wantStatus(t, resp, body, 400)
	resp, body = officer.do("POST", u, map[string]any{"to": "not_accepted", "reason": "同一事实和理由已复核终结", "outcome": "no_longer_accepted"})
	wantStatus(t, resp, body, 200)
	if v := decodeJSON[CaseView](t, body); v.Outcome != "no_longer_accepted" {
		t.Errorf("outcome %q", v.Outcome)
	}

	// 诉访分离: guided into arbitration, the channel named.
	lc := f.newCase(f.d1, func(c *casework.Case) {
		c.Petitioners[0].IDNumber = "330102198001011111"
		c.Content = "劳动合同纠纷"
	})
	u = caseURL(lc, "/transitions")
	f.document(lc, casework.DocNotAcceptNotice)
	resp, body = officer.do("POST", u, map[string]any{"to": "not_accepted", "reason": "属劳动争议仲裁受理范围", "outcome": "legal_channel"})
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); e.Field != "channel" {
		t.Errorf("unnamed channel: %+v", e)
	}
	resp, body = officer.do("POST", u, map[string]any{"to": "not_accepted", "reason": "属劳动争议仲裁受理范围", "outcome": "legal_channel", "channel": "arbitration"})
	wantStatus(t, resp, body, 200)
	if v := decodeJSON[CaseView](t, body); v.Outcome != "legal_channel" || v.Channel != "arbitration" {
		t.Errorf("legal channel: %+v", v)
	}
}

// TestForwardingClock: a forwarded case shows the province's per-level forwarding period beside
// its acceptance period.
func TestForwardingClock(t *testing.T) {
	f := newFixture(t, Config{ForwardDaysPerLevel: 3})
	officer := f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	c := f.newCase(f.d1, nil)
	resp, body := officer.do("POST", caseURL(c, "/transitions"), map[string]any{"to": "forwarded", "reason": "转送属地", "responsible_unit_id": f.t1.ID})
	wantStatus(t, resp, body, 200)
	resp, body = officer.do("GET", caseURL(c, "/deadline"), nil)
	wantStatus(t, resp, body, 200)
	v := decodeJSON[struct{ Deadline, Forwarding *DeadlineView }](t, body)
	// Forwarded Monday 2026-03-02: three working days to 03-05; fifteen days to accept, to 03-17.
	if v.Forwarding == nil || v.Forwarding.Rule != casework.RuleForwardLevel || v.Forwarding.Due != "2026-03-05" ||
		v.Deadline == nil || v.Deadline.Due != "2026-03-17" {
		t.Fatalf("clocks: %s", body)
	}
	// The rates count the township's period with the same three days: not due on 03-05, late
	// against the township on 03-06.
	leader := f.user(org.RoleLeader, f.d1)
	rates := func() RatesView {
		t.Helper()
		resp, body := f.loginUser(leader).do("GET", "/api/v1/rates", nil)
		wantStatus(t, resp, body, 200)
		return decodeJSON[RatesView](t, body)
	}
	f.clock.add(3 * 24 * time.Hour)
	if r := rates(); r.TimelyForwarding != (RateView{}) || r.ForwardDaysPerLevel != 3 {
		t.Errorf("03-05: %+v %d", r.TimelyForwarding, r.ForwardDaysPerLevel)
	}
	f.clock.add(24 * time.Hour)
	r := rates()
	if r.TimelyForwarding != (RateView{0, 1, 0}) || len(r.Overdue) == 0 || r.Overdue[0].UnitID != f.t1.ID || r.Overdue[0].Forwarding != 1 {
		t.Errorf("03-06: %+v %+v", r.TimelyForwarding, r.Overdue)
	}
}

// TestRepeatExplained: a case of the same person and matter as an earlier one says which and why;
// another matter of the same person and category does not.
func TestRepeatExplained(t *testing.T) {
	f := newFixture(t, Config{})
	first := f.newCase(f.d1, func(c *casework.Case) { c.Title, c.Content = "拖欠工资", "建筑公司拖欠工资三个月" })
	f.clock.add(48 * time.Hour)
	again := f.newCase(f.d1, func(c *casework.Case) { c.Title, c.Content = "工资拖欠", "建筑公司三个月没发工资" })
	other := f.newCase(f.d1, func(c *casework.Case) { c.Title, c.Content = "噪音扰民", "楼下饭店夜间噪音" })
	officer := f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	resp, body := officer.do("GET", caseURL(again, ""), nil)
	wantStatus(t, resp, body, 200)
	if v := decodeJSON[CaseView](t, body); v.RepeatOf == nil || v.RepeatOf.ID != first.ID || !strings.Contains(v.RepeatOf.Why, "相似度") {
		t.Errorf("repeat: %s", body)
	}
	for _, c := range []casework.Case{first, other} {
		resp, body = officer.do("GET", caseURL(c, ""), nil)
		wantStatus(t, resp, body, 200)
		if v := decodeJSON[CaseView](t, body); v.RepeatOf != nil {
			t.Errorf("case %d judged a repeat: %s", c.ID, body)
		}
	}
}

// TestReviewOpinionsWired: the review's documents, by the review body. Worked example, the dates
// by hand: a matter registered at 上城区 on 2026-03-02, handled by its township and answered that
// day (served in person); 复查 asked 03-10 goes to 上城区. The township cannot write the
// review's opinion; the district cannot answer nor close before its 复查意见书 exists; the
// opinion is signed by the district and names 杭州市 for the 复核. Served by post on 03-13, the
// 复核 may be asked until 04-12, a Sunday: 04-13. 复核 asked 04-13 goes to 杭州市, whose 复核意见书
// names no further body (不再受理).
func TestReviewOpinionsWired(t *testing.T) {
	f := newFixture(t, Config{})
	city, err := f.st.GetUnit(bg, f.d1.ParentID)
	if err != nil {
		t.Fatal(err)
	}
	officer := f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	handler := f.loginUser(f.user(org.RoleCaseHandler, f.t1))
	c := f.newCase(f.d1, nil)
	u := caseURL(c, "")
	step := func(cl *client, to string, status int, extra map[string]any) []byte {
		t.Helper()
		req := map[string]any{"to": to, "reason": "办理"}
		for k, v := range extra {
			req[k] = v
		}
		resp, body := cl.do("POST", u+"/transitions", req)
		wantStatus(t, resp, body, status)
		return body
	}
	doc := func(cl *client, kind string, status int) DocumentView {
		t.Helper()
		resp, body := cl.do("POST", u+"/documents", map[string]any{"kind": kind, "body": "经复查，维持原处理意见。"})
		wantStatus(t, resp, body, status)
		return decodeJSON[DocumentView](t, body)
	}
	page := func(d DocumentView) string {
		t.Helper()
		resp, body := officer.do("GET", u+fmt.Sprintf("/documents/%d", d.ID), nil)
		wantStatus(t, resp, body, 200)
		return string(body)
	}
	serve := func(d DocumentView) {
		t.Helper()
		resp, body := officer.do("POST", u+fmt.Sprintf("/documents/%d/service", d.ID), map[string]any{"method": "post", "proof": "EMS9876543210"})
		wantStatus(t, resp, body, 200)
	}
	deadline := func() *DeadlineView {
		t.Helper()
		resp, body := officer.do("GET", u+"/deadline", nil)
		wantStatus(t, resp, body, 200)
		return decodeJSON[struct{ Deadline *DeadlineView }](t, body).Deadline
	}
	names := func(err []byte, want string) {
		t.Helper()
		if e := errCode(t, err); e.Field != "to" || !strings.Contains(e.Message, want) {
			t.Errorf("refusal %+v, want it to name %s", e, want)
		}
	}

	step(officer, "assigned", 200, map[string]any{"responsible_unit_id": f.t1.ID})
	f.document(c, casework.DocAcceptNotice)
	step(handler, "accepted", 200, nil)
	step(handler, "in_progress", 200, nil)
	serve(doc(handler, "answer", 201))
	step(handler, "answered", 200, map[string]any{"result": "not_support"})
	f.clock.add(8 * 24 * time.Hour) // 03-10
	officer = f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	handler = f.loginUser(f.user(org.RoleCaseHandler, f.t1))
	if v := decodeJSON[CaseView](t, step(officer, "review", 200, nil)); v.ReviewUnitID != f.d1.ID {
		t.Fatalf("review body %d, want 上城区 %d", v.ReviewUnitID, f.d1.ID)
	}

	// The township whose answer is reviewed writes no opinion on it.
	resp, body := handler.do("POST", u+"/documents", map[string]any{"kind": "review_opinion", "body": "自行复查"})
	wantStatus(t, resp, body, 403)
	// The review body: no answer, no close, before the 复查意见书; no 复核意见书 during a 复查.
	resp, body = officer.do("POST", u+"/clock-events", map[string]string{"kind": "review_answered", "reason": "复查答复"})
	wantStatus(t, resp, body, 400)
	names(body, "复查意见书")
	names(step(officer, "closed", 400, nil), "复查意见书")
	doc(officer, "rereview_opinion", 400)
	op := doc(officer, "review_opinion", 201)
	p := page(op)
	for _, want := range []string{"复查意见书", "经复查，维持原处理意见。", "请求" + city.Name + "复核", `<p class="sign">` + f.d1.Name + "</p>", "2026年3月10日"} {
		if !strings.Contains(p, want) {
			t.Errorf("the 复查意见书 lacks %q", want)
		}
	}
	resp, body = officer.do("POST", u+"/clock-events", map[string]string{"kind": "review_answered", "reason": "复查答复"})
	wantStatus(t, resp, body, 201)
	// Not served: the petitioner's 30 days have not begun.
	if d := deadline(); d != nil {
		t.Errorf("a 复核 window before the 复查意见书 is served: %+v", d)
	}
	f.clock.add(3 * 24 * time.Hour) // 03-13
	officer = f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	serve(op)
	if d := deadline(); d == nil || d.Rule != casework.RuleReReviewRequest || d.Party != "petitioner" || d.Start != "2026-03-13" || d.Due != "2026-04-13" {
		t.Errorf("the 复核 window from service: %+v", d)
	}
	f.clock.add(31 * 24 * time.Hour) // 04-13, its last day
	officer = f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	if v := decodeJSON[CaseView](t, step(officer, "rereview", 200, nil)); v.ReviewUnitID != city.ID {
		t.Fatalf("re-review body %d, want 杭州市 %d", v.ReviewUnitID, city.ID)
	}
	reviewer := f.loginUser(f.user(org.RoleIntakeOfficer, city))
	names(step(reviewer, "closed", 400, nil), "复核意见书")
	p = page(doc(reviewer, "rereview_opinion", 201))
	if !strings.Contains(p, `<p class="sign">`+city.Name+"</p>") || !strings.Contains(p, "不再受理") || strings.Contains(p, "三十日内") {
		t.Errorf("the 复核意见书: signed by the city, final: %s", p)
	}
	if v := decodeJSON[CaseView](t, step(reviewer, "closed", 200, nil)); v.Outcome != "terminated" {
		t.Errorf("closed after 复核: outcome %q", v.Outcome)
	}
}
