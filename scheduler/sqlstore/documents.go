package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// The case's documents and their service (casework.DocumentStore).

// AddDocument implements casework.DocumentStore.
func (s *Store) AddDocument(ctx context.Context, d *casework.Document, a *casework.Attachment, actor casework.CaseEvent) error {
	d.SHA256, d.CaseID = a.SHA256, a.CaseID
	if err := casework.ValidateDocument(*d); err != nil {
		return err
	}
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		d.GeneratedAt = tx.stamp(d.GeneratedAt)
		a.UploadedAt = d.GeneratedAt
		if err := tx.lockCase(ctx, d.CaseID, d.GeneratedAt); err != nil {
			return err
		}
		if err := tx.AddAttachment(ctx, a); err != nil {
			return err
		}
		d.AttachmentID = a.ID
		id, err := tx.insertID(ctx, `INSERT INTO case_documents (case_id, kind, attachment_id, sha256, reason, channel, body,
			generated_by, generated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, d.CaseID, d.Kind, d.AttachmentID, d.SHA256,
			d.Reason, d.Channel, d.Body, d.GeneratedBy, tm(d.GeneratedAt))
		if err != nil {
			return fmt.Errorf("sqlstore: add document: %w", err)
		}
		d.ID = id
		actor.At = d.GeneratedAt
		return tx.noteEvent(ctx, actor, d.CaseID, casework.EvDocument, "document:"+strconv.FormatInt(id, 10), d.Kind)
	})
}

const documentCols = `d.id, d.case_id, d.kind, d.attachment_id, d.sha256, d.reason, d.channel, d.body, d.generated_by,
	d.generated_at, d.served_at, d.service_method, d.service_proof, d.served_by`

func scanDocument(sc scanner) (casework.Document, error) {
	var d casework.Document
	var gen, served int64
	err := sc.Scan(&d.ID, &d.CaseID, &d.Kind, &d.AttachmentID, &d.SHA256, &d.Reason, &d.Channel, &d.Body, &d.GeneratedBy,
		&gen, &served, &d.ServiceMethod, &d.ServiceProof, &d.ServedBy)
	d.GeneratedAt, d.ServedAt = fromTm(gen), fromTm(served)
	return d, err
}

// GetDocument implements casework.DocumentStore.
func (s *Store) GetDocument(ctx context.Context, id int64) (casework.Document, error) {
	d, err := scanDocument(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+documentCols+` FROM case_documents d WHERE d.id = ?`), id))
	if err != nil {
		return d, notFound(err, "get document")
	}
	return d, nil
}

// ListDocuments implements casework.DocumentStore.
func (s *Store) ListDocuments(ctx context.Context, caseID int64) ([]casework.Document, error) {
	out, err := collect(ctx, s, scanDocument, `SELECT `+documentCols+` FROM case_documents d WHERE d.case_id = ? ORDER BY d.id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list documents: %w", err)
	}
	return out, nil
}

// ServeDocument implements casework.DocumentStore.
func (s *Store) ServeDocument(ctx context.Context, docID int64, sv casework.Service, actor casework.CaseEvent) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		d, err := tx.GetDocument(ctx, docID)
		if err != nil {
			return err
		}
		if !casework.ServedOnPetitioner(d.Kind) {
			return org.Invalid("document", "casework.documents.service_not_for_petitioner")
		}
		sv.At = sv.At.UTC().Truncate(time.Microsecond)
		if err := casework.ValidateService(sv, d.GeneratedAt); err != nil {
			return err
		}
		if err := tx.lockCase(ctx, d.CaseID, tx.stamp(actor.At)); err != nil {
			return err
		}
		r, err := tx.exec(ctx, `UPDATE case_documents SET served_at = ?, service_method = ?, service_proof = ?, served_by = ?
			WHERE id = ? AND served_at = 0`, tm(sv.At), sv.Method, sv.Proof, sv.By, docID)
		if err != nil {
			return fmt.Errorf("sqlstore: serve document: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return fmt.Errorf("sqlstore: document %d is served already: %w", docID, org.ErrConflict)
		}
		// The note carries the service instant: the windows that run from service read it.
		actor.At = sv.At
		if err := tx.noteEvent(ctx, actor, d.CaseID, casework.EvServed, "document:"+strconv.FormatInt(docID, 10), d.Kind); err != nil {
			return err
		}
		return tx.refreshRates(ctx, d.CaseID) // a served answer makes its result one to rate (参评率)
	})
}

// ListUnservedDocuments implements casework.DocumentStore.
func (s *Store) ListUnservedDocuments(ctx context.Context, underPath string, limit int) ([]casework.Document, error) {
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	out, err := collect(ctx, s, scanDocument, `SELECT `+documentCols+` FROM case_documents d JOIN cases c ON c.id = d.case_id
		WHERE d.served_at = 0 AND d.kind NOT IN ('closure_report', 'supervision_feedback')
		AND (c.unit_id IN (SELECT id FROM units WHERE path LIKE ?) OR c.responsible_unit_id IN (SELECT id FROM units WHERE path LIKE ?))
		ORDER BY d.id LIMIT `+strconv.Itoa(limit), prefixPattern(underPath), prefixPattern(underPath))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: unserved documents: %w", err)
	}
	return out, nil
}
