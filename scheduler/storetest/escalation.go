package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// testSupervisionEscalation: a 督办 item past its feedback date climbs the ladder and the tree by
// itself, once per missed date, noted on the timeline and listed for the office it reached.
func testSupervisionEscalation(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	cat := org.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	cal, rules := calendar.DefaultCalendar(), casework.DefaultRules()
	bj := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, calendar.ChinaTZ) }
	// Registered 2026-03-02 at D1, never routed: the routing period ends 03-17, the clock job
	// opens an item on 03-18 with feedback due 04-17 (30 days).
	c := newCase(t, s, tr, cat.ID, "督办逾期", bj(3, 2, 9))
	if n, err := casework.OpenOverdueSupervisions(ctx, s, cal, rules, bj(3, 18, 0)); err != nil || n != 1 {
		t.Fatalf("open: %d %v", n, err)
	}
	climb := func(now time.Time, want int) []casework.Escalation {
		t.Helper()
		ups, err := casework.EscalateOverdueSupervisions(ctx, s, cal, rules, now)
		if err != nil || len(ups) != want {
			t.Fatalf("at %s: %d escalations, %v; want %d", now, len(ups), err, want)
		}
		return ups
	}
	climb(bj(4, 17, 23), 0) // the feedback date is the unit's to its end
	ups := climb(bj(4, 18, 0), 1)
	e := ups[0]
	if e.From != "reminder" || e.To != "on_site" || e.CaseNumber != c.Number || !e.MissedDue.Equal(calendar.Date(2026, 4, 17)) ||
		e.Supervision.EscalatedUnitID != tr.City.ID || !e.Supervision.Deadline.Equal(calendar.Date(2026, 5, 18)) || e.Supervision.Overdue != 1 {
		t.Errorf("first climb: %+v", e)
	}
	// Idempotent: a second run, or a second node, finds the rung moved on.
	climb(bj(4, 18, 1), 0)
	sv := e.Supervision
	if _, err := s.EscalateOverdueSupervision(ctx, sv.ID, "reminder", calendar.Date(2026, 5, 18), casework.CaseEvent{At: bj(4, 18, 2), Actor: "system"}); !errors.Is(err, org.ErrConflict) {
		t.Errorf("second climb from the same rung: %v", err)
	}
	if _, err := s.EscalateOverdueSupervision(ctx, sv.ID, "on_site", calendar.Date(2026, 6, 1), casework.CaseEvent{At: bj(5, 18, 23), Actor: "system"}); !errors.Is(err, org.ErrConflict) {
		t.Errorf("climb before the new feedback date passed: %v", err)
	}
	// The office reached lists it; an office elsewhere does not.
	list := func(f casework.SupervisionFilter) int {
		t.Helper()
		svs, err := s.ListSupervisionsWhere(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return len(svs)
	}
	if list(casework.SupervisionFilter{OpenOnly: true, OfficeUnder: tr.City.Path}) != 1 || list(casework.SupervisionFilter{OfficeUnder: tr.D2.Path}) != 0 ||
		list(casework.SupervisionFilter{UnitUnder: tr.D1.Path}) != 1 || list(casework.SupervisionFilter{UnitUnder: tr.D2.Path}) != 0 {
		t.Error("lists by office and by supervised unit")
	}
	evs, err := s.ListCaseEvents(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, ev := range evs {
		if ev.Kind == casework.EvSupervisionOverdue {
			notes = append(notes, ev.Reason)
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "2026-04-17") || !strings.Contains(notes[0], "reminder → on_site") || !strings.Contains(notes[0], tr.City.Name) {
		t.Errorf("timeline: %q", notes)
	}
	// 05-18 missed: on to leader coordination at the root (the city's parent).
	e = climb(bj(5, 19, 0), 1)[0]
	if e.To != "leader_coordination" || e.Supervision.EscalatedUnitID != tr.Root.ID || !e.Supervision.Deadline.Equal(calendar.Date(2026, 6, 18)) {
		t.Errorf("second climb: %+v", e)
	}
	// 06-18 missed: listed supervision; the root has no office above, it stays there.
	e = climb(bj(6, 19, 0), 1)[0]
	if e.To != "listed" || e.Supervision.Level != casework.SupLevelListed || e.Supervision.EscalatedUnitID != tr.Root.ID || e.Supervision.Overdue != 3 {
		t.Errorf("third climb: %+v", e)
	}
	if !e.Supervision.Deadline.Equal(calendar.Date(2026, 7, 20)) { // 07-19 is a Sunday: the next working day
		t.Errorf("listed, feedback due %s", e.Supervision.Deadline.Format("2006-01-02"))
	}
	climb(bj(12, 1, 0), 0) // the top of the ladder
	// A supervisor's escalation climbs the same way, without counting a missed date.
	c2 := newCase(t, s, tr, cat.ID, "人工升级", bj(3, 2, 9))
	sv2 := casework.Supervision{CaseID: c2.ID, UnitID: tr.T1.ID, Basis: "领导批示", Level: casework.SupLevelRoutine, Method: casework.SupWritten,
		Deadline: calendar.Date(2026, 4, 17), OpenedAt: bj(3, 18, 9)}
	if err := s.OpenSupervision(ctx, &sv2); err != nil {
		t.Fatal(err)
	}
	if err := s.EscalateSupervision(ctx, sv2.ID, casework.CaseEvent{At: bj(3, 20, 9), Actor: "sup"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.OpenSupervisionFor(ctx, c2.ID)
	if err != nil || got.EscalatedUnitID != tr.D1.ID || got.Overdue != 0 || got.Escalation != "on_site" || !got.Deadline.Equal(calendar.Date(2026, 4, 17)) {
		t.Errorf("manual climb: %+v %v", got, err)
	}
}
