package api

import (
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
	resp, body = officer.do("POST", u, map[string]any{"to": "accepted"})
	wantStatus(t, resp, body, 400)
	resp, body = officer.do("POST", caseURL(casework.Case{ID: again.ID}, "/documents"), map[string]any{"kind": "not_accept_notice",
		"reason": "同一事实和理由已复核终结"})
	wantStatus(t, resp, body, 201)
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
	resp, body = officer.do("POST", caseURL(lc, "/documents"), map[string]any{"kind": "not_accept_notice",
		"reason": "属劳动争议仲裁受理范围", "channel": "arbitration"})
	wantStatus(t, resp, body, 201)
	u = caseURL(lc, "/transitions")
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
