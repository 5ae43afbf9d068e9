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

// TestCasePanelPetitionerHistory: the case panel lists the petitioner's earlier cases (same ID
// number) with how they ended and whether one is the same matter (重复信访), each at the viewer's
// level on that case; a viewer who may not see who the petitioner is gets no history at all.
func TestCasePanelPetitionerHistory(t *testing.T) {
	f := newFixture(t, Config{})
	const idn = "330102199001011234"
	claim := func(title, content string) func(*casework.Case) {
		return func(c *casework.Case) {
			c.Type, c.Title, c.Content, c.ComplainedParty = casework.TypeClaim, title, content, ""
		}
	}
	// Earlier: the same wage matter, closed with support; an accusation about 上城区 itself.
	wages := f.newCase(f.t1, claim("拖欠工资", "某建筑公司拖欠工资三个月，老板失联"))
	for _, st := range [][2]casework.CaseStatus{{casework.StRegistered, casework.StAccepted}, {casework.StAccepted, casework.StInProgress},
		{casework.StInProgress, casework.StAnswered}, {casework.StAnswered, casework.StClosed}} {
		ev := casework.CaseEvent{CaseID: wages.ID, From: st[0], To: st[1], Reason: "办理", Result: casework.ResultSupport, At: f.clock.now()}
		if err := f.st.TransitionCase(bg, &ev); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.add(time.Hour)
	aboutDistrict := f.newCase(f.t1, func(c *casework.Case) { c.Title, c.ComplainedUnitID = "反映区里不作为", f.d1.ID })
	f.clock.add(time.Hour)
	now := f.newCase(f.t1, claim("欠薪", "建筑公司拖欠我三个月工资，老板找不到人"))
	f.newCase(f.t1, func(c *casework.Case) { c.Petitioners[0].IDNumber = "330102198001015678" }) // someone else

	bridge := f.api.CallBridge()
	panel := func(u org.User) CasePanel {
		t.Helper()
		raw, err := bridge.CasePanel(bg, 7, now.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		var p CasePanel
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	byID := func(h *PetitionerHistory) map[int64]EarlierCase {
		out := map[int64]EarlierCase{}
		for _, c := range h.Cases {
			out[c.CaseID] = c
		}
		return out
	}

	// The hall (full view): both earlier cases, the wage case as the same matter with its outcome.
	p := panel(f.user(org.RoleHallOperator, f.t1))
	if p.History == nil || !p.History.Repeat || len(p.History.Cases) != 2 {
		t.Fatalf("hall's history: %+v", p.History)
	}
	h := byID(p.History)
	if w := h[wages.ID]; !w.SameMatter || w.Status != string(casework.StClosed) || w.Result != string(casework.ResultSupport) ||
		w.ClosedAt == nil || w.Title != "拖欠工资" || w.Number != wages.Number {
		t.Errorf("the earlier wage case: %+v", w)
	}
	// The accusation is about the district the hall belongs to: redacted even for the hall.
	if a := h[aboutDistrict.ID]; a.SameMatter || a.Title != "" || a.View != "redacted" {
		t.Errorf("the earlier accusation, to the hall: %+v", a)
	}

	// The district's leader (masked on this case): the accusation about the district is
	// redacted for it — listed with its outcome, without its title.
	p = panel(f.user(org.RoleLeader, f.d1))
	if p.Case.View != "masked" || p.History == nil || !p.History.Repeat {
		t.Fatalf("leader's panel: view %s, history %+v", p.Case.View, p.History)
	}
	h = byID(p.History)
	if a := h[aboutDistrict.ID]; a.View != "redacted" || a.Title != "" || a.Number == "" {
		t.Errorf("the accusation about the leader's district: %+v", a)
	}
	if w := h[wages.ID]; w.Title != "拖欠工资" || w.View == "redacted" {
		t.Errorf("the wage case to the leader: %+v", w)
	}
	raw, _ := json.Marshal(p.History)
	if strings.Contains(string(raw), idn) || strings.Contains(string(raw), "张三") {
		t.Errorf("the history carries identity: %s", raw)
	}

	// An observer sees no history of the person.
	if p := panel(f.user(org.RoleObserver, f.d1)); p.History != nil {
		t.Errorf("observer's history: %+v", p.History)
	}
}
