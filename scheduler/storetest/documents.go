package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/rates"
)

// Documents and their service (送达): a generated page kept as an attachment with its hash, the
// service recorded once with its proof, the unserved ones listed for follow-up; the windows that
// run from service; ratings as soon as the answer is served.

// addDoc stores a generated document of kind on a case at at (its page's bytes stand in).
func addDoc(t *testing.T, s scheduler.Store, caseID int64, kind string, at time.Time) casework.Document {
	t.Helper()
	sum := sha256.Sum256([]byte(kind + at.String()))
	a := casework.Attachment{CaseID: caseID, Kind: casework.DocumentAttachmentKind(kind), Name: kind + ".html",
		SHA256: hex.EncodeToString(sum[:]), Size: 100, MIME: "text/html", UploadedBy: 1}
	d := casework.Document{Kind: kind, GeneratedBy: 1, GeneratedAt: at, Reason: "理由", Body: "意见"}
	if err := s.AddDocument(ctx, &d, &a, casework.CaseEvent{Actor: "handler"}); err != nil {
		t.Fatal(err)
	}
	return d
}

// serveDoc adds a document generated at gen and serves it by post at served.
func serveDoc(t *testing.T, s scheduler.Store, caseID int64, kind string, gen, served time.Time) casework.Document {
	t.Helper()
	d := addDoc(t, s, caseID, kind, gen)
	if err := s.ServeDocument(ctx, d.ID, casework.Service{At: served, Method: casework.ServePost, Proof: "EMS1234567890", By: 1},
		casework.CaseEvent{Actor: "clerk"}); err != nil {
		t.Fatal(err)
	}
	return d
}

func testDocuments(t *testing.T, s scheduler.Store) {
	tr, cat := treeWithCategory(t, s)
	bj := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, calendar.ChinaTZ) }
	c := newCase(t, s, tr, cat.ID, "送达", bj(3, 2, 9))
	other := newCase(t, s, tr, cat.ID, "另一件", bj(3, 2, 9))

	bad := casework.Attachment{CaseID: c.ID, Kind: casework.AttachNotice, Name: "x.html", SHA256: hex.EncodeToString(make([]byte, 32)),
		Size: 1, MIME: "text/html"}
	wantErr(t, s.AddDocument(ctx, &casework.Document{Kind: casework.DocNotAcceptNotice}, &bad, casework.CaseEvent{}), org.ErrInvalid,
		"a 不予受理告知书 without its reason")
	wantErr(t, s.AddDocument(ctx, &casework.Document{Kind: casework.DocAcceptNotice, Channel: casework.ChannelLitigation}, &bad,
		casework.CaseEvent{}), org.ErrInvalid, "a legal channel on an acceptance notice")

	acc := addDoc(t, s, c.ID, casework.DocAcceptNotice, bj(3, 4, 9))
	rep := addDoc(t, s, c.ID, casework.DocClosureReport, bj(3, 4, 10))
	got, err := s.GetDocument(ctx, acc.ID)
	if err != nil || got.Kind != casework.DocAcceptNotice || got.SHA256 != acc.SHA256 || !got.GeneratedAt.Equal(bj(3, 4, 9)) {
		t.Fatalf("get document: %+v %v", got, err)
	}
	if a, err := s.GetAttachment(ctx, got.AttachmentID); err != nil || a.SHA256 != got.SHA256 || a.Kind != casework.AttachNotice {
		t.Errorf("the page is an attachment with the document's hash: %+v %v", a, err)
	}
	// Unserved: the acceptance notice, not the closure report (it goes to the assigner).
	un, err := s.ListUnservedDocuments(ctx, tr.City.Path, 0)
	if err != nil || len(un) != 1 || un[0].ID != acc.ID {
		t.Fatalf("unserved: %+v %v", un, err)
	}
	if un, _ := s.ListUnservedDocuments(ctx, tr.D2.Path, 0); len(un) != 0 {
		t.Errorf("another district lists this case's documents: %+v", un)
	}
	wantErr(t, s.ServeDocument(ctx, rep.ID, casework.Service{At: bj(3, 5, 9), Method: casework.ServeInPerson, Proof: "签收"},
		casework.CaseEvent{}), org.ErrInvalid, "serving a closure report on the petitioner")
	for what, sv := range map[string]casework.Service{
		"no proof":           {At: bj(3, 5, 9), Method: casework.ServePost},
		"an unknown method":  {At: bj(3, 5, 9), Method: "pigeon", Proof: "x"},
		"before it was made": {At: bj(3, 3, 9), Method: casework.ServeInPerson, Proof: "签收"},
	} {
		wantErr(t, s.ServeDocument(ctx, acc.ID, sv, casework.CaseEvent{}), org.ErrInvalid, "service with "+what)
	}
	sv := casework.Service{At: bj(3, 6, 15), Method: casework.ServeOnline, Proof: "短信回执 20260306-0001", By: 7}
	if err := s.ServeDocument(ctx, acc.ID, sv, casework.CaseEvent{Actor: "clerk", At: bj(3, 9, 9)}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.ServeDocument(ctx, acc.ID, sv, casework.CaseEvent{}), org.ErrConflict, "serving twice")
	got, _ = s.GetDocument(ctx, acc.ID)
	if !got.ServedAt.Equal(bj(3, 6, 15)) || got.ServiceMethod != casework.ServeOnline || got.ServiceProof != sv.Proof || got.ServedBy != 7 {
		t.Errorf("service kept: %+v", got)
	}
	if un, _ := s.ListUnservedDocuments(ctx, tr.City.Path, 0); len(un) != 0 {
		t.Errorf("a served document is still listed: %+v", un)
	}
	evs, _ := s.ListCaseEvents(ctx, c.ID)
	if at, ok := casework.ServedAt(evs, casework.DocAcceptNotice); !ok || !at.Equal(bj(3, 6, 15)) {
		t.Errorf("the timeline's service note: %v %v", at, ok)
	}
	if ds, err := s.ListDocuments(ctx, c.ID); err != nil || len(ds) != 2 {
		t.Errorf("list documents: %d %v", len(ds), err)
	}
	if ds, _ := s.ListDocuments(ctx, other.ID); len(ds) != 0 {
		t.Errorf("another case's documents: %+v", ds)
	}
}

// toAnswered moves a registered case through acceptance to answered at at.
func toAnswered(t *testing.T, s scheduler.Store, caseID int64, at time.Time) {
	t.Helper()
	for _, st := range [][2]casework.CaseStatus{{casework.StRegistered, casework.StAccepted}, {casework.StAccepted, casework.StInProgress},
		{casework.StInProgress, casework.StAnswered}} {
		ev := casework.CaseEvent{CaseID: caseID, From: st[0], To: st[1], Reason: "办理", Result: casework.ResultSupport, At: at}
		if err := s.TransitionCase(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
}

// testRatingsOnServedAnswer: the result is rated as soon as the 处理意见书 is served, before
// closing; a phone rating names who recorded it.
func testRatingsOnServedAnswer(t *testing.T, s scheduler.Store) {
	tr, cat := treeWithCategory(t, s)
	bj := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, calendar.ChinaTZ) }
	_, hash, _ := casework.NewQueryCode()
	c := casework.Case{UnitID: tr.D1.ID, Territory: "330102", Form: casework.FormVisit, Type: casework.TypeClaim, CategoryID: cat.ID,
		Title: "评价", QueryCodeHash: hash, RegisteredAt: bj(3, 2, 9),
		Petitioners: []casework.Petitioner{{Name: "王五", IDNumber: "330102198001011111", Role: casework.PetitionerSelf}}}
	if err := s.CreateCase(ctx, &c, casework.CaseEvent{Actor: "intake"}); err != nil {
		t.Fatal(err)
	}
	toAnswered(t, s, c.ID, bj(4, 1, 9))
	res := casework.Evaluation{CaseID: c.ID, Stage: casework.EvalResult, Score: casework.ScoreSatisfied, Via: casework.ViaQueryPage, At: bj(4, 2, 9)}
	wantErr(t, s.AddEvaluation(ctx, &res), org.ErrInvalid, "rating the result before the answer is served")
	serveDoc(t, s, c.ID, casework.DocAnswer, bj(4, 1, 8), bj(4, 3, 10))
	phone := casework.Evaluation{CaseID: c.ID, Stage: casework.EvalResult, Score: casework.ScoreBasically, Via: casework.ViaPhone, At: bj(4, 5, 9)}
	wantErr(t, s.AddEvaluation(ctx, &phone), org.ErrInvalid, "a phone rating without who recorded it")
	phone.RecordedBy = 42
	if err := s.AddEvaluation(ctx, &phone); err != nil {
		t.Fatal(err)
	}
	if got := mustCase(t, s, c.ID); got.Status != casework.StAnswered {
		t.Errorf("rating an answered case moved it: %s", got.Status)
	}
	es, err := s.ListEvaluations(ctx, c.ID)
	if err != nil || len(es) != 1 || es[0].RecordedBy != 42 || es[0].Via != casework.ViaPhone {
		t.Errorf("phone rating kept: %+v %v", es, err)
	}

	// 参评率: c's result was served and rated; a second claim answered, not yet served, is not yet
	// one to rate; the accusation of newCase never is. From the kept counts and from the
	// timelines alike.
	c2 := c
	c2.ID, c2.Number, c2.Title = 0, "", "未送达"
	_, c2.QueryCodeHash, _ = casework.NewQueryCode()
	if err := s.CreateCase(ctx, &c2, casework.CaseEvent{Actor: "intake"}); err != nil {
		t.Fatal(err)
	}
	toAnswered(t, s, c2.ID, bj(4, 1, 9))
	acc := newCase(t, s, tr, cat.ID, "检举", bj(3, 2, 9))
	ev := casework.CaseEvent{CaseID: acc.ID, From: casework.StRegistered, To: casework.StAccepted, At: bj(3, 3, 9)}
	if err := s.TransitionCase(ctx, &ev); err != nil {
		t.Fatal(err)
	}
	serveDoc(t, s, acc.ID, casework.DocAcceptNotice, bj(3, 3, 9), bj(3, 4, 9))
	q := rates.RatesQuery{UnderPaths: []string{tr.City.Path}}
	fromCounts, err := rates.RatesFor(ctx, s, q, calendar.DefaultCalendar(), casework.DefaultRules(), bj(5, 1, 9))
	if err != nil {
		t.Fatal(err)
	}
	fromTimelines, err := rates.RatesFromTimelines(ctx, s, q, calendar.DefaultCalendar(), casework.DefaultRules(), bj(5, 1, 9))
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]rates.Rates{"counts": fromCounts, "timelines": fromTimelines} {
		if r.Participation != (rates.Rate{Num: 1, Den: 1}) || r.Satisfaction != (rates.Rate{Num: 1, Den: 1}) {
			t.Errorf("参评率 from the %s: %+v, 满意率 %+v", name, r.Participation, r.Satisfaction)
		}
	}
	d2 := addDoc(t, s, c2.ID, casework.DocAnswer, bj(4, 1, 8))
	if err := s.ServeDocument(ctx, d2.ID, casework.Service{At: bj(4, 6, 9), Method: casework.ServeInPerson, Proof: "本人签收"},
		casework.CaseEvent{Actor: "clerk"}); err != nil {
		t.Fatal(err)
	}
	if r, _ := rates.RatesFor(ctx, s, q, calendar.DefaultCalendar(), casework.DefaultRules(), bj(5, 1, 9)); r.Participation != (rates.Rate{Num: 1, Den: 2}) {
		t.Errorf("参评率 after the second answer was served: %+v", r.Participation)
	}
}
