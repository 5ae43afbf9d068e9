package storetest

import (
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// Case records: numbers per territory and year, petitioners round trip, the status machine in the
// store, the timeline, optimistic transitions and filters.

func newCase(t *testing.T, s scheduler.Store, tr Tree, cat int64, title string, at time.Time) casework.Case {
	t.Helper()
	_, hash, err := casework.NewQueryCode()
	if err != nil {
		t.Fatal(err)
	}
	c := casework.Case{UnitID: tr.D1.ID, Territory: "330102", Form: casework.FormVisit, Type: casework.TypeAccusation,
		CategoryID: cat, Title: title, Content: "反映某科室问题", QueryCodeHash: hash, ComplainedUnitID: tr.Dept.ID,
		ComplainedParty: "上城区人社局某科", InvolvedCount: 7, RegisteredAt: at, CoUnitIDs: []int64{tr.T1.ID},
		Petitioners: []casework.Petitioner{
			{Name: "张三", IDNumber: "330102199001011234", Phone: "13812345678", Address: "上城区某路1号", Role: casework.PetitionerRepresentative, AgreesToPublic: true},
			{Anonymous: true, Role: casework.PetitionerRepresentative},
		}}
	if err := s.CreateCase(ctx, &c, casework.CaseEvent{ActorID: 1, Actor: "intake", UnitID: tr.D1.ID, Reason: "来访登记"}); err != nil {
		t.Fatalf("create case: %v", err)
	}
	return c
}

func testCases(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	cat := org.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	bj := func(y int, m time.Month, d, h int) time.Time {
		return time.Date(y, m, d, h, 0, 0, 0, calendar.ChinaTZ)
	}

	c1 := newCase(t, s, tr, cat.ID, "一", bj(2026, 3, 2, 9))
	c2 := newCase(t, s, tr, cat.ID, "二", bj(2026, 3, 2, 10))
	// 00:30 on 1 January in Beijing is still 31 December in UTC: the year is Beijing's.
	c3 := newCase(t, s, tr, cat.ID, "三", bj(2027, 1, 1, 0).Add(30*time.Minute))
	for c, want := range map[string]string{c1.Number: "330102-2026-V-000001", c2.Number: "330102-2026-V-000002", c3.Number: "330102-2027-V-000001"} {
		if c != want {
			t.Errorf("number %s, want %s", c, want)
		}
	}
	if c1.Status != casework.StRegistered {
		t.Errorf("status %s", c1.Status)
	}

	got, err := s.GetCase(ctx, c1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != c1.Number || len(got.Petitioners) != 2 || got.Petitioners[0] != c1.Petitioners[0] ||
		!got.Petitioners[1].Anonymous || got.ComplainedUnitID != tr.Dept.ID || got.InvolvedCount != 7 ||
		len(got.CoUnitIDs) != 1 || got.CoUnitIDs[0] != tr.T1.ID || !got.RegisteredAt.Equal(c1.RegisteredAt) ||
		got.Type != casework.TypeAccusation || got.Content != c1.Content {
		t.Errorf("round trip: %+v\nwant %+v", got, c1)
	}
	if g, err := s.GetCaseByNumber(ctx, c2.Number); err != nil || g.ID != c2.ID {
		t.Errorf("by number: %v %v", g.ID, err)
	}
	if g, err := s.GetCaseByQueryHash(ctx, c3.QueryCodeHash); err != nil || g.ID != c3.ID {
		t.Errorf("by query code: %v %v", g.ID, err)
	}
	_, err = s.GetCase(ctx, 999999)
	wantErr(t, err, org.ErrNotFound, "missing case")
	bad := c1
	bad.ID, bad.Title = 0, ""
	wantErr(t, s.CreateCase(ctx, &bad, casework.CaseEvent{}), org.ErrInvalid, "case without title")
	dupHash := c1
	dupHash.ID, dupHash.Petitioners = 0, c1.Petitioners[:1]
	wantErr(t, s.CreateCase(ctx, &dupHash, casework.CaseEvent{}), org.ErrConflict, "same query code twice")
	noCat := c1
	noCat.ID, noCat.CategoryID = 0, 999999
	_, noCat.QueryCodeHash, _ = casework.NewQueryCode()
	wantErr(t, s.CreateCase(ctx, &noCat, casework.CaseEvent{}), org.ErrConflict, "missing category")

	step := func(c casework.Case, from, to casework.CaseStatus, mod func(*casework.CaseEvent)) error {
		ev := casework.CaseEvent{CaseID: c.ID, ActorID: 2, Actor: "officer", UnitID: tr.D1.ID, From: from, To: to, Reason: "依规"}
		if mod != nil {
			mod(&ev)
		}
		return s.TransitionCase(ctx, &ev)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(step(c1, casework.StRegistered, casework.StAssigned, func(e *casework.CaseEvent) {
		e.ResponsibleUnitID, e.CoUnitIDs = tr.Dept.ID, []int64{tr.T1.ID, tr.D2.ID}
	}))
	// The machine refuses; a stale From is a conflict; nothing changed either time.
	wantErr(t, step(c1, casework.StAssigned, casework.StClosed, nil), org.ErrInvalid, "assigned → closed")
	wantErr(t, step(c1, casework.StRegistered, casework.StForwarded, func(e *casework.CaseEvent) { e.ResponsibleUnitID = tr.D2.ID }),
		org.ErrConflict, "stale from")
	wantErr(t, step(casework.Case{ID: 999999}, casework.StRegistered, casework.StAccepted, nil), org.ErrNotFound, "missing case")
	must(step(c1, casework.StAssigned, casework.StObjectionReturned, func(e *casework.CaseEvent) { e.Reason = "不属于本单位职责" }))
	must(step(c1, casework.StObjectionReturned, casework.StAssigned, func(e *casework.CaseEvent) { e.ResponsibleUnitID = tr.T1.ID }))
	acceptAt := bj(2026, 3, 5, 9)
	must(step(c1, casework.StAssigned, casework.StAccepted, func(e *casework.CaseEvent) { e.At = acceptAt; e.UnitID = tr.T1.ID }))
	must(step(c1, casework.StAccepted, casework.StInProgress, nil))
	must(step(c1, casework.StInProgress, casework.StAnswered, func(e *casework.CaseEvent) { e.Result = casework.ResultSupport }))
	must(step(c1, casework.StAnswered, casework.StClosed, nil))

	got, err = s.GetCase(ctx, c1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != casework.StClosed || got.ResponsibleUnitID != tr.T1.ID || len(got.CoUnitIDs) != 0 ||
		got.Result != casework.ResultSupport || !got.AcceptedAt.Equal(acceptAt) || got.ClosedAt.IsZero() {
		t.Errorf("after the steps: %+v", got)
	}
	evs, err := s.ListCaseEvents(ctx, c1.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []casework.CaseStatus{casework.StRegistered, casework.StAssigned, casework.StObjectionReturned, casework.StAssigned,
		casework.StAccepted, casework.StInProgress, casework.StAnswered, casework.StClosed}
	if len(evs) != len(want) {
		t.Fatalf("timeline has %d events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, e := range evs {
		if e.To != want[i] || e.Kind != "status" || e.CaseID != c1.ID || e.At.IsZero() || e.ID == 0 {
			t.Errorf("event %d: %+v, want to %s", i, e, want[i])
		}
		if i > 0 && e.From != want[i-1] {
			t.Errorf("event %d from %s, want %s", i, e.From, want[i-1])
		}
	}
	if evs[0].Actor != "intake" || evs[0].Reason != "来访登记" || !evs[0].At.Equal(c1.RegisteredAt) {
		t.Errorf("registration event: %+v", evs[0])
	}
	if evs[1].ResponsibleUnitID != tr.Dept.ID || fmt.Sprint(evs[1].CoUnitIDs) != fmt.Sprint([]int64{tr.T1.ID, tr.D2.ID}) {
		t.Errorf("assignment event: %+v", evs[1])
	}
	if evs[2].Reason != "不属于本单位职责" || evs[4].UnitID != tr.T1.ID || !evs[4].At.Equal(acceptAt) || evs[6].Result != casework.ResultSupport {
		t.Errorf("events: %+v", evs)
	}

	// Filters.
	list := func(f casework.CaseFilter) []int64 {
		t.Helper()
		cs, err := s.ListCases(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		return ids
	}
	if ids := list(casework.CaseFilter{UnderPath: tr.City.Path}); fmt.Sprint(ids) != fmt.Sprint([]int64{c3.ID, c2.ID, c1.ID}) {
		t.Errorf("all, newest first: %v", ids)
	}
	if ids := list(casework.CaseFilter{UnderPath: tr.D2.Path}); len(ids) != 0 {
		t.Errorf("another district: %v", ids)
	}
	if ids := list(casework.CaseFilter{Status: casework.StClosed}); fmt.Sprint(ids) != fmt.Sprint([]int64{c1.ID}) {
		t.Errorf("closed: %v", ids)
	}
	if ids := list(casework.CaseFilter{ResponsibleUnitID: tr.T1.ID}); fmt.Sprint(ids) != fmt.Sprint([]int64{c1.ID}) {
		t.Errorf("by responsible unit: %v", ids)
	}
	if ids := list(casework.CaseFilter{BeforeID: c3.ID, Limit: 1}); fmt.Sprint(ids) != fmt.Sprint([]int64{c2.ID}) {
		t.Errorf("paging: %v", ids)
	}
	if cs, _ := s.ListCases(ctx, casework.CaseFilter{Limit: 1}); len(cs) != 1 || len(cs[0].Petitioners) != 2 {
		t.Errorf("listed cases carry their petitioners: %+v", cs)
	}

	// Two transitions from the same status at once: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = step(c2, casework.StRegistered, casework.StAccepted, nil)
		}(i)
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent transitions won, want 1: %v", won, errs)
	}

	// Numbers stay unique when registrations race.
	nums := make([]string, 6)
	for i := range nums {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, hash, _ := casework.NewQueryCode()
			c := casework.Case{UnitID: tr.D1.ID, Territory: "330105", Form: casework.FormLetter, Type: casework.TypeClaim,
				CategoryID: cat.ID, Title: "并发", QueryCodeHash: hash, RegisteredAt: bj(2026, 5, 1, 9),
				Petitioners: []casework.Petitioner{{Name: "王五", Role: casework.PetitionerSelf}}}
			if err := s.CreateCase(ctx, &c, casework.CaseEvent{Actor: "intake"}); err != nil {
				t.Errorf("concurrent create: %v", err)
			}
			nums[i] = c.Number
		}(i)
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, n := range nums {
		seen[n] = true
	}
	if len(seen) != 6 || !seen["330105-2026-L-000006"] {
		t.Errorf("concurrent numbers: %v", nums)
	}
}

// testCaseEventsAppendOnly: the timeline is evidence; the schema refuses to change or delete it.
func testCaseNotes(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	cat := org.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	c := newCase(t, s, tr, cat.ID, "录像", time.Date(2026, 3, 2, 9, 0, 0, 0, calendar.ChinaTZ))
	note := casework.CaseEvent{CaseID: c.ID, Kind: "recording", Ref: "recording:s1-a2", Reason: "录像已封存 head ab12", Actor: "system"}
	if err := s.AddCaseNote(ctx, &note); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ListCaseEvents(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.ID != note.ID || last.Kind != "recording" || last.Ref != "recording:s1-a2" || last.At.IsZero() {
		t.Errorf("note on the timeline: %+v", last)
	}
	if got, _ := s.GetCase(ctx, c.ID); got.Status != c.Status {
		t.Errorf("a note changed the status: %s -> %s", c.Status, got.Status)
	}
	wantErr(t, s.AddCaseNote(ctx, &casework.CaseEvent{CaseID: c.ID, Kind: "status"}), org.ErrInvalid, "a status note")
	wantErr(t, s.AddCaseNote(ctx, &casework.CaseEvent{CaseID: c.ID}), org.ErrInvalid, "a note without a kind")
	wantErr(t, s.AddCaseNote(ctx, &casework.CaseEvent{CaseID: c.ID, Kind: casework.EvClockPaused}), org.ErrInvalid, "a clock event as a note")
	wantErr(t, s.AddCaseNote(ctx, &casework.CaseEvent{CaseID: c.ID, Kind: "x", To: casework.StClosed}), org.ErrInvalid, "a note that moves the case")
	wantErr(t, s.AddCaseNote(ctx, &casework.CaseEvent{CaseID: 999999, Kind: "x"}), org.ErrNotFound, "a note on no case")
}

func testCaseEventsAppendOnly(t *testing.T, s scheduler.Store) {
	dbs, ok := s.(interface{ DB() *sql.DB })
	if !ok {
		t.Fatal("the store does not expose its database handle (DB() *sql.DB)")
	}
	tr := BuildTree(t, s)
	cat := org.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	newCase(t, s, tr, cat.ID, "证据", time.Date(2026, 3, 2, 9, 0, 0, 0, calendar.ChinaTZ))
	for _, q := range []string{`UPDATE case_events SET reason = 'changed'`, `DELETE FROM case_events`} {
		if _, err := dbs.DB().ExecContext(ctx, q); err == nil {
			t.Errorf("%s: accepted", q)
		}
	}
}
