package api

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// document stores a document of kind on c directly (its page's bytes stand in): for tests of
// transitions that need one.
func (f *fixture) document(c casework.Case, kind string) casework.Document {
	f.t.Helper()
	f.seq++
	page := []byte(fmt.Sprintf("<p>%s %d %d</p>", kind, c.ID, f.seq))
	sum, err := f.api.blobs.PutPage(page)
	if err != nil {
		f.t.Fatal(err)
	}
	a := casework.Attachment{CaseID: c.ID, Kind: casework.DocumentAttachmentKind(kind), Name: kind + ".html",
		SHA256: sum, Size: int64(len(page)), MIME: "text/html", UploadedBy: 1}
	d := casework.Document{Kind: kind, GeneratedBy: 1, GeneratedAt: f.clock.now(), Reason: "理由", Body: "意见"}
	if err := f.st.AddDocument(bg, &d, &a, casework.CaseEvent{Actor: "fixture"}); err != nil {
		f.t.Fatal(err)
	}
	return d
}

// The documents' routes in the authorization matrix (matrix_test.go).
func init() {
	caseIn := func(f *fixture, in bool) casework.Case { return f.newCase(pick(in, f.t1, f.d2), nil) }
	claimIn := func(f *fixture, in bool) casework.Case {
		return f.newCase(pick(in, f.t1, f.d2), func(c *casework.Case) { c.Type = casework.TypeClaim })
	}
	matrix["POST /api/v1/cases/{id}/documents"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return caseURL(caseIn(f, in), "/documents"), map[string]any{"kind": "accept_notice"}
	}}
	matrix["GET /api/v1/cases/{id}/documents"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return caseURL(caseIn(f, in), "/documents"), nil
	}}
	matrix["GET /api/v1/cases/{id}/documents/{doc}"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		cs := caseIn(f, in)
		return caseURL(cs, fmt.Sprintf("/documents/%d", f.document(cs, casework.DocAcceptNotice).ID)), nil
	}}
	matrix["POST /api/v1/cases/{id}/documents/{doc}/service"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		cs := caseIn(f, in)
		d := f.document(cs, casework.DocAcceptNotice)
		return caseURL(cs, fmt.Sprintf("/documents/%d/service", d.ID)), map[string]any{"method": "post", "proof": "EMS1"}
	}}
	matrix["POST /api/v1/cases/{id}/ratings"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		cs := claimIn(f, in)
		f.walk(cs, casework.StAccepted)
		return caseURL(cs, "/ratings"), map[string]any{"stage": "acceptance", "score": "satisfied"}
	}}
	matrix["GET /api/v1/documents/unserved"] = matrixRow{list: true, call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/documents/unserved", nil
	}}
	matrix["GET /api/v1/ratings/pending"] = matrixRow{list: true, call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/ratings/pending", nil
	}}
}

// TestNotAcceptedNoticeServedAndPrinted: a 不予受理 needs its notice; the notice is generated
// from the case with the office's header, kept with its hash, printed as a page with no script,
// served with its proof; until then it is listed as unserved.
func TestNotAcceptedNoticeServedAndPrinted(t *testing.T) {
	f := newFixture(t, Config{Cases: CaseSettings{DocumentHeader: "杭州市上城区信访局"}})
	officer := f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	c := f.newCase(f.d1, func(c *casework.Case) { c.Type = casework.TypeClaim })
	u := caseURL(c, "")
	resp, body := officer.do("POST", u+"/transitions", map[string]any{"to": "not_accepted", "reason": "属于诉讼事项"})
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); !strings.Contains(e.Message, "不予受理告知书") {
		t.Errorf("not accepting without the notice: %+v", e)
	}
	resp, body = officer.do("POST", u+"/documents", map[string]any{"kind": "not_accept_notice"})
	wantStatus(t, resp, body, 400) // no reason
	resp, body = officer.do("POST", u+"/documents", map[string]any{"kind": "not_accept_notice",
		"reason": "该事项已进入诉讼程序<script>alert(1)</script>", "channel": "litigation"})
	wantStatus(t, resp, body, 201)
	d := decodeJSON[DocumentView](t, body)
	resp, body = officer.do("GET", u+fmt.Sprintf("/documents/%d", d.ID), nil)
	wantStatus(t, resp, body, 200)
	page := string(body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("page headers: %v", resp.Header)
	}
	for _, want := range []string{"杭州市上城区信访局", "不予受理告知书", c.Number, "诉讼", "@media print", "&lt;script&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Error("the reason reached the page unescaped")
	}
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != d.SHA256 {
		t.Error("the page's hash differs from the document's")
	}
	if a, err := f.st.GetAttachment(bg, d.AttachmentID); err != nil || a.SHA256 != d.SHA256 || a.Kind != casework.AttachNotice {
		t.Errorf("kept as an attachment: %+v %v", a, err)
	}
	resp, body = officer.do("POST", u+"/transitions", map[string]any{"to": "not_accepted", "reason": "属于诉讼事项"})
	wantStatus(t, resp, body, 200)

	unserved := func() []UnservedView {
		t.Helper()
		resp, body := officer.do("GET", "/api/v1/documents/unserved", nil)
		wantStatus(t, resp, body, 200)
		return decodeJSON[struct{ Documents []UnservedView }](t, body).Documents
	}
	if un := unserved(); len(un) != 1 || un[0].Document.ID != d.ID || un[0].Number != c.Number {
		t.Fatalf("unserved: %+v", un)
	}
	svc := u + fmt.Sprintf("/documents/%d/service", d.ID)
	resp, body = officer.do("POST", svc, map[string]any{"method": "post"})
	wantStatus(t, resp, body, 400) // no proof
	resp, body = officer.do("POST", svc, map[string]any{"method": "post", "proof": "EMS", "at": f.clock.now().Add(time.Hour)})
	wantStatus(t, resp, body, 400) // in the future
	resp, body = officer.do("POST", svc, map[string]any{"method": "post", "proof": "EMS1234567890CN"})
	wantStatus(t, resp, body, 200)
	if v := decodeJSON[DocumentView](t, body); v.ServedAt == nil || v.ServiceMethod != "post" || v.ServiceProof != "EMS1234567890CN" {
		t.Errorf("served: %+v", v)
	}
	resp, body = officer.do("POST", svc, map[string]any{"method": "post", "proof": "again"})
	wantStatus(t, resp, body, 409)
	if un := unserved(); len(un) != 0 {
		t.Errorf("still unserved: %+v", un)
	}
	// The complained-about unit's redacted view does not print the petitioner's notice.
	c2 := f.newCase(f.d1, func(c *casework.Case) { c.ComplainedUnitID = f.t1.ID })
	ev := casework.CaseEvent{CaseID: c2.ID, From: casework.StRegistered, To: casework.StAssigned, Reason: "属地", ResponsibleUnitID: f.t1.ID}
	if err := f.st.TransitionCase(bg, &ev); err != nil {
		t.Fatal(err)
	}
	d2 := f.document(c2, casework.DocAcceptNotice)
	resp, body = f.loginUser(f.user(org.RoleCaseHandler, f.t1)).do("GET", caseURL(c2, fmt.Sprintf("/documents/%d", d2.ID)), nil)
	wantStatus(t, resp, body, 403)
}

// TestRatingsOnTime: the result is rated once the answer is served, within the window from
// service; by phone with who recorded it; at the terminal only when the office turns it on; the
// reminders list what is still to rate.
func TestRatingsOnTime(t *testing.T) {
	f := newFixture(t, Config{Cases: CaseSettings{RatingWindowDays: 10}})
	code := "ABCDEFGHJKMNPQRS"
	c := f.newCase(f.d1, func(c *casework.Case) { c.Type = casework.TypeClaim; c.QueryCodeHash = casework.QueryCodeHash(code) })
	f.walk(c, casework.StAccepted, casework.StInProgress, casework.StAnswered) // on 03-02
	staff := f.user(org.RoleCaseHandler, f.d1)
	pending := func() []PendingRatingView {
		t.Helper()
		resp, body := f.loginUser(staff).do("GET", "/api/v1/ratings/pending", nil)
		wantStatus(t, resp, body, 200)
		return decodeJSON[struct{ Cases []PendingRatingView }](t, body).Cases
	}
	// Accepted 03-02: the acceptance may be rated to 03-12; the result not yet (unserved).
	if p := pending(); len(p) != 1 || p[0].Stages["acceptance"] != "2026-03-12" || p[0].Stages["result"] != "" {
		t.Fatalf("pending before service: %+v", p)
	}
	rate := func(stage, via string) (*http.Response, []byte) {
		return f.anon().do("POST", "/api/v1/query/evaluation", map[string]any{"code": code, "stage": stage, "score": "satisfied", "via": via})
	}
	resp, body := rate("result", "")
	wantStatus(t, resp, body, 400) // not served
	resp, body = rate("acceptance", "terminal")
	wantStatus(t, resp, body, 400) // the terminal is off here
	f.clock.add(24 * time.Hour)    // 03-03
	d := f.document(c, casework.DocAnswer)
	if err := f.st.ServeDocument(bg, d.ID, casework.Service{At: f.clock.now(), Method: casework.ServeVideo, Proof: "录像 00:12:30", By: 1},
		casework.CaseEvent{Actor: "clerk"}); err != nil {
		t.Fatal(err)
	}
	// Served 03-03: the result may be rated to 03-13, before the case is closed.
	if p := pending(); len(p) != 1 || p[0].Stages["result"] != "2026-03-13" {
		t.Fatalf("pending after service: %+v", p)
	}
	resp, body = rate("result", "")
	wantStatus(t, resp, body, 204)
	f.clock.add(10 * 24 * time.Hour) // 03-13: the acceptance's window ended with 03-12
	resp, body = f.loginUser(staff).do("POST", caseURL(c, "/ratings"), map[string]any{"stage": "acceptance", "score": "basically"})
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); !strings.Contains(e.Message, "2026-03-12") {
		t.Errorf("late rating: %+v", e)
	}
	if p := pending(); len(p) != 0 {
		t.Errorf("pending after the windows: %+v", p)
	}

	// By phone, recorded by staff, on another case; at the terminal where the office allows it.
	g := newFixture(t, Config{Cases: CaseSettings{TerminalRating: true}})
	c2 := g.newCase(g.d1, func(c *casework.Case) { c.Type = casework.TypeClaim })
	g.walk(c2, casework.StAccepted)
	staff = g.user(org.RoleCaseHandler, g.d1)
	resp, body = g.loginUser(staff).do("POST", caseURL(c2, "/ratings"), map[string]any{"stage": "acceptance", "score": "basically"})
	wantStatus(t, resp, body, 201)
	es, err := g.st.ListEvaluations(bg, c2.ID)
	if err != nil || len(es) != 1 || es[0].Via != casework.ViaPhone || es[0].RecordedBy != staff.ID {
		t.Errorf("phone rating: %+v %v", es, err)
	}
}
