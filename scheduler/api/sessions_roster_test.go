package api

import (
	"encoding/json"
	"testing"

	"sanji/scheduler"
	"sanji/scheduler/org"
)

// TestSessionsOfARosterUnit: the demo reception's fourth window. A case handler of 上城区人社局,
// on the city leader's reception roster as a unit, finds that session in GET /sessions (the
// reception page's seat picker reads it), although neither the session nor any hall is in the
// unit's subtree; a handler of a unit not on the roster finds nothing.
func TestSessionsOfARosterUnit(t *testing.T) {
	f := newFixture(t, Config{})
	x, booked, err := scheduler.SeedDemoReception(bg, f.st, f.clock.now())
	if err != nil || !booked {
		t.Fatalf("demo reception: %v %v", booked, err)
	}
	unit := func(code string) org.Unit {
		u, err := f.st.GetUnitByCode(bg, code)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	list := func(c *client) []SessionView {
		t.Helper()
		resp, body := c.do("GET", "/api/v1/sessions", nil)
		wantStatus(t, resp, body, 200)
		var v struct {
			Sessions []SessionView `json:"sessions"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		return v.Sessions
	}
	onRoster := f.loginUser(f.user(org.RoleCaseHandler, unit("330102-RSJ")))
	if got := list(onRoster); len(got) != 1 || got[0].ID != x.ID || len(got[0].UnitIDs) != 1 || got[0].UnitIDs[0] != unit("330102-RSJ").ID {
		t.Errorf("the roster unit's handler: %+v", got)
	}
	elsewhere := f.loginUser(f.user(org.RoleCaseHandler, unit("330100-ZJJ")))
	if got := list(elsewhere); len(got) != 0 {
		t.Errorf("a handler of a unit not on the roster: %+v", got)
	}
	// The hall operators still find it through their halls, the leader through the city.
	for _, code := range []string{"330102001", "330102002"} {
		if got := list(f.loginUser(f.user(org.RoleHallOperator, unit(code)))); len(got) != 1 || got[0].ID != x.ID {
			t.Errorf("operator at %s: %+v", code, got)
		}
	}
}
