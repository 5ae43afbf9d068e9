package api

import (
	"archive/zip"
	"bytes"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"

	"sanji/scheduler/casework"
	"sanji/scheduler/exchange"
	"sanji/scheduler/org"
)

// zipBody is a request body sent as application/zip.
type zipBody []byte

// peerBundle is a bundle signed by the fixture's trusted peer, holding one registered claim of
// unit (a fresh number each call).
func (f *fixture) peerBundle(unit org.Unit) zipBody {
	f.t.Helper()
	f.newCase(f.d1, nil) // the category exists
	at := f.clock.now().UTC()
	rec := exchange.CaseRecord{Number: fmt.Sprintf("330102-2026-V-9%05d", f.next()), Unit: unit.Code, Territory: "330102",
		Form: casework.FormLetter, Type: casework.TypeClaim, Category: "CASES", Title: "外地转来", Content: "欠薪",
		Petitioners: []exchange.PetitionerRecord{{Name: "王五", Role: casework.PetitionerSelf}}, InvolvedCount: 1,
		Status: casework.StRegistered, RegisteredAt: at, UpdatedAt: at,
		Timeline: []exchange.EventRecord{{At: at, Kind: casework.EvStatus, Actor: "peer-intake", To: casework.StRegistered, Reason: "登记"}}}
	doc, err := json.Marshal(exchange.ExchangeCases{Format: exchange.ExchangeFormat, Identity: exchange.IdentityMasked, ExportedAt: at,
		Cases: []exchange.CaseRecord{rec}})
	if err != nil {
		f.t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := exchange.WriteBundle(&buf, doc, nil, f.peer, at); err != nil {
		f.t.Fatal(err)
	}
	return buf.Bytes()
}

func init() {
	matrix["POST /api/v1/cases/export"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		u := pick(in, f.t1, f.d2)
		f.newCase(u, nil)
		return "/api/v1/cases/export", map[string]any{"unit_id": u.ID}
	}}
	matrix["POST /api/v1/cases/import"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/cases/import", f.peerBundle(pick(in, f.t1, f.d2))
	}}
	matrix["GET /api/v1/exchange/public-key"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/exchange/public-key", nil
	}}
}

// bundleCases reads cases.json of a bundle without checking it (the checks have their own tests).
func bundleCases(t *testing.T, b []byte) exchange.ExchangeCases {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	rc, err := zr.Open(exchange.BundleCases)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var doc exchange.ExchangeCases
	if err := json.NewDecoder(rc).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestExchangeBetweenServers exports a case from one server and imports it into another through
// the API: the copy reads back as the original, a second import changes nothing, and the copy
// is read-only. The exporting server signs with Ed25519 (the intl suite) or SM2 (gm); the
// importing one trusts the key its public-key route gives, whichever it is.
func TestExchangeBetweenServers(t *testing.T) {
	for _, alg := range []string{exchange.AlgEd25519, exchange.AlgSM2} {
		t.Run(alg, func(t *testing.T) { testExchangeBetweenServers(t, alg) })
	}
}

func testExchangeBetweenServers(t *testing.T, alg string) {
	key, err := exchange.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	src := newFixture(t, Config{Exchange: exchange.ExchangeKeys{Private: key}})
	resp, body := src.anon().do("GET", "/api/v1/exchange/public-key", nil)
	wantStatus(t, resp, body, 200)
	var pk PublicKeyView
	_ = json.Unmarshal(body, &pk)
	pub, err := exchange.ParsePublicKey(pk.PublicKey)
	if err != nil || pk.KeyID != exchange.KeyID(pub) || !strings.Contains(pk.PEM, "BEGIN PUBLIC KEY") || pk.Algorithm != alg {
		t.Fatalf("public key: %+v %v", pk, err)
	}
	dst := newFixture(t, Config{Exchange: exchange.ExchangeKeys{Trusted: []crypto.PublicKey{pub}}})

	c := src.newCase(src.t1, func(c *casework.Case) { c.Type = casework.TypeClaim; c.ExternalID = "ZJ-1" })
	officer := src.loginUser(src.user(org.RoleIntakeOfficer, src.d1))
	for _, up := range []struct{ kind, name string }{{"submitted", "材料.pdf"}, {"answer", "答复.pdf"}} {
		resp, body := officer.do("POST", caseURL(c, "/attachments?kind="+up.kind+"&name="+url.QueryEscape(up.name)), testPDF)
		wantStatus(t, resp, body, 201)
	}
	src.document(c, casework.DocAcceptNotice)
	resp, body = officer.do("POST", caseURL(c, "/transitions"), map[string]any{"to": "accepted"})
	wantStatus(t, resp, body, 200)

	resp, body = officer.do("POST", "/api/v1/cases/export", map[string]any{"case_ids": []int64{c.ID}, "identity": "full", "purpose": "报送省信访局"})
	wantStatus(t, resp, body, 200)
	if resp.Header.Get("Content-Type") != "application/zip" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") ||
		resp.Header.Get("X-Sanji-Bundle-Key") != pk.KeyID {
		t.Errorf("export headers: %v", resp.Header)
	}
	bundle := zipBody(body)
	if doc := bundleCases(t, bundle); doc.Identity != "full" || len(doc.Cases) != 1 || doc.Cases[0].Petitioners[0].IDNumber != "330102199001011234" {
		t.Errorf("full export: %+v", doc)
	}
	pii, _ := src.st.SearchAudit(bg, org.AuditQuery{Action: "pii.export"})
	if len(pii) != 1 || pii[0].Purpose != "报送省信访局" || pii[0].Target != fmt.Sprintf("case:%d", c.ID) {
		t.Errorf("pii.export audit: %+v", pii)
	}

	if err := dst.st.CreateCategory(bg, &org.Category{Code: "CASES", Name: "劳动和社会保障"}); err != nil {
		t.Fatal(err)
	}
	importer := dst.loginUser(dst.user(org.RoleSupervisor, dst.d1))
	resp, body = importer.do("POST", "/api/v1/cases/import", bundle)
	wantStatus(t, resp, body, 200)
	var ir ImportResponse
	_ = json.Unmarshal(body, &ir)
	if ir.KeyID != pk.KeyID || ir.Identity != "full" || ir.Counts["created"] != 1 || len(ir.Cases) != 1 || ir.Cases[0].Number != c.Number {
		t.Fatalf("import: %s", body)
	}
	copyID := ir.Cases[0].CaseID

	// The copy, seen by the importing side, is the original as the exporting side sees it.
	view := func(f *fixture, cl *client, id int64) CaseView {
		t.Helper()
		resp, body := cl.do("GET", fmt.Sprintf("/api/v1/cases/%d?purpose=核对", id), nil)
		wantStatus(t, resp, body, 200)
		var v CaseView
		_ = json.Unmarshal(body, &v)
		return v
	}
	orig, cp := view(src, officer, c.ID), view(dst, importer, copyID)
	if cp.ExternalID != c.Number {
		t.Errorf("the copy's external id: %+v", cp)
	}
	for _, v := range []*CaseView{&orig, &cp} {
		v.ID, v.Number, v.ExternalID, v.UnitID, v.CategoryID, v.ComplainedUnitID, v.CoUnitIDs = 0, "", "", 0, 0, 0, nil
	}
	if oj, cj := mustJSON(t, orig), mustJSON(t, cp); oj != cj {
		t.Errorf("the copy differs:\n got %s\nwant %s", cj, oj)
	}
	// The two uploads and the generated 受理告知书's page.
	if as, _ := dst.st.ListAttachments(bg, copyID, ""); len(as) != 3 {
		t.Errorf("the copy's attachments: %+v", as)
	}

	// Idempotent: the same bundle again changes nothing.
	audits, _ := dst.st.SearchAudit(bg, org.AuditQuery{Action: "case.import"})
	resp, body = importer.do("POST", "/api/v1/cases/import", bundle)
	wantStatus(t, resp, body, 200)
	ir = ImportResponse{}
	_ = json.Unmarshal(body, &ir)
	if ir.Counts["unchanged"] != 1 || len(ir.Counts) != 1 || ir.Cases[0].CaseID != copyID {
		t.Errorf("second import: %s", body)
	}
	if again, _ := dst.st.SearchAudit(bg, org.AuditQuery{Action: "case.import"}); len(again) != len(audits) {
		t.Errorf("an unchanged import was audited as a change")
	}
	if n := copies(t, dst); n != 1 {
		t.Errorf("copies after two imports: %d", n)
	}

	// The copy is read-only here.
	resp, body = importer.do("POST", fmt.Sprintf("/api/v1/cases/%d/transitions", copyID), map[string]any{"to": "in_progress"})
	wantStatus(t, resp, body, 409)
	if e := errCode(t, body); e.Code != CodeReadOnlyCopy {
		t.Errorf("change to a copy: %+v", e)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExportIdentityNeedsPurposeAndRight: identity goes out only with a purpose and pii.view;
// otherwise the bundle is masked and nothing is audited as a PII export.
func TestExportIdentityNeedsPurposeAndRight(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.newCase(f.d1, func(c *casework.Case) { c.Type = casework.TypeClaim })
	a := f.attachment(f.d1, casework.AttachSubmitted) // on a case of its own
	officer := f.user(org.RoleIntakeOfficer, f.d1)
	session := f.loginUser(officer)
	ids := []int64{c.ID, a.CaseID}

	resp, body := session.do("POST", "/api/v1/cases/export", map[string]any{"case_ids": ids, "identity": "full"})
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); e.Field != "purpose" {
		t.Errorf("full without a purpose: %+v", e)
	}
	// A token that may exchange cases but not see identity.
	token := f.tokenClient(officer, []string{org.ActCaseExchange})
	resp, body = token.do("POST", "/api/v1/cases/export", map[string]any{"case_ids": ids, "identity": "full", "purpose": "报送"})
	wantStatus(t, resp, body, 403)
	resp, body = token.do("POST", "/api/v1/cases/export", map[string]any{"case_ids": ids})
	wantStatus(t, resp, body, 200)
	doc := bundleCases(t, body)
	if doc.Identity != "masked" || len(doc.Cases) != 2 {
		t.Fatalf("masked export: %+v", doc)
	}
	for _, r := range doc.Cases {
		p := r.Petitioners[0]
		if p.IDNumber != "330102********1234" || p.Phone != "138****5678" || strings.Contains(p.Address, "某路1号") {
			t.Errorf("masked identity: %+v", p)
		}
	}
	if doc.Cases[1].Withheld != 1 || len(doc.Cases[1].Attachments) != 0 {
		t.Errorf("the submitted material went out masked: %+v", doc.Cases[1])
	}
	zr, _ := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	for _, e := range zr.File {
		if strings.HasPrefix(e.Name, "files/") {
			t.Errorf("a masked bundle carries %s", e.Name)
		}
	}
	if e, _ := f.st.SearchAudit(bg, org.AuditQuery{Action: "pii.export"}); len(e) != 0 {
		t.Errorf("a masked export was audited as a PII export: %+v", e)
	}
	if e, _ := f.st.SearchAudit(bg, org.AuditQuery{Action: "case.export"}); len(e) != 1 {
		t.Errorf("case.export audit: %+v", e)
	}
	// What a viewer sees only redacted, they cannot send: the unit complained about, handling it.
	against := f.newCase(f.d1, func(c *casework.Case) { c.ComplainedUnitID, c.ResponsibleUnitID = f.t1.ID, f.t1.ID })
	local := f.loginUser(f.user(org.RoleIntakeOfficer, f.t1))
	resp, body = local.do("POST", "/api/v1/cases/export", map[string]any{"case_ids": []int64{against.ID}})
	wantStatus(t, resp, body, 403)
	if e := errCode(t, body); !strings.Contains(e.Message, against.Number) {
		t.Errorf("redacted export: %+v", e)
	}
	// Filters: a period with no case exports an empty bundle; a bad date is refused.
	resp, body = session.do("POST", "/api/v1/cases/export", map[string]any{"unit_id": f.d1.ID, "from": "2030-01-01"})
	wantStatus(t, resp, body, 200)
	if doc := bundleCases(t, body); len(doc.Cases) != 0 {
		t.Errorf("future period: %d cases", len(doc.Cases))
	}
	resp, body = session.do("POST", "/api/v1/cases/export", map[string]any{"unit_id": f.d1.ID, "to": "2026-13-01"})
	wantStatus(t, resp, body, 400)
	resp, body = session.do("POST", "/api/v1/cases/export", map[string]any{"unit_id": f.d1.ID, "status": "registered",
		"from": f.clock.now().Format("2006-01-02"), "to": f.clock.now().Format("2006-01-02")})
	wantStatus(t, resp, body, 200)
	if doc := bundleCases(t, body); len(doc.Cases) != 3 {
		t.Errorf("today's registered cases of d1: %d", len(doc.Cases))
	}
}

// TestImportRefusesBadBundles: a changed byte or an unknown signer is refused with the part named,
// and nothing is imported.
func TestImportRefusesBadBundles(t *testing.T) {
	f := newFixture(t, Config{})
	importer := f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	good := f.peerBundle(f.t1)
	// Change a byte of cases.json inside the zip, keeping the zip itself valid.
	zr, _ := zip.NewReader(bytes.NewReader(good), int64(len(good)))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range zr.File {
		rc, _ := e.Open()
		b, _ := io.ReadAll(rc)
		_ = rc.Close()
		if e.Name == exchange.BundleCases {
			b = bytes.Replace(b, []byte("王五"), []byte("王六"), 1)
		}
		w, _ := zw.Create(e.Name)
		_, _ = w.Write(b)
	}
	_ = zw.Close()
	importer.lang = "en"
	resp, body := importer.do("POST", "/api/v1/cases/import", zipBody(buf.Bytes()))
	wantStatus(t, resp, body, 422)
	if e := errCode(t, body); e.Code != CodeBundleRejected || e.Field != exchange.BundleCases || !strings.Contains(e.Message, "SHA-256") {
		t.Errorf("changed cases.json: %+v", e)
	}
	// Signed by a key this server was not told to trust.
	other := newFixture(t, Config{})
	resp, body = importer.do("POST", "/api/v1/cases/import", other.peerBundle(f.t1))
	wantStatus(t, resp, body, 422)
	if e := errCode(t, body); e.Field != exchange.BundleSignature || !strings.Contains(e.Message, "untrusted key") {
		t.Errorf("untrusted key: %+v", e)
	}
	importer.lang = ""
	resp, body = importer.do("POST", "/api/v1/cases/import", good[:len(good)/2])
	wantStatus(t, resp, body, 422)
	if e := errCode(t, body); !strings.HasPrefix(e.Message, "数据包未通过校验") {
		t.Errorf("a cut-off bundle, in Chinese: %+v", e)
	}
	resp, body = importer.do("POST", "/api/v1/cases/import", []byte(`{}`))
	wantStatus(t, resp, body, 415)
	if n := copies(t, f); n != 0 {
		t.Errorf("refused bundles left %d copies", n)
	}
}

// copies counts the cases copied from other systems.
func copies(t *testing.T, f *fixture) int {
	t.Helper()
	cs, err := f.st.ListCases(bg, casework.CaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cs {
		if c.ExternalSource != "" {
			n++
		}
	}
	return n
}
