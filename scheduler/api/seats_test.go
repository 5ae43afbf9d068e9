package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"sanji/scheduler/org"
)

// TestSeatsOfferedAreTheSeatsGranted: for each kind of caller, the seats the picker is offered
// are exactly the seats whose join token the server grants, with the token's role; a refused
// seat says why, naming it, in the caller's language.
func TestSeatsOfferedAreTheSeatsGranted(t *testing.T) {
	f := newFixture(t, Config{})
	x := f.openCall(true) // owned by 上城区, hall1 on the roster
	rsj, err := f.st.GetUnitByCode(bg, "330102-RSJ")
	if err != nil {
		t.Fatal(err)
	}
	leader := f.user(org.RoleLeader, f.d1)
	x.LeaderID, x.LeaderName, x.UnitIDs = leader.ID, "王市长", []int64{rsj.ID}
	if err := f.st.UpdateReceptionSession(bg, x); err != nil {
		t.Fatal(err)
	}
	every := []map[string]any{{"seat": "studio"}, {"seat": "hall", "hall_id": f.hall1.ID}, {"seat": "unit", "unit_id": rsj.ID}, {"seat": "observer"}}
	key := func(m map[string]any) string { return fmt.Sprint(m["seat"], m["hall_id"], m["unit_id"]) }

	callers := map[string]*client{
		"leader":            f.loginUser(leader),
		"district staff":    f.loginUser(f.user(org.RoleIntakeOfficer, f.d1)),
		"hall operator":     f.loginUser(f.user(org.RoleHallOperator, f.d1)),
		"other district op": f.loginUser(f.user(org.RoleHallOperator, f.d2)),
		"unit handler":      f.loginUser(f.user(org.RoleCaseHandler, rsj)),
		"observer":          f.loginUser(f.user(org.RoleObserver, f.d1)),
	}
	for name, c := range callers {
		resp, b := c.do("GET", "/api/v1/sessions/"+idStr(x.ID)+"/seats", nil)
		wantStatus(t, resp, b, 200)
		var got SessionSeats
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.Closed != "" {
			t.Errorf("%s: the open call says closed: %q", name, got.Closed)
		}
		offered := map[string]SeatView{}
		for _, s := range got.Seats {
			offered[key(map[string]any{"seat": s.Seat, "hall_id": zeroNil(s.HallID), "unit_id": zeroNil(s.UnitID)})] = s
		}
		for _, ask := range every {
			k := key(map[string]any{"seat": ask["seat"], "hall_id": ask["hall_id"], "unit_id": ask["unit_id"]})
			resp, b := c.do("POST", "/api/v1/sessions/"+idStr(x.ID)+"/join-token", ask)
			s, isOffered := offered[k]
			switch {
			case resp.StatusCode == 200 && !isOffered:
				t.Errorf("%s: seat %s is granted but not offered", name, k)
			case resp.StatusCode != 200 && isOffered:
				t.Errorf("%s: seat %s is offered but refused: %d %s", name, k, resp.StatusCode, b)
			case resp.StatusCode == 200:
				var tok JoinToken
				_ = json.Unmarshal(b, &tok)
				if tok.Role != s.Role {
					t.Errorf("%s: seat %s offered as %s, granted as %s", name, k, s.Role, tok.Role)
				}
			case resp.StatusCode == 403 && strings.Contains(string(b), "您没有权限执行此操作"):
				t.Errorf("%s: seat %s refused without its reason: %s", name, k, b)
			}
		}
	}

	// What each is offered, spelled out.
	seatsOf := func(c *client) []string {
		_, b := c.do("GET", "/api/v1/sessions/"+idStr(x.ID)+"/seats", nil)
		var got SessionSeats
		_ = json.Unmarshal(b, &got)
		var out []string
		for _, s := range got.Seats {
			out = append(out, s.Seat+":"+s.Role)
		}
		return out
	}
	for name, want := range map[string][]string{
		"leader":            {"studio:leader", "hall:leader", "unit:leader", "observer:observer"},
		"hall operator":     {"hall:hall_operator", "unit:hall_operator", "observer:observer"},
		"other district op": nil,
		"unit handler":      {"unit:case_handler"}, // the observers' seats are at the district, above the unit
		"observer":          {"observer:observer"},
	} {
		if got := seatsOf(callers[name]); !slices.Equal(got, want) {
			t.Errorf("%s is offered %v, want %v", name, got, want)
		}
	}

	// Refusals name the seat and the reason, in the caller's language.
	op := callers["other district op"]
	resp, b := op.do("POST", "/api/v1/sessions/"+idStr(x.ID)+"/join-token", map[string]any{"seat": "hall", "hall_id": f.hall1.ID})
	wantStatus(t, resp, b, 403)
	if !strings.Contains(string(b), f.hall1.Name) || !strings.Contains(string(b), "不能进入") {
		t.Errorf("hall refusal: %s", b)
	}
	op.lang = "en"
	_, b = op.do("POST", "/api/v1/sessions/"+idStr(x.ID)+"/join-token", map[string]any{"seat": "studio"})
	if !strings.Contains(string(b), "the studio seat is for the session's leader") {
		t.Errorf("studio refusal in English: %s", b)
	}
	_, b = callers["observer"].do("POST", "/api/v1/sessions/"+idStr(x.ID)+"/join-token", map[string]any{"seat": "hall", "hall_id": f.hall1.ID})
	if !strings.Contains(string(b), "只能列席") {
		t.Errorf("observer's refusal: %s", b)
	}

	// A call not open yet offers the seats with the reason nobody can join now.
	f.clock.add(x.End.Sub(f.clock.now()) + CallClosesAfter + 1)
	_, b = callers["leader"].do("GET", "/api/v1/sessions/"+idStr(x.ID)+"/seats", nil)
	var closed SessionSeats
	_ = json.Unmarshal(b, &closed)
	if !strings.Contains(closed.Closed, "已结束") {
		t.Errorf("closed call: %s", b)
	}
}

// zeroNil is nil for 0, so that seat keys match the requests that leave the id out.
func zeroNil(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
