package api

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// walk moves a case through statuses with the store (not the API under test), each step at the
// fixture's clock.
func (f *fixture) walk(c casework.Case, steps ...casework.CaseStatus) {
	f.t.Helper()
	from := c.Status
	for _, to := range steps {
		ev := casework.CaseEvent{CaseID: c.ID, From: from, To: to, Reason: "办理", Result: casework.ResultExplain, At: f.clock.now(), Actor: "fixture"}
		if to == casework.StExtended {
			ev.Days, ev.ApprovedBy, ev.Notice = 30, 1, "延期告知"
		}
		if err := f.st.TransitionCase(bg, &ev); err != nil {
			f.t.Fatal(err)
		}
		from = to
	}
}

// supervisedCase registers a case at unit with an open supervision item on that unit.
func (f *fixture) supervisedCase(unit org.Unit) (casework.Case, casework.Supervision) {
	f.t.Helper()
	c := f.newCase(unit, nil)
	sv := casework.Supervision{CaseID: c.ID, UnitID: unit.ID, Basis: "逾期", Level: casework.SupLevelRoutine, Method: casework.SupWritten,
		Deadline: calendar.Date(2026, 4, 1)}
	if err := f.st.OpenSupervision(bg, &sv); err != nil {
		f.t.Fatal(err)
	}
	return c, sv
}

// consultation opens a 会商 on a new case at units[0] among units, competent the first.
func (f *fixture) consultation(units ...org.Unit) casework.Consultation {
	f.t.Helper()
	c := f.newCase(units[0], nil)
	k := casework.Consultation{CaseID: c.ID, CompetentUnitID: units[0].ID, Subject: "责任认定"}
	for _, u := range units {
		k.UnitIDs = append(k.UnitIDs, u.ID)
	}
	if err := f.st.CreateConsultation(bg, &k, casework.CaseEvent{Actor: "fixture", At: f.clock.now()}); err != nil {
		f.t.Fatal(err)
	}
	return k
}

func consultationURL(k casework.Consultation, suffix string) string {
	return "/api/v1/consultations/" + strconv.FormatInt(k.ID, 10) + suffix
}

func init() {
	caseIn := func(f *fixture, in bool) casework.Case { return f.newCase(pick(in, f.t1, f.d2), nil) }
	matrix["GET /api/v1/cases"] = matrixRow{list: true, call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/cases", nil }}
	matrix["GET /api/v1/me/owned-cases"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/me/owned-cases", nil }}
	matrix["POST /api/v1/cases/{id}/owner"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return caseURL(caseIn(f, in), "/owner"), map[string]string{"reason": "疑难复杂"}
	}}
	matrix["GET /api/v1/cases/{id}/supervisions"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		cs, _ := f.supervisedCase(pick(in, f.t1, f.d2))
		return caseURL(cs, "/supervisions"), nil
	}}
	matrix["POST /api/v1/cases/{id}/supervision/reports"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		cs, _ := f.supervisedCase(pick(in, f.t1, f.d2))
		return caseURL(cs, "/supervision/reports"), map[string]string{"kind": "progress", "text": "已约谈"}
	}}
	matrix["POST /api/v1/cases/{id}/supervision/extension-decision"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		cs, sv := f.supervisedCase(pick(in, f.t1, f.d2))
		rp := casework.SupervisionReport{SupervisionID: sv.ID, Kind: casework.ReportExtension, Text: "需要时间", RequestedDeadline: calendar.Date(2026, 4, 20)}
		if err := f.st.AddSupervisionReport(bg, &rp, casework.CaseEvent{Actor: "fixture"}); err != nil {
			f.t.Fatal(err)
		}
		return caseURL(cs, "/supervision/extension-decision"), map[string]any{"report_id": rp.ID, "approve": true}
	}}
	matrix["POST /api/v1/cases/{id}/clock-events"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		cs := caseIn(f, in)
		f.walk(cs, casework.StAccepted, casework.StInProgress, casework.StAnswered, casework.StReview)
		return caseURL(cs, "/clock-events"), map[string]string{"kind": "clock_paused", "reason": "举行听证"}
	}}
	matrix["POST /api/v1/cases/{id}/consultations"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return caseURL(caseIn(f, in), "/consultations"), map[string]any{"competent_unit_id": f.t1.ID, "unit_ids": []int64{f.d1.ID}, "subject": "责任认定"}
	}}
	matrix["GET /api/v1/cases/{id}/assignments"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		a := f.assignment(f.d1, f.t1)
		if !in {
			a = f.assignment(f.root, f.d2)
		}
		return "/api/v1/cases/" + strconv.FormatInt(a.CaseID, 10) + "/assignments", nil
	}}
	matrix["GET /api/v1/cases/{id}/consultations"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return caseURL(caseIn(f, in), "/consultations"), nil
	}}
	matrix["POST /api/v1/consultations/{id}/opinions"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		u := pick(in, f.d1, f.d2)
		return consultationURL(f.consultation(u, f.root), "/opinions"), map[string]any{"unit_id": u.ID, "text": "同意"}
	}}
	matrix["POST /api/v1/consultations/{id}/sign"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		u := pick(in, f.d1, f.d2)
		k := f.consultation(u, f.root)
		// The quorum: the other unit is recorded absent first.
		if err := f.st.RecordConsultationAbsence(bg, k.ID, casework.Absence{UnitID: f.root.ID, Reason: "未到会"},
			casework.CaseEvent{ActorID: f.user(org.RoleCaseHandler, u).ID, At: f.clock.now()}); err != nil {
			f.t.Fatal(err)
		}
		return consultationURL(k, "/sign"), map[string]string{"conclusion": "由主管单位牵头办理"}
	}}
	matrix["GET /api/v1/supervisions/escalated"] = matrixRow{list: true, call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/supervisions/escalated", nil
	}}
	matrix["POST /api/v1/consultations/{id}/absences"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return consultationURL(f.consultation(pick(in, f.d1, f.d2), f.root), "/absences"), map[string]any{"unit_id": f.root.ID, "reason": "未到会"}
	}}
}

func decodeJSON[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v
}

func TestConsultationFlow(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.newCase(f.d1, nil)
	leaderUser := f.user(org.RoleLeader, f.d1)
	leader := f.loginUser(leaderUser)
	resp, body := leader.do("POST", caseURL(c, "/consultations"), map[string]any{"competent_unit_id": f.t1.ID, "unit_ids": []int64{f.d1.ID},
		"subject": "欠薪责任主体认定", "session_id": "rs-12", "recording_offset_ms": 125000})
	wantStatus(t, resp, body, 201)
	k := decodeJSON[ConsultationView](t, body)
	if len(k.UnitIDs) != 2 || k.CompetentUnitID != f.t1.ID || k.Final || k.RecordingOffsetMS != 125000 {
		t.Errorf("created: %+v", k)
	}
	url := "/api/v1/consultations/" + strconv.FormatInt(k.ID, 10)
	handler := f.loginUser(f.user(org.RoleCaseHandler, f.t1))
	resp, body = handler.do("POST", url+"/opinions", map[string]any{"text": "街道牵头核查"}) // for the caller's own unit
	wantStatus(t, resp, body, 200)
	resp, body = leader.do("POST", url+"/opinions", map[string]any{"unit_id": f.d1.ID, "text": "应由区人社局牵头", "dissent": true})
	wantStatus(t, resp, body, 200)
	// The district leader's scope covers the township, but only the township's people speak for it.
	resp, body = leader.do("POST", url+"/opinions", map[string]any{"unit_id": f.t1.ID, "text": "代答"})
	wantStatus(t, resp, body, 403)
	if e := errCode(t, body); !strings.Contains(e.Message, "只有该单位的工作人员") {
		t.Errorf("refusal: %+v", e)
	}
	far := f.loginUser(f.user(org.RoleCaseHandler, f.d2))
	resp, body = far.do("POST", url+"/opinions", map[string]any{"unit_id": f.t1.ID, "text": "越权"})
	wantStatus(t, resp, body, 403)
	// A unit taking no part gives no opinion even when its member asks.
	other := f.loginUser(f.user(org.RoleUnitHead, f.d2))
	resp, body = other.do("POST", url+"/opinions", map[string]any{"unit_id": f.d2.ID, "text": "x"})
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); e.Field != "unit_id" {
		t.Errorf("a unit taking no part: %+v", e)
	}
	// Not final until the competent unit signs; the district leader is not of that unit.
	resp, body = leader.do("POST", url+"/sign", map[string]string{"conclusion": "区人社局牵头"})
	wantStatus(t, resp, body, 403)
	resp, body = handler.do("POST", url+"/sign", map[string]string{"conclusion": ""})
	wantStatus(t, resp, body, 400)
	resp, body = handler.do("POST", url+"/sign", map[string]string{"conclusion": "街道牵头核查，区人社局配合，十五日内反馈"})
	wantStatus(t, resp, body, 200)
	k = decodeJSON[ConsultationView](t, body)
	if !k.Final || k.Dissents != 1 || len(k.Opinions) != 2 || k.SignedAt == nil {
		t.Errorf("signed: %+v", k)
	}
	resp, body = handler.do("POST", url+"/opinions", map[string]any{"text": "补充"})
	wantStatus(t, resp, body, 400)
	resp, body = leader.do("GET", caseURL(c, "/consultations"), nil)
	wantStatus(t, resp, body, 200)
	list := decodeJSON[struct{ Consultations []ConsultationView }](t, body)
	if len(list.Consultations) != 1 || !list.Consultations[0].Final {
		t.Errorf("list: %s", body)
	}
	resp, body = leader.do("GET", caseURL(c, "/timeline"), nil)
	wantStatus(t, resp, body, 200)
	tl := decodeJSON[struct{ Events []CaseEventView }](t, body)
	var kinds []string
	for _, e := range tl.Events {
		if e.Kind != casework.EvStatus {
			kinds = append(kinds, e.Kind)
		}
	}
	if strings.Join(kinds, " ") != "consultation consultation_opinion consultation_opinion consultation_signed" {
		t.Errorf("timeline kinds: %v", kinds)
	}
}

func TestOwnCase(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.newCase(f.d1, nil)
	l1u := f.user(org.RoleLeader, f.d1)
	l1, l2 := f.loginUser(l1u), f.loginUser(f.user(org.RoleLeader, f.d1))
	resp, body := f.loginUser(f.user(org.RoleIntakeOfficer, f.d1)).do("POST", caseURL(c, "/owner"), map[string]any{})
	wantStatus(t, resp, body, 403) // only a leader owns
	resp, body = l1.do("POST", caseURL(c, "/owner"), map[string]string{"reason": "疑难复杂，领导包案"})
	wantStatus(t, resp, body, 200)
	if v := decodeJSON[CaseView](t, body); v.OwnerLeaderID != l1u.ID {
		t.Errorf("owner: %+v", v)
	}
	resp, body = l2.do("POST", caseURL(c, "/owner"), map[string]any{})
	wantStatus(t, resp, body, 409)
	resp, body = l2.do("POST", caseURL(c, "/owner"), map[string]any{"release": true})
	wantStatus(t, resp, body, 403)   // only the owner releases
	f.clock.add(10 * 24 * time.Hour) // 03-12: registered 03-02, routing due 03-17
	l1 = f.loginUser(l1u)
	resp, body = l1.do("GET", "/api/v1/me/owned-cases", nil)
	wantStatus(t, resp, body, 200)
	owned := decodeJSON[struct{ Cases []CaseListItem }](t, body)
	if len(owned.Cases) != 1 || owned.Cases[0].Case.ID != c.ID || owned.Cases[0].Deadline == nil {
		t.Fatalf("owned: %s", body)
	}
	// Counting began 03-03 00:00 Beijing; at 03-12 17:00, 9 days 17 hours of 15 are used: 64 %.
	if d := owned.Cases[0].Deadline; d.Due != "2026-03-17" || d.Percent != 64 || d.Warning != 50 || d.Rule != casework.RuleRegistration {
		t.Errorf("owned clock: %+v", d)
	}
	if owned.Cases[0].Case.View != "masked" || owned.Cases[0].Case.Petitioners[0].IDNumber == "330102199001011234" {
		t.Errorf("the list shows identity in full: %+v", owned.Cases[0].Case)
	}
	l2 = f.loginUser(f.user(org.RoleLeader, f.d1))
	resp, body = l2.do("GET", "/api/v1/me/owned-cases", nil)
	wantStatus(t, resp, body, 200)
	if len(decodeJSON[struct{ Cases []CaseListItem }](t, body).Cases) != 0 {
		t.Errorf("another leader's list: %s", body)
	}
	resp, body = l1.do("POST", caseURL(c, "/owner"), map[string]any{"release": true, "reason": "移交"})
	wantStatus(t, resp, body, 200)
	resp, body = l2.do("POST", caseURL(c, "/owner"), map[string]any{})
	wantStatus(t, resp, body, 200)
}

func TestExtensionAndReviewClocks(t *testing.T) {
	f := newFixture(t, Config{})
	officer := f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	c := f.newCase(f.d1, nil)
	u := caseURL(c, "")
	resp, body := officer.do("POST", u+"/transitions", map[string]any{"to": "assigned", "reason": "属地", "responsible_unit_id": f.t1.ID})
	wantStatus(t, resp, body, 200)
	handler := f.loginUser(f.user(org.RoleCaseHandler, f.t1))
	f.document(c, casework.DocAcceptNotice)
	for _, to := range []string{"accepted", "in_progress"} {
		resp, body = handler.do("POST", u+"/transitions", map[string]any{"to": to})
		wantStatus(t, resp, body, 200)
	}
	// Accepted 2026-03-02: 60 days end 05-01, 劳动节 → 05-06.
	deadline := func(c *client) DeadlineView {
		t.Helper()
		resp, body := c.do("GET", u+"/deadline", nil)
		wantStatus(t, resp, body, 200)
		return *decodeJSON[struct{ Deadline *DeadlineView }](t, body).Deadline
	}
	if d := deadline(handler); d.Due != "2026-05-06" || d.Party != "unit" || d.Provisional {
		t.Errorf("handling: %+v", d)
	}
	ext := map[string]any{"to": "extended", "reason": "需调取仲裁材料", "days": 20, "notice": "您反映的事项因需调取仲裁材料，办理期限延长二十日。"}
	resp, body = handler.do("POST", u+"/transitions", ext)
	wantStatus(t, resp, body, 403) // the handler does not approve their own extension
	head := f.loginUser(f.user(org.RoleUnitHead, f.t1))
	resp, body = head.do("POST", u+"/transitions", map[string]any{"to": "extended", "reason": "x", "days": 31, "notice": "告知"})
	wantStatus(t, resp, body, 400)
	resp, body = head.do("POST", u+"/transitions", map[string]any{"to": "extended", "reason": "x", "days": 10})
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); e.Field != "notice" {
		t.Errorf("extension without notice: %+v", e)
	}
	resp, body = head.do("POST", u+"/transitions", ext)
	wantStatus(t, resp, body, 200)
	// 05-01 + 20 days = 05-21, a Thursday.
	if d := deadline(handler); d.Due != "2026-05-21" || d.Extended != 20 {
		t.Errorf("extended: %+v", d)
	}
	resp, body = head.do("POST", u+"/documents", map[string]any{"kind": "answer", "body": "经调查，现答复如下。"})
	wantStatus(t, resp, body, 201)
	answer := decodeJSON[DocumentView](t, body)
	resp, body = head.do("POST", u+"/transitions", map[string]any{"to": "answered", "reason": "已出具处理意见", "result": "explain"})
	wantStatus(t, resp, body, 200)
	resp, body = head.do("POST", u+fmt.Sprintf("/documents/%d/service", answer.ID), map[string]any{"method": "in_person", "proof": "信访人当面签收"})
	wantStatus(t, resp, body, 200)
	if d := deadline(handler); d.Rule != casework.RuleReviewRequest || d.Party != "petitioner" || d.Due != "2026-04-01" {
		t.Errorf("after the answer: %+v", d)
	}
	f.clock.add(31 * 24 * time.Hour) // 04-02: the 30 days to ask ended with 04-01
	officer = f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	resp, body = officer.do("POST", u+"/transitions", map[string]any{"to": "review", "reason": "申请复查"})
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); !strings.Contains(e.Message, "不再受理") {
		t.Errorf("late review: %+v", e)
	}

	// A case accepted where it was registered: that unit's head approves.
	local := f.newCase(f.t1, nil)
	f.walk(local, casework.StAccepted, casework.StInProgress)
	resp, body = f.loginUser(f.user(org.RoleUnitHead, f.t1)).do("POST", caseURL(local, "/transitions"), ext)
	wantStatus(t, resp, body, 200)

	// A review in time, with a hearing. The district handled the matter: the city reviews it.
	c2 := f.newCase(f.d1, nil)
	f.walk(c2, casework.StAccepted, casework.StInProgress, casework.StAnswered)
	u = caseURL(c2, "")
	resp, body = officer.do("POST", u+"/transitions", map[string]any{"to": "review", "reason": "申请复查"})
	wantStatus(t, resp, body, 200)
	city, err := f.st.GetUnit(bg, f.d1.ParentID)
	if err != nil {
		t.Fatal(err)
	}
	if v := decodeJSON[CaseView](t, body); v.ReviewUnitID != city.ID || v.Status != "review" {
		t.Errorf("review body %d, want the city %d", v.ReviewUnitID, city.ID)
	}
	// Review from 04-02: 30 days end 05-02, 劳动节 → 05-06. The district still reads it …
	if d := deadline(officer); d.Rule != casework.RuleReviewAnswer || d.Due != "2026-05-06" {
		t.Errorf("review: %+v", d)
	}
	// … but does not act on its own review: not its pause, not its answer, not its close.
	for _, try := range []struct{ path, kind string }{{"/clock-events", "clock_paused"}, {"/clock-events", "review_answered"}} {
		resp, body = officer.do("POST", u+try.path, map[string]string{"kind": try.kind, "reason": "自行办理"})
		wantStatus(t, resp, body, 403)
	}
	resp, body = officer.do("POST", u+"/transitions", map[string]any{"to": "closed", "reason": "自行办结"})
	wantStatus(t, resp, body, 403)
	if e := errCode(t, body); !strings.Contains(e.Message, city.Name) {
		t.Errorf("refusal: %+v", e)
	}
	cityUser := f.user(org.RoleIntakeOfficer, city)
	reviewer := f.loginUser(cityUser)
	resp, body = reviewer.do("POST", u+"/clock-events", map[string]string{"kind": "clock_paused", "reason": "举行听证"})
	wantStatus(t, resp, body, 201)
	f.clock.add(5 * 24 * time.Hour)
	reviewer = f.loginUser(cityUser)
	if d := deadline(reviewer); !d.Paused || d.PausedDays != 5 || d.Due != "2026-05-07" {
		t.Errorf("during the hearing: %+v", d)
	}
	resp, body = reviewer.do("POST", u+"/clock-events", map[string]string{"kind": "review_answered", "reason": "复查意见书"})
	wantStatus(t, resp, body, 400)
	resp, body = reviewer.do("POST", u+"/clock-events", map[string]string{"kind": "clock_resumed", "reason": "听证结束"})
	wantStatus(t, resp, body, 201)
	answered := map[string]string{"kind": "review_answered", "reason": "复查意见书 2026-1 号"}
	resp, body = reviewer.do("POST", u+"/clock-events", answered)
	wantStatus(t, resp, body, 400) // the 复查意见书 first (TestReviewOpinionsWired)
	f.document(c2, casework.DocReviewOpinion)
	resp, body = reviewer.do("POST", u+"/clock-events", answered)
	wantStatus(t, resp, body, 201)
	// The review body closes it, naming the outcome; the timeline keeps it.
	resp, body = reviewer.do("POST", u+"/transitions", map[string]any{"to": "closed", "reason": "复查维持", "outcome": "partly"})
	wantStatus(t, resp, body, 200)
	if v := decodeJSON[CaseView](t, body); v.Outcome != "partly" {
		t.Errorf("closed: %+v", v)
	}
	resp, body = reviewer.do("GET", u+"/timeline", nil)
	wantStatus(t, resp, body, 200)
	if evs := decodeJSON[struct{ Events []CaseEventView }](t, body).Events; evs[len(evs)-1].Outcome != "partly" {
		t.Errorf("timeline: %+v", evs[len(evs)-1])
	}
}

// TestProvisionalDeadline: a period running into a year the calendar lacks is counted
// provisionally and says so; once an operator enters that year it is exact.
func TestProvisionalDeadline(t *testing.T) {
	f := newFixture(t, Config{})
	f.clock.t = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC) // 10:00 in Beijing
	c := f.newCase(f.d1, nil)
	f.walk(c, casework.StAccepted)
	officer := f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	resp, body := officer.do("GET", caseURL(c, "/deadline"), nil)
	wantStatus(t, resp, body, 200)
	d := decodeJSON[struct{ Deadline DeadlineView }](t, body).Deadline
	// 2026-11-27 + 60 days = 2027-01-26, a Tuesday by the weekday rule.
	if !d.Provisional || d.Due != "2027-01-26" || !strings.Contains(d.Note, "2027") || !strings.Contains(d.Note, "provisional") ||
		!strings.Contains(d.Explanation, "暂按") {
		t.Fatalf("provisional deadline: %+v", d)
	}
	year := func() (covered, verified bool, note string) {
		t.Helper()
		resp, body := officer.do("GET", "/api/v1/holidays?year=2027", nil)
		wantStatus(t, resp, body, 200)
		v := decodeJSON[struct {
			Covered, Verified bool
			Note              string
		}](t, body)
		return v.Covered, v.Verified, v.Note
	}
	if covered, _, note := year(); covered || !strings.Contains(note, "暂算") {
		t.Errorf("2027 before entry: covered %v, note %q", covered, note)
	}
	admin := f.loginUser(f.user(org.RoleAdmin, f.root))
	// Test data, not the State Council's 2027 notice: the operator marks the due day a rest day.
	resp, body = admin.do("PUT", "/api/v1/holidays/2027-01-26", map[string]string{"kind": "holiday", "name": "测试数据"})
	wantStatus(t, resp, body, 200)
	resp, body = officer.do("GET", caseURL(c, "/deadline"), nil)
	wantStatus(t, resp, body, 200)
	d = decodeJSON[struct{ Deadline DeadlineView }](t, body).Deadline
	if d.Provisional || d.Note != "" || d.Due != "2027-01-27" {
		t.Errorf("after the year was entered: %+v", d)
	}
	if covered, verified, _ := year(); !covered || !verified {
		t.Errorf("2027 after entry: covered %v verified %v", covered, verified)
	}
}

func TestSupervisionReportsAndExtension(t *testing.T) {
	f := newFixture(t, Config{})
	c, _ := f.supervisedCase(f.t1)
	handler := f.loginUser(f.user(org.RoleCaseHandler, f.t1))
	resp, body := handler.do("POST", caseURL(c, "/supervision/reports"), map[string]string{"kind": "progress", "text": "已约谈用人单位"})
	wantStatus(t, resp, body, 201)
	resp, body = handler.do("POST", caseURL(c, "/supervision/reports"), map[string]string{"kind": "extension", "text": "等待仲裁结果", "requested_deadline": "2026-03-20"})
	wantStatus(t, resp, body, 400) // before the item's deadline of 04-01
	resp, body = handler.do("POST", caseURL(c, "/supervision/reports"), map[string]string{"kind": "extension", "text": "等待仲裁结果", "requested_deadline": "2026-04-20"})
	wantStatus(t, resp, body, 201)
	ext := decodeJSON[SupervisionReportView](t, body)
	resp, body = handler.do("POST", caseURL(c, "/supervision/reports"), map[string]string{"kind": "extension", "text": "再申请", "requested_deadline": "2026-04-30"})
	wantStatus(t, resp, body, 409)
	// A handler of another unit does not report for the supervised one.
	resp, body = f.loginUser(f.user(org.RoleCaseHandler, f.d2)).do("POST", caseURL(c, "/supervision/reports"), map[string]string{"kind": "progress", "text": "x"})
	wantStatus(t, resp, body, 403)
	resp, body = handler.do("POST", caseURL(c, "/supervision/extension-decision"), map[string]any{"report_id": ext.ID, "approve": true})
	wantStatus(t, resp, body, 403) // the supervised unit does not approve its own request
	sup := f.loginUser(f.user(org.RoleSupervisor, f.d1))
	resp, body = sup.do("POST", caseURL(c, "/supervision/extension-decision"), map[string]any{"report_id": ext.ID + 1000, "approve": true})
	wantStatus(t, resp, body, 400)
	resp, body = sup.do("POST", caseURL(c, "/supervision/extension-decision"), map[string]any{"report_id": ext.ID, "approve": true, "note": "同意"})
	wantStatus(t, resp, body, 200)
	if v := decodeJSON[SupervisionView](t, body); v.Deadline != "2026-04-20" {
		t.Errorf("deadline after approval: %+v", v)
	}
	resp, body = sup.do("POST", caseURL(c, "/supervision/close"), map[string]string{"opinion": "return", "notes": "退回重办，建议约谈"})
	wantStatus(t, resp, body, 204)
	resp, body = handler.do("GET", caseURL(c, "/supervisions"), nil)
	wantStatus(t, resp, body, 200)
	list := decodeJSON[struct{ Supervisions []SupervisionItemView }](t, body)
	if len(list.Supervisions) != 1 || list.Supervisions[0].Opinion != "return" || list.Supervisions[0].ClosedAt == nil ||
		len(list.Supervisions[0].Reports) != 2 || list.Supervisions[0].Reports[1].Decision != "approved" {
		t.Errorf("supervisions: %s", body)
	}
}

func TestListCasesInScope(t *testing.T) {
	f := newFixture(t, Config{})
	atD1 := f.newCase(f.d1, nil)
	routed := f.newCase(f.d1, nil)
	ev := casework.CaseEvent{CaseID: routed.ID, From: casework.StRegistered, To: casework.StAssigned, Reason: "属地", ResponsibleUnitID: f.t1.ID}
	if err := f.st.TransitionCase(bg, &ev); err != nil {
		t.Fatal(err)
	}
	atD2 := f.newCase(f.d2, nil)
	ids := func(c *client, query string) string {
		t.Helper()
		resp, body := c.do("GET", "/api/v1/cases"+query, nil)
		wantStatus(t, resp, body, 200)
		var out []string
		for _, it := range decodeJSON[struct{ Cases []CaseListItem }](t, body).Cases {
			out = append(out, strconv.FormatInt(it.Case.ID, 10))
		}
		return strings.Join(out, ",")
	}
	officer := f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	if got, want := ids(officer, ""), fmt.Sprintf("%d,%d", routed.ID, atD1.ID); got != want {
		t.Errorf("district officer: %s, want %s", got, want)
	}
	if got, want := ids(officer, "?status=assigned"), fmt.Sprint(routed.ID); got != want {
		t.Errorf("assigned only: %s, want %s", got, want)
	}
	// The township sees the case routed to it, registered above it.
	if got, want := ids(f.loginUser(f.user(org.RoleCaseHandler, f.t1)), ""), fmt.Sprint(routed.ID); got != want {
		t.Errorf("township handler: %s, want %s", got, want)
	}
	if got, want := ids(f.loginUser(f.user(org.RoleIntakeOfficer, f.d2)), ""), fmt.Sprint(atD2.ID); got != want {
		t.Errorf("other district: %s, want %s", got, want)
	}
	resp, body := officer.do("GET", "/api/v1/cases?status=bogus", nil)
	wantStatus(t, resp, body, 400)
}

func TestListAssignments(t *testing.T) {
	f := newFixture(t, Config{})
	a := f.assignment(f.d1, f.t1)
	resp, body := f.loginUser(f.user(org.RoleCaseHandler, f.t1)).do("GET", "/api/v1/cases/"+strconv.FormatInt(a.CaseID, 10)+"/assignments", nil)
	wantStatus(t, resp, body, 200)
	list := decodeJSON[struct{ Assignments []AssignmentView }](t, body).Assignments
	// Assigned Monday 2026-03-02: 5 working days to object, to 03-09.
	if len(list) != 1 || list[0].ResponsibleUnitID != f.t1.ID || list[0].ObjectionDue != "2026-03-09" || list[0].Status != "open" {
		t.Errorf("assignments: %s", body)
	}
}
