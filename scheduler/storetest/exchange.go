package storetest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sanji/scheduler"
)

// Case exchange between two stores: a case with everything that can belong to it goes out of one
// store as a signed bundle and into another; the copy renders exactly as the original, a second
// import changes nothing, a later bundle brings the copy up to date, an older one is refused,
// and a masked bundle never overwrites identity.

// exchangeSide is one system: a store with the shared tree, its blob directory and its key.
type exchangeSide struct {
	st    scheduler.Store
	tr    Tree
	cat   scheduler.Category
	blobs scheduler.Blobs
	keys  scheduler.ExchangeKeys
}

func newSide(t *testing.T, open Opener) *exchangeSide {
	t.Helper()
	s := open(t)
	tr, cat := treeWithCategory(t, s)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &exchangeSide{st: s, tr: tr, cat: cat, blobs: scheduler.Blobs{Dir: filepath.Join(t.TempDir(), "blobs"), MaxSize: 1 << 20},
		keys: scheduler.ExchangeKeys{Private: priv}}
}

func (x *exchangeSide) trust(other *exchangeSide) {
	x.keys.Trusted = append(x.keys.Trusted, other.keys.Public())
}

// bundle exports the cases as a signed bundle at level.
func (x *exchangeSide) bundle(t *testing.T, level scheduler.ViewLevel, ids ...int64) []byte {
	t.Helper()
	set, err := scheduler.ExportCases(ctx, x.st, ids, level, exchangeNow)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := scheduler.WriteBundle(&buf, set.Cases, scheduler.BundleFiles(x.blobs, set.Files), x.keys.Private, exchangeNow); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (x *exchangeSide) importBundle(t *testing.T, b []byte) ([]scheduler.CaseImport, error) {
	t.Helper()
	bd, err := scheduler.ReadBundle(bytes.NewReader(b), int64(len(b)), x.keys)
	if err != nil {
		return nil, err
	}
	return scheduler.ImportBundle(ctx, x.st, x.blobs, bd, x.keys.OwnID(), func(scheduler.Unit) error { return nil })
}

// record is the case as it travels, without the fields a copy holds differently (its number
// here and where it came from).
func (x *exchangeSide) record(t *testing.T, id int64) scheduler.CaseRecord {
	t.Helper()
	set, err := scheduler.ExportCases(ctx, x.st, []int64{id}, scheduler.ViewFull, exchangeNow)
	if err != nil {
		t.Fatal(err)
	}
	var doc scheduler.ExchangeCases
	if err := json.Unmarshal(set.Cases, &doc); err != nil {
		t.Fatal(err)
	}
	r := doc.Cases[0]
	r.Number, r.ExternalSource, r.ExternalID = "", "", ""
	return r
}

var exchangeNow = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

// richCase builds a claim with every part a case can have: two assignments (the first objected
// to), acceptance, an extension, two supervision items (one closed after reports, an extension
// decision and an escalation; one opened by the system and still open), a signed consultation with
// a dissent, a leader owning it, notes, an answer, closure, two evaluations and three attachments.
func richCase(t *testing.T, x *exchangeSide) scheduler.Case {
	t.Helper()
	s, tr := x.st, x.tr
	bj := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, scheduler.ChinaTZ) }
	intake := member(t, s, "intake", scheduler.RoleIntakeOfficer, tr.D1)
	head := member(t, s, "head", scheduler.RoleUnitHead, tr.Dept)
	dept := member(t, s, "dept", scheduler.RoleCaseHandler, tr.Dept)
	town := member(t, s, "town", scheduler.RoleCaseHandler, tr.T1)
	sup := member(t, s, "sup", scheduler.RoleSupervisor, tr.D1)
	leader := member(t, s, "leader", scheduler.RoleLeader, tr.D1)
	_, hash, _ := scheduler.NewQueryCode()
	c := scheduler.Case{UnitID: tr.D1.ID, Territory: "330102", Form: scheduler.FormVideo, Type: scheduler.TypeClaim, CategoryID: x.cat.ID,
		Title: "拖欠工资", Content: "某公司拖欠三个月工资", QueryCodeHash: hash, ComplainedUnitID: tr.Dept.ID, ComplainedParty: "某公司",
		InvolvedCount: 12, FastTrack: false, RegisteredAt: bj(3, 2, 9), CoUnitIDs: []int64{tr.T1.ID}, ExternalID: "ZJ-2026-77",
		Petitioners: []scheduler.Petitioner{
			{Name: "张三", IDNumber: "330102199001011234", Phone: "13812345678", Address: "杭州市上城区某路1号", Role: scheduler.PetitionerRepresentative, AgreesToPublic: true},
			{Name: "李四", IDNumber: "330102198502023456", Phone: "13900001111", Address: "杭州市上城区某路2号", Role: scheduler.PetitionerRepresentative},
			{Anonymous: true, Role: scheduler.PetitionerProxy},
		}}
	if err := s.CreateCase(ctx, &c, actorOf(intake, bj(3, 2, 9))); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	a1 := scheduler.Assignment{CaseID: c.ID, AssignerUnitID: tr.D1.ID, AssignerID: intake.ID, ResponsibleUnitID: tr.T1.ID,
		Requirements: "十日内反馈", Instruction: "依法处理", Method: scheduler.AssignOnVideoCall, SessionID: "sess-1",
		RecordingOffset: 95 * time.Second, AssignedAt: bj(3, 2, 10), FeedbackDue: scheduler.Date(2026, 3, 17)}
	must(s.CreateAssignment(ctx, &a1, actorOf(intake, bj(3, 2, 10))))
	must(s.ObjectAssignment(ctx, a1.ID, "不属于本街道职责", actorOf(town, bj(3, 3, 9))))
	a2 := scheduler.Assignment{CaseID: c.ID, AssignerUnitID: tr.D1.ID, AssignerID: intake.ID, ResponsibleUnitID: tr.Dept.ID, CoUnitIDs: []int64{tr.T1.ID},
		Method: scheduler.AssignBySystem, AssignedAt: bj(3, 4, 9), FeedbackDue: scheduler.Date(2026, 3, 19)}
	must(s.CreateAssignment(ctx, &a2, actorOf(intake, bj(3, 4, 9))))
	step := func(to scheduler.CaseStatus, at time.Time, mod func(*scheduler.CaseEvent)) {
		t.Helper()
		cur, err := s.GetCase(ctx, c.ID)
		must(err)
		ev := scheduler.CaseEvent{CaseID: c.ID, From: cur.Status, To: to, Reason: "办理", ActorID: dept.ID, Actor: dept.Username, UnitID: tr.Dept.ID, At: at}
		if mod != nil {
			mod(&ev)
		}
		must(s.TransitionCase(ctx, &ev))
	}
	step(scheduler.StAccepted, bj(3, 5, 9), nil)
	step(scheduler.StInProgress, bj(3, 5, 10), nil)
	step(scheduler.StExtended, bj(4, 20, 9), func(ev *scheduler.CaseEvent) {
		ev.Days, ev.ApprovedBy, ev.Notice, ev.ActorID, ev.Actor = 20, head.ID, "张三：因需调查取证，办理期限延长二十日。", head.ID, head.Username
	})
	sv := scheduler.Supervision{CaseID: c.ID, UnitID: tr.Dept.ID, OpenedBy: sup.ID, Basis: "群众反映办理缓慢", Level: scheduler.SupLevelRoutine,
		Method: scheduler.SupWritten, Deadline: scheduler.Date(2026, 4, 30), OpenedAt: bj(4, 1, 9)}
	must(s.OpenSupervision(ctx, &sv))
	must(s.AddSupervisionReport(ctx, &scheduler.SupervisionReport{SupervisionID: sv.ID, Kind: scheduler.ReportProgress, Text: "已约谈企业"}, actorOf(dept, bj(4, 3, 9))))
	ext := scheduler.SupervisionReport{SupervisionID: sv.ID, Kind: scheduler.ReportExtension, Text: "需再取证", RequestedDeadline: scheduler.Date(2026, 5, 10)}
	must(s.AddSupervisionReport(ctx, &ext, actorOf(dept, bj(4, 5, 9))))
	must(s.DecideSupervisionExtension(ctx, ext.ID, true, "同意", actorOf(sup, bj(4, 6, 9))))
	must(s.EscalateSupervision(ctx, sv.ID, actorOf(sup, bj(4, 7, 9))))
	must(s.CloseSupervision(ctx, sv.ID, scheduler.SupOpinionOK, "建议完善台账", actorOf(sup, bj(4, 8, 9))))
	co := scheduler.Consultation{CaseID: c.ID, CompetentUnitID: tr.Dept.ID, UnitIDs: []int64{tr.Dept.ID, tr.T1.ID, tr.D1.ID}, Subject: "欠薪责任划分",
		SessionID: "sess-2", RecordingOffset: 30 * time.Second}
	must(s.CreateConsultation(ctx, &co, actorOf(leader, bj(4, 10, 9))))
	must(s.AddConsultationOpinion(ctx, co.ID, scheduler.Opinion{UnitID: tr.Dept.ID, Text: "由企业所在地处理"}, actorOf(dept, bj(4, 10, 10))))
	must(s.AddConsultationOpinion(ctx, co.ID, scheduler.Opinion{UnitID: tr.T1.ID, Text: "街道无执法权", Dissent: true}, actorOf(town, bj(4, 10, 11))))
	must(s.SignConsultation(ctx, co.ID, "由区人社局牵头办理", actorOf(dept, bj(4, 11, 9))))
	must(s.SetCaseOwner(ctx, c.ID, leader.ID, actorOf(leader, bj(4, 12, 9))))
	must(s.AddCaseNote(ctx, &scheduler.CaseEvent{CaseID: c.ID, Kind: "recording", Ref: "recording:sess-1-h1", Reason: "录像已封存", Actor: "system", At: bj(3, 2, 11)}))
	step(scheduler.StAnswered, bj(5, 6, 9), func(ev *scheduler.CaseEvent) { ev.Result = scheduler.ResultSupport })
	step(scheduler.StClosed, bj(5, 7, 9), nil)
	// Overdue elsewhere: the system opens an item that stays open.
	sys := scheduler.Supervision{CaseID: c.ID, UnitID: tr.Dept.ID, Basis: "逾期未办（系统自动督办）", Level: scheduler.SupLevelRoutine,
		Method: scheduler.SupWritten, Deadline: scheduler.Date(2026, 6, 8), OpenedAt: bj(5, 8, 0)}
	must(s.OpenSupervision(ctx, &sys))
	must(s.AddEvaluation(ctx, &scheduler.Evaluation{CaseID: c.ID, Stage: scheduler.EvalAcceptance, Score: scheduler.ScoreBasically, Via: "terminal", At: bj(5, 9, 9)}))
	must(s.AddEvaluation(ctx, &scheduler.Evaluation{CaseID: c.ID, Stage: scheduler.EvalResult, Score: scheduler.ScoreSatisfied, Via: "query_page", At: bj(5, 9, 10)}))
	for _, f := range []struct{ kind, name, body string }{
		{scheduler.AttachSubmitted, "材料.pdf", "%PDF-1.4\n张三 身份证 330102199001011234\n%%EOF\n"},
		{scheduler.AttachAnswer, "答复.txt", "经调查，支持信访人诉求。"},
		{scheduler.AttachClosure, "办结报告.txt", "已督促企业支付工资。"},
	} {
		sum, size, mt, err := x.blobs.Put(strings.NewReader(f.body), f.name)
		must(err)
		must(s.AddAttachment(ctx, &scheduler.Attachment{CaseID: c.ID, Kind: f.kind, Name: f.name, SHA256: sum, Size: size, MIME: mt,
			UploadedBy: dept.ID, UploadedAt: bj(5, 6, 8)}))
	}
	got, err := s.GetCase(ctx, c.ID)
	must(err)
	return got
}

func outcomes(rs []scheduler.CaseImport) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Outcome)
	}
	return out
}

func testExchange(t *testing.T, open Opener) {
	a, b := newSide(t, open), newSide(t, open)
	a.trust(b)
	b.trust(a)
	c := richCase(t, a)
	want := a.record(t, c.ID)
	if len(want.Timeline) < 20 || len(want.Supervisions) != 2 || len(want.Supervisions[0].Reports) != 2 || len(want.Consultations) != 1 ||
		len(want.Evaluations) != 2 || len(want.Attachments) != 3 || len(want.Assignments) != 2 {
		t.Fatalf("the original lacks parts: %+v", want)
	}
	full := a.bundle(t, scheduler.ViewFull, c.ID)

	res, err := b.importBundle(t, full)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Outcome != scheduler.ImportCreated || res[0].Number != c.Number || res[0].Attached != 3 {
		t.Fatalf("first import: %+v", res)
	}
	cp, err := b.st.GetCaseByExternal(ctx, a.keys.OwnID(), c.Number)
	if err != nil {
		t.Fatal(err)
	}
	if cp.ID != res[0].CaseID || cp.Number == "" || cp.QueryCodeHash == c.QueryCodeHash || cp.ExternalID != c.Number {
		t.Errorf("the copy's identity: %+v", cp)
	}
	// Lossless: every field that travels reads back the same from the copy.
	if got := b.record(t, cp.ID); !sameJSON(got, want) {
		gj, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("the copy differs from the original:\n got %s\nwant %s", gj, wj)
	}
	// The copy's parts are whole in this store's terms: refs point at its own slips, the
	// consultation is final, the files are here.
	kinds := timelineKinds(t, b.st, cp.ID)
	svs, _ := b.st.ListSupervisions(ctx, cp.ID)
	cos, _ := b.st.ListConsultations(ctx, cp.ID)
	if len(svs) != 2 || len(cos) != 1 || !slices.Contains(kinds, scheduler.EvSupervision+"@supervision:"+itoa(svs[0].ID)) ||
		!slices.Contains(kinds, scheduler.EvConsultationSigned+"@consultation:"+itoa(cos[0].ID)) || !cos[0].Final() || svs[1].OpenedBy != 0 {
		t.Errorf("the copy's slips: %v %+v %+v", kinds, svs, cos)
	}
	if !cp.Supervised || cp.OwnerLeaderID != 0 {
		t.Errorf("flags: supervised %v owner %d", cp.Supervised, cp.OwnerLeaderID)
	}
	atts, _ := b.st.ListAttachments(ctx, cp.ID, "")
	for _, at := range atts {
		f, err := b.blobs.Open(at.SHA256)
		if err != nil {
			t.Errorf("attachment %s has no file: %v", at.Name, err)
			continue
		}
		_ = f.Close()
	}

	// Idempotent: the same bundle again changes nothing.
	before := b.record(t, cp.ID)
	evsBefore, _ := b.st.ListCaseEvents(ctx, cp.ID)
	res, err = b.importBundle(t, full)
	if err != nil || !slices.Equal(outcomes(res), []string{scheduler.ImportUnchanged}) || res[0].CaseID != cp.ID {
		t.Fatalf("second import: %+v %v", res, err)
	}
	evsAfter, _ := b.st.ListCaseEvents(ctx, cp.ID)
	cases, _ := b.st.ListCases(ctx, scheduler.CaseFilter{})
	if after := b.record(t, cp.ID); !sameJSON(after, before) || len(evsAfter) != len(evsBefore) || len(cases) != 1 {
		t.Errorf("the second import changed the copy: %d → %d events, %d cases", len(evsBefore), len(evsAfter), len(cases))
	}

	// A later state of the original brings the copy up to date; the older bundle is then refused.
	if err := a.st.TransitionCase(ctx, &scheduler.CaseEvent{CaseID: c.ID, From: scheduler.StEvaluated, To: scheduler.StArchived, Reason: "归档",
		Actor: "intake", ActorID: 1, At: time.Date(2026, 5, 20, 9, 0, 0, 0, scheduler.ChinaTZ)}); err != nil {
		t.Fatal(err)
	}
	sv, _ := a.st.OpenSupervisionFor(ctx, c.ID)
	if err := a.st.CloseSupervision(ctx, sv.ID, scheduler.SupOpinionOK, "", scheduler.CaseEvent{Actor: "sup", ActorID: 1, At: time.Date(2026, 5, 21, 9, 0, 0, 0, scheduler.ChinaTZ)}); err != nil {
		t.Fatal(err)
	}
	later := a.bundle(t, scheduler.ViewFull, c.ID)
	if res, err = b.importBundle(t, later); err != nil || !slices.Equal(outcomes(res), []string{scheduler.ImportUpdated}) {
		t.Fatalf("later bundle: %+v %v", res, err)
	}
	if got := b.record(t, cp.ID); !sameJSON(got, a.record(t, c.ID)) {
		t.Errorf("the updated copy differs from the original")
	}
	if res, err = b.importBundle(t, later); err != nil || !slices.Equal(outcomes(res), []string{scheduler.ImportUnchanged}) {
		t.Errorf("later bundle again: %+v %v", res, err)
	}
	res, err = b.importBundle(t, full)
	if err != nil || !slices.Equal(outcomes(res), []string{scheduler.ImportStale}) || res[0].Reason == "" {
		t.Errorf("the older bundle: %+v %v", res, err)
	}
	if got := b.record(t, cp.ID); !sameJSON(got, a.record(t, c.ID)) {
		t.Errorf("the older bundle changed the copy")
	}

	// The copy goes back to its source: the original is there, nothing is written.
	res, err = a.importBundle(t, b.bundle(t, scheduler.ViewFull, cp.ID))
	if err != nil || !slices.Equal(outcomes(res), []string{scheduler.ImportMatched}) || res[0].CaseID != c.ID {
		t.Errorf("back to the source: %+v %v", res, err)
	}
	// A system's own bundle names its own cases.
	if res, err = a.importBundle(t, later); err != nil || !slices.Equal(outcomes(res), []string{scheduler.ImportMatched}) || res[0].CaseID != c.ID {
		t.Errorf("own bundle: %+v %v", res, err)
	}
	if cs, _ := a.st.ListCases(ctx, scheduler.CaseFilter{}); len(cs) != 1 {
		t.Errorf("the source has %d cases after its own bundles came back", len(cs))
	}

	// Masked: identity masked, identifying files withheld; a later full bundle fills them in, and
	// a masked one never takes them away again.
	m := newSide(t, open)
	m.trust(a)
	masked := a.bundle(t, scheduler.ViewMasked, c.ID)
	if res, err = m.importBundle(t, masked); err != nil || !slices.Equal(outcomes(res), []string{scheduler.ImportCreated}) {
		t.Fatalf("masked import: %+v %v", res, err)
	}
	mc, _ := m.st.GetCase(ctx, res[0].CaseID)
	p := mc.Petitioners[0]
	if p.IDNumber != scheduler.MaskIDNumber("330102199001011234") || p.Phone != scheduler.MaskPhone("13812345678") || p.Name != "张三" || mc.Petitioners[2].Name != "匿名" {
		t.Errorf("masked petitioner: %+v", mc.Petitioners)
	}
	if l, _ := m.st.ListAttachments(ctx, mc.ID, scheduler.AttachSubmitted); len(l) != 0 {
		t.Errorf("a masked bundle carried submitted material: %+v", l)
	}
	if res, err = m.importBundle(t, later); err != nil || !slices.Equal(outcomes(res), []string{scheduler.ImportUpdated}) {
		t.Fatalf("full after masked: %+v %v", res, err)
	}
	if got := m.record(t, mc.ID); !sameJSON(got, a.record(t, c.ID)) {
		t.Errorf("the full bundle did not complete the masked copy")
	}
	if res, err = m.importBundle(t, a.bundle(t, scheduler.ViewMasked, c.ID)); err != nil || !slices.Equal(outcomes(res), []string{scheduler.ImportUnchanged}) {
		t.Errorf("masked after full: %+v %v", res, err)
	}
	if mc, _ = m.st.GetCase(ctx, mc.ID); mc.Petitioners[0].IDNumber != "330102199001011234" {
		t.Errorf("a masked bundle overwrote identity: %+v", mc.Petitioners[0])
	}

	// A bundle from a key this system does not trust is refused; so is one naming a unit it
	// lacks, and nothing of it stays.
	var be *scheduler.BundleError
	if _, err := newSide(t, open).importBundle(t, full); !errors.As(err, &be) || be.Part != scheduler.BundleSignature {
		t.Errorf("untrusted key: %v", err)
	}
	lack := exchangeSide{st: open(t), keys: m.keys, blobs: scheduler.Blobs{Dir: filepath.Join(t.TempDir(), "b"), MaxSize: 1 << 20}}
	root := scheduler.Unit{Kind: scheduler.KindRoot, Code: scheduler.RootCode, Name: "本系统"}
	if err := lack.st.CreateUnit(ctx, &root); err != nil {
		t.Fatal(err)
	}
	if err := lack.st.CreateCategory(ctx, &scheduler.Category{Code: "02", Name: "劳动和社会保障"}); err != nil {
		t.Fatal(err)
	}
	_, err = lack.importBundle(t, full)
	var fe *scheduler.FieldError
	if !errors.As(err, &fe) || !strings.Contains(fe.EN, "unit code 330102") || !strings.Contains(fe.EN, c.Number) {
		t.Errorf("unknown unit: %v", err)
	}
	if cs, _ := lack.st.ListCases(ctx, scheduler.CaseFilter{}); len(cs) != 0 {
		t.Errorf("a refused import left %d cases", len(cs))
	}
}

func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}
