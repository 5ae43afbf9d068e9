package api

import (
	"slices"
	"strings"
	"testing"

	"sanji/scheduler/org"
)

func init() {
	matrix["GET /api/v1/holiday-calendar"] = matrixRow{grantAtRoot: true, call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/holiday-calendar?year=2027", nil
	}}
}

// TestHolidayCalendarForItsKeeper: the administrator at the root, who keeps the calendar but may
// not read sessions, reads a year and the years entered; /me offers the calendar to them only, not
// to an administrator below the root, whose writes the root check refuses.
func TestHolidayCalendarForItsKeeper(t *testing.T) {
	f := newFixture(t, Config{})
	admin := f.loginUser(f.user(org.RoleAdmin, f.root))
	district := f.loginUser(f.user(org.RoleAdmin, f.d1))
	can := func(c *client) []string {
		t.Helper()
		resp, body := c.do("GET", "/api/v1/me", nil)
		wantStatus(t, resp, body, 200)
		return decodeJSON[MeResponse](t, body).Can
	}
	if got := can(admin); !slices.Contains(got, org.ActHolidayWrite) || !slices.Contains(got, org.ActCategoryWrite) {
		t.Errorf("the root admin's can lacks the calendar or the categories: %v", got)
	}
	if got := can(district); slices.Contains(got, org.ActHolidayWrite) || slices.Contains(got, org.ActCategoryWrite) || !slices.Contains(got, org.ActUserWrite) {
		t.Errorf("a district admin's can: %v", got)
	}
	if resp, body := admin.do("GET", "/api/v1/holidays?year=2027", nil); resp.StatusCode != 403 {
		t.Fatalf("the admin reads the session calendar: %d %s", resp.StatusCode, body)
	}

	type calendarView struct {
		Holidays []HolidayView
		Covered  bool
		Verified bool
		Years    []CalendarYearView
	}
	read := func(year string) calendarView {
		t.Helper()
		resp, body := admin.do("GET", "/api/v1/holiday-calendar?year="+year, nil)
		wantStatus(t, resp, body, 200)
		return decodeJSON[calendarView](t, body)
	}
	before := read("2099")
	if before.Covered || len(before.Holidays) != 0 || slices.ContainsFunc(before.Years, func(y CalendarYearView) bool { return y.Year == 2099 }) {
		t.Fatalf("2099 before entry: %+v", before)
	}
	for date, kind := range map[string]string{"2099-01-01": "holiday", "2099-01-04": "workday"} {
		resp, body := admin.do("PUT", "/api/v1/holidays/"+date, map[string]string{"kind": kind, "name": "元旦"})
		wantStatus(t, resp, body, 200)
	}
	after := read("2099")
	if !after.Covered || !after.Verified || len(after.Holidays) != 2 || after.Holidays[1].Kind != "workday" ||
		!slices.Contains(after.Years, CalendarYearView{Year: 2099, Verified: true}) {
		t.Errorf("2099 after entry: %+v", after)
	}
	if !slices.IsSortedFunc(after.Years, func(a, b CalendarYearView) int { return a.Year - b.Year }) {
		t.Errorf("years not in order: %+v", after.Years)
	}
	for _, name := range []string{"", "  ", strings.Repeat("节", maxHolidayName+1)} {
		resp, body := admin.do("PUT", "/api/v1/holidays/2099-01-05", map[string]string{"kind": "holiday", "name": name})
		if resp.StatusCode != 400 || !strings.Contains(string(body), `"field":"name"`) {
			t.Errorf("a day named %q: %d %s", name, resp.StatusCode, body)
		}
	}
	if v := read("2099"); len(v.Holidays) != 2 {
		t.Errorf("a refused day was stored: %+v", v.Holidays)
	}
	if resp, body := admin.do("GET", "/api/v1/holiday-calendar?year=abc", nil); resp.StatusCode != 400 {
		t.Errorf("a bad year: %d %s", resp.StatusCode, body)
	}
	if resp, body := district.do("GET", "/api/v1/holiday-calendar?year=2099", nil); resp.StatusCode != 403 {
		t.Errorf("a district admin reads the calendar's keeper view: %d %s", resp.StatusCode, body)
	}
}
