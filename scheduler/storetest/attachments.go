package storetest

import (
	"strings"
	"testing"
	"time"

	"sanji/scheduler"
)

func testAttachments(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	cat := scheduler.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	c := newCase(t, s, tr, cat.ID, "附件", time.Date(2026, 3, 2, 9, 0, 0, 0, scheduler.ChinaTZ))
	at := time.Date(2026, 3, 3, 9, 0, 0, 0, scheduler.ChinaTZ)
	mk := func(kind, name, sum string) scheduler.Attachment {
		return scheduler.Attachment{CaseID: c.ID, Kind: kind, Name: name, SHA256: strings.Repeat(sum, 64), Size: 10, MIME: "application/pdf", UploadedBy: 1, UploadedAt: at}
	}
	a1, a2, a3 := mk(scheduler.AttachSubmitted, "材料.pdf", "a"), mk(scheduler.AttachAnswer, "答复.pdf", "b"), mk(scheduler.AttachSubmitted, "补充.pdf", "c")
	for _, a := range []*scheduler.Attachment{&a1, &a2, &a3} {
		if err := s.AddAttachment(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.GetAttachment(ctx, a2.ID); err != nil || got != a2 {
		t.Errorf("round trip: %+v %v, want %+v", got, err, a2)
	}
	if l, err := s.ListAttachments(ctx, c.ID, scheduler.AttachSubmitted); err != nil || len(l) != 2 || l[0].ID != a1.ID || l[1].ID != a3.ID {
		t.Errorf("by kind: %+v %v", l, err)
	}
	if l, _ := s.ListAttachments(ctx, c.ID, ""); len(l) != 3 {
		t.Errorf("all: %d", len(l))
	}
	bad := mk(scheduler.AttachAnswer, "../x.pdf", "d")
	wantErr(t, s.AddAttachment(ctx, &bad), scheduler.ErrInvalid, "unsafe name")
	orphan := mk(scheduler.AttachAnswer, "x.pdf", "e")
	orphan.CaseID = 999999
	wantErr(t, s.AddAttachment(ctx, &orphan), scheduler.ErrConflict, "attachment of a missing case")
	_, err := s.GetAttachment(ctx, 999999)
	wantErr(t, err, scheduler.ErrNotFound, "missing attachment")
}
