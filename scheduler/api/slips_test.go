package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// closedClaim registers a claim at unit, walks it to closed and returns it with its query code.
func (f *fixture) closedClaim(unit org.Unit) (casework.Case, string) {
	f.t.Helper()
	code, hash, _ := casework.NewQueryCode()
	c := f.newCase(unit, func(c *casework.Case) { c.Type, c.QueryCodeHash = casework.TypeClaim, hash })
	for _, st := range [][2]casework.CaseStatus{{casework.StRegistered, casework.StAccepted}, {casework.StAccepted, casework.StInProgress},
		{casework.StInProgress, casework.StAnswered}, {casework.StAnswered, casework.StClosed}} {
		ev := casework.CaseEvent{CaseID: c.ID, From: st[0], To: st[1], Reason: "办理", Result: casework.ResultSupport, At: f.clock.now()}
		if err := f.st.TransitionCase(bg, &ev); err != nil {
			f.t.Fatal(err)
		}
	}
	return c, code
}

// assignment makes an open assignment of a new case to resp, assigned by assigner.
func (f *fixture) assignment(assigner, resp org.Unit) casework.Assignment {
	f.t.Helper()
	c := f.newCase(assigner, nil)
	a := casework.Assignment{CaseID: c.ID, AssignerUnitID: assigner.ID, ResponsibleUnitID: resp.ID, Method: casework.AssignBySystem,
		AssignedAt: f.clock.now(), FeedbackDue: calendar.Date(2026, 3, 17)}
	if err := f.st.CreateAssignment(bg, &a, casework.CaseEvent{Actor: "fixture"}); err != nil {
		f.t.Fatal(err)
	}
	return a
}

func init() {
	matrix["POST /api/v1/cases/{id}/assignments"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return caseURL(f.newCase(pick(in, f.d1, f.d2), nil), "/assignments"), map[string]any{"assigner_unit_id": pick(in, f.d1, f.d2).ID,
			"responsible_unit_id": f.t1.ID, "method": "video_call", "session_id": "rs-1", "recording_offset_ms": 61000, "instruction": "请依法处理"}
	}}
	matrix["POST /api/v1/assignments/{id}/objection"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		a := f.assignment(f.d1, f.t1)
		if !in {
			a = f.assignment(f.root, f.d2)
		}
		return "/api/v1/assignments/" + strconv.FormatInt(a.ID, 10) + "/objection", map[string]string{"reason": "不属于本单位职责"}
	}}
	matrix["POST /api/v1/cases/{id}/supervisions"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return caseURL(f.newCase(pick(in, f.t1, f.d2), nil), "/supervisions"), map[string]string{"basis": "群众反映缓慢", "level": "routine", "method": "phone"}
	}}
	supervised := func(f *fixture, in bool) casework.Case {
		c := f.newCase(pick(in, f.t1, f.d2), nil)
		sv := casework.Supervision{CaseID: c.ID, UnitID: c.UnitID, Basis: "逾期", Level: casework.SupLevelRoutine, Method: casework.SupWritten,
			Deadline: calendar.Date(2026, 4, 1)}
		if err := f.st.OpenSupervision(bg, &sv); err != nil {
			f.t.Fatal(err)
		}
		return c
	}
	matrix["POST /api/v1/cases/{id}/supervision/escalate"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return caseURL(supervised(f, in), "/supervision/escalate"), nil
	}}
	matrix["POST /api/v1/cases/{id}/supervision/close"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return caseURL(supervised(f, in), "/supervision/close"), map[string]string{"opinion": "pass", "notes": "已整改"}
	}}
	matrix["GET /api/v1/rates"] = matrixRow{list: true, call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/rates", nil }}
	matrix["POST /api/v1/query"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		_, code := f.closedClaim(f.d1)
		return "/api/v1/query", map[string]string{"code": code}
	}}
	matrix["POST /api/v1/query/evaluation"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		_, code := f.closedClaim(f.d1)
		return "/api/v1/query/evaluation", map[string]string{"code": code, "stage": "result", "score": "satisfied"}
	}}
}

func TestAssignObjectReassign(t *testing.T) {
	f := newFixture(t, Config{})
	leaderUser := f.user(org.RoleLeader, f.d1)
	leader := f.loginUser(leaderUser)
	c := f.newCase(f.d1, nil)
	resp, body := leader.do("POST", caseURL(c, "/assignments"), map[string]any{"assigner_unit_id": f.d1.ID, "responsible_unit_id": f.t1.ID,
		"method": "video_call", "session_id": "rs-9", "recording_offset_ms": 754500, "instruction": "请街道十五日内反馈"})
	wantStatus(t, resp, body, 201)
	var a AssignmentView
	_ = json.Unmarshal(body, &a)
	// 2026-03-02 (Monday): feedback 15 days 03-17; objection 5 working days 03-09.
	if a.FeedbackDue != "2026-03-17" || a.ObjectionDue != "2026-03-09" || a.RecordingOffsetMS != 754500 || a.Status != "open" {
		t.Errorf("assignment: %+v", a)
	}
	obj := "/api/v1/assignments/" + strconv.FormatInt(a.ID, 10) + "/objection"
	// A handler of another unit cannot object for the receiving one.
	other := f.loginUser(f.user(org.RoleCaseHandler, f.d2))
	resp, body = other.do("POST", obj, map[string]string{"reason": "x"})
	wantStatus(t, resp, body, 403)
	f.clock.add(8 * 24 * time.Hour) // 03-10: one day past the first objection period
	c2 := f.newCase(f.d1, nil)
	leader = f.loginUser(leaderUser) // the session of 03-02 has ended
	resp, body = leader.do("POST", caseURL(c2, "/assignments"), map[string]any{"assigner_unit_id": f.d1.ID, "responsible_unit_id": f.t1.ID, "method": "phone"})
	wantStatus(t, resp, body, 201)
	var a2 AssignmentView
	_ = json.Unmarshal(body, &a2)
	handler := f.loginUser(f.user(org.RoleCaseHandler, f.t1))
	resp, body = handler.do("POST", obj, map[string]string{"reason": "不属于本单位职责"})
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); e.Field != "objection" {
		t.Errorf("late objection: %+v", e)
	}
	resp, body = handler.do("POST", "/api/v1/assignments/"+strconv.FormatInt(a2.ID, 10)+"/objection", map[string]string{"reason": "不属于本单位职责"})
	wantStatus(t, resp, body, 200)
	got, _ := f.st.GetCase(bg, c2.ID)
	if got.Status != casework.StObjectionReturned {
		t.Errorf("case after objection: %s", got.Status)
	}
	c = c2
	// Back with the assigner, who reassigns.
	resp, body = leader.do("POST", caseURL(c, "/assignments"), map[string]any{"assigner_unit_id": f.d1.ID, "responsible_unit_id": f.d1.ID, "method": "system"})
	wantStatus(t, resp, body, 400) // not to itself
	resp, body = leader.do("POST", caseURL(c, "/assignments"), map[string]any{"assigner_unit_id": f.root.ID, "responsible_unit_id": f.t1.ID, "method": "system"})
	wantStatus(t, resp, body, 403) // the leader does not act for the root
}

func TestQueryAndEvaluate(t *testing.T) {
	f := newFixture(t, Config{LoginPerMinute: 1, LoginBurst: 3})
	_, code := f.closedClaim(f.d1)
	anon := f.anon()
	resp, body := anon.do("POST", "/api/v1/query", map[string]string{"code": code})
	wantStatus(t, resp, body, 200)
	var q struct {
		Number     string
		Status     string
		Milestones []Milestone
	}
	_ = json.Unmarshal(body, &q)
	if q.Status != "closed" || len(q.Milestones) != 5 || q.Milestones[0].Status != "registered" {
		t.Errorf("query: %s", body)
	}
	for _, bad := range []string{"张三", "330102199001011234", "13812345678", "检举"} {
		if json.Valid(body) && contains(body, bad) {
			t.Errorf("the public query shows %q: %s", bad, body)
		}
	}
	resp, body = anon.do("POST", "/api/v1/query/evaluation", map[string]string{"code": code, "stage": "result", "score": "satisfied"})
	wantStatus(t, resp, body, 204)
	resp, body = anon.do("POST", "/api/v1/query", map[string]string{"code": "WRONGCODE0000000"})
	wantStatus(t, resp, body, 404)
	// The burst of 3 is spent: the next lookup, right or wrong, waits.
	resp, body = anon.do("POST", "/api/v1/query", map[string]string{"code": code})
	wantStatus(t, resp, body, 429)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	f.clock.add(time.Minute)
	resp, body = anon.do("POST", "/api/v1/query/evaluation", map[string]string{"code": code, "stage": "result", "score": "unsatisfied"})
	wantStatus(t, resp, body, 409)
	// The page learns which stages are rated, so it offers only the others.
	f.clock.add(time.Minute)
	resp, body = anon.do("POST", "/api/v1/query", map[string]string{"code": code})
	wantStatus(t, resp, body, 200)
	var rated struct{ Rated []string }
	_ = json.Unmarshal(body, &rated)
	if len(rated.Rated) != 1 || rated.Rated[0] != "result" {
		t.Errorf("rated stages: %s", body)
	}

	leader := f.loginUser(f.user(org.RoleLeader, f.d1))
	resp, body = leader.do("GET", "/api/v1/rates", nil)
	wantStatus(t, resp, body, 200)
	var r struct {
		Satisfaction RateView `json:"satisfaction"`
	}
	_ = json.Unmarshal(body, &r)
	if r.Satisfaction.Num != 1 || r.Satisfaction.Den != 1 {
		t.Errorf("rates: %s", body)
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
