package api

import (
	"encoding/json"
	"strings"
	"testing"

	"sanji/scheduler/org"
)

// TestAuditHeadExport: an auditor of the whole tree exports the chain's head as a file, and it
// is the store's head, through which the chain verifies; a district auditor is refused.
func TestAuditHeadExport(t *testing.T) {
	f := newFixture(t, Config{})
	admin := f.loginUser(f.user(org.RoleAdmin, f.d1))
	resp, b := admin.do("POST", "/api/v1/halls", map[string]any{"unit_id": f.d1.ID, "kind": "hall", "name": "链头大厅"})
	wantStatus(t, resp, b, 201)
	aud := f.loginUser(f.user(org.RoleAuditor, f.root))
	resp, b = aud.do("GET", "/api/v1/audit/head", nil)
	wantStatus(t, resp, b, 200)
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "audit-head-") {
		t.Errorf("Content-Disposition %q, want an attachment", cd)
	}
	var got AuditHeadView
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	h, err := f.st.AuditHead(bg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash == "" || got.Hash != h.Hash || got.EntryID != h.ID || got.Records != h.Records || got.Algorithm != org.AuditHashSHA256 || got.ExportedAt.IsZero() {
		t.Fatalf("exported %+v, store head %+v", got, h)
	}
	if c, err := f.st.VerifyAudit(bg, got.Hash); err != nil || !c.OK {
		t.Fatalf("VerifyAudit against the export = %+v, %v", c, err)
	}
	district := f.loginUser(f.user(org.RoleAuditor, f.d2))
	resp, b = district.do("GET", "/api/v1/audit/head", nil)
	wantStatus(t, resp, b, 403)
}
