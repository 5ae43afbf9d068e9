package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
)

// TestReceptionFlow: staff set up a weekly reception with two halls, a clash is refused naming
// the other session, operators book (masked, same-person candidates, lead time override), the
// queue shows numbers, identity is unmasked only with pii.view and a purpose, and the public
// feed shows the 五公开 fields and nothing personal.
func TestReceptionFlow(t *testing.T) {
	f := newFixture(t, Config{})
	staffUser := f.user(org.RoleSchedulerStaff, f.d1)
	staff := f.loginUser(staffUser)
	studio := org.Hall{UnitID: f.d1.ID, Kind: org.HallStudio, Name: "区领导接访室"}
	if err := f.st.CreateHall(bg, &studio); err != nil {
		t.Fatal(err)
	}
	leader := f.user(org.RoleLeader, f.d1)
	var township org.Hall // a hall of the district's own subtree; the other district's comes by invitation
	for _, h := range mustList(f.st.ListHalls(bg, f.t1.Path)) {
		if h.UnitID == f.t1.ID && h.Kind == org.HallReception {
			township = h
		}
	}
	dt := time.Date(2026, 3, 11, 9, 0, 0, 0, calendar.Shanghai)
	resp, body := staff.do("POST", "/api/v1/schedules", map[string]any{"unit_id": f.d1.ID, "leader_id": leader.ID,
		"leader_name": "张三", "leader_post": "副区长", "studio_id": studio.ID, "rrule": "FREQ=WEEKLY;BYDAY=WE", "dtstart": dt,
		"minutes": 120, "hall_ids": []int64{f.hall1.ID, township.ID}, "lead_days": 3, "minutes_per_petitioner": 20,
		"max_petitioners": 6, "portfolio": "城市建设、住房保障", "weeks": 4})
	wantStatus(t, resp, body, 201)
	var m MaterializeView
	if err := json.Unmarshal(body, &m); err != nil || len(m.Created) != 3 || len(m.Conflicts) != 0 {
		t.Fatalf("materialized: %s", body)
	}
	first := m.Created[0]
	if !first.Start.Equal(dt) || len(first.HallIDs) != 2 {
		t.Errorf("first session: %+v", first)
	}

	// The same leader an hour later: refused, naming the session.
	resp, body = staff.do("POST", "/api/v1/sessions", map[string]any{"unit_id": f.d1.ID, "title": "会商", "leader_id": leader.ID,
		"leader_name": "张三", "start": dt.Add(time.Hour), "end": dt.Add(2 * time.Hour), "lead_days": 1, "minutes_per_petitioner": 10, "max_petitioners": 3})
	wantStatus(t, resp, body, 409)
	if e := errCode(t, body); e.Code != CodeSessionConflict || e.Field != "leader_id" || !strings.Contains(e.Message, "会次 "+strconv.FormatInt(first.ID, 10)) {
		t.Errorf("conflict: %+v", e)
	}

	opUser := f.user(org.RoleHallOperator, f.d1)
	op := f.loginUser(opUser)

	// Moving the second session onto the first is refused the same way; a title change is fine.
	resp, body = staff.do("PATCH", "/api/v1/sessions/"+idStr(m.Created[1].ID), map[string]any{"start": dt.Add(time.Hour), "end": dt.Add(3 * time.Hour)})
	wantStatus(t, resp, body, 409)
	if e := errCode(t, body); e.Code != CodeSessionConflict || !strings.Contains(e.Message, "会次 "+strconv.FormatInt(first.ID, 10)) {
		t.Errorf("move conflict: %+v", e)
	}
	resp, body = staff.do("PATCH", "/api/v1/sessions/"+idStr(m.Created[1].ID), map[string]any{"title": "副区长张三视频接访（调整）"})
	wantStatus(t, resp, body, 200)
	if es, _ := f.st.SearchAudit(bg, org.AuditQuery{Action: "session.update"}); len(es) != 1 {
		t.Errorf("session.update audit: %d", len(es))
	}
	book := func(c *client, name, idn string, extra map[string]any) (BookingView, []byte, int) {
		req := map[string]any{"hall_id": f.hall1.ID, "name": name, "id_number": idn, "phone": "13912345678", "matter": "小区停车位纠纷"}
		for k, v := range extra {
			req[k] = v
		}
		resp, body := c.do("POST", "/api/v1/sessions/"+idStr(first.ID)+"/appointments", req)
		var v BookingView
		_ = json.Unmarshal(body, &v)
		return v, body, resp.StatusCode
	}
	idn := f.idNumber()
	v, body, st := book(op, "王小明", idn, nil)
	if st != 201 || v.Appointment.Name != "王**" || v.Appointment.IDNumber == idn || v.Appointment.QueueNo != 1 || len(v.SamePerson) != 0 {
		t.Fatalf("booking: %d %s", st, body)
	}
	v2, body, st := book(op, "王小明", idn, map[string]any{"guidance": "已告知该事项在区级办理中"})
	if st != 201 || len(v2.SamePerson) != 1 || v2.SamePerson[0].ID != v.Appointment.ID || v2.Appointment.QueueNo != 2 {
		t.Fatalf("same person: %d %s", st, body)
	}
	if es, _ := f.st.SearchAudit(bg, org.AuditQuery{Action: "appointment.checks", Target: "appointment:" + idStr(v2.Appointment.ID)}); len(es) != 1 ||
		strings.Contains(es[0].After, idn) || !strings.Contains(es[0].After, "已告知该事项在区级办理中") {
		t.Errorf("same-person audit: %+v", es)
	}
	// An operator of the other district sees the sessions their hall joins, and nothing else: the
	// hall joins the first session once the district accepts the invitation.
	other := f.loginUser(f.user(org.RoleHallOperator, f.d2))
	resp, body = staff.do("POST", "/api/v1/sessions/"+idStr(first.ID)+"/invitations", map[string]any{"hall_ids": []int64{f.hall2.ID}})
	wantStatus(t, resp, body, 201)
	var invited struct {
		Invitations []InvitationView `json:"invitations"`
	}
	if err := json.Unmarshal(body, &invited); err != nil || len(invited.Invitations) != 1 || invited.Invitations[0].OnRoster {
		t.Fatalf("invitation of the other district's hall: %s", body)
	}
	resp, body = other.do("POST", "/api/v1/invitations/"+idStr(invited.Invitations[0].ID)+"/answer", map[string]any{"accept": true})
	wantStatus(t, resp, body, 200)
	resp, body = other.do("GET", "/api/v1/sessions?from=2026-03-01&to=2026-04-01", nil)
	wantStatus(t, resp, body, 200)
	var seen struct {
		Sessions []SessionView `json:"sessions"`
	}
	if err := json.Unmarshal(body, &seen); err != nil || len(seen.Sessions) != 1 || seen.Sessions[0].ID != first.ID {
		t.Errorf("roster hall's sessions: %s", body)
	}
	// An operator of another district cannot book into this hall.
	if _, body, st := book(other, "赵六", f.idNumber(), nil); st != 403 {
		t.Errorf("other district booked: %d %s", st, body)
	}

	// Three days before, bookings close: a reason overrides, and is audited.
	f.clock.add(7 * 24 * time.Hour)                         // 2026-03-09 09:00 UTC, after 03-08 09:00 +08
	op, staff = f.loginUser(opUser), f.loginUser(staffUser) // the logins expired meanwhile
	if _, body, st := book(op, "李四", f.idNumber(), nil); st != 400 || errCode(t, body).Field != "override_reason" {
		t.Errorf("after lead time: %d %s", st, body)
	}
	if _, body, st := book(op, "李四", f.idNumber(), map[string]any{"override_reason": "行动不便，经带班领导同意"}); st != 201 {
		t.Errorf("override: %d %s", st, body)
	}
	if es, _ := f.st.SearchAudit(bg, org.AuditQuery{Action: "appointment.override"}); len(es) != 1 {
		t.Errorf("override audit: %d", len(es))
	}
	walk, body, st := book(op, "周五", f.idNumber(), map[string]any{"walk_in": true})
	if st != 201 || !walk.Appointment.WalkIn {
		t.Fatalf("walk-in: %d %s", st, body)
	}

	// Move the third booking to the front; mark a no-show.
	resp, body = op.do("PATCH", "/api/v1/appointments/"+idStr(v2.Appointment.ID), map[string]any{"position": 1})
	wantStatus(t, resp, body, 200)
	resp, body = op.do("PATCH", "/api/v1/appointments/"+idStr(v.Appointment.ID), map[string]any{"status": "no_show"})
	wantStatus(t, resp, body, 200)

	queue := func(c *client, q string) ([]AppointmentView, int, []byte) {
		resp, body := c.do("GET", "/api/v1/sessions/"+idStr(first.ID)+"/queue"+q, nil)
		var out struct {
			Queue []AppointmentView `json:"queue"`
		}
		_ = json.Unmarshal(body, &out)
		return out.Queue, resp.StatusCode, body
	}
	q, st, body := queue(op, "?hall_id="+idStr(f.hall1.ID)+"&purpose="+"核对身份")
	if st != 200 || len(q) != 4 || q[0].ID != v2.Appointment.ID || q[3].ID != walk.Appointment.ID || q[0].Masked || q[0].IDNumber != idn || q[1].Status != "no_show" {
		t.Fatalf("operator queue: %d %s", st, body)
	}
	if es, _ := f.st.SearchAudit(bg, org.AuditQuery{Action: "pii.view"}); len(es) != 1 || es[0].Purpose != "核对身份" {
		t.Errorf("pii.view audit: %+v", es)
	}
	lead := f.loginUser(leader)
	if _, st, body := queue(lead, "?purpose=x"); st != 403 {
		t.Errorf("leader unmasked: %d %s", st, body)
	}
	if q, st, body := queue(lead, ""); st != 200 || len(q) != 4 || !q[0].Masked || q[0].Name != "王**" {
		t.Errorf("leader's masked queue: %d %s", st, body)
	}

	// 五公开: the public feed needs no login and carries no personal data.
	resp, body = f.anon().do("GET", "/api/v1/public/sessions", nil)
	wantStatus(t, resp, body, 200)
	s := string(body)
	for _, want := range []string{"张三", "副区长", "城市建设、住房保障", "区领导接访室", township.Name, f.hall2.Name} {
		if !strings.Contains(s, want) {
			t.Errorf("public feed lacks %q: %s", want, s)
		}
	}
	for _, bad := range []string{"王", "李四", idn, "1391", "停车", "leader_id"} {
		if strings.Contains(s, bad) {
			t.Errorf("public feed shows %q: %s", bad, s)
		}
	}
	// A cancelled session leaves the public feed.
	resp, body = staff.do("POST", "/api/v1/sessions/"+idStr(m.Created[1].ID)+"/cancel", map[string]string{"reason": "领导外出"})
	wantStatus(t, resp, body, 204)
	_, body = f.anon().do("GET", "/api/v1/public/sessions", nil)
	if strings.Contains(string(body), `"id":`+idStr(m.Created[1].ID)+`,`) {
		t.Errorf("cancelled session still public: %s", body)
	}
}

// TestLeadersForTheSessionForm: scheduling staff see the leaders of their subtree (not other
// roles, not other districts, not disabled accounts).
func TestLeadersForTheSessionForm(t *testing.T) {
	f := newFixture(t, Config{})
	mine := f.user(org.RoleLeader, f.t1)
	gone := f.user(org.RoleLeader, f.d1)
	if err := f.st.SetUserDisabled(bg, gone.ID, true); err != nil {
		t.Fatal(err)
	}
	theirs := f.user(org.RoleLeader, f.d2)
	op := f.user(org.RoleHallOperator, f.d1)
	staff := f.loginUser(f.user(org.RoleSchedulerStaff, f.d1))
	resp, body := staff.do("GET", "/api/v1/leaders", nil)
	wantStatus(t, resp, body, 200)
	var out struct {
		Leaders []LeaderView `json:"leaders"`
	}
	_ = json.Unmarshal(body, &out)
	ids := map[int64]bool{}
	for _, l := range out.Leaders {
		ids[l.ID] = true
	}
	if !ids[mine.ID] || ids[gone.ID] || ids[theirs.ID] || ids[op.ID] {
		t.Errorf("leaders: %s", body)
	}
}
