package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"sanji/auth"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// TestCallSeats: who gets which seat of a reception call, and when the call is open.
func TestCallSeats(t *testing.T) {
	f := newFixture(t, Config{})
	x := f.openCall(true) // owned by 上城区, hall1 on the roster
	leader := f.user(org.RoleLeader, f.d1)
	x.LeaderID, x.LeaderName = leader.ID, "王市长"
	if err := f.st.UpdateReceptionSession(bg, x); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/sessions/" + idStr(x.ID) + "/join-token"
	seat := func(c *client, body map[string]any, want int) auth.Claims {
		t.Helper()
		resp, b := c.do("POST", path, body)
		wantStatus(t, resp, b, want)
		if want != 200 {
			return auth.Claims{}
		}
		var tok JoinToken
		if err := json.Unmarshal(b, &tok); err != nil {
			t.Fatal(err)
		}
		claims, err := f.signer.Verify(tok.Token, f.clock.now())
		if err != nil {
			t.Fatal(err)
		}
		return claims
	}

	// The session's leader takes the studio; staff who may moderate too; a case handler may not.
	if c := seat(f.loginUser(leader), map[string]any{"seat": "studio"}, 200); c.Role != org.RoleLeader ||
		c.Seat != auth.SeatStudio || c.SessionID != x.ID || c.UserID != leader.ID || c.Room != CallRoom(x.ID) {
		t.Errorf("leader's studio seat: %+v", c)
	}
	if c := seat(f.loginUser(f.user(org.RoleIntakeOfficer, f.d1)), map[string]any{"seat": "studio"}, 200); c.Role != org.RoleIntakeOfficer {
		t.Errorf("staff's studio seat: %+v", c)
	}
	seat(f.loginUser(f.user(org.RoleCaseHandler, f.d1)), map[string]any{"seat": "studio"}, 403)
	seat(f.loginUser(f.user(org.RoleIntakeOfficer, f.d2)), map[string]any{"seat": "studio"}, 403)

	// Halls: on the roster and in the caller's subtree.
	op := f.loginUser(f.user(org.RoleHallOperator, f.d1))
	if c := seat(op, map[string]any{"seat": "hall", "hall_id": f.hall1.ID}, 200); c.HallID != f.hall1.ID || c.Seat != auth.SeatHall {
		t.Errorf("hall seat: %+v", c)
	}
	seat(op, map[string]any{"seat": "hall", "hall_id": f.hall2.ID}, 400) // not on the roster
	seat(f.loginUser(f.user(org.RoleHallOperator, f.d2)), map[string]any{"seat": "hall", "hall_id": f.hall1.ID}, 403)

	// Units: under the session's unit (or on its roster), the caller's own.
	rsj, err := f.st.GetUnitByCode(bg, "330102-RSJ")
	if err != nil {
		t.Fatal(err)
	}
	handler := f.loginUser(f.user(org.RoleCaseHandler, rsj))
	if c := seat(handler, map[string]any{"seat": "unit", "unit_id": rsj.ID}, 200); c.UnitID != rsj.ID || c.Seat != auth.SeatUnit {
		t.Errorf("unit seat: %+v", c)
	}
	seat(handler, map[string]any{"seat": "unit", "unit_id": f.d2.ID}, 400) // not under 上城区
	seat(handler, map[string]any{"seat": "unit", "unit_id": f.t1.ID}, 403) // not the caller's

	// An observer sits with the observers only.
	obs := f.loginUser(f.user(org.RoleObserver, f.d1))
	if c := seat(obs, map[string]any{"seat": "observer"}, 200); c.Role != org.RoleObserver || c.Seat != auth.SeatObserver {
		t.Errorf("observer seat: %+v", c)
	}
	seat(obs, map[string]any{"seat": "hall", "hall_id": f.hall1.ID}, 403)
	seat(op, map[string]any{"seat": "balcony"}, 400)

	// The call opens half an hour ahead and closes two hours after the end.
	f.clock.add(x.End.Sub(f.clock.now()) + CallClosesAfter + time.Minute)
	seat(op, map[string]any{"seat": "hall", "hall_id": f.hall1.ID}, 409)
	next := reception.ReceptionSession{UnitID: f.d1.ID, Title: "下周接访", Start: f.clock.now().Add(7 * 24 * time.Hour).Truncate(time.Minute),
		HallIDs: []int64{f.hall1.ID}, MinutesPerPetitioner: 10, MaxPetitioners: 6}
	next.End = next.Start.Add(time.Hour)
	if err := f.st.CreateReceptionSession(bg, &next); err != nil {
		t.Fatal(err)
	}
	resp, b := op.do("POST", "/api/v1/sessions/"+idStr(next.ID)+"/join-token", map[string]any{"seat": "hall", "hall_id": f.hall1.ID})
	wantStatus(t, resp, b, 409)
}

// TestCasePanelPerRole renders one accusation case for each role of a call: the unit complained
// about sees no identity and no accusation even when the case is assigned to it.
func TestCasePanelPerRole(t *testing.T) {
	f := newFixture(t, Config{})
	rsj, err := f.st.GetUnitByCode(bg, "330102-RSJ")
	if err != nil {
		t.Fatal(err)
	}
	cats, _ := f.st.ListCategories(bg)
	c := casework.Case{UnitID: f.t1.ID, Territory: "330102001", Form: casework.FormVideo, Type: casework.TypeAccusation,
		CategoryID: cats[0].ID, Title: "反映某局工作人员索要好处费", Content: "2026年3月，某科长索要现金两千元。", ComplainedUnitID: rsj.ID,
		ComplainedParty: "区人社局某科长", ResponsibleUnitID: rsj.ID, InvolvedCount: 1, QueryCodeHash: casework.QueryCodeHash("ABCD-EFGH-JKLM"),
		Petitioners: []casework.Petitioner{{Name: "王建国", IDNumber: "330102197001010010", Phone: "13800000000", Role: casework.PetitionerSelf}}}
	if err := f.st.CreateCase(bg, &c, casework.CaseEvent{ActorID: 1, Actor: "test", UnitID: f.t1.ID, Reason: "王建国当面反映"}); err != nil {
		t.Fatal(err)
	}
	bridge := f.api.CallBridge()
	panel := func(u org.User) CasePanel {
		t.Helper()
		raw, err := bridge.CasePanel(bg, 7, c.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		var p CasePanel
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hidden := func(who string, p CasePanel) {
		t.Helper()
		raw, _ := json.Marshal(p)
		for _, secret := range []string{"王建国", "330102197001010010", "13800000000", "索要现金", "某科长"} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("%s's panel shows %q: %s", who, secret, raw)
			}
		}
		if p.Case.View != "redacted" {
			t.Errorf("%s's view: %s", who, p.Case.View)
		}
	}
	hidden("the complained-about unit's handler", panel(f.user(org.RoleCaseHandler, rsj)))
	hidden("an observer", panel(f.user(org.RoleObserver, f.d1)))
	if p := panel(f.user(org.RoleLeader, f.d1)); p.Case.View != "masked" || p.Case.Petitioners[0].Name != "王建国" ||
		p.Case.Petitioners[0].IDNumber == "330102197001010010" {
		t.Errorf("leader's panel: %+v", p.Case)
	}
	op := f.user(org.RoleHallOperator, f.t1)
	if p := panel(op); p.Case.View != "full" || p.Case.Petitioners[0].IDNumber != "330102197001010010" || p.Case.Content == "" {
		t.Errorf("hall operator's panel: %+v", p.Case)
	}
	entries, err := f.st.SearchAudit(bg, org.AuditQuery{Action: "pii.view"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		found = found || (e.ActorID == op.ID && e.Purpose != "")
	}
	if !found {
		t.Errorf("the full view was not audited with a purpose: %+v", entries)
	}
}
