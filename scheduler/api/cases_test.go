package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// newCase registers an accusation at unit through the store (not the API under test).
func (f *fixture) newCase(unit org.Unit, mod func(*casework.Case)) casework.Case {
	f.t.Helper()
	cats, err := f.st.ListCategories(bg)
	if err != nil {
		f.t.Fatal(err)
	}
	var catID int64
	for _, c := range cats {
		if c.Code == "CASES" {
			catID = c.ID
		}
	}
	if catID == 0 {
		c := org.Category{Code: "CASES", Name: "劳动和社会保障"}
		if err := f.st.CreateCategory(bg, &c); err != nil {
			f.t.Fatal(err)
		}
		catID = c.ID
	}
	_, hash, _ := casework.NewQueryCode()
	c := casework.Case{UnitID: unit.ID, Territory: "330102", Form: casework.FormVisit, Type: casework.TypeAccusation, CategoryID: catID,
		Title: "反映问题", Content: "检举某科长", ComplainedParty: "某科", QueryCodeHash: hash, RegisteredAt: f.clock.now(),
		Petitioners: []casework.Petitioner{{Name: "张三", IDNumber: "330102199001011234", Phone: "13812345678", Address: "杭州市上城区某路1号", Role: casework.PetitionerSelf}}}
	if mod != nil {
		mod(&c)
	}
	if err := f.st.CreateCase(bg, &c, casework.CaseEvent{Actor: "fixture"}); err != nil {
		f.t.Fatal(err)
	}
	return c
}

func caseURL(c casework.Case, suffix string) string {
	return "/api/v1/cases/" + strconv.FormatInt(c.ID, 10) + suffix
}

// The case routes' rows of the authorization matrix (matrix_test.go).
func init() {
	caseIn := func(f *fixture, in bool) casework.Case { return f.newCase(pick(in, f.t1, f.d2), nil) }
	matrix["POST /api/v1/cases"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		cat := f.newCase(f.d1, nil).CategoryID // makes sure the category exists
		return "/api/v1/cases", map[string]any{"unit_id": pick(in, f.t1, f.d2).ID, "territory": "330102", "form": "visit", "type": "claim",
			"category_id": cat, "title": "欠薪", "petitioners": []map[string]any{{"name": "李四", "role": "petitioner"}}}
	}}
	matrix["PUT /api/v1/cases/{id}/privacy"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return caseURL(caseIn(f, in), "/privacy"), map[string]any{"accusation_whole": true}
	}}
	matrix["GET /api/v1/cases/{id}"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) { return caseURL(caseIn(f, in), ""), nil }}
	matrix["GET /api/v1/cases/{id}/timeline"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return caseURL(caseIn(f, in), "/timeline"), nil
	}}
	matrix["GET /api/v1/cases/{id}/deadline"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return caseURL(caseIn(f, in), "/deadline"), nil
	}}
	matrix["POST /api/v1/cases/{id}/transitions"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		cs := caseIn(f, in)
		f.document(cs, casework.DocAcceptNotice)
		return caseURL(cs, "/transitions"), map[string]any{"from": "registered", "to": "accepted"}
	}}
}

func TestCaseViewsPerRole(t *testing.T) {
	f := newFixture(t, Config{})
	// Registered at d1, assigned to t1, which is itself the unit complained about.
	c := f.newCase(f.d1, func(c *casework.Case) { c.ComplainedUnitID = f.t1.ID })
	ev := casework.CaseEvent{CaseID: c.ID, From: casework.StRegistered, To: casework.StAssigned, Reason: "属地", ResponsibleUnitID: f.t1.ID}
	if err := f.st.TransitionCase(bg, &ev); err != nil {
		t.Fatal(err)
	}
	get := func(role string, unit org.Unit, query string) (CaseView, int) {
		t.Helper()
		resp, body := f.loginUser(f.user(role, unit)).do("GET", caseURL(c, query), nil)
		var v CaseView
		if resp.StatusCode == 200 {
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatal(err)
			}
		}
		return v, resp.StatusCode
	}
	full, st := get(org.RoleIntakeOfficer, f.d1, "?purpose=核实身份")
	if st != 200 || full.View != "full" || full.Petitioners[0].IDNumber != "330102199001011234" || full.Content == "" {
		t.Errorf("intake officer with a purpose: %d %+v", st, full)
	}
	entries, _ := f.st.SearchAudit(bg, org.AuditQuery{Action: "pii.view", Target: "case:" + strconv.FormatInt(c.ID, 10)})
	if len(entries) != 1 || entries[0].Purpose != "核实身份" {
		t.Errorf("pii.view audit: %+v", entries)
	}
	masked, _ := get(org.RoleIntakeOfficer, f.d1, "")
	if masked.View != "masked" || masked.Petitioners[0].Name != "张三" || masked.Petitioners[0].Phone != "138****5678" {
		t.Errorf("intake officer without a purpose: %+v", masked)
	}
	leader, _ := get(org.RoleLeader, f.d1, "?purpose=接访")
	if leader.View != "masked" || leader.Petitioners[0].IDNumber != "330102********1234" {
		t.Errorf("leader: %+v", leader)
	}
	for _, who := range []struct {
		role string
		unit org.Unit
	}{{org.RoleCaseHandler, f.t1}, {org.RoleUnitHead, f.t1}} {
		v, st := get(who.role, who.unit, "?purpose=办理")
		if st != 200 || v.View != "redacted" || len(v.Petitioners) != 0 || v.Content != "" || v.ComplainedParty != "" || v.Title == "" {
			t.Errorf("%s at %s: %d %+v", who.role, who.unit.Code, st, v)
		}
	}
	// Observers see the title of the matter heard in their call (CallBridge.ObserverPanel), not cases.
	if _, st := get(org.RoleObserver, f.d1, ""); st != 403 {
		t.Errorf("observer: %d, want 403", st)
	}
	if resp, _ := f.loginUser(f.user(org.RoleObserver, f.d1)).do("GET", "/api/v1/cases", nil); resp.StatusCode != 403 {
		t.Errorf("observer's case list: %d, want 403", resp.StatusCode)
	}
	if _, st := get(org.RoleAuditor, f.root, ""); st != 403 {
		t.Errorf("auditor: %d, want 403", st)
	}
	if _, st := get(org.RoleIntakeOfficer, f.d2, ""); st != 403 {
		t.Errorf("another district: %d, want 403", st)
	}
}

// TestPrivacyByContentAPI: a claim (not an accusation) complains about township t1 and names its
// staff; intake registers it with the passage marked and a summary for t1, t1 handles it.
func TestPrivacyByContentAPI(t *testing.T) {
	f := newFixture(t, Config{})
	cat := f.newCase(f.d1, nil).CategoryID
	intake := f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	passage := "街道城管队员王某某推搡我。"
	resp, body := intake.do("POST", "/api/v1/cases", map[string]any{"unit_id": f.d1.ID, "territory": "330102", "form": "visit",
		"type": "claim", "category_id": cat, "title": "摊位被收", "content": "请求退还被收走的摊位设备。" + passage,
		"complained_unit_id": f.t1.ID, "petitioners": []map[string]any{{"name": "李四", "role": "petitioner"}},
		"accusation_passages": []string{passage}, "unit_summary": "请核实并答复退还摊位设备的诉求。"})
	var reg CaseView
	if resp.StatusCode != 201 || json.Unmarshal(body, &reg) != nil || !reg.AccusationMarked {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	c, err := f.st.GetCase(bg, reg.ID)
	if err != nil {
		t.Fatal(err)
	}
	ev := casework.CaseEvent{CaseID: c.ID, From: casework.StRegistered, To: casework.StAssigned, Reason: "属地", ResponsibleUnitID: f.t1.ID}
	if err := f.st.TransitionCase(bg, &ev); err != nil {
		t.Fatal(err)
	}
	var att AttachmentView
	resp, body = intake.do("POST", caseURL(c, "/attachments?kind=submitted&name=a.pdf"), testPDF)
	if resp.StatusCode != 201 || json.Unmarshal(body, &att) != nil {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	handler := f.loginUser(f.user(org.RoleCaseHandler, f.t1))
	resp, body = handler.do("GET", caseURL(c, ""), nil)
	var v CaseView
	if resp.StatusCode != 200 || json.Unmarshal(body, &v) != nil {
		t.Fatalf("t1 handler: %d %s", resp.StatusCode, body)
	}
	if v.View != "redacted" || v.Content != "" || v.AccusationPassages != nil || v.UnitSummary != "请核实并答复退还摊位设备的诉求。" {
		t.Errorf("the complained-about unit's view: %+v", v)
	}
	if resp, _ := handler.do("GET", "/api/v1/attachments/"+strconv.FormatInt(att.ID, 10)+"?purpose=办理", nil); resp.StatusCode != 403 {
		t.Errorf("the complained-about unit downloads the petitioner's material of a claim: %d", resp.StatusCode)
	}
	if resp, _ := intake.do("GET", "/api/v1/attachments/"+strconv.FormatInt(att.ID, 10)+"?purpose=核实", nil); resp.StatusCode != 200 {
		t.Errorf("the registering office downloads the material: %d", resp.StatusCode)
	}
	// The registering office without a purpose (masked): the content without the marked passage.
	resp, body = intake.do("GET", caseURL(c, ""), nil)
	if json.Unmarshal(body, &v) != nil || v.View != "masked" || v.Content != "请求退还被收走的摊位设备。"+casework.CutPassage {
		t.Errorf("masked view: %d %+v", resp.StatusCode, v)
	}
	// Marking the whole matter afterwards: the registering office only.
	if resp, _ := handler.do("PUT", caseURL(c, "/privacy"), map[string]any{"accusation_whole": true}); resp.StatusCode != 403 {
		t.Errorf("the handler marks: %d", resp.StatusCode)
	}
	resp, body = intake.do("PUT", caseURL(c, "/privacy"), map[string]any{"accusation_whole": true, "unit_summary": "请答复。"})
	v = CaseView{}
	if resp.StatusCode != 200 || json.Unmarshal(body, &v) != nil || v.Content != "" || !v.AccusationMarked {
		t.Errorf("mark the whole: %d %s", resp.StatusCode, body)
	}
	if resp, _ := intake.do("PUT", caseURL(c, "/privacy"), map[string]any{"accusation_passages": []string{"原文没有这句"}}); resp.StatusCode != 400 {
		t.Errorf("a passage not in the content: %d", resp.StatusCode)
	}
}

func TestCaseRegisterAndTransitions(t *testing.T) {
	f := newFixture(t, Config{})
	officer := f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	cat := f.newCase(f.d1, nil).CategoryID
	resp, body := officer.do("POST", "/api/v1/cases", map[string]any{"unit_id": f.d1.ID, "territory": "330102", "form": "video", "type": "claim",
		"category_id": cat, "title": "欠薪", "petitioners": []map[string]any{{"name": "李四", "phone": "13900001111", "role": "petitioner"}}})
	wantStatus(t, resp, body, 201)
	var v CaseView
	_ = json.Unmarshal(body, &v)
	if !strings.HasPrefix(v.Number, "330102-2026-S-") || len(v.QueryCode) != 16 || v.Status != "registered" || v.Petitioners[0].Phone != "139****1111" {
		t.Errorf("registered: %+v", v)
	}
	if c, err := f.st.GetCaseByQueryHash(bg, casework.QueryCodeHash(v.QueryCode)); err != nil || c.ID != v.ID {
		t.Errorf("query code does not find the case: %v", err)
	}
	u := "/api/v1/cases/" + strconv.FormatInt(v.ID, 10)
	resp, body = officer.do("POST", u+"/transitions", map[string]any{"to": "closed", "reason": "x"})
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); e.Field != "to" || !strings.Contains(e.Message, "只能变为") {
		t.Errorf("refused transition: %+v", e)
	}
	resp, body = officer.do("POST", u+"/transitions", map[string]any{"to": "assigned", "reason": "属地", "responsible_unit_id": f.t1.ID})
	wantStatus(t, resp, body, 200)
	resp, body = officer.do("POST", u+"/transitions", map[string]any{"from": "registered", "to": "accepted"})
	wantStatus(t, resp, body, 409)
	resp, body = officer.do("GET", u+"/timeline", nil)
	wantStatus(t, resp, body, 200)
	var tl struct{ Events []CaseEventView }
	_ = json.Unmarshal(body, &tl)
	if len(tl.Events) != 2 || tl.Events[1].To != "assigned" || tl.Events[1].ResponsibleUnitID != f.t1.ID || tl.Events[1].Reason != "属地" {
		t.Errorf("timeline: %+v", tl)
	}
	resp, body = officer.do("GET", u+"/deadline", nil)
	wantStatus(t, resp, body, 200)
	var dl struct{ Deadline DeadlineView }
	_ = json.Unmarshal(body, &dl)
	// Assigned 2026-03-02: 15 days to accept, 2026-03-17.
	if dl.Deadline.Rule != casework.RuleAcceptance || dl.Deadline.Due != "2026-03-17" || !strings.Contains(dl.Deadline.Explanation, "次日起算") {
		t.Errorf("deadline: %+v", dl)
	}
	// Handlers of the responsible unit reach the case through it.
	handler := f.loginUser(f.user(org.RoleCaseHandler, f.t1))
	resp, body = handler.do("POST", u+"/transitions", map[string]any{"to": "accepted"})
	wantStatus(t, resp, body, 400) // without its 受理告知书
	if e := errCode(t, body); e.Field != "to" || !strings.Contains(e.Message, "受理告知书") {
		t.Errorf("accepting without the notice: %+v", e)
	}
	resp, body = handler.do("POST", u+"/documents", map[string]any{"kind": "accept_notice"})
	wantStatus(t, resp, body, 201)
	resp, body = handler.do("POST", u+"/transitions", map[string]any{"to": "accepted"})
	wantStatus(t, resp, body, 200)
}
