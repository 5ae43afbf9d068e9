package api

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

var testPDF = []byte("%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n")

// attachment stores a file of kind on a new case at unit.
func (f *fixture) attachment(unit org.Unit, kind string) casework.Attachment {
	f.t.Helper()
	c := f.newCase(unit, nil)
	sum, size, mt, err := f.api.blobs.Put(strings.NewReader(string(testPDF)), "a.pdf")
	if err != nil {
		f.t.Fatal(err)
	}
	a := casework.Attachment{CaseID: c.ID, Kind: kind, Name: "a.pdf", SHA256: sum, Size: size, MIME: mt, UploadedAt: f.clock.now()}
	if err := f.st.AddAttachment(bg, &a); err != nil {
		f.t.Fatal(err)
	}
	return a
}

func init() {
	matrix["POST /api/v1/cases/{id}/attachments"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return caseURL(f.newCase(pick(in, f.t1, f.d2), nil), "/attachments?kind=answer&name=答复.pdf"), testPDF
	}}
	matrix["GET /api/v1/attachments/{id}"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/attachments/" + strconv.FormatInt(f.attachment(pick(in, f.t1, f.d2), casework.AttachAnswer).ID, 10), nil
	}}
}

func TestAttachmentUploadAndDownload(t *testing.T) {
	f := newFixture(t, Config{})
	officer := f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	c := f.newCase(f.d1, func(c *casework.Case) { c.ComplainedUnitID = f.t1.ID })
	up := func(kind, name string, body []byte) (int, []byte) {
		resp, b := officer.do("POST", caseURL(c, "/attachments?kind="+kind+"&name="+url.QueryEscape(name)), body)
		return resp.StatusCode, b
	}
	st, body := up("submitted", "../../材料.pdf", testPDF)
	if st != 201 {
		t.Fatalf("upload: %d %s", st, body)
	}
	var a AttachmentView
	_ = json.Unmarshal(body, &a)
	if a.Name != "材料.pdf" || a.MIME != "application/pdf" || a.Size != int64(len(testPDF)) || len(a.SHA256) != 64 {
		t.Errorf("uploaded: %+v", a)
	}
	if st, body := up("submitted", "x.pdf", []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff")); st != 400 {
		t.Errorf("an executable named .pdf: %d %s", st, body)
	}
	if st, body := up("submitted", "big.pdf", append(append([]byte{}, testPDF...), make([]byte, 2000)...)); st != 413 {
		t.Errorf("oversized: %d %s", st, body)
	}
	if st, body := up("photo", "x.pdf", testPDF); st != 400 {
		t.Errorf("unknown kind: %d %s", st, body)
	}

	dl := "/api/v1/attachments/" + strconv.FormatInt(a.ID, 10)
	resp, body := officer.do("GET", dl, nil)
	wantStatus(t, resp, body, 400) // a sensitive kind needs a purpose
	resp, body = officer.do("GET", dl+"?purpose="+url.QueryEscape("核对材料"), nil)
	wantStatus(t, resp, body, 200)
	if string(body) != string(testPDF) || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("download: %v %q", resp.Header, body)
	}
	if e, _ := f.st.SearchAudit(bg, org.AuditQuery{Action: "attachment.view"}); len(e) != 1 || e[0].Purpose != "核对材料" {
		t.Errorf("attachment.view audit: %+v", e)
	}
	// Assigned to t1, which is the unit complained about: its handler reaches the case, gets the
	// answer but not the accusation material; nor does an observer.
	ev := casework.CaseEvent{CaseID: c.ID, From: casework.StRegistered, To: casework.StAssigned, Reason: "属地", ResponsibleUnitID: f.t1.ID}
	if err := f.st.TransitionCase(bg, &ev); err != nil {
		t.Fatal(err)
	}
	st, body = up("answer", "答复.pdf", append(append([]byte{}, testPDF...), '\n'))
	if st != 201 {
		t.Fatalf("answer: %d %s", st, body)
	}
	var ans AttachmentView
	_ = json.Unmarshal(body, &ans)
	handler := f.loginUser(f.user(org.RoleCaseHandler, f.t1))
	resp, body = handler.do("GET", "/api/v1/attachments/"+strconv.FormatInt(ans.ID, 10), nil)
	wantStatus(t, resp, body, 200)
	resp, body = handler.do("GET", dl+"?purpose=x", nil)
	wantStatus(t, resp, body, 403)
	resp, body = f.loginUser(f.user(org.RoleObserver, f.d1)).do("GET", dl+"?purpose=x", nil)
	wantStatus(t, resp, body, 403)
}
