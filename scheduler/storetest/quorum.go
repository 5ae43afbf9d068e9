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

// testConsultationQuorum: the competent unit signs only when every other participating unit has
// given its opinion or is recorded absent with a reason, by a member of the competent unit.
func testConsultationQuorum(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	cat := org.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	bj := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, calendar.ChinaTZ) }
	c := newCase(t, s, tr, cat.ID, "会商法定人数", bj(2, 9))
	leader := member(t, s, "q-leader", org.RoleLeader, tr.D1)
	dept := member(t, s, "q-dept", org.RoleCaseHandler, tr.Dept)
	// Worked example: on 2026-03-10 the district (competent) convenes 人社局 and 清波街道; 人社局
	// answers on 03-11, the township never does; signing on 03-12 is refused naming 清波街道;
	// the district records it absent (「未派员参加，电话通知两次」) and signs.
	k := casework.Consultation{CaseID: c.ID, CompetentUnitID: tr.D1.ID, UnitIDs: []int64{tr.D1.ID, tr.Dept.ID, tr.T1.ID}, Subject: "欠薪责任划分"}
	if err := s.CreateConsultation(ctx, &k, actorOf(leader, bj(10, 9))); err != nil {
		t.Fatal(err)
	}
	if err := s.AddConsultationOpinion(ctx, k.ID, casework.Opinion{UnitID: tr.Dept.ID, Text: "由人社局牵头"}, actorOf(dept, bj(11, 9))); err != nil {
		t.Fatal(err)
	}
	err := s.SignConsultation(ctx, k.ID, "由人社局牵头办理", actorOf(leader, bj(12, 9)))
	wantErr(t, err, org.ErrInvalid, "sign before the quorum")
	if fe, ok := err.(*org.FieldError); !ok || !strings.Contains(fe.Error(), tr.T1.Name) && !strings.Contains(fe.Error(), "quorum") {
		t.Logf("refusal: %v", err)
	}
	got, _ := s.GetConsultation(ctx, k.ID)
	if m := got.Missing(); len(m) != 1 || m[0] != tr.T1.ID {
		t.Errorf("missing: %v", m)
	}
	absent := func(u org.User, unit org.Unit, reason string) error {
		return s.RecordConsultationAbsence(ctx, k.ID, casework.Absence{UnitID: unit.ID, Reason: reason}, actorOf(u, bj(12, 10)))
	}
	wantErr(t, absent(dept, tr.T1, "未到会"), org.ErrInvalid, "absence recorded by a unit that is not competent")
	wantErr(t, absent(leader, tr.T1, " "), org.ErrInvalid, "absence without a reason")
	wantErr(t, absent(leader, tr.Dept, "未到会"), org.ErrInvalid, "absence of a unit that gave its opinion")
	wantErr(t, absent(leader, tr.D2, "未到会"), org.ErrInvalid, "absence of a unit taking no part")
	if err := absent(leader, tr.T1, "未派员参加，电话通知两次"); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetConsultation(ctx, k.ID)
	if len(got.Absences) != 1 || got.Absences[0].By != leader.ID || !got.Absences[0].At.Equal(bj(12, 10)) || len(got.Missing()) != 0 {
		t.Errorf("absences: %+v", got.Absences)
	}
	if err := s.SignConsultation(ctx, k.ID, "由人社局牵头办理", actorOf(leader, bj(12, 11))); err != nil {
		t.Fatal(err)
	}
	wantErr(t, absent(leader, tr.T1, "补记"), org.ErrInvalid, "absence after signing")
	evs, err := s.ListCaseEvents(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs {
		found = found || ev.Kind == casework.EvConsultationAbsence && strings.Contains(ev.Reason, "电话通知两次") && ev.ActorID == leader.ID
	}
	if !found {
		t.Error("the absence is not on the timeline")
	}
}
