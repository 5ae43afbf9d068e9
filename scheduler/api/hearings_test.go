package api

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
	"sanji/scheduler/storetest"
)

func unitByCode(t *testing.T, f *fixture, code string) org.Unit {
	t.Helper()
	u, err := f.st.GetUnitByCode(bg, code)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestHearingInvitations: staff set up a multi-site hearing and invite units; each unit sees its
// invitation, answers it through one of its own members (a decline with a reason), the staff
// see every answer on the session, and notices go out through the notifier.
func TestHearingInvitations(t *testing.T) {
	sink := storetest.NewNoticeSink(t)
	f := newFixture(t, Config{Notifier: sink.Notifier})
	rsj := unitByCode(t, f, "330102-RSJ")
	staff := f.loginUser(f.user(org.RoleSchedulerStaff, f.d1))
	st := time.Date(2026, 3, 20, 14, 0, 0, 0, calendar.Shanghai)
	resp, body := staff.do("POST", "/api/v1/sessions", map[string]any{"unit_id": f.d1.ID, "title": "欠薪积案联合会商", "start": st,
		"end": st.Add(2 * time.Hour), "hall_ids": []int64{f.hall1.ID}, "unit_ids": []int64{f.t1.ID}, "lead_days": 1,
		"minutes_per_petitioner": 20, "max_petitioners": 3})
	wantStatus(t, resp, body, 201)
	var hearing SessionView
	_ = json.Unmarshal(body, &hearing)

	// No units named: everyone on the roster is invited. Then the department, added to the roster.
	resp, body = staff.do("POST", "/api/v1/sessions/"+idStr(hearing.ID)+"/invitations", map[string]any{"note": "请带齐欠薪案件材料"})
	wantStatus(t, resp, body, 201)
	var made struct {
		Invitations []InvitationView `json:"invitations"`
	}
	if err := json.Unmarshal(body, &made); err != nil || len(made.Invitations) != 2 || made.Invitations[0].TargetName != "清波街道" ||
		made.Invitations[1].Kind != "hall" || made.Invitations[1].UnitID != f.d1.ID {
		t.Fatalf("roster invitations: %s", body)
	}
	resp, body = staff.do("POST", "/api/v1/sessions/"+idStr(hearing.ID)+"/invitations", map[string]any{"unit_ids": []int64{rsj.ID}, "note": "请人社局派员"})
	wantStatus(t, resp, body, 201)
	if n := sink.Webhook(); len(n) != 3 || n[2].UnitID != rsj.ID || n[2].Kind != reception.NoticeInvitation ||
		!strings.Contains(n[2].TextZH, "欠薪积案联合会商") || !strings.Contains(n[2].TextZH, "请人社局派员") {
		t.Errorf("invitation notices: %+v", n)
	}

	// The department sees its invitation with the session; the township sees only its own.
	rsjHead := f.user(org.RoleUnitHead, rsj)
	head := f.loginUser(rsjHead)
	resp, body = head.do("GET", "/api/v1/invitations?status=invited", nil)
	wantStatus(t, resp, body, 200)
	var mine struct {
		Invitations []InvitationView `json:"invitations"`
	}
	if err := json.Unmarshal(body, &mine); err != nil || len(mine.Invitations) != 1 || mine.Invitations[0].Session == nil ||
		mine.Invitations[0].Session.Title != "欠薪积案联合会商" || mine.Invitations[0].Note != "请人社局派员" {
		t.Fatalf("the department's invitations: %s", body)
	}
	inv := mine.Invitations[0]
	township := f.loginUser(f.user(org.RoleCaseHandler, f.t1))
	_, body = township.do("GET", "/api/v1/invitations", nil)
	if strings.Contains(string(body), "请人社局派员") {
		t.Errorf("the township sees the department's invitation: %s", body)
	}

	// The district's unit head may act in the department's subtree but is not its member.
	districtHead := f.loginUser(f.user(org.RoleUnitHead, f.d1))
	resp, body = districtHead.do("POST", "/api/v1/invitations/"+idStr(inv.ID)+"/answer", map[string]any{"accept": true})
	wantStatus(t, resp, body, 403)
	// A decline needs a reason; then it is recorded and the session's unit is told.
	resp, body = head.do("POST", "/api/v1/invitations/"+idStr(inv.ID)+"/answer", map[string]any{"accept": false})
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); e.Field != "reason" {
		t.Errorf("decline without reason: %+v", e)
	}
	resp, body = head.do("POST", "/api/v1/invitations/"+idStr(inv.ID)+"/answer", map[string]any{"accept": false, "reason": "当天有省厅专项检查"})
	wantStatus(t, resp, body, 200)
	if n := sink.Webhook(); len(n) != 4 || n[3].Kind != reception.NoticeInvitationAnswer || n[3].UnitID != f.d1.ID || !strings.Contains(n[3].TextZH, "当天有省厅专项检查") ||
		!strings.Contains(n[3].TextZH, "已移出参会名单") {
		t.Errorf("answer notice: %+v", n)
	}
	// The decline took the department off the roster: its time is free.
	var declined InvitationView
	if err := json.Unmarshal(body, &declined); err != nil || declined.OnRoster {
		t.Errorf("the declined invitation: %s", body)
	}
	if x, _ := f.st.GetReceptionSession(bg, hearing.ID); slices.Contains(x.UnitIDs, rsj.ID) || !slices.Contains(x.UnitIDs, f.t1.ID) {
		t.Errorf("roster after the decline: %v", x.UnitIDs)
	}
	if es, _ := f.st.SearchAudit(bg, org.AuditQuery{Action: "invitation.answer"}); len(es) != 1 || !strings.Contains(es[0].After, "declined") {
		t.Errorf("answer audit: %+v", es)
	}
	// The township accepts its own.
	resp, body = township.do("POST", "/api/v1/invitations/"+idStr(made.Invitations[0].ID)+"/answer", map[string]any{"accept": true})
	wantStatus(t, resp, body, 200)

	// Staff see every answer on the session.
	resp, body = staff.do("GET", "/api/v1/sessions/"+idStr(hearing.ID)+"/invitations", nil)
	wantStatus(t, resp, body, 200)
	var onSession struct {
		Invitations []InvitationView `json:"invitations"`
	}
	_ = json.Unmarshal(body, &onSession)
	byID := map[int64]InvitationView{}
	for _, v := range onSession.Invitations {
		byID[v.ID] = v
	}
	if len(byID) != 3 || byID[inv.ID].Status != "declined" || byID[inv.ID].Reason != "当天有省厅专项检查" || byID[inv.ID].OnRoster ||
		!byID[made.Invitations[0].ID].OnRoster ||
		byID[inv.ID].AnsweredBy != rsjHead.DisplayName || byID[made.Invitations[0].ID].Status != "accepted" || byID[made.Invitations[1].ID].Status != "invited" {
		t.Errorf("the session's invitations: %s", body)
	}

	// Its time was given away meanwhile: changing its mind to accept is refused, naming that session.
	busy := reception.ReceptionSession{UnitID: f.d1.ID, Title: "人社局业务培训", Start: st, End: st.Add(time.Hour),
		LeaderID: f.user(org.RoleLeader, f.d1).ID, LeaderName: "孙副区长", UnitIDs: []int64{rsj.ID}, MinutesPerPetitioner: 10, MaxPetitioners: 3}
	if err := f.st.CreateReceptionSession(bg, &busy); err != nil {
		t.Fatalf("the declined unit's time is not free: %v", err)
	}
	resp, body = head.do("POST", "/api/v1/invitations/"+idStr(inv.ID)+"/answer", map[string]any{"accept": true})
	wantStatus(t, resp, body, 409)
	if e := errCode(t, body); e.Code != CodeSessionConflict || !strings.Contains(e.Message, "人社局业务培训") {
		t.Errorf("accepting into a clash: %+v", e)
	}
	if err := f.st.CancelReceptionSession(bg, busy.ID, "改期"); err != nil {
		t.Fatal(err)
	}

	// Inviting a unit that is busy then is refused, naming the other session.
	other := reception.ReceptionSession{UnitID: f.d1.ID, Title: "街道接访", Start: st.Add(time.Hour), End: st.Add(3 * time.Hour),
		LeaderID: f.user(org.RoleLeader, f.d1).ID, LeaderName: "王副区长",
		UnitIDs: []int64{unitByCode(t, f, "330102002").ID}, MinutesPerPetitioner: 10, MaxPetitioners: 3}
	if err := f.st.CreateReceptionSession(bg, &other); err != nil {
		t.Fatal(err)
	}
	resp, body = staff.do("POST", "/api/v1/sessions/"+idStr(hearing.ID)+"/invitations", map[string]any{"unit_ids": other.UnitIDs})
	wantStatus(t, resp, body, 409)
	if e := errCode(t, body); e.Code != CodeSessionConflict || !strings.Contains(e.Message, "会次 "+idStr(other.ID)) {
		t.Errorf("busy unit: %+v", e)
	}
	// Another district's staff cannot invite to this session.
	outsider := f.loginUser(f.user(org.RoleSchedulerStaff, f.d2))
	resp, body = outsider.do("POST", "/api/v1/sessions/"+idStr(hearing.ID)+"/invitations", map[string]any{"unit_ids": []int64{f.d2.ID}})
	wantStatus(t, resp, body, 403)
}

// TestBookingChecksAPI: the pre-check and the booking name the same person's earlier matters,
// the level checks and similar matters; a case about the operator's own unit is left out for
// them (but audited); titles show only where the operator may see the case; the leader's
// queue shows the findings as flags.
func TestBookingChecksAPI(t *testing.T) {
	f := newFixture(t, Config{})
	cats, err := f.st.ListCategories(bg)
	if err != nil || len(cats) == 0 {
		t.Fatal("no categories", err)
	}
	city := unitByCode(t, f, "330100")
	idn := f.idNumber()
	other := f.idNumber()
	mk := func(unit, complained int64, territory, title, content, id string, steps ...casework.CaseStatus) casework.Case {
		t.Helper()
		_, hash, _ := casework.NewQueryCode()
		c := casework.Case{UnitID: unit, Territory: territory, Form: casework.FormVisit, Type: casework.TypeClaim, CategoryID: cats[0].ID,
			Title: title, Content: content, QueryCodeHash: hash, ComplainedUnitID: complained, RegisteredAt: f.clock.now(),
			Petitioners: []casework.Petitioner{{Name: "赵六", IDNumber: id, Role: casework.PetitionerSelf}}}
		if err := f.st.CreateCase(bg, &c, casework.CaseEvent{ActorID: 1, Actor: "intake", UnitID: unit, Reason: "登记"}); err != nil {
			t.Fatal(err)
		}
		for _, to := range steps {
			ev := casework.CaseEvent{CaseID: c.ID, From: c.Status, To: to, Reason: "办理", Result: casework.ResultExplain}
			if err := f.st.TransitionCase(bg, &ev); err != nil {
				t.Fatal(err)
			}
			c.Status = to
		}
		return c
	}
	pending := mk(f.d1.ID, 0, "330102", "拖欠工资", "某建筑公司拖欠工资三个月，老板失联", idn, casework.StAccepted)
	// Re-reviewed and final: handled by a department of the other district (reviewed by that
	// district, re-reviewed by the city), about the same wages as the booking.
	dept2 := org.Unit{Kind: org.KindDepartment, ParentID: f.d2.ID, Code: "330105-JSJ", Name: "拱墅区住建局"}
	if err := f.st.CreateUnit(bg, &dept2); err != nil {
		t.Fatal(err)
	}
	done := mk(dept2.ID, 0, "330100", "拖欠工资", "建筑公司拖欠工资三个月，老板失联", idn, casework.StAccepted, casework.StInProgress,
		casework.StAnswered, casework.StReview, casework.StReReview, casework.StClosed)
	aboutUs := mk(city.ID, f.d1.ID, "330102", "反映区里", "反映上城区不作为", idn)
	alikeHere := mk(f.d1.ID, 0, "330102", "欠薪纠纷", "建筑公司拖欠我们三个月工资，老板找不到人", other)
	alikeThere := mk(f.d2.ID, 0, "330102", "欠薪问题", "公司拖欠我们三个月工资，老板找不到人了", other)

	// A city reception with 上城区's hall on its roster.
	st := time.Date(2026, 3, 25, 9, 0, 0, 0, calendar.Shanghai)
	x := reception.ReceptionSession{UnitID: city.ID, Title: "市领导接访", Start: st, End: st.Add(2 * time.Hour), HallIDs: []int64{f.hall1.ID},
		LeadDays: 3, MinutesPerPetitioner: 20, MaxPetitioners: 6}
	if err := f.st.CreateReceptionSession(bg, &x); err != nil {
		t.Fatal(err)
	}
	op := f.loginUser(f.user(org.RoleHallOperator, f.d1))
	req := map[string]any{"hall_id": f.hall1.ID, "id_number": idn, "matter": "拖欠工资三个月，公司老板失联"}
	resp, body := op.do("POST", "/api/v1/sessions/"+idStr(x.ID)+"/booking-checks", req)
	wantStatus(t, resp, body, 200)
	var v BookingChecksView
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	cases := map[int64]CaseCheckView{}
	for _, c := range v.Cases {
		cases[c.ID] = c
	}
	if len(cases) != 2 || !cases[pending.ID].PendingLower || cases[pending.ID].HoldingUnit != "上城区" || !cases[done.ID].PastReReview ||
		!v.PendingLower || !v.PastReReview {
		t.Errorf("level checks: %s", body)
	}
	// Both the pending case and the final one are about these wages: the same matter, and why.
	if !strings.Contains(cases[done.ID].SameMatterWhy, "相似度") || !cases[pending.ID].SameMatter || !cases[done.ID].SameMatter {
		t.Errorf("why the same matter: %+v", cases)
	}
	if _, ok := cases[aboutUs.ID]; ok || strings.Contains(string(body), aboutUs.Number) || strings.Contains(string(body), "反映区里") {
		t.Errorf("a case about the operator's own unit is shown to them: %s", body)
	}
	// Titles: the district's own case (registered here) yes; the city's re-reviewed one no.
	if cases[pending.ID].Title != "拖欠工资" || cases[done.ID].Title != "" {
		t.Errorf("case titles: %+v", cases)
	}
	similar := map[int64]SimilarView{}
	for _, s := range v.Similar {
		similar[s.ID] = s
	}
	if len(similar) != 2 || similar[alikeHere.ID].Title != "欠薪纠纷" || similar[alikeThere.ID].Title != "" ||
		similar[alikeThere.ID].Number != alikeThere.Number || similar[alikeHere.ID].Score < reception.SimilarThreshold {
		t.Errorf("similar matters: %s", body)
	}
	var codes []string
	for _, n := range v.Notes {
		codes = append(codes, n.Code)
	}
	if strings.Join(codes, ",") != "pending_lower,past_rereview,same_person,similar" || !strings.Contains(v.Notes[0].Message, pending.Number) {
		t.Errorf("notes: %+v", v.Notes)
	}
	if es, _ := f.st.SearchAudit(bg, org.AuditQuery{Action: "appointment.precheck"}); len(es) != 1 || strings.Contains(es[0].After, idn) ||
		!strings.Contains(es[0].After, `"hidden_from_caller":[`+idStr(aboutUs.ID)+`]`) {
		t.Errorf("precheck audit: %+v", es)
	}
	// English.
	op.lang = "en"
	_, body = op.do("POST", "/api/v1/sessions/"+idStr(x.ID)+"/booking-checks", req)
	if !strings.Contains(string(body), "lower level") {
		t.Errorf("English notes: %s", body)
	}
	op.lang = ""
	// A wrong ID number is named before anything is looked up.
	resp, body = op.do("POST", "/api/v1/sessions/"+idStr(x.ID)+"/booking-checks", map[string]any{"hall_id": f.hall1.ID, "id_number": "330102199001011230x"})
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); e.Field != "id_number" {
		t.Errorf("bad id number: %+v", e)
	}

	// Booking with the guidance given: the same findings come back, and they are recorded.
	book := map[string]any{"hall_id": f.hall1.ID, "name": "赵六", "id_number": idn, "matter": req["matter"], "guidance": "已告知区人社局正在办理，建议等待处理结果"}
	resp, body = op.do("POST", "/api/v1/sessions/"+idStr(x.ID)+"/appointments", book)
	wantStatus(t, resp, body, 201)
	var bv BookingView
	_ = json.Unmarshal(body, &bv)
	if len(bv.Checks.Cases) != 2 || !bv.Checks.PendingLower || len(bv.Checks.Similar) != 2 || bv.Appointment.Guidance == "" || bv.Appointment.Checks == nil {
		t.Errorf("booking's checks: %s", body)
	}
	if es, _ := f.st.SearchAudit(bg, org.AuditQuery{Action: "appointment.checks"}); len(es) != 1 || !strings.Contains(es[0].After, "建议等待处理结果") {
		t.Errorf("booking audit: %+v", es)
	}
	// The leader's queue shows the findings as flags, identities masked.
	lead := f.loginUser(f.user(org.RoleLeader, city))
	resp, body = lead.do("GET", "/api/v1/sessions/"+idStr(x.ID)+"/queue", nil)
	wantStatus(t, resp, body, 200)
	var q struct {
		Queue []AppointmentView `json:"queue"`
	}
	_ = json.Unmarshal(body, &q)
	if len(q.Queue) != 1 || q.Queue[0].Checks == nil || !q.Queue[0].Checks.PendingLower || !q.Queue[0].Checks.PastReReview ||
		q.Queue[0].Checks.SamePerson != 3 || q.Queue[0].Checks.Similar != 2 || q.Queue[0].IDNumber == idn {
		t.Errorf("leader's queue: %s", body)
	}
}

// TestScheduleChangeNotices: moving a session tells its roster (as it was and as it is) and texts
// the booked petitioners; a change of title alone tells no one; a cancellation tells everyone.
func TestScheduleChangeNotices(t *testing.T) {
	sink := storetest.NewNoticeSink(t)
	texts := sink.Texts
	f := newFixture(t, Config{Notifier: sink.Notifier})
	staff := f.loginUser(f.user(org.RoleSchedulerStaff, f.d1))
	st := time.Date(2026, 3, 20, 9, 0, 0, 0, calendar.Shanghai)
	resp, body := staff.do("POST", "/api/v1/sessions", map[string]any{"unit_id": f.d1.ID, "title": "区领导接访", "start": st,
		"end": st.Add(time.Hour), "hall_ids": []int64{f.hall1.ID}, "unit_ids": []int64{f.t1.ID}, "lead_days": 1,
		"minutes_per_petitioner": 10, "max_petitioners": 5})
	wantStatus(t, resp, body, 201)
	var x SessionView
	_ = json.Unmarshal(body, &x)
	a := reception.Appointment{SessionID: x.ID, HallID: f.hall1.ID, Name: "王五", IDNumber: f.idNumber(), Phone: "13912345678", Matter: "欠薪", People: 1}
	if err := f.st.CreateAppointment(bg, &a, f.clock.now()); err != nil {
		t.Fatal(err)
	}
	resp, body = staff.do("PATCH", "/api/v1/sessions/"+idStr(x.ID), map[string]any{"title": "区领导接访（周五）"})
	wantStatus(t, resp, body, 200)
	if n := sink.Webhook(); len(n) != 0 {
		t.Errorf("a title change sent notices: %+v", n)
	}
	// Moved an hour later, and the township taken off the roster: it is told too.
	resp, body = staff.do("PATCH", "/api/v1/sessions/"+idStr(x.ID), map[string]any{"start": st.Add(time.Hour), "end": st.Add(2 * time.Hour),
		"unit_ids": []int64{}})
	wantStatus(t, resp, body, 200)
	n := sink.Webhook()
	if len(n) != 2 || n[0].UnitID != f.t1.ID || n[1].HallID != f.hall1.ID || n[0].Kind != reception.NoticeSessionChanged ||
		!strings.Contains(n[0].TextZH, "2026-03-20 09:00–10:00 改为 2026-03-20 10:00–11:00") {
		t.Errorf("change notices: %+v", n)
	}
	if sms := texts.All(); len(sms) != 1 || sms[0].ContextMap()["to"] != "139****5678" || !strings.Contains(sms[0].ContextMap()["text"].(string), "改为") {
		t.Errorf("text to the petitioner: %+v", sms)
	}
	resp, body = staff.do("POST", "/api/v1/sessions/"+idStr(x.ID)+"/cancel", map[string]string{"reason": "领导外出"})
	wantStatus(t, resp, body, 204)
	n = sink.Webhook()
	if len(n) != 3 || n[2].Kind != reception.NoticeSessionCancelled || !strings.Contains(n[2].TextZH, "领导外出") || len(texts.All()) != 2 {
		t.Errorf("cancellation notices: %+v, %d texts", n, len(texts.All()))
	}
}

// TestDeclineKeepsBookedHall: a hall that declines while petitioners are booked there stays on
// the roster, says so, and the staff's notice asks them to settle it.
func TestDeclineKeepsBookedHall(t *testing.T) {
	sink := storetest.NewNoticeSink(t)
	f := newFixture(t, Config{Notifier: sink.Notifier})
	x := f.session(true)
	invs, err := f.st.InviteToSession(bg, x.ID, nil, []int64{f.hall1.ID}, "联合接访", 1, f.clock.now())
	if err != nil || len(invs) != 1 {
		t.Fatalf("invite: %+v %v", invs, err)
	}
	a := reception.Appointment{SessionID: x.ID, HallID: f.hall1.ID, Name: "王五", IDNumber: f.idNumber(), Matter: "欠薪", People: 1}
	if err := f.st.CreateAppointment(bg, &a, f.clock.now()); err != nil {
		t.Fatal(err)
	}
	operator := f.loginUser(f.user(org.RoleHallOperator, f.d1))
	resp, body := operator.do("POST", "/api/v1/invitations/"+idStr(invs[0].ID)+"/answer", map[string]any{"accept": false, "reason": "大厅检修"})
	wantStatus(t, resp, body, 200)
	var v InvitationView
	if err := json.Unmarshal(body, &v); err != nil || v.Status != "declined" || !v.OnRoster {
		t.Errorf("the booked hall's decline: %s", body)
	}
	if n := sink.Webhook(); len(n) == 0 || !strings.Contains(n[len(n)-1].TextZH, "仍在参会名单上") {
		t.Errorf("answer notice: %+v", n)
	}
}
