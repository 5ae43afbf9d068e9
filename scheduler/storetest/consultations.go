package storetest

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// 会商, 包案, 督办 reports and the clock notes: each step is stored and is a note on the timeline.

// member creates a user with role granted at unit.
func member(t *testing.T, s scheduler.Store, name, role string, unit org.Unit) org.User {
	t.Helper()
	u := mustUser(t, s, name, unit.ID)
	if err := s.AddGrant(ctx, &org.Grant{UserID: u.ID, Role: role, UnitID: unit.ID}); err != nil {
		t.Fatal(err)
	}
	return u
}

// treeWithCategory builds the tree and one case category.
func treeWithCategory(t *testing.T, s scheduler.Store) (Tree, org.Category) {
	t.Helper()
	tr := BuildTree(t, s)
	cat := org.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	return tr, cat
}

func actorOf(u org.User, at time.Time) casework.CaseEvent {
	return casework.CaseEvent{ActorID: u.ID, Actor: u.Username, UnitID: u.UnitID, At: at}
}

// timelineKinds lists the kinds of a case's notes (status events left out), with their refs.
func timelineKinds(t *testing.T, s scheduler.Store, caseID int64) []string {
	t.Helper()
	evs, err := s.ListCaseEvents(ctx, caseID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.Kind != casework.EvStatus {
			out = append(out, e.Kind+"@"+e.Ref)
		}
	}
	return out
}

func testConsultations(t *testing.T, s scheduler.Store) {
	tr, cat := treeWithCategory(t, s)
	bj := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, calendar.ChinaTZ) }
	c := newCase(t, s, tr, cat.ID, "会商", bj(2, 9))
	leader := member(t, s, "leader", org.RoleLeader, tr.D1)
	dept := member(t, s, "dept-handler", org.RoleCaseHandler, tr.Dept)
	town := member(t, s, "town-head", org.RoleUnitHead, tr.T1)
	cityLeader := member(t, s, "city-leader", org.RoleLeader, tr.City)
	deptObserver := member(t, s, "dept-observer", org.RoleObserver, tr.Dept)
	far := member(t, s, "d2-handler", org.RoleCaseHandler, tr.D2)

	for field, bad := range map[string]casework.Consultation{
		"unit_ids":            {CaseID: c.ID, CompetentUnitID: tr.Dept.ID, UnitIDs: []int64{tr.T1.ID, tr.D1.ID}, Subject: "x"},
		"subject":             {CaseID: c.ID, CompetentUnitID: tr.Dept.ID, UnitIDs: []int64{tr.Dept.ID, tr.D1.ID}},
		"recording_offset_ms": {CaseID: c.ID, CompetentUnitID: tr.Dept.ID, UnitIDs: []int64{tr.Dept.ID, tr.D1.ID}, Subject: "x", RecordingOffset: time.Second},
	} {
		err := s.CreateConsultation(ctx, &bad, actorOf(leader, bj(3, 9)))
		wantErr(t, err, org.ErrInvalid, "consultation without "+field)
		if fe, ok := err.(*org.FieldError); !ok || fe.Field != field {
			t.Errorf("bad %s: %v", field, err)
		}
	}
	one := casework.Consultation{CaseID: c.ID, CompetentUnitID: tr.Dept.ID, UnitIDs: []int64{tr.Dept.ID}, Subject: "x"}
	wantErr(t, s.CreateConsultation(ctx, &one, actorOf(leader, bj(3, 9))), org.ErrInvalid, "a consultation of one unit")

	k := casework.Consultation{CaseID: c.ID, CompetentUnitID: tr.Dept.ID, UnitIDs: []int64{tr.Dept.ID, tr.T1.ID, tr.D1.ID},
		Subject: "欠薪责任主体认定", SessionID: "rs-3", RecordingOffset: 95 * time.Second}
	if err := s.CreateConsultation(ctx, &k, actorOf(leader, bj(3, 10))); err != nil {
		t.Fatal(err)
	}
	if k.ID == 0 || k.CreatedBy != leader.ID || !k.CreatedAt.Equal(bj(3, 10)) {
		t.Errorf("created: %+v", k)
	}
	op := func(u org.User, unit org.Unit, text string, dissent bool, at time.Time) error {
		return s.AddConsultationOpinion(ctx, k.ID, casework.Opinion{UnitID: unit.ID, Text: text, Dissent: dissent}, actorOf(u, at))
	}
	if err := op(dept, tr.Dept, "由人社局牵头核查", false, bj(3, 11)); err != nil {
		t.Fatal(err)
	}
	// Only a member of the unit speaks for it: not a leader above it, not an observer in it.
	wantErr(t, op(cityLeader, tr.Dept, "越级代答", false, bj(3, 11)), org.ErrInvalid, "opinion by a leader above the unit")
	wantErr(t, op(deptObserver, tr.Dept, "旁听", false, bj(3, 11)), org.ErrInvalid, "opinion by an observer of the unit")
	wantErr(t, op(far, tr.D2, "未参加", false, bj(3, 11)), org.ErrInvalid, "opinion of a unit not taking part")
	wantErr(t, op(dept, tr.Dept, "  ", false, bj(3, 11)), org.ErrInvalid, "empty opinion")
	if err := op(town, tr.T1, "街道认为应由区住建局负责", true, bj(3, 12)); err != nil {
		t.Fatal(err)
	}
	if err := op(leader, tr.D1, "同意人社局牵头", false, bj(3, 12)); err != nil {
		t.Fatal(err)
	}
	// A unit's later opinion replaces its earlier one.
	if err := op(dept, tr.Dept, "由人社局牵头，街道配合", false, bj(3, 13)); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConsultation(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Opinions) != 3 || got.Final() || len(got.Dissent()) != 1 || got.Dissent()[0].UnitID != tr.T1.ID ||
		got.SessionID != "rs-3" || got.RecordingOffset != 95*time.Second || len(got.UnitIDs) != 3 || got.Subject != k.Subject {
		t.Errorf("before signing: %+v", got)
	}
	for _, o := range got.Opinions {
		if o.UnitID == tr.Dept.ID && (o.Text != "由人社局牵头，街道配合" || o.By != dept.ID || !o.At.Equal(bj(3, 13))) {
			t.Errorf("replaced opinion: %+v", o)
		}
	}
	// Only a member of the competent unit signs.
	wantErr(t, s.SignConsultation(ctx, k.ID, "人社局牵头", actorOf(town, bj(3, 14))), org.ErrInvalid, "sign by another unit")
	wantErr(t, s.SignConsultation(ctx, k.ID, "人社局牵头", actorOf(cityLeader, bj(3, 14))), org.ErrInvalid, "sign by a leader above")
	wantErr(t, s.SignConsultation(ctx, k.ID, " ", actorOf(dept, bj(3, 14))), org.ErrInvalid, "sign without a conclusion")
	if err := s.SignConsultation(ctx, k.ID, "由区人社局牵头核查，清波街道配合，十五日内反馈", actorOf(dept, bj(3, 14))); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetConsultation(ctx, k.ID)
	if !got.Final() || got.SignedBy != dept.ID || !got.SignedAt.Equal(bj(3, 14)) || !strings.HasPrefix(got.Conclusion, "由区人社局") {
		t.Errorf("signed: %+v", got)
	}
	wantErr(t, s.SignConsultation(ctx, k.ID, "again", actorOf(dept, bj(3, 15))), org.ErrInvalid, "sign twice")
	wantErr(t, op(town, tr.T1, "补充", false, bj(3, 15)), org.ErrInvalid, "opinion after signing")

	k2 := casework.Consultation{CaseID: c.ID, CompetentUnitID: tr.D1.ID, UnitIDs: []int64{tr.D1.ID, tr.Dept.ID}, Subject: "第二次会商"}
	if err := s.CreateConsultation(ctx, &k2, actorOf(leader, bj(4, 9))); err != nil {
		t.Fatal(err)
	}
	ks, err := s.ListConsultations(ctx, c.ID)
	if err != nil || len(ks) != 2 || ks[0].ID != k.ID || !ks[0].Final() || ks[1].Final() || len(ks[0].Opinions) != 3 {
		t.Errorf("list: %+v %v", ks, err)
	}
	_, err = s.GetConsultation(ctx, 999999)
	wantErr(t, err, org.ErrNotFound, "missing consultation")
	ref := "consultation:" + itoa(k.ID)
	want := []string{casework.EvConsultation + "@" + ref, casework.EvConsultationOpinion + "@" + ref, casework.EvConsultationOpinion + "@" + ref,
		casework.EvConsultationOpinion + "@" + ref, casework.EvConsultationOpinion + "@" + ref, casework.EvConsultationSigned + "@" + ref,
		casework.EvConsultation + "@consultation:" + itoa(k2.ID)}
	if got := timelineKinds(t, s, c.ID); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("timeline:\n got %v\nwant %v", got, want)
	}
	evs, _ := s.ListCaseEvents(ctx, c.ID)
	for _, e := range evs {
		if e.Kind == casework.EvConsultationOpinion && e.UnitID == tr.T1.ID && !strings.Contains(e.Reason, "不同意见") {
			t.Errorf("the dissent is not on the timeline: %+v", e)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func testCaseOwner(t *testing.T, s scheduler.Store) {
	tr, cat := treeWithCategory(t, s)
	bj := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, calendar.ChinaTZ) }
	c := newCase(t, s, tr, cat.ID, "包案", bj(2, 9))
	l1 := member(t, s, "leader1", org.RoleLeader, tr.D1)
	l2 := member(t, s, "leader2", org.RoleLeader, tr.City)
	clerk := member(t, s, "clerk", org.RoleIntakeOfficer, tr.D1)
	wantErr(t, s.SetCaseOwner(ctx, c.ID, clerk.ID, actorOf(clerk, bj(3, 9))), org.ErrInvalid, "a non-leader owns")
	wantErr(t, s.SetCaseOwner(ctx, c.ID, 0, actorOf(l1, bj(3, 9))), org.ErrInvalid, "release an unowned case")
	if err := s.SetCaseOwner(ctx, c.ID, l1.ID, actorOf(l1, bj(3, 10))); err != nil {
		t.Fatal(err)
	}
	if got := mustCase(t, s, c.ID); got.OwnerLeaderID != l1.ID {
		t.Errorf("owner %d", got.OwnerLeaderID)
	}
	if err := s.SetCaseOwner(ctx, c.ID, l1.ID, actorOf(l1, bj(3, 11))); err != nil {
		t.Errorf("owning twice is a no-op: %v", err)
	}
	wantErr(t, s.SetCaseOwner(ctx, c.ID, l2.ID, actorOf(l2, bj(3, 11))), org.ErrConflict, "take a case another leader owns")
	if cs, err := s.ListCases(ctx, casework.CaseFilter{OwnerLeaderID: l1.ID}); err != nil || len(cs) != 1 || cs[0].ID != c.ID {
		t.Errorf("owned cases: %v %v", cs, err)
	}
	if err := s.SetCaseOwner(ctx, c.ID, 0, actorOf(l1, bj(4, 9))); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCaseOwner(ctx, c.ID, l2.ID, actorOf(l2, bj(4, 10))); err != nil {
		t.Fatal(err)
	}
	if got := mustCase(t, s, c.ID); got.OwnerLeaderID != l2.ID {
		t.Errorf("owner after handover %d", got.OwnerLeaderID)
	}
	want := []string{"owner@user:" + itoa(l1.ID), "owner@user:" + itoa(l1.ID), "owner@user:" + itoa(l2.ID)}
	if got := timelineKinds(t, s, c.ID); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("timeline %v, want %v", got, want)
	}
}

func testSupervisionReports(t *testing.T, s scheduler.Store) {
	tr, cat := treeWithCategory(t, s)
	bj := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, calendar.ChinaTZ) }
	c := newCase(t, s, tr, cat.ID, "督办", bj(2, 9))
	handler := member(t, s, "handler", org.RoleCaseHandler, tr.Dept)
	sup := member(t, s, "supervisor", org.RoleSupervisor, tr.D1)
	sv := casework.Supervision{CaseID: c.ID, UnitID: tr.Dept.ID, OpenedBy: sup.ID, Basis: "群众反映办理缓慢", Level: casework.SupLevelRoutine,
		Method: casework.SupWritten, Deadline: calendar.Date(2026, 4, 2)}
	if err := s.OpenSupervision(ctx, &sv); err != nil {
		t.Fatal(err)
	}
	report := func(kind, text string, due time.Time, at time.Time) (casework.SupervisionReport, error) {
		r := casework.SupervisionReport{SupervisionID: sv.ID, Kind: kind, Text: text, RequestedDeadline: due}
		err := s.AddSupervisionReport(ctx, &r, actorOf(handler, at))
		return r, err
	}
	p, err := report(casework.ReportProgress, "已约谈用人单位，正在核算欠薪", time.Time{}, bj(10, 9))
	if err != nil {
		t.Fatal(err)
	}
	if p.UnitID != tr.Dept.ID || p.By != handler.ID {
		t.Errorf("progress report: %+v", p)
	}
	_, err = report(casework.ReportExtension, "需补充材料", calendar.Date(2026, 4, 1), bj(11, 9))
	wantErr(t, err, org.ErrInvalid, "an extension to a date before the deadline")
	_, err = report("memo", "x", time.Time{}, bj(11, 9))
	wantErr(t, err, org.ErrInvalid, "unknown kind")
	ext, err := report(casework.ReportExtension, "需等待劳动仲裁结果", calendar.Date(2026, 4, 20), bj(11, 10))
	if err != nil {
		t.Fatal(err)
	}
	_, err = report(casework.ReportExtension, "再申请", calendar.Date(2026, 4, 25), bj(11, 11))
	wantErr(t, err, org.ErrConflict, "a second pending extension request")
	wantErr(t, s.DecideSupervisionExtension(ctx, p.ID, true, "", actorOf(sup, bj(12, 9))), org.ErrInvalid, "decide on a progress report")
	if err := s.DecideSupervisionExtension(ctx, ext.ID, true, "同意", actorOf(sup, bj(12, 9))); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DecideSupervisionExtension(ctx, ext.ID, false, "", actorOf(sup, bj(12, 10))), org.ErrConflict, "decide twice")
	if o, _ := s.OpenSupervisionFor(ctx, c.ID); !o.Deadline.Equal(calendar.Date(2026, 4, 20)) {
		t.Errorf("deadline after the approved extension: %v", o.Deadline)
	}
	refused, err := report(casework.ReportExtension, "再延一周", calendar.Date(2026, 4, 27), bj(13, 9))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DecideSupervisionExtension(ctx, refused.ID, false, "理由不充分", actorOf(sup, bj(13, 10))); err != nil {
		t.Fatal(err)
	}
	if o, _ := s.OpenSupervisionFor(ctx, c.ID); !o.Deadline.Equal(calendar.Date(2026, 4, 20)) {
		t.Errorf("a refusal moved the deadline: %v", o.Deadline)
	}
	rs, err := s.ListSupervisionReports(ctx, sv.ID)
	if err != nil || len(rs) != 3 || rs[1].Decision != casework.ExtensionApproved || rs[1].DecidedBy != sup.ID ||
		rs[2].Decision != casework.ExtensionRefused || rs[2].DecisionNote != "理由不充分" || !rs[1].RequestedDeadline.Equal(calendar.Date(2026, 4, 20)) {
		t.Errorf("reports: %+v %v", rs, err)
	}
	if err := s.CloseSupervision(ctx, sv.ID, casework.SupOpinionOK, "按期办结", actorOf(sup, bj(20, 9))); err != nil {
		t.Fatal(err)
	}
	_, err = report(casework.ReportProgress, "迟到的报告", time.Time{}, bj(21, 9))
	wantErr(t, err, org.ErrInvalid, "report on a closed item")
	all, err := s.ListSupervisions(ctx, c.ID)
	if err != nil || len(all) != 1 || all[0].ClosedAt.IsZero() || all[0].Opinion != casework.SupOpinionOK {
		t.Errorf("supervisions: %+v %v", all, err)
	}
	ref := "supervision:" + itoa(sv.ID)
	want := []string{"supervision@" + ref, "supervision_report@" + ref, "supervision_extension@" + ref, "supervision_extension@" + ref,
		"supervision_extension@" + ref, "supervision_extension@" + ref, "supervision@" + ref}
	if got := timelineKinds(t, s, c.ID); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("timeline %v, want %v", got, want)
	}
}
