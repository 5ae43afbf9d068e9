package storetest

import (
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/rates"
)

// testRatesScopeAndPeriod: the statistics count the cases registered in a subtree or routed to
// one of its units, once; the period bounds registration by the Beijing day; a repeat and a
// return after closure are judged on the person's whole history, outside the scope and period too.
func testRatesScopeAndPeriod(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	cat := org.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	bj := func(m time.Month, d, h, min int) time.Time {
		return time.Date(2026, m, d, h, min, 0, 0, calendar.ChinaTZ)
	}
	mk := func(unit org.Unit, id string, at time.Time) casework.Case {
		t.Helper()
		_, hash, _ := casework.NewQueryCode()
		c := casework.Case{UnitID: unit.ID, Territory: "330102", Form: casework.FormVisit, Type: casework.TypeClaim, CategoryID: cat.ID,
			Title: "欠薪", QueryCodeHash: hash, RegisteredAt: at, Petitioners: []casework.Petitioner{{Name: "某人", IDNumber: id, Role: casework.PetitionerSelf}}}
		if err := s.CreateCase(ctx, &c, casework.CaseEvent{Actor: "intake"}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	step := func(c casework.Case, from, to casework.CaseStatus, at time.Time, resp int64) {
		t.Helper()
		ev := casework.CaseEvent{CaseID: c.ID, From: from, To: to, At: at, Reason: "办理", Result: casework.ResultSupport, ResponsibleUnitID: resp}
		if err := s.TransitionCase(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	const p, q = "33010219700101001X", "330102198002020022"
	// a: registered in D2, assigned to D1's department, closed on 3-20.
	a := mk(tr.D2, p, bj(3, 2, 10, 0))
	step(a, casework.StRegistered, casework.StAssigned, bj(3, 3, 10, 0), tr.Dept.ID)
	step(a, casework.StAssigned, casework.StAccepted, bj(3, 4, 10, 0), 0)
	step(a, casework.StAccepted, casework.StInProgress, bj(3, 4, 10, 0), 0)
	step(a, casework.StInProgress, casework.StAnswered, bj(3, 19, 10, 0), 0)
	step(a, casework.StAnswered, casework.StClosed, bj(3, 20, 10, 0), 0)
	// b: the same person and matter back 21 days later, at a township of D1 (the ID's check
	// letter in lower case: the same person).
	mk(tr.T1, "33010219700101001x", bj(4, 10, 10, 0))
	// The last minutes of April and the first of May in Beijing (both 30 April in UTC).
	mk(tr.D1, q, bj(4, 30, 23, 30))
	mk(tr.D1, q, bj(5, 1, 0, 30))

	ratesOf := func(q rates.RatesQuery) rates.Rates {
		t.Helper()
		r, err := rates.RatesFor(ctx, s, q, calendar.DefaultCalendar(), casework.DefaultRules(), bj(7, 1, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := ratesOf(rates.RatesQuery{UnderPaths: []string{tr.D1.Path}})
	if r.Cases != 4 || r.Repeat != (rates.Rate{Num: 2, Den: 4}) || r.Repetitioned != (rates.Rate{Num: 1, Den: 1}) {
		t.Errorf("D1 (a routed to its department): %+v", r)
	}
	if r := ratesOf(rates.RatesQuery{UnderPaths: []string{tr.D1.Path, tr.City.Path, tr.D2.Path}}); r.Cases != 4 {
		t.Errorf("nested subtrees count a case once: %+v", r)
	}
	if r := ratesOf(rates.RatesQuery{UnderPaths: []string{tr.D2.Path}}); r.Cases != 1 || r.Repetitioned != (rates.Rate{Num: 1, Den: 1}) {
		t.Errorf("D2: a came back at D1 and counts as such in D2: %+v", r)
	}
	april := ratesOf(rates.RatesQuery{UnderPaths: []string{tr.City.Path}, From: calendar.Date(2026, 4, 1), To: calendar.Date(2026, 4, 30)})
	if april.Cases != 2 || april.Repeat != (rates.Rate{Num: 1, Den: 2}) || april.Repetitioned.Den != 0 ||
		april.Counts[rates.CountKey{CategoryID: cat.ID, Territory: "330102", Month: "2026-04"}] != 2 || len(april.Counts) != 1 {
		t.Errorf("April (b, the 23:30 case; b a repeat of March's a): %+v", april)
	}
	may, err := s.ListCases(ctx, casework.CaseFilter{RegisteredFrom: bj(5, 1, 0, 0), RegisteredBefore: bj(6, 1, 0, 0)})
	if err != nil || len(may) != 1 || !may[0].RegisteredAt.Equal(bj(5, 1, 0, 30)) {
		t.Errorf("cases registered in May: %+v %v", may, err)
	}
}
