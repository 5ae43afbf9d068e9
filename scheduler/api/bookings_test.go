package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"sanji/scheduler/org"
)

// TestPastSessionsAndBackfill: a session that starts in the past is refused (a few minutes' grace
// aside), unless scheduling staff enter it as the record of a reception that took place (补录),
// which the API shows as such, which holds nothing a booking could clash with, and which has no
// call; a token without the backfill scope cannot write the past.
func TestPastSessionsAndBackfill(t *testing.T) {
	f := newFixture(t, Config{})
	staffUser := f.user(org.RoleSchedulerStaff, f.d1)
	staff := f.loginUser(staffUser)
	studio, leader := f.studioAndLeader(true)
	now := f.clock.now()
	body := func(start time.Time, minutes int, backfill bool) map[string]any {
		return map[string]any{"unit_id": f.d1.ID, "title": "区领导接访", "leader_id": leader.ID, "leader_name": "张三",
			"studio_id": studio.ID, "hall_ids": []int64{f.hall1.ID}, "start": start, "end": start.Add(time.Duration(minutes) * time.Minute),
			"lead_days": 0, "minutes_per_petitioner": 10, "max_petitioners": 3, "backfill": backfill}
	}
	create := func(c *client, b map[string]any, want int) SessionView {
		t.Helper()
		resp, raw := c.do("POST", "/api/v1/sessions", b)
		wantStatus(t, resp, raw, want)
		var v SessionView
		if want == 201 {
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
		} else if e := errCode(t, raw); e.Message == "" {
			t.Errorf("refusal without a message: %s", raw)
		}
		return v
	}

	// 1999: refused, naming the start and what to do instead.
	resp, raw := staff.do("POST", "/api/v1/sessions", body(time.Date(1999, 3, 2, 9, 0, 0, 0, time.UTC), 60, false))
	wantStatus(t, resp, raw, 400)
	if e := errCode(t, raw); e.Field != "start" || !strings.Contains(e.Message, "1999-03-02 17:00") || !strings.Contains(e.Message, "补录") {
		t.Errorf("a session in 1999: %+v", e)
	}
	// The same in English.
	resp, raw = staff.doWith("POST", "/api/v1/sessions", body(now.Add(-time.Hour), 60, false), map[string][]string{"Accept-Language": {"en"}})
	wantStatus(t, resp, raw, 400)
	if e := errCode(t, raw); !strings.Contains(e.Message, "in the past") {
		t.Errorf("English refusal: %+v", e)
	}

	// The record of a reception that ended a minute ago: stored and shown as backfilled.
	rec := create(staff, body(now.Add(-121*time.Minute), 120, true), 201)
	if !rec.Backfill {
		t.Fatalf("backfilled record: %+v", rec)
	}
	resp, raw = staff.do("GET", "/api/v1/sessions?from=2026-03-01&to=2026-03-03", nil)
	wantStatus(t, resp, raw, 200)
	if !strings.Contains(string(raw), `"backfill":true`) {
		t.Errorf("the list does not show the record: %s", raw)
	}
	// A session that began ten minutes ago is within the grace, and the record holds none of its
	// leader, studio and hall.
	live := create(staff, body(now.Add(-10*time.Minute), 60, false), 201)
	if live.Backfill {
		t.Errorf("an ordinary session came back backfilled: %+v", live)
	}
	// A record of a reception not over yet is refused.
	resp, raw = staff.do("POST", "/api/v1/sessions", body(now.Add(-3*time.Hour), 240, true))
	wantStatus(t, resp, raw, 400)
	if e := errCode(t, raw); e.Field != "end" {
		t.Errorf("backfill not over: %+v", e)
	}
	// A record has no call, though an ordinary session ended as long ago would still be open.
	resp, raw = staff.do("POST", "/api/v1/sessions/"+idStr(rec.ID)+"/join-token", map[string]any{"seat": "studio"})
	wantStatus(t, resp, raw, 409)

	// Writing the past needs session.backfill: a booking token has only session.write.
	booking := f.tokenClient(staffUser, []string{org.ActSessionWrite})
	create(booking, body(now.Add(-5*time.Hour), 60, true), 403)
	create(booking, body(now.Add(5*time.Hour), 60, false), 201) // the future it may book
	create(f.tokenClient(staffUser, []string{org.ActSessionWrite, org.ActSessionBackfill}), body(now.Add(-5*time.Hour), 60, true), 201)

	// Moving a session into the past is refused; changing one under way is not.
	resp, raw = staff.do("PATCH", "/api/v1/sessions/"+idStr(live.ID), map[string]any{"start": now.Add(-48 * time.Hour), "end": now.Add(-47 * time.Hour)})
	wantStatus(t, resp, raw, 400)
	resp, raw = staff.do("PATCH", "/api/v1/sessions/"+idStr(live.ID), map[string]any{"end": now.Add(2 * time.Hour)})
	wantStatus(t, resp, raw, 200)
	// A record stays in the past.
	resp, raw = staff.do("PATCH", "/api/v1/sessions/"+idStr(rec.ID), map[string]any{"end": now.Add(time.Hour)})
	wantStatus(t, resp, raw, 400)
}

// TestOutsideHallByInvitation: a district's staff cannot book another district's hall; invited,
// the hall gets no join token until its own unit accepts, and then it does.
func TestOutsideHallByInvitation(t *testing.T) {
	f := newFixture(t, Config{})
	staff := f.loginUser(f.user(org.RoleSchedulerStaff, f.d1))
	start := f.clock.now().Add(10 * time.Minute) // the call is open
	req := map[string]any{"unit_id": f.d1.ID, "title": "联合接访", "hall_ids": []int64{f.hall1.ID, f.hall2.ID}, "start": start,
		"end": start.Add(time.Hour), "lead_days": 0, "minutes_per_petitioner": 10, "max_petitioners": 3}
	resp, raw := staff.do("POST", "/api/v1/sessions", req)
	wantStatus(t, resp, raw, 400)
	if e := errCode(t, raw); e.Field != "hall_ids" || !strings.Contains(e.Message, f.hall2.Name) || !strings.Contains(e.Message, "邀请") {
		t.Errorf("another district's hall: %+v", e)
	}
	req["hall_ids"] = []int64{f.hall1.ID}
	resp, raw = staff.do("POST", "/api/v1/sessions", req)
	wantStatus(t, resp, raw, 201)
	var x SessionView
	if err := json.Unmarshal(raw, &x); err != nil {
		t.Fatal(err)
	}
	resp, raw = staff.do("POST", "/api/v1/sessions/"+idStr(x.ID)+"/invitations", map[string]any{"hall_ids": []int64{f.hall2.ID}})
	wantStatus(t, resp, raw, 201)
	var invited struct {
		Invitations []InvitationView `json:"invitations"`
	}
	if err := json.Unmarshal(raw, &invited); err != nil || len(invited.Invitations) != 1 || invited.Invitations[0].OnRoster {
		t.Fatalf("invitation: %s", raw)
	}
	op := f.loginUser(f.user(org.RoleHallOperator, f.d2))
	token := "/api/v1/sessions/" + idStr(x.ID) + "/join-token"
	seat := map[string]any{"seat": "hall", "hall_id": f.hall2.ID}
	resp, raw = op.do("POST", token, seat)
	wantStatus(t, resp, raw, 400) // not on the roster before it accepts
	resp, raw = op.do("POST", "/api/v1/invitations/"+idStr(invited.Invitations[0].ID)+"/answer", map[string]any{"accept": true})
	wantStatus(t, resp, raw, 200)
	var answered InvitationView
	if err := json.Unmarshal(raw, &answered); err != nil || !answered.OnRoster {
		t.Fatalf("accepted: %s", raw)
	}
	resp, raw = op.do("POST", token, seat)
	wantStatus(t, resp, raw, 200)
}
