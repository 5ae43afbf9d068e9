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

func testAttachments(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	cat := org.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	c := newCase(t, s, tr, cat.ID, "附件", time.Date(2026, 3, 2, 9, 0, 0, 0, calendar.ChinaTZ))
	at := time.Date(2026, 3, 3, 9, 0, 0, 0, calendar.ChinaTZ)
	mk := func(kind, name, sum string) casework.Attachment {
		return casework.Attachment{CaseID: c.ID, Kind: kind, Name: name, SHA256: strings.Repeat(sum, 64), Size: 10, MIME: "application/pdf", UploadedBy: 1, UploadedAt: at}
	}
	a1, a2, a3 := mk(casework.AttachSubmitted, "材料.pdf", "a"), mk(casework.AttachAnswer, "答复.pdf", "b"), mk(casework.AttachSubmitted, "补充.pdf", "c")
	for _, a := range []*casework.Attachment{&a1, &a2, &a3} {
		if err := s.AddAttachment(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.GetAttachment(ctx, a2.ID); err != nil || got != a2 {
		t.Errorf("round trip: %+v %v, want %+v", got, err, a2)
	}
	if l, err := s.ListAttachments(ctx, c.ID, casework.AttachSubmitted); err != nil || len(l) != 2 || l[0].ID != a1.ID || l[1].ID != a3.ID {
		t.Errorf("by kind: %+v %v", l, err)
	}
	if l, _ := s.ListAttachments(ctx, c.ID, ""); len(l) != 3 {
		t.Errorf("all: %d", len(l))
	}
	bad := mk(casework.AttachAnswer, "../x.pdf", "d")
	wantErr(t, s.AddAttachment(ctx, &bad), org.ErrInvalid, "unsafe name")
	orphan := mk(casework.AttachAnswer, "x.pdf", "e")
	orphan.CaseID = 999999
	wantErr(t, s.AddAttachment(ctx, &orphan), org.ErrConflict, "attachment of a missing case")
	_, err := s.GetAttachment(ctx, 999999)
	wantErr(t, err, org.ErrNotFound, "missing attachment")
}
