package api

import (
	"testing"
	"time"

	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// TestNextYearEnteredOnTheHolidayPage: the keeper enters next year's days as the holiday page does
// (GET /holiday-calendar, then PUT /holidays/{date} day by day); a case's deadline that ran into
// that year, provisional before (weekday rule), is exact after, in the case and in the list. The
// days are test data, not a State Council notice.
func TestNextYearEnteredOnTheHolidayPage(t *testing.T) {
	f := newFixture(t, Config{})
	f.clock.t = time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC) // 10:00 in Beijing
	c := f.newCase(f.d1, nil)
	f.walk(c, casework.StAccepted)
	officer := f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	deadlines := func() (one, listed DeadlineView) {
		t.Helper()
		resp, body := officer.do("GET", caseURL(c, "/deadline"), nil)
		wantStatus(t, resp, body, 200)
		one = decodeJSON[struct{ Deadline DeadlineView }](t, body).Deadline
		resp, body = officer.do("GET", "/api/v1/cases", nil)
		wantStatus(t, resp, body, 200)
		for _, it := range decodeJSON[struct{ Cases []CaseListItem }](t, body).Cases {
			if it.Case.ID == c.ID && it.Deadline != nil {
				listed = *it.Deadline
			}
		}
		return one, listed
	}
	// 2026-12-01 + 60 days = 2027-01-30, a Saturday: by the weekday rule Monday 2027-02-01.
	one, listed := deadlines()
	if !one.Provisional || one.Due != "2027-02-01" || one.Note == "" || !listed.Provisional || listed.Due != "2027-02-01" {
		t.Fatalf("before 2027 is entered: case %+v, list %+v", one, listed)
	}

	admin := f.loginUser(f.user(org.RoleAdmin, f.root))
	resp, body := admin.do("GET", "/api/v1/holiday-calendar?year=2027", nil)
	wantStatus(t, resp, body, 200)
	if v := decodeJSON[struct{ Covered bool }](t, body); v.Covered {
		t.Fatal("2027 covered before any entry")
	}
	// Test data: a three-day rest on 2027-02-01..03 and the Saturday before worked instead.
	for date, kind := range map[string]string{"2027-02-01": "holiday", "2027-02-02": "holiday", "2027-02-03": "holiday", "2027-01-30": "workday"} {
		resp, body := admin.do("PUT", "/api/v1/holidays/"+date, map[string]string{"kind": kind, "name": "测试数据"})
		wantStatus(t, resp, body, 200)
	}
	// The Saturday the period ends on is now a working day: due that day, not provisional.
	one, listed = deadlines()
	if one.Provisional || one.Note != "" || one.Due != "2027-01-30" || listed.Provisional || listed.Due != "2027-01-30" {
		t.Errorf("after 2027 is entered: case %+v, list %+v", one, listed)
	}
	resp, body = admin.do("PUT", "/api/v1/holidays/2027-01-30", map[string]string{"kind": "holiday", "name": "测试数据"})
	wantStatus(t, resp, body, 200)
	// Now a rest day followed by three holidays: the next working day is Thursday 2027-02-04.
	if one, listed = deadlines(); one.Provisional || one.Due != "2027-02-04" || listed.Due != "2027-02-04" {
		t.Errorf("after the Saturday became a rest day: case %+v, list %+v", one, listed)
	}
}
