package api

import (
	"fmt"
	"strconv"
	"time"

	"sanji/scheduler/org"
	"sanji/scheduler/reception"
	"sanji/scheduler/storetest"
)

// The reception routes' rows of the authorization matrix (matrix_test.go).
func init() {
	for k, v := range receptionMatrix {
		matrix[k] = v
	}
}

// slot is a fresh hour a month ahead, so sessions made by the matrix never clash.
func (f *fixture) slot() (time.Time, time.Time) {
	st := f.clock.now().AddDate(0, 0, 30).Add(time.Duration(f.next()) * 2 * time.Hour).Truncate(time.Minute)
	return st, st.Add(time.Hour)
}

// session makes a session owned by d1 (inside) or d2, with that district's hall on the roster.
func (f *fixture) session(inside bool) reception.ReceptionSession {
	f.t.Helper()
	st, end := f.slot()
	x := reception.ReceptionSession{UnitID: pick(inside, f.d1, f.d2).ID, Title: "接访", Start: st, End: end,
		HallIDs: []int64{f.hallIn(inside).ID}, LeadDays: 3, MinutesPerPetitioner: 10, MaxPetitioners: 6}
	if err := f.st.CreateReceptionSession(bg, &x); err != nil {
		f.t.Fatal(err)
	}
	return x
}

func (f *fixture) hallIn(inside bool) org.Hall {
	if inside {
		return f.hall1
	}
	return f.hall2
}

// studioAndLeader makes a new studio and leader in d1 or d2, so each schedule is free to book.
func (f *fixture) studioAndLeader(inside bool) (org.Hall, org.User) {
	f.t.Helper()
	u := pick(inside, f.d1, f.d2)
	h := org.Hall{UnitID: u.ID, Kind: org.HallStudio, Name: fmt.Sprintf("演播室 %d", f.next())}
	if err := f.st.CreateHall(bg, &h); err != nil {
		f.t.Fatal(err)
	}
	return h, f.user(org.RoleLeader, u)
}

func (f *fixture) idNumber() string {
	return storetest.IDNumber(fmt.Sprintf("33010219900101%03d", f.next()%1000))
}

func (f *fixture) appointment(inside bool) reception.Appointment {
	f.t.Helper()
	x := f.session(inside)
	a := reception.Appointment{SessionID: x.ID, HallID: f.hallIn(inside).ID, Name: "王五", IDNumber: f.idNumber(), Matter: "欠薪", People: 1}
	if err := f.st.CreateAppointment(bg, &a, f.clock.now()); err != nil {
		f.t.Fatal(err)
	}
	return a
}

func idStr(v int64) string { return strconv.FormatInt(v, 10) }

// openCalls are the sessions whose call is open now, one per fixture and side: a hall cannot be
// in two overlapping sessions, so the matrix's many callers share them.
var openCalls = map[*fixture]map[bool]reception.ReceptionSession{}

// openCall is a session of d1 (inside) or d2 that started ten minutes ago.
func (f *fixture) openCall(inside bool) reception.ReceptionSession {
	f.t.Helper()
	if x, ok := openCalls[f][inside]; ok {
		return x
	}
	st := f.clock.now().Add(-10 * time.Minute).Truncate(time.Minute)
	x := reception.ReceptionSession{UnitID: pick(inside, f.d1, f.d2).ID, Title: "今日接访", Start: st, End: st.Add(2 * time.Hour),
		HallIDs: []int64{f.hallIn(inside).ID}, LeadDays: 0, MinutesPerPetitioner: 10, MaxPetitioners: 6}
	if err := f.st.CreateReceptionSession(bg, &x); err != nil {
		f.t.Fatal(err)
	}
	if openCalls[f] == nil {
		openCalls[f] = map[bool]reception.ReceptionSession{}
	}
	openCalls[f][inside] = x
	return x
}

var receptionMatrix = map[string]matrixRow{
	"GET /api/v1/public/sessions": {call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/public/sessions", nil }},
	"GET /api/v1/holidays":        {list: true, call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/holidays?year=2026", nil }},
	"PUT /api/v1/holidays/{date}": {grantAtRoot: true, call: func(f *fixture, c *client, in bool) (string, any) {
		return fmt.Sprintf("/api/v1/holidays/2027-01-%02d", 1+f.next()%28), map[string]string{"kind": "holiday", "name": "元旦"}
	}},
	"GET /api/v1/leaders":  {list: true, call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/leaders", nil }},
	"GET /api/v1/sessions": {list: true, call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/sessions", nil }},
	"POST /api/v1/sessions": {call: func(f *fixture, c *client, in bool) (string, any) {
		st, end := f.slot()
		return "/api/v1/sessions", map[string]any{"unit_id": pick(in, f.d1, f.d2).ID, "title": "联合接访", "start": st, "end": end,
			"hall_ids": []int64{f.hallIn(in).ID}, "lead_days": 1, "minutes_per_petitioner": 10, "max_petitioners": 5}
	}},
	"PATCH /api/v1/sessions/{id}": {call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/sessions/" + idStr(f.session(in).ID), map[string]any{"title": "改期后的接访", "portfolio": "信访积案"}
	}},
	"POST /api/v1/sessions/{id}/cancel": {call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/sessions/" + idStr(f.session(in).ID) + "/cancel", map[string]string{"reason": "领导公出"}
	}},
	"POST /api/v1/schedules": {call: func(f *fixture, c *client, in bool) (string, any) {
		studio, leader := f.studioAndLeader(in)
		st, _ := f.slot()
		return "/api/v1/schedules", map[string]any{"unit_id": pick(in, f.d1, f.d2).ID, "leader_id": leader.ID, "leader_name": "张三",
			"leader_post": "副区长", "studio_id": studio.ID, "rrule": "FREQ=WEEKLY;COUNT=2", "dtstart": st, "minutes": 60,
			"lead_days": 3, "minutes_per_petitioner": 10, "max_petitioners": 6, "portfolio": "城建", "weeks": 8}
	}},
	"POST /api/v1/schedules/{id}/materialize": {call: func(f *fixture, c *client, in bool) (string, any) {
		studio, leader := f.studioAndLeader(in)
		st, _ := f.slot()
		rs := reception.ReceptionSchedule{UnitID: pick(in, f.d1, f.d2).ID, LeaderID: leader.ID, LeaderName: "张三", LeaderPost: "副区长",
			StudioID: studio.ID, RRule: "FREQ=WEEKLY;COUNT=2", DTStart: st, Minutes: 60, LeadDays: 3, MinutesPerPetitioner: 10,
			MaxPetitioners: 6, Holidays: reception.HolidayKeep}
		if err := f.st.CreateReceptionSchedule(bg, &rs); err != nil {
			f.t.Fatal(err)
		}
		return "/api/v1/schedules/" + idStr(rs.ID) + "/materialize", map[string]int{"weeks": 8}
	}},
	"POST /api/v1/sessions/{id}/appointments": {call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/sessions/" + idStr(f.session(in).ID) + "/appointments", map[string]any{"hall_id": f.hallIn(in).ID,
			"name": "李四", "id_number": f.idNumber(), "phone": "13800138000", "matter": "工伤认定"}
	}},
	"POST /api/v1/sessions/{id}/join-token": {call: func(f *fixture, c *client, in bool) (string, any) {
		// An observer sits with the observers; every other call role takes the hall's seat.
		seat := map[string]any{"seat": "hall", "hall_id": f.hallIn(in).ID}
		if gs, _ := f.st.ListGrants(bg, c.userID); len(gs) == 1 && gs[0].Role == org.RoleObserver {
			seat = map[string]any{"seat": "observer"}
		}
		return "/api/v1/sessions/" + idStr(f.openCall(in).ID) + "/join-token", seat
	}},
	"GET /api/v1/sessions/{id}/seats": {list: true, call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/sessions/" + idStr(f.openCall(in).ID) + "/seats", nil
	}},
	"GET /api/v1/sessions/{id}/queue": {call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/sessions/" + idStr(f.appointment(in).SessionID) + "/queue", nil
	}},
	"GET /api/v1/sessions/{id}/query-codes": {call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/sessions/" + idStr(f.session(in).ID) + "/query-codes?hall_id=" + idStr(f.hallIn(in).ID), nil
	}},
	"PATCH /api/v1/appointments/{id}": {call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/appointments/" + idStr(f.appointment(in).ID), map[string]string{"status": "checked_in"}
	}},
	"POST /api/v1/sessions/{id}/booking-checks": {call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/sessions/" + idStr(f.session(in).ID) + "/booking-checks", map[string]any{"hall_id": f.hallIn(in).ID,
			"id_number": f.idNumber(), "matter": "工伤认定"}
	}},
	"POST /api/v1/sessions/{id}/invitations": {call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/sessions/" + idStr(f.session(in).ID) + "/invitations", map[string]any{"unit_ids": []int64{pick(in, f.t1, f.d2).ID}, "note": "会商"}
	}},
	"GET /api/v1/sessions/{id}/invitations": {call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/sessions/" + idStr(f.invitation(in).SessionID) + "/invitations", nil
	}},
	"GET /api/v1/invitations": {list: true, call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/invitations", nil }},
	"POST /api/v1/invitations/{id}/answer": {call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/invitations/" + idStr(f.invitation(in).ID) + "/answer", map[string]any{"accept": false, "reason": "另有安排"}
	}},
}

// invitation invites d1 (inside) or d2 to a new session of that district.
func (f *fixture) invitation(inside bool) reception.Invitation {
	f.t.Helper()
	x := f.session(inside)
	invs, err := f.st.InviteToSession(bg, x.ID, []int64{pick(inside, f.d1, f.d2).ID}, nil, "会商", 1, f.clock.now())
	if err != nil || len(invs) != 1 {
		f.t.Fatalf("invite: %v %v", invs, err)
	}
	return invs[0]
}
