package storetest

import (
	"strings"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

func testSlips(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	cat := org.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	bj := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, calendar.ChinaTZ) }
	c := newCase(t, s, tr, cat.ID, "交办", bj(3, 2, 9))

	a := casework.Assignment{CaseID: c.ID, AssignerUnitID: tr.D1.ID, AssignerID: 1, ResponsibleUnitID: tr.Dept.ID,
		CoUnitIDs: []int64{tr.T1.ID}, Requirements: "15 日内反馈", Instruction: "请依法妥善处理", Method: casework.AssignOnVideoCall,
		SessionID: "rs-7", RecordingOffset: 754500 * time.Millisecond, AssignedAt: bj(3, 3, 10), FeedbackDue: calendar.Date(2026, 3, 18)}
	if err := s.CreateAssignment(ctx, &a, casework.CaseEvent{ActorID: 1, Actor: "leader", UnitID: tr.D1.ID}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetAssignment(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != casework.AssignmentOpen || got.SessionID != "rs-7" || got.RecordingOffset != a.RecordingOffset ||
		!got.AssignedAt.Equal(a.AssignedAt) || !got.FeedbackDue.Equal(a.FeedbackDue) || got.Instruction != a.Instruction ||
		len(got.CoUnitIDs) != 1 || got.CoUnitIDs[0] != tr.T1.ID {
		t.Errorf("assignment round trip: %+v", got)
	}
	cs, _ := s.GetCase(ctx, c.ID)
	if cs.Status != casework.StAssigned || cs.ResponsibleUnitID != tr.Dept.ID {
		t.Errorf("case after assignment: %s %d", cs.Status, cs.ResponsibleUnitID)
	}
	// A second assignment while assigned is refused by the machine.
	a2 := a
	a2.ID = 0
	wantErr(t, s.CreateAssignment(ctx, &a2, casework.CaseEvent{}), org.ErrInvalid, "assign an assigned case")

	if err := s.ObjectAssignment(ctx, a.ID, "不属于本单位职责", casework.CaseEvent{ActorID: 3, Actor: "handler", UnitID: tr.Dept.ID}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.ObjectAssignment(ctx, a.ID, "again", casework.CaseEvent{}), org.ErrConflict, "object twice")
	got, _ = s.GetAssignment(ctx, a.ID)
	cs, _ = s.GetCase(ctx, c.ID)
	if got.Status != casework.AssignmentObjected || got.ObjectionReason != "不属于本单位职责" || got.ObjectedAt.IsZero() ||
		cs.Status != casework.StObjectionReturned {
		t.Errorf("after objection: %+v, case %s", got, cs.Status)
	}
	// Back with the assigner, not sideways: the objecting unit cannot route it on itself.
	sideways := a
	sideways.ID, sideways.AssignerUnitID, sideways.ResponsibleUnitID, sideways.CoUnitIDs = 0, tr.Dept.ID, tr.T1.ID, nil
	sideways.Method, sideways.SessionID, sideways.RecordingOffset = casework.AssignBySystem, "", 0
	wantErr(t, s.CreateAssignment(ctx, &sideways, casework.CaseEvent{ActorID: 3, Actor: "handler", UnitID: tr.Dept.ID}), org.ErrInvalid,
		"the objecting unit routes the returned case")
	// The assigner reassigns.
	a3 := a
	a3.ID, a3.ResponsibleUnitID, a3.CoUnitIDs, a3.Method, a3.SessionID, a3.RecordingOffset = 0, tr.T1.ID, nil, casework.AssignBySystem, "", 0
	if err := s.CreateAssignment(ctx, &a3, casework.CaseEvent{ActorID: 1, Actor: "leader", UnitID: tr.D1.ID}); err != nil {
		t.Fatal(err)
	}
	if as, err := s.ListAssignments(ctx, c.ID); err != nil || len(as) != 2 || as[1].ResponsibleUnitID != tr.T1.ID {
		t.Errorf("assignments: %+v %v", as, err)
	}

	// Supervision: one open item per matter.
	sv := casework.Supervision{CaseID: c.ID, UnitID: tr.T1.ID, OpenedBy: 1, Basis: "群众反映办理缓慢", Level: casework.SupLevelRoutine,
		Method: casework.SupByPhone, Deadline: calendar.Date(2026, 4, 2)}
	if err := s.OpenSupervision(ctx, &sv); err != nil {
		t.Fatal(err)
	}
	dup := sv
	dup.ID = 0
	wantErr(t, s.OpenSupervision(ctx, &dup), org.ErrConflict, "second open supervision")
	if cs, _ := s.GetCase(ctx, c.ID); !cs.Supervised {
		t.Error("case not flagged supervised")
	}
	for _, want := range []string{"on_site", "leader_coordination", "listed"} {
		if err := s.EscalateSupervision(ctx, sv.ID, casework.CaseEvent{ActorID: 1, Actor: "supervisor", At: bj(3, 19, 9)}); err != nil {
			t.Fatal(err)
		}
		if o, _ := s.OpenSupervisionFor(ctx, c.ID); o.Escalation != want {
			t.Errorf("escalation %s, want %s", o.Escalation, want)
		}
	}
	wantErr(t, s.EscalateSupervision(ctx, sv.ID, casework.CaseEvent{Actor: "supervisor"}), org.ErrInvalid, "escalate past the top")
	if o, _ := s.OpenSupervisionFor(ctx, c.ID); o.Level != casework.SupLevelListed {
		t.Errorf("level at the top: %s", o.Level)
	}
	wantErr(t, s.CloseSupervision(ctx, sv.ID, "maybe", "", casework.CaseEvent{}), org.ErrInvalid, "bad opinion")
	if err := s.CloseSupervision(ctx, sv.ID, casework.SupOpinionRe, "退回重办，建议约谈", casework.CaseEvent{ActorID: 1, Actor: "supervisor", At: bj(3, 20, 9)}); err != nil {
		t.Fatal(err)
	}
	_, err = s.OpenSupervisionFor(ctx, c.ID)
	wantErr(t, err, org.ErrNotFound, "no open supervision after close")
	if cs, _ := s.GetCase(ctx, c.ID); cs.Supervised {
		t.Error("case still flagged supervised")
	}
	// Opening, each escalation and the closing are on the timeline, with who did them.
	var steps []string
	evs, _ := s.ListCaseEvents(ctx, c.ID)
	for _, e := range evs {
		if e.Kind == casework.EvSupervision {
			steps = append(steps, e.Actor+":"+e.Reason)
		}
	}
	if len(steps) != 5 || !strings.Contains(steps[0], "督办：群众反映办理缓慢") ||
		!strings.Contains(steps[3], "leader_coordination → listed") || steps[4] != "supervisor:督办审核：退回重办" {
		t.Errorf("supervision on the timeline: %q", steps)
	}
	// A new item may open after the old one closed.
	sv2 := sv
	sv2.ID = 0
	if err := s.OpenSupervision(ctx, &sv2); err != nil {
		t.Errorf("reopen after close: %v", err)
	}
}

// testOverdueJob drives casework.OpenOverdueSupervisions with a fake clock (its now argument).
func testOverdueJob(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	cat := org.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	cal, rules := calendar.DefaultCalendar(), casework.DefaultRules()
	bj := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, calendar.ChinaTZ) }
	// Registered 2026-03-02: routing due 03-17. Accepted on 03-05: handling due 05-04 → 05-06 after 劳动节.
	idle := newCase(t, s, tr, cat.ID, "未转办", bj(3, 2, 9))
	busy := newCase(t, s, tr, cat.ID, "办理中", bj(3, 2, 9))
	for _, ev := range []casework.CaseEvent{
		{From: casework.StRegistered, To: casework.StAccepted, At: bj(3, 5, 9)},
		{From: casework.StAccepted, To: casework.StInProgress, At: bj(3, 5, 10)},
	} {
		ev.CaseID, ev.Actor = busy.ID, "officer"
		if err := s.TransitionCase(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	run := func(now time.Time, want int) {
		t.Helper()
		n, err := casework.OpenOverdueSupervisions(ctx, s, cal, rules, now)
		if err != nil || n != want {
			t.Fatalf("at %s: opened %d, %v; want %d", now, n, err, want)
		}
	}
	run(bj(3, 17, 23), 0)
	run(bj(3, 18, 0), 1) // the routing period ended with 03-17
	sv, err := s.OpenSupervisionFor(ctx, idle.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sv.OpenedBy != 0 || sv.UnitID != tr.D1.ID || !sv.Deadline.Equal(calendar.Date(2026, 4, 17)) || sv.Escalation != "reminder" {
		t.Errorf("automatic item: %+v", sv)
	}
	run(bj(3, 19, 0), 0) // one item per matter: nothing new
	d, ok, err := casework.CaseDeadline(ctx, s, cal, rules, mustCase(t, s, busy.ID), bj(5, 1, 0))
	if err != nil || !ok || !d.Due.Equal(calendar.Date(2026, 5, 6)) {
		t.Fatalf("handling deadline: %v %v %v", d.Due, ok, err)
	}
	run(bj(5, 6, 23), 0)
	run(bj(5, 7, 0), 1)
	if _, err := s.OpenSupervisionFor(ctx, busy.ID); err != nil {
		t.Errorf("busy case: %v", err)
	}
	// A closed case runs no clock.
	closed := newCase(t, s, tr, cat.ID, "已办结", bj(3, 2, 9))
	for _, st := range [][2]casework.CaseStatus{{casework.StRegistered, casework.StAccepted}, {casework.StAccepted, casework.StInProgress},
		{casework.StInProgress, casework.StAnswered}, {casework.StAnswered, casework.StClosed}} {
		ev := casework.CaseEvent{CaseID: closed.ID, From: st[0], To: st[1], Reason: "办理", Result: casework.ResultExplain, At: bj(3, 3, 9)}
		if err := s.TransitionCase(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	run(bj(12, 1, 0), 0)
}

func mustCase(t *testing.T, s scheduler.Store, id int64) casework.Case {
	t.Helper()
	c, err := s.GetCase(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
