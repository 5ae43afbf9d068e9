package sqlstore

import (
	"context"
	"fmt"
	"time"

	"sanji/scheduler"
)

// Slips: scheduler.SlipStore.

// CreateAssignment implements scheduler.SlipStore.
func (s *Store) CreateAssignment(ctx context.Context, a *scheduler.Assignment, actor scheduler.CaseEvent) error {
	if a.AssignedAt.IsZero() {
		a.AssignedAt = s.now()
	}
	a.AssignedAt = a.AssignedAt.UTC().Truncate(time.Microsecond)
	a.Status = scheduler.AssignmentOpen
	if err := scheduler.ValidateAssignment(*a); err != nil {
		return err
	}
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		c, err := tx.GetCase(ctx, a.CaseID)
		if err != nil {
			return err
		}
		ev := actor
		ev.CaseID, ev.From, ev.To, ev.At = c.ID, c.Status, scheduler.StAssigned, a.AssignedAt
		ev.ResponsibleUnitID, ev.CoUnitIDs = a.ResponsibleUnitID, a.CoUnitIDs
		if ev.Reason == "" {
			ev.Reason = "交办"
		}
		if err := tx.TransitionCase(ctx, &ev); err != nil {
			return err
		}
		id, err := tx.insertID(ctx, `INSERT INTO assignments (case_id, assigner_unit_id, assigner_id, responsible_unit_id,
			co_units, requirements, instruction, method, session_id, recording_offset_ms, assigned_at, feedback_due, status,
			objection_reason, objected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', 0)`,
			a.CaseID, a.AssignerUnitID, a.AssignerID, a.ResponsibleUnitID, idList(a.CoUnitIDs), a.Requirements, a.Instruction,
			a.Method, a.SessionID, a.RecordingOffset.Milliseconds(), tm(a.AssignedAt), tm(a.FeedbackDue), a.Status)
		if err != nil {
			return fmt.Errorf("sqlstore: create assignment: %w", err)
		}
		a.ID = id
		return nil
	})
}

const assignmentCols = `id, case_id, assigner_unit_id, assigner_id, responsible_unit_id, co_units, requirements, instruction,
	method, session_id, recording_offset_ms, assigned_at, feedback_due, status, objection_reason, objected_at`

func scanAssignment(sc interface{ Scan(...any) error }) (scheduler.Assignment, error) {
	var a scheduler.Assignment
	var co string
	var off, at, due, obj int64
	err := sc.Scan(&a.ID, &a.CaseID, &a.AssignerUnitID, &a.AssignerID, &a.ResponsibleUnitID, &co, &a.Requirements,
		&a.Instruction, &a.Method, &a.SessionID, &off, &at, &due, &a.Status, &a.ObjectionReason, &obj)
	a.CoUnitIDs, a.RecordingOffset = parseIDList(co), time.Duration(off)*time.Millisecond
	a.AssignedAt, a.FeedbackDue, a.ObjectedAt = fromTm(at), fromTm(due), fromTm(obj)
	return a, err
}

// GetAssignment implements scheduler.SlipStore.
func (s *Store) GetAssignment(ctx context.Context, id int64) (scheduler.Assignment, error) {
	a, err := scanAssignment(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+assignmentCols+` FROM assignments WHERE id = ?`), id))
	if err != nil {
		return scheduler.Assignment{}, notFound(err, "get assignment")
	}
	return a, nil
}

// ListAssignments implements scheduler.SlipStore.
func (s *Store) ListAssignments(ctx context.Context, caseID int64) ([]scheduler.Assignment, error) {
	rows, err := s.q.QueryContext(ctx, s.rebind(`SELECT `+assignmentCols+` FROM assignments WHERE case_id = ? ORDER BY id`), caseID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list assignments: %w", err)
	}
	defer rows.Close()
	var out []scheduler.Assignment
	for rows.Next() {
		a, err := scanAssignment(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list assignments: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ObjectAssignment implements scheduler.SlipStore.
func (s *Store) ObjectAssignment(ctx context.Context, id int64, reason string, actor scheduler.CaseEvent) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		a, err := tx.GetAssignment(ctx, id)
		if err != nil {
			return err
		}
		if actor.At.IsZero() {
			actor.At = tx.now()
		}
		r, err := tx.exec(ctx, `UPDATE assignments SET status = 'objected', objection_reason = ?, objected_at = ?
			WHERE id = ? AND status = 'open'`, reason, tm(actor.At.UTC().Truncate(time.Microsecond)), id)
		if err != nil {
			return fmt.Errorf("sqlstore: object to assignment: %w", err)
		}
		if err := mustAffect(r, "object to assignment"); err != nil {
			return fmt.Errorf("sqlstore: assignment %d is not open: %w", id, scheduler.ErrConflict)
		}
		// Back to the assigner: the case leaves the objecting unit and waits for the assigner's
		// next routing decision; no unit is named here, so it cannot go sideways.
		ev := actor
		ev.CaseID, ev.From, ev.To, ev.Reason = a.CaseID, scheduler.StAssigned, scheduler.StObjectionReturned, reason
		ev.ResponsibleUnitID, ev.CoUnitIDs = 0, nil
		return tx.TransitionCase(ctx, &ev)
	})
}

// OpenSupervision implements scheduler.SlipStore.
func (s *Store) OpenSupervision(ctx context.Context, sv *scheduler.Supervision) error {
	if sv.Escalation == "" {
		sv.Escalation = scheduler.EscalationLadder[0]
	}
	if err := scheduler.ValidateSupervision(*sv); err != nil {
		return err
	}
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		if sv.OpenedAt.IsZero() {
			sv.OpenedAt = tx.now()
		}
		sv.OpenedAt = sv.OpenedAt.UTC().Truncate(time.Microsecond)
		id, err := tx.insertID(ctx, `INSERT INTO supervisions (case_id, unit_id, opened_by, basis, level, method, escalation,
			deadline, opened_at, closed_at, opinion, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', ?)`,
			sv.CaseID, sv.UnitID, sv.OpenedBy, sv.Basis, sv.Level, sv.Method, sv.Escalation, tm(sv.Deadline), tm(sv.OpenedAt), sv.Notes)
		if err != nil {
			return fmt.Errorf("sqlstore: open supervision (one open item per case): %w", err)
		}
		sv.ID = id
		r, err := tx.exec(ctx, `UPDATE cases SET supervised = 1 WHERE id = ?`, sv.CaseID)
		if err != nil {
			return fmt.Errorf("sqlstore: flag case supervised: %w", err)
		}
		return mustAffect(r, "flag case supervised")
	})
}

const supervisionCols = `id, case_id, unit_id, opened_by, basis, level, method, escalation, deadline, opened_at, closed_at, opinion, notes`

// OpenSupervisionFor implements scheduler.SlipStore.
func (s *Store) OpenSupervisionFor(ctx context.Context, caseID int64) (scheduler.Supervision, error) {
	var sv scheduler.Supervision
	var dl, op, cl int64
	err := s.q.QueryRowContext(ctx, s.rebind(`SELECT `+supervisionCols+` FROM supervisions WHERE case_id = ? AND closed_at = 0`), caseID).
		Scan(&sv.ID, &sv.CaseID, &sv.UnitID, &sv.OpenedBy, &sv.Basis, &sv.Level, &sv.Method, &sv.Escalation, &dl, &op, &cl, &sv.Opinion, &sv.Notes)
	if err != nil {
		return scheduler.Supervision{}, notFound(err, "open supervision")
	}
	sv.Deadline, sv.OpenedAt, sv.ClosedAt = fromTm(dl), fromTm(op), fromTm(cl)
	return sv, nil
}

// EscalateSupervision implements scheduler.SlipStore.
func (s *Store) EscalateSupervision(ctx context.Context, id int64) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		var cur string
		if err := tx.q.QueryRowContext(ctx, tx.rebind(`SELECT escalation FROM supervisions WHERE id = ? AND closed_at = 0`), id).Scan(&cur); err != nil {
			return notFound(err, "escalate supervision")
		}
		next := scheduler.NextEscalation(cur)
		if next == cur {
			return &scheduler.FieldError{Field: "escalation", ZH: "已是最高督办层级（挂牌督办）", EN: "already at the top of the ladder (listed supervision)"}
		}
		level := scheduler.SupLevelRoutine
		if next == "listed" {
			level = scheduler.SupLevelListed
		}
		_, err := tx.exec(ctx, `UPDATE supervisions SET escalation = ?, level = ? WHERE id = ?`, next, level, id)
		if err != nil {
			return fmt.Errorf("sqlstore: escalate supervision: %w", err)
		}
		return nil
	})
}

// CloseSupervision implements scheduler.SlipStore.
func (s *Store) CloseSupervision(ctx context.Context, id int64, opinion, notes string, at time.Time) error {
	if opinion != scheduler.SupOpinionOK && opinion != scheduler.SupOpinionRe {
		return &scheduler.FieldError{Field: "opinion", ZH: "审核意见应为 pass（通过）或 return（退回重办）", EN: "opinion must be pass or return"}
	}
	if at.IsZero() {
		at = s.now()
	}
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		var caseID int64
		if err := tx.q.QueryRowContext(ctx, tx.rebind(`SELECT case_id FROM supervisions WHERE id = ? AND closed_at = 0`), id).Scan(&caseID); err != nil {
			return notFound(err, "close supervision")
		}
		if _, err := tx.exec(ctx, `UPDATE supervisions SET closed_at = ?, opinion = ?, notes = ? WHERE id = ?`,
			tm(at.UTC().Truncate(time.Microsecond)), opinion, notes, id); err != nil {
			return fmt.Errorf("sqlstore: close supervision: %w", err)
		}
		if _, err := tx.exec(ctx, `UPDATE cases SET supervised = 0 WHERE id = ?`, caseID); err != nil {
			return fmt.Errorf("sqlstore: clear case supervised: %w", err)
		}
		return nil
	})
}
