package api

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/rates"
)

// TestRatesScopeAndPeriod: the statistics of a leader's scope or of one unit's subtree in it,
// over a period of registration; the counts by category, territory and month; overdue by unit
// with its parts; bad filters are refused naming the field, in the caller's language.
func TestRatesScopeAndPeriod(t *testing.T) {
	f := newFixture(t, Config{})
	leaderUser := f.user(org.RoleLeader, f.d1)
	// 2026-03-02: one case at the district, one at its township (never decided), one outside.
	f.newCase(f.d1, func(c *casework.Case) { c.Territory = "330102" })
	f.newCase(f.t1, func(c *casework.Case) { c.Territory = "330102001" })
	f.newCase(f.d2, nil)
	// 2026-04-02: another at the district.
	f.clock.add(31 * 24 * time.Hour)
	april := f.newCase(f.d1, nil)
	leader := f.loginUser(leaderUser)

	get := func(c *client, query string) RatesView {
		t.Helper()
		resp, body := c.do("GET", "/api/v1/rates"+query, nil)
		wantStatus(t, resp, body, 200)
		var v RatesView
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	all := get(leader, "")
	if all.Cases != 3 || all.Repeat != (RateView{2, 3, 2.0 / 3}) || all.RepetitionDays != rates.DefaultRepetitionDays {
		t.Errorf("whole scope: %+v", all)
	}
	// At 04-02 the March cases were never routed nor decided: their offices' routing periods and
	// their acceptance periods ended on 03-17.
	if all.TimelyAcceptance.Num != 0 || all.TimelyAcceptance.Den != 2 || len(all.Overdue) != 2 || all.TimelyRouting.Den != 2 ||
		all.TimelyRouting.Num != 0 || all.Overdue[0].Acceptance != 1 || all.Overdue[0].Routing != 1 || all.Overdue[0].Total != 2 ||
		all.OverdueByUnit[strconv.FormatInt(f.t1.ID, 10)] != 2 || len(all.Outcomes) != len(casework.Outcomes) {
		t.Errorf("overdue: %+v", all)
	}
	want := map[string]int{"2026-03/330102": 1, "2026-03/330102001": 1, "2026-04/330102": 1}
	if len(all.Counts) != len(want) {
		t.Errorf("counts %+v", all.Counts)
	}
	for _, c := range all.Counts {
		if want[c.Month+"/"+c.Territory] != c.Count || c.CategoryID != april.CategoryID {
			t.Errorf("count %+v", c)
		}
	}
	if v := get(leader, "?unit_id="+strconv.FormatInt(f.t1.ID, 10)); v.Cases != 1 || v.UnitID != f.t1.ID || v.Counts[0].Territory != "330102001" {
		t.Errorf("the township's subtree: %+v", v)
	}
	if v := get(leader, "?from=2026-04-01&to=2026-04-30&repetition_days=30"); v.Cases != 1 || v.Repeat.Num != 1 || v.RepetitionDays != 30 ||
		v.From != "2026-04-01" || v.Counts[0].Month != "2026-04" {
		t.Errorf("April: %+v", v)
	}

	resp, body := leader.do("GET", "/api/v1/rates?unit_id="+strconv.FormatInt(f.d2.ID, 10), nil)
	wantStatus(t, resp, body, 403)
	leader.lang = "en"
	for query, field := range map[string]string{"?unit_id=x": "unit_id", "?unit_id=999999": "unit_id", "?from=2026-13-01": "from",
		"?from=2026-04-02&to=2026-04-01": "to", "?repetition_days=0": "repetition_days", "?repetition_days=400": "repetition_days"} {
		resp, body := leader.do("GET", "/api/v1/rates"+query, nil)
		wantStatus(t, resp, body, 400)
		if e := errCode(t, body); e.Field != field || e.Message == "" || e.Message[0] > 127 {
			t.Errorf("%s: %+v", query, e)
		}
	}
}

func init() {
	matrix["GET /api/v1/routing-units"] = matrixRow{list: true, call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/routing-units", nil }}
}

// TestRoutingUnits: a case can be routed within the tier of each unit where the caller handles
// cases — a city bureau's officer across the city, a township's handler within the township.
func TestRoutingUnits(t *testing.T) {
	f := newFixture(t, Config{})
	xfj, err := f.st.GetUnitByCode(bg, "330100-XFJ")
	if err != nil {
		t.Fatal(err)
	}
	codes := func(u org.User) map[string]bool {
		t.Helper()
		resp, body := f.loginUser(u).do("GET", "/api/v1/routing-units", nil)
		wantStatus(t, resp, body, 200)
		var v struct{ Units []UnitView }
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, u := range v.Units {
			if out[u.Code] {
				t.Errorf("%s listed twice", u.Code)
			}
			out[u.Code] = true
		}
		return out
	}
	city := codes(f.user(org.RoleIntakeOfficer, xfj))
	for _, c := range []string{"330100", "330100-ZJJ", "330102-RSJ", "330105", "330106002"} {
		if !city[c] {
			t.Errorf("the city bureau's officer cannot route to %s", c)
		}
	}
	if city[org.RootCode] {
		t.Error("the city bureau's officer routes above the city")
	}
	// Grants at the city and at one of its districts: the city once.
	both := f.user(org.RoleSupervisor, f.d1)
	if err := f.st.AddGrant(bg, &org.Grant{UserID: both.ID, Role: org.RoleLeader, UnitID: xfj.ParentID}); err != nil {
		t.Fatal(err)
	}
	if got := codes(both); len(got) != len(city) {
		t.Errorf("nested tiers: %d units, the city has %d", len(got), len(city))
	}
	town := codes(f.user(org.RoleCaseHandler, f.t1))
	if !town["330102001"] || town["330102"] || town["330102002"] {
		t.Errorf("the township's handler: %v", town)
	}
}
