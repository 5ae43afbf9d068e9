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
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/exchange"
	"sanji/scheduler/org"
)

// Case exchange between two stores: a case with everything that can belong to it goes out of one
// store as a signed bundle and into another; the copy renders exactly as the original, a second
// import changes nothing, a later bundle brings the copy up to date, an older one is refused,
// and a masked bundle never overwrites identity.

// exchangeSide is one system: a store with the shared tree, its blob directory and its key.
type exchangeSide struct {
	st    scheduler.Store
	tr    Tree
	cat   org.Category
	blobs casework.Blobs
	keys  exchange.ExchangeKeys
}

func newSide(t *testing.T, open Opener) *exchangeSide {
	t.Helper()
	s := open(t)
	tr, cat := treeWithCategory(t, s)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &exchangeSide{st: s, tr: tr, cat: cat, blobs: casework.Blobs{Dir: filepath.Join(t.TempDir(), "blobs"), MaxSize: 1 << 20},
		keys: exchange.ExchangeKeys{Private: priv}}
}

func (x *exchangeSide) trust(other *exchangeSide) {
	x.keys.Trusted = append(x.keys.Trusted, other.keys.Public())
}

// bundle exports the cases as a signed bundle at level.
func (x *exchangeSide) bundle(t *testing.T, level casework.ViewLevel, ids ...int64) []byte {
	t.Helper()
	set, err := exchange.ExportCases(ctx, x.st, ids, level, exchangeNow)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := exchange.WriteBundle(&buf, set.Cases, exchange.BundleFiles(x.blobs, set.Files), x.keys.Private, exchangeNow); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (x *exchangeSide) importBundle(t *testing.T, b []byte) ([]exchange.CaseImport, error) {
	t.Helper()
	bd, err := exchange.ReadBundle(bytes.NewReader(b), int64(len(b)), x.keys)
	if err != nil {
		return nil, err
	}
	return scheduler.ImportBundle(ctx, x.st, x.blobs, bd, x.keys.OwnID(), func(org.Unit) error { return nil })
}

// record is the case as it travels, without the fields a copy holds differently (its number
// here and where it came from).
func (x *exchangeSide) record(t *testing.T, id int64) exchange.CaseRecord {
	t.Helper()
	set, err := exchange.ExportCases(ctx, x.st, []int64{id}, casework.ViewFull, exchangeNow)
	if err != nil {
		t.Fatal(err)
	}
	var doc exchange.ExchangeCases
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
func richCase(t *testing.T, x *exchangeSide) casework.Case {
	t.Helper()
	s, tr := x.st, x.tr
	bj := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, calendar.ChinaTZ) }
	intake := member(t, s, "intake", org.RoleIntakeOfficer, tr.D1)
	head := member(t, s, "head", org.RoleUnitHead, tr.Dept)
	dept := member(t, s, "dept", org.RoleCaseHandler, tr.Dept)
	town := member(t, s, "town", org.RoleCaseHandler, tr.T1)
	sup := member(t, s, "sup", org.RoleSupervisor, tr.D1)
	leader := member(t, s, "leader", org.RoleLeader, tr.D1)
	_, hash, _ := casework.NewQueryCode()
	c := casework.Case{UnitID: tr.D1.ID, Territory: "330102", Form: casework.FormVideo, Type: casework.TypeClaim, CategoryID: x.cat.ID,
		Title: "拖欠工资", Content: "某公司拖欠三个月工资", QueryCodeHash: hash, ComplainedUnitID: tr.Dept.ID, ComplainedParty: "某公司",
		InvolvedCount: 12, FastTrack: false, RegisteredAt: bj(3, 2, 9), CoUnitIDs: []int64{tr.T1.ID}, ExternalID: "ZJ-2026-77",
		Petitioners: []casework.Petitioner{
			{Name: "张三", IDNumber: "330102199001011234", Phone: "13812345678", Address: "杭州市上城区某路1号", Role: casework.PetitionerRepresentative, AgreesToPublic: true},
			{Name: "李四", IDNumber: "330102198502023456", Phone: "13900001111", Address: "杭州市上城区某路2号", Role: casework.PetitionerRepresentative},
			{Anonymous: true, Role: casework.PetitionerProxy},
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
	a1 := casework.Assignment{CaseID: c.ID, AssignerUnitID: tr.D1.ID, AssignerID: intake.ID, ResponsibleUnitID: tr.T1.ID,
		Requirements: "十日内反馈", Instruction: "依法处理", Method: casework.AssignOnVideoCall, SessionID: "sess-1",
		RecordingOffset: 95 * time.Second, AssignedAt: bj(3, 2, 10), FeedbackDue: calendar.Date(2026, 3, 17)}
	must(s.CreateAssignment(ctx, &a1, actorOf(intake, bj(3, 2, 10))))
	must(s.ObjectAssignment(ctx, a1.ID, "不属于本街道职责", actorOf(town, bj(3, 3, 9))))
	a2 := casework.Assignment{CaseID: c.ID, AssignerUnitID: tr.D1.ID, AssignerID: intake.ID, ResponsibleUnitID: tr.Dept.ID, CoUnitIDs: []int64{tr.T1.ID},
		Method: casework.AssignBySystem, AssignedAt: bj(3, 4, 9), FeedbackDue: calendar.Date(2026, 3, 19)}
	must(s.CreateAssignment(ctx, &a2, actorOf(intake, bj(3, 4, 9))))
	step := func(to casework.CaseStatus, at time.Time, mod func(*casework.CaseEvent)) {
		t.Helper()
		cur, err := s.GetCase(ctx, c.ID)
		must(err)
		ev := casework.CaseEvent{CaseID: c.ID, From: cur.Status, To: to, Reason: "办理", ActorID: dept.ID, Actor: dept.Username, UnitID: tr.Dept.ID, At: at}
		if mod != nil {
			mod(&ev)
		}
		must(s.TransitionCase(ctx, &ev))
	}
	step(casework.StAccepted, bj(3, 5, 9), nil)
	step(casework.StInProgress, bj(3, 5, 10), nil)
	step(casework.StExtended, bj(4, 20, 9), func(ev *casework.CaseEvent) {
		ev.Days, ev.ApprovedBy, ev.Notice, ev.ActorID, ev.Actor = 20, head.ID, "张三：因需调查取证，办理期限延长二十日。", head.ID, head.Username
	})
	sv := casework.Supervision{CaseID: c.ID, UnitID: tr.Dept.ID, OpenedBy: sup.ID, Basis: "群众反映办理缓慢", Level: casework.SupLevelRoutine,
		Method: casework.SupWritten, Deadline: calendar.Date(2026, 4, 30), OpenedAt: bj(4, 1, 9)}
	must(s.OpenSupervision(ctx, &sv))
	must(s.AddSupervisionReport(ctx, &casework.SupervisionReport{SupervisionID: sv.ID, Kind: casework.ReportProgress, Text: "已约谈企业"}, actorOf(dept, bj(4, 3, 9))))
	ext := casework.SupervisionReport{SupervisionID: sv.ID, Kind: casework.ReportExtension, Text: "需再取证", RequestedDeadline: calendar.Date(2026, 5, 10)}
	must(s.AddSupervisionReport(ctx, &ext, actorOf(dept, bj(4, 5, 9))))
	must(s.DecideSupervisionExtension(ctx, ext.ID, true, "同意", actorOf(sup, bj(4, 6, 9))))
	must(s.EscalateSupervision(ctx, sv.ID, actorOf(sup, bj(4, 7, 9))))
	must(s.CloseSupervision(ctx, sv.ID, casework.SupOpinionOK, "建议完善台账", actorOf(sup, bj(4, 8, 9))))
	co := casework.Consultation{CaseID: c.ID, CompetentUnitID: tr.Dept.ID, UnitIDs: []int64{tr.Dept.ID, tr.T1.ID, tr.D1.ID}, Subject: "欠薪责任划分",
		SessionID: "sess-2", RecordingOffset: 30 * time.Second}
	must(s.CreateConsultation(ctx, &co, actorOf(leader, bj(4, 10, 9))))
	must(s.AddConsultationOpinion(ctx, co.ID, casework.Opinion{UnitID: tr.Dept.ID, Text: "由企业所在地处理"}, actorOf(dept, bj(4, 10, 10))))
	must(s.AddConsultationOpinion(ctx, co.ID, casework.Opinion{UnitID: tr.T1.ID, Text: "街道无执法权", Dissent: true}, actorOf(town, bj(4, 10, 11))))
	must(s.AddConsultationOpinion(ctx, co.ID, casework.Opinion{UnitID: tr.D1.ID, Text: "同意人社局牵头"}, actorOf(leader, bj(4, 10, 12))))
	must(s.SignConsultation(ctx, co.ID, "由区人社局牵头办理", actorOf(dept, bj(4, 11, 9))))
	must(s.SetCaseOwner(ctx, c.ID, leader.ID, actorOf(leader, bj(4, 12, 9))))
	must(s.AddCaseNote(ctx, &casework.CaseEvent{CaseID: c.ID, Kind: "recording", Ref: "recording:sess-1-h1", Reason: "录像已封存", Actor: "system", At: bj(3, 2, 11)}))
	step(casework.StAnswered, bj(5, 6, 9), func(ev *casework.CaseEvent) { ev.Result = casework.ResultSupport })
	step(casework.StClosed, bj(5, 7, 9), nil)
	// Overdue elsewhere: the system opens an item that stays open.
	sys := casework.Supervision{CaseID: c.ID, UnitID: tr.Dept.ID, Basis: "逾期未办（系统自动督办）", Level: casework.SupLevelRoutine,
		Method: casework.SupWritten, Deadline: calendar.Date(2026, 6, 8), OpenedAt: bj(5, 8, 0)}
	must(s.OpenSupervision(ctx, &sys))
	must(s.AddEvaluation(ctx, &casework.Evaluation{CaseID: c.ID, Stage: casework.EvalAcceptance, Score: casework.ScoreBasically, Via: "terminal", At: bj(5, 9, 9)}))
	must(s.AddEvaluation(ctx, &casework.Evaluation{CaseID: c.ID, Stage: casework.EvalResult, Score: casework.ScoreSatisfied, Via: "query_page", At: bj(5, 9, 10)}))
	for _, f := range []struct{ kind, name, body string }{
		{casework.AttachSubmitted, "材料.pdf", "%PDF-1.4\n张三 身份证 330102199001011234\n%%EOF\n"},
		{casework.AttachAnswer, "答复.txt", "经调查，支持信访人诉求。"},
		{casework.AttachClosure, "办结报告.txt", "已督促企业支付工资。"},
	} {
		sum, size, mt, err := x.blobs.Put(strings.NewReader(f.body), f.name)
		must(err)
		must(s.AddAttachment(ctx, &casework.Attachment{CaseID: c.ID, Kind: f.kind, Name: f.name, SHA256: sum, Size: size, MIME: mt,
			UploadedBy: dept.ID, UploadedAt: bj(5, 6, 8)}))
	}
	got, err := s.GetCase(ctx, c.ID)
	must(err)
	return got
}

func outcomes(rs []exchange.CaseImport) []string {
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
	full := a.bundle(t, casework.ViewFull, c.ID)

	res, err := b.importBundle(t, full)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Outcome != exchange.ImportCreated || res[0].Number != c.Number || res[0].Attached != 3 {
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
	if len(svs) != 2 || len(cos) != 1 || !slices.Contains(kinds, casework.EvSupervision+"@supervision:"+itoa(svs[0].ID)) ||
		!slices.Contains(kinds, casework.EvConsultationSigned+"@consultation:"+itoa(cos[0].ID)) || !cos[0].Final() || svs[1].OpenedBy != 0 {
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
	if err != nil || !slices.Equal(outcomes(res), []string{exchange.ImportUnchanged}) || res[0].CaseID != cp.ID {
		t.Fatalf("second import: %+v %v", res, err)
	}
	evsAfter, _ := b.st.ListCaseEvents(ctx, cp.ID)
	cases, _ := b.st.ListCases(ctx, casework.CaseFilter{})
	if after := b.record(t, cp.ID); !sameJSON(after, before) || len(evsAfter) != len(evsBefore) || len(cases) != 1 {
		t.Errorf("the second import changed the copy: %d → %d events, %d cases", len(evsBefore), len(evsAfter), len(cases))
	}

	// A later state of the original brings the copy up to date; the older bundle is then refused.
	if err := a.st.TransitionCase(ctx, &casework.CaseEvent{CaseID: c.ID, From: casework.StEvaluated, To: casework.StArchived, Reason: "归档",
		Actor: "intake", ActorID: 1, At: time.Date(2026, 5, 20, 9, 0, 0, 0, calendar.ChinaTZ)}); err != nil {
		t.Fatal(err)
	}
	sv, _ := a.st.OpenSupervisionFor(ctx, c.ID)
	if err := a.st.CloseSupervision(ctx, sv.ID, casework.SupOpinionOK, "", casework.CaseEvent{Actor: "sup", ActorID: 1, At: time.Date(2026, 5, 21, 9, 0, 0, 0, calendar.ChinaTZ)}); err != nil {
		t.Fatal(err)
	}
	later := a.bundle(t, casework.ViewFull, c.ID)
	if res, err = b.importBundle(t, later); err != nil || !slices.Equal(outcomes(res), []string{exchange.ImportUpdated}) {
		t.Fatalf("later bundle: %+v %v", res, err)
	}
	if got := b.record(t, cp.ID); !sameJSON(got, a.record(t, c.ID)) {
		t.Errorf("the updated copy differs from the original")
	}
	if res, err = b.importBundle(t, later); err != nil || !slices.Equal(outcomes(res), []string{exchange.ImportUnchanged}) {
		t.Errorf("later bundle again: %+v %v", res, err)
	}
	res, err = b.importBundle(t, full)
	if err != nil || !slices.Equal(outcomes(res), []string{exchange.ImportStale}) || res[0].Reason.ZH == "" {
		t.Errorf("the older bundle: %+v %v", res, err)
	}
	if got := b.record(t, cp.ID); !sameJSON(got, a.record(t, c.ID)) {
		t.Errorf("the older bundle changed the copy")
	}

	// The copy goes back to its source: the original is there, nothing is written.
	res, err = a.importBundle(t, b.bundle(t, casework.ViewFull, cp.ID))
	if err != nil || !slices.Equal(outcomes(res), []string{exchange.ImportMatched}) || res[0].CaseID != c.ID {
		t.Errorf("back to the source: %+v %v", res, err)
	}
	// A system's own bundle names its own cases.
	if res, err = a.importBundle(t, later); err != nil || !slices.Equal(outcomes(res), []string{exchange.ImportMatched}) || res[0].CaseID != c.ID {
		t.Errorf("own bundle: %+v %v", res, err)
	}
	if cs, _ := a.st.ListCases(ctx, casework.CaseFilter{}); len(cs) != 1 {
		t.Errorf("the source has %d cases after its own bundles came back", len(cs))
	}

	// Masked: identity masked, identifying files withheld; a later full bundle fills them in, and
	// a masked one never takes them away again.
	m := newSide(t, open)
	m.trust(a)
	masked := a.bundle(t, casework.ViewMasked, c.ID)
	if res, err = m.importBundle(t, masked); err != nil || !slices.Equal(outcomes(res), []string{exchange.ImportCreated}) {
		t.Fatalf("masked import: %+v %v", res, err)
	}
	mc, _ := m.st.GetCase(ctx, res[0].CaseID)
	p := mc.Petitioners[0]
	if p.IDNumber != casework.MaskIDNumber("330102199001011234") || p.Phone != casework.MaskPhone("13812345678") || p.Name != "张三" || mc.Petitioners[2].Name != "匿名" {
		t.Errorf("masked petitioner: %+v", mc.Petitioners)
	}
	if l, _ := m.st.ListAttachments(ctx, mc.ID, casework.AttachSubmitted); len(l) != 0 {
		t.Errorf("a masked bundle carried submitted material: %+v", l)
	}
	if res, err = m.importBundle(t, later); err != nil || !slices.Equal(outcomes(res), []string{exchange.ImportUpdated}) {
		t.Fatalf("full after masked: %+v %v", res, err)
	}
	if got := m.record(t, mc.ID); !sameJSON(got, a.record(t, c.ID)) {
		t.Errorf("the full bundle did not complete the masked copy")
	}
	if res, err = m.importBundle(t, a.bundle(t, casework.ViewMasked, c.ID)); err != nil || !slices.Equal(outcomes(res), []string{exchange.ImportUnchanged}) {
		t.Errorf("masked after full: %+v %v", res, err)
	}
	if mc, _ = m.st.GetCase(ctx, mc.ID); mc.Petitioners[0].IDNumber != "330102199001011234" {
		t.Errorf("a masked bundle overwrote identity: %+v", mc.Petitioners[0])
	}

	// A bundle from a key this system does not trust is refused; so is one naming a unit it
	// lacks, and nothing of it stays.
	var be *exchange.BundleError
	if _, err := newSide(t, open).importBundle(t, full); !errors.As(err, &be) || be.Part != exchange.BundleSignature {
		t.Errorf("untrusted key: %v", err)
	}
	lack := exchangeSide{st: open(t), keys: m.keys, blobs: casework.Blobs{Dir: filepath.Join(t.TempDir(), "b"), MaxSize: 1 << 20}}
	root := org.Unit{Kind: org.KindRoot, Code: org.RootCode, Name: "本系统"}
	if err := lack.st.CreateUnit(ctx, &root); err != nil {
		t.Fatal(err)
	}
	if err := lack.st.CreateCategory(ctx, &org.Category{Code: "02", Name: "劳动和社会保障"}); err != nil {
		t.Fatal(err)
	}
	_, err = lack.importBundle(t, full)
	var fe *org.FieldError
	if !errors.As(err, &fe) || !strings.Contains(fe.EN, "unit code 330102") || !strings.Contains(fe.EN, c.Number) {
		t.Errorf("unknown unit: %v", err)
	}
	if cs, _ := lack.st.ListCases(ctx, casework.CaseFilter{}); len(cs) != 0 {
		t.Errorf("a refused import left %d cases", len(cs))
	}
}

func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}
