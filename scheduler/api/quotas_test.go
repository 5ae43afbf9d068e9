package api

import (
	"bytes"
	"net/url"
	"strconv"
	"testing"

	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// pdfOf is a PDF of n bytes (at least the test PDF's).
func pdfOf(n int) []byte {
	return append(append([]byte{}, testPDF...), bytes.Repeat([]byte{' '}, max(n-len(testPDF), 0))...)
}

// TestUploadQuotas: files per case, bytes per case and bytes per uploading unit are each
// refused with quota_exceeded and a message naming the limit; what fits still goes in.
func TestUploadQuotas(t *testing.T) {
	f := newFixture(t, Config{
		Attachments: casework.Blobs{Dir: t.TempDir(), MaxSize: 1 << 10},
		Uploads:     UploadLimits{CaseFiles: 3, CaseBytes: 600, UnitBytes: 1000},
	})
	officer := f.loginUser(f.user(org.RoleIntakeOfficer, f.d1))
	up := func(c casework.Case, size int) (int, Error) {
		t.Helper()
		resp, b := officer.do("POST", caseURL(c, "/attachments?kind=answer&name="+url.QueryEscape("答复"+strconv.Itoa(f.next())+".pdf")), pdfOf(size))
		if resp.StatusCode == 201 {
			return 201, Error{}
		}
		return resp.StatusCode, errCode(t, b)
	}
	wantQuota := func(st int, e Error, limit string) {
		t.Helper()
		if st != 413 || e.Code != CodeQuotaExceeded || !bytes.Contains([]byte(e.Message), []byte(limit)) {
			t.Errorf("want quota_exceeded naming %s: %d %+v", limit, st, e)
		}
	}

	// Files per case: three small files fit, the fourth does not.
	c1 := f.newCase(f.d1, nil)
	for i := 0; i < 3; i++ {
		if st, e := up(c1, 50); st != 201 {
			t.Fatalf("file %d: %d %+v", i, st, e)
		}
	}
	st, e := up(c1, 50)
	wantQuota(st, e, "3")

	// Bytes per case: 150 used on c1 by now; a new case takes 500, then 150 more is over 600.
	c2 := f.newCase(f.d1, nil)
	if st, e := up(c2, 500); st != 201 {
		t.Fatalf("500 bytes: %d %+v", st, e)
	}
	st, e = up(c2, 150)
	wantQuota(st, e, "1 MiB") // 600 bytes, rounded up
	if e.Message == "" || !bytes.Contains([]byte(e.Message), []byte("信访事项")) {
		t.Errorf("the case's quota should be named: %q", e.Message)
	}
	if st, e := up(c2, 90); st != 201 { // what fits still goes in
		t.Fatalf("90 bytes: %d %+v", st, e)
	}

	// Bytes per unit: the officer's unit has 150+590 = 740 of 1000; a third case takes 200, and
	// then 100 more is over the unit's quota though the case has room.
	c3 := f.newCase(f.d1, nil)
	if st, e := up(c3, 200); st != 201 {
		t.Fatalf("200 bytes: %d %+v", st, e)
	}
	st, e = up(c3, 100)
	if st != 413 || e.Code != CodeQuotaExceeded || !bytes.Contains([]byte(e.Message), []byte("本单位")) {
		t.Errorf("unit quota: %d %+v", st, e)
	}
	// Another unit's officer is not held by this unit's quota.
	other := f.loginUser(f.user(org.RoleIntakeOfficer, f.d2))
	c4 := f.newCase(f.d2, nil)
	resp, b := other.do("POST", caseURL(c4, "/attachments?kind=answer&name=a.pdf"), pdfOf(300))
	wantStatus(t, resp, b, 201)
}
