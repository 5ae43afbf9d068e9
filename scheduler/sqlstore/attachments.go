package sqlstore

import (
	"context"
	"fmt"
	"sanji/scheduler/casework"
	"time"
)

// AddAttachment implements casework.AttachmentStore.
func (s *Store) AddAttachment(ctx context.Context, a *casework.Attachment) error {
	if err := casework.ValidateAttachment(*a); err != nil {
		return err
	}
	if a.UploadedAt.IsZero() {
		a.UploadedAt = s.now()
	}
	a.UploadedAt = a.UploadedAt.UTC().Truncate(time.Microsecond)
	id, err := s.insertID(ctx, `INSERT INTO case_attachments (case_id, kind, name, sha256, size, mime, uploaded_by, uploaded_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, a.CaseID, a.Kind, a.Name, a.SHA256, a.Size, a.MIME, a.UploadedBy, tm(a.UploadedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: add attachment: %w", err)
	}
	a.ID = id
	return nil
}

const attachmentCols = `id, case_id, kind, name, sha256, size, mime, uploaded_by, uploaded_at`

func scanAttachment(sc interface{ Scan(...any) error }) (casework.Attachment, error) {
	var a casework.Attachment
	var at int64
	err := sc.Scan(&a.ID, &a.CaseID, &a.Kind, &a.Name, &a.SHA256, &a.Size, &a.MIME, &a.UploadedBy, &at)
	a.UploadedAt = fromTm(at)
	return a, err
}

// GetAttachment implements casework.AttachmentStore.
func (s *Store) GetAttachment(ctx context.Context, id int64) (casework.Attachment, error) {
	a, err := scanAttachment(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+attachmentCols+` FROM case_attachments WHERE id = ?`), id))
	if err != nil {
		return casework.Attachment{}, notFound(err, "get attachment")
	}
	return a, nil
}

// ListAttachments implements casework.AttachmentStore.
func (s *Store) ListAttachments(ctx context.Context, caseID int64, kind string) ([]casework.Attachment, error) {
	q, args := `SELECT `+attachmentCols+` FROM case_attachments WHERE case_id = ?`, []any{caseID}
	if kind != "" {
		q += ` AND kind = ?`
		args = append(args, kind)
	}
	out, err := collect(ctx, s, scanAttachment, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list attachments: %w", err)
	}
	return out, nil
}

// AttachmentUsage implements casework.AttachmentStore.
func (s *Store) AttachmentUsage(ctx context.Context, caseID, uploaderUnitID int64) (casework.AttachmentUsage, error) {
	var u casework.AttachmentUsage
	if err := s.q.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*), COALESCE(SUM(size), 0) FROM case_attachments WHERE case_id = ?`),
		caseID).Scan(&u.CaseFiles, &u.CaseBytes); err != nil {
		return u, fmt.Errorf("sqlstore: attachment usage of case: %w", err)
	}
	if err := s.q.QueryRowContext(ctx, s.rebind(`SELECT COALESCE(SUM(a.size), 0) FROM case_attachments a
		JOIN users u ON u.id = a.uploaded_by WHERE u.unit_id = ?`), uploaderUnitID).Scan(&u.UnitBytes); err != nil {
		return u, fmt.Errorf("sqlstore: attachment usage of unit: %w", err)
	}
	return u, nil
}
