package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// Slips: casework.SlipStore.

// CreateAssignment implements casework.SlipStore.
func (s *Store) CreateAssignment(ctx context.Context, a *casework.Assignment, actor casework.CaseEvent) error {
	if a.AssignedAt.IsZero() {
		a.AssignedAt = s.now()
	}
	a.AssignedAt = a.AssignedAt.UTC().Truncate(time.Microsecond)
	a.Status = casework.AssignmentOpen
	if err := casework.ValidateAssignment(*a); err != nil {
		return err
	}
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		c, err := tx.GetCase(ctx, a.CaseID)
		if err != nil {
			return err
		}
		if c.Status == casework.StObjectionReturned {
			if err := tx.checkReturnedTo(ctx, c.ID, a.AssignerUnitID); err != nil {
				return err
			}
		}
		ev := actor
		ev.CaseID, ev.From, ev.To, ev.At = c.ID, c.Status, casework.StAssigned, a.AssignedAt
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

// checkReturnedTo refuses to route a case an objection returned unless the unit it went back
// to does: an objection returns a case to its assigner, never sideways.
func (s *Store) checkReturnedTo(ctx context.Context, caseID, assigner int64) error {
	as, err := s.ListAssignments(ctx, caseID)
	if err != nil {
		return err
	}
	for i := len(as) - 1; i >= 0; i-- {
		if as[i].Status != casework.AssignmentObjected {
			continue
		}
		if as[i].AssignerUnitID == assigner {
			return nil
		}
		u, err := s.GetUnit(ctx, as[i].AssignerUnitID)
		if err != nil {
			return err
		}
		return org.Invalid("assigner_unit_id", "sqlstore.assignment.returned_to_assigner", "unit", u.Name)
	}
	return nil
}

const assignmentCols = `id, case_id, assigner_unit_id, assigner_id, responsible_unit_id, co_units, requirements, instruction,
	method, session_id, recording_offset_ms, assigned_at, feedback_due, status, objection_reason, objected_at`

func scanAssignment(sc interface{ Scan(...any) error }) (casework.Assignment, error) {
	var a casework.Assignment
	var co string
	var off, at, due, obj int64
	err := sc.Scan(&a.ID, &a.CaseID, &a.AssignerUnitID, &a.AssignerID, &a.ResponsibleUnitID, &co, &a.Requirements,
		&a.Instruction, &a.Method, &a.SessionID, &off, &at, &due, &a.Status, &a.ObjectionReason, &obj)
	a.CoUnitIDs, a.RecordingOffset = parseIDList(co), time.Duration(off)*time.Millisecond
	a.AssignedAt, a.FeedbackDue, a.ObjectedAt = fromTm(at), fromTm(due), fromTm(obj)
	return a, err
}

// GetAssignment implements casework.SlipStore.
func (s *Store) GetAssignment(ctx context.Context, id int64) (casework.Assignment, error) {
	a, err := scanAssignment(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+assignmentCols+` FROM assignments WHERE id = ?`), id))
	if err != nil {
		return casework.Assignment{}, notFound(err, "get assignment")
	}
	return a, nil
}

// ListAssignments implements casework.SlipStore.
func (s *Store) ListAssignments(ctx context.Context, caseID int64) ([]casework.Assignment, error) {
	out, err := collect(ctx, s, scanAssignment, `SELECT `+assignmentCols+` FROM assignments WHERE case_id = ? ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list assignments: %w", err)
	}
	return out, nil
}

// ObjectAssignment implements casework.SlipStore.
func (s *Store) ObjectAssignment(ctx context.Context, id int64, reason string, actor casework.CaseEvent) error {
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
			return fmt.Errorf("sqlstore: assignment %d is not open: %w", id, org.ErrConflict)
		}
		// Back to the assigner: the case leaves the objecting unit and waits for the assigner's
		// next routing decision; no unit is named here, so it cannot go sideways.
		ev := actor
		ev.CaseID, ev.From, ev.To, ev.Reason = a.CaseID, casework.StAssigned, casework.StObjectionReturned, reason
		ev.ResponsibleUnitID, ev.CoUnitIDs = 0, nil
		return tx.TransitionCase(ctx, &ev)
	})
}

// OpenSupervision implements casework.SlipStore.
func (s *Store) OpenSupervision(ctx context.Context, sv *casework.Supervision) error {
	if sv.Escalation == "" {
		sv.Escalation = casework.EscalationLadder[0]
	}
	if err := casework.ValidateSupervision(*sv); err != nil {
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
		if err := mustAffect(r, "flag case supervised"); err != nil {
			return err
		}
		actor := casework.CaseEvent{At: sv.OpenedAt, Actor: "system"}
		if sv.OpenedBy != 0 {
			actor.ActorID, actor.Actor = sv.OpenedBy, ""
			u, err := tx.GetUser(ctx, sv.OpenedBy)
			switch {
			case err == nil:
				actor.Actor, actor.UnitID = u.Username, u.UnitID
			case !errors.Is(err, org.ErrNotFound):
				return err
			}
		}
		basis := []rune(sv.Basis)
		if len(basis) > 200 {
			basis = append(basis[:200], '…')
		}
		return tx.noteEvent(ctx, actor, sv.CaseID, casework.EvSupervision, supervisionRef(id), "督办："+string(basis))
	})
}

const supervisionCols = `id, case_id, unit_id, opened_by, basis, level, method, escalation, deadline, opened_at, closed_at, opinion, notes,
	escalated_unit_id, overdue_escalations`

// OpenSupervisionFor implements casework.SlipStore.
func (s *Store) OpenSupervisionFor(ctx context.Context, caseID int64) (casework.Supervision, error) {
	sv, err := scanSupervision(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+supervisionCols+` FROM supervisions WHERE case_id = ? AND closed_at = 0`), caseID))
	if err != nil {
		return casework.Supervision{}, notFound(err, "open supervision")
	}
	return sv, nil
}

// EscalateSupervision implements casework.SlipStore.
func (s *Store) EscalateSupervision(ctx context.Context, id int64, actor casework.CaseEvent) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		actor.At = tx.stamp(actor.At)
		sv, err := tx.lockSupervision(ctx, id, actor.At)
		if err != nil {
			return err
		}
		if !sv.ClosedAt.IsZero() {
			return fmt.Errorf("sqlstore: escalate supervision %d: it is closed: %w", id, org.ErrNotFound)
		}
		_, err = tx.climb(ctx, sv, sv.Deadline, false, actor)
		return err
	})
}

// CloseSupervision implements casework.SlipStore.
func (s *Store) CloseSupervision(ctx context.Context, id int64, opinion, notes string, actor casework.CaseEvent) error {
	if opinion != casework.SupOpinionOK && opinion != casework.SupOpinionRe {
		return org.Invalid("opinion", "sqlstore.supervision.opinion_invalid")
	}
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		actor.At = tx.stamp(actor.At)
		sv, err := tx.lockSupervision(ctx, id, actor.At)
		if err != nil {
			return err
		}
		if !sv.ClosedAt.IsZero() {
			return fmt.Errorf("sqlstore: close supervision %d: it is closed already: %w", id, org.ErrNotFound)
		}
		if _, err := tx.exec(ctx, `UPDATE supervisions SET closed_at = ?, opinion = ?, notes = ? WHERE id = ?`,
			tm(actor.At), opinion, notes, id); err != nil {
			return fmt.Errorf("sqlstore: close supervision: %w", err)
		}
		if _, err := tx.exec(ctx, `UPDATE cases SET supervised = 0 WHERE id = ?`, sv.CaseID); err != nil {
			return fmt.Errorf("sqlstore: clear case supervised: %w", err)
		}
		reason := "督办办结，审核通过"
		if opinion == casework.SupOpinionRe {
			reason = "督办审核：退回重办"
		}
		return tx.noteEvent(ctx, actor, sv.CaseID, casework.EvSupervision, supervisionRef(id), reason)
	})
}

func scanSupervision(sc interface{ Scan(...any) error }) (casework.Supervision, error) {
	var sv casework.Supervision
	var dl, op, cl int64
	err := sc.Scan(&sv.ID, &sv.CaseID, &sv.UnitID, &sv.OpenedBy, &sv.Basis, &sv.Level, &sv.Method, &sv.Escalation, &dl, &op, &cl, &sv.Opinion, &sv.Notes,
		&sv.EscalatedUnitID, &sv.Overdue)
	sv.Deadline, sv.OpenedAt, sv.ClosedAt = fromTm(dl), fromTm(op), fromTm(cl)
	return sv, err
}

// ListSupervisions implements casework.SlipStore.
func (s *Store) ListSupervisions(ctx context.Context, caseID int64) ([]casework.Supervision, error) {
	out, err := collect(ctx, s, scanSupervision, `SELECT `+supervisionCols+` FROM supervisions WHERE case_id = ? ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list supervisions: %w", err)
	}
	return out, nil
}

func supervisionRef(id int64) string { return "supervision:" + strconv.FormatInt(id, 10) }

// lockSupervision locks the item's case and loads the item.
func (s *Store) lockSupervision(ctx context.Context, id int64, at time.Time) (casework.Supervision, error) {
	var caseID int64
	if err := s.q.QueryRowContext(ctx, s.rebind(`SELECT case_id FROM supervisions WHERE id = ?`), id).Scan(&caseID); err != nil {
		return casework.Supervision{}, notFound(err, "supervision")
	}
	if err := s.lockCase(ctx, caseID, at); err != nil {
		return casework.Supervision{}, err
	}
	sv, err := scanSupervision(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+supervisionCols+` FROM supervisions WHERE id = ?`), id))
	if err != nil {
		return sv, notFound(err, "supervision")
	}
	return sv, nil
}

// AddSupervisionReport implements casework.SlipStore.
func (s *Store) AddSupervisionReport(ctx context.Context, r *casework.SupervisionReport, actor casework.CaseEvent) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		r.At = tx.stamp(r.At, actor.At)
		sv, err := tx.lockSupervision(ctx, r.SupervisionID, r.At)
		if err != nil {
			return err
		}
		r.UnitID, r.Decision, r.DecidedBy, r.DecidedAt, r.DecisionNote = sv.UnitID, casework.ExtensionPending, 0, time.Time{}, ""
		if r.By == 0 {
			r.By = actor.ActorID
		}
		if err := casework.ValidateSupervisionReport(*r, sv); err != nil {
			return err
		}
		if r.Kind == casework.ReportExtension {
			var pending int
			if err := tx.q.QueryRowContext(ctx, tx.rebind(`SELECT COUNT(*) FROM supervision_reports WHERE supervision_id = ?
				AND kind = 'extension' AND decision = ''`), sv.ID).Scan(&pending); err != nil {
				return fmt.Errorf("sqlstore: pending extension requests: %w", err)
			}
			if pending > 0 {
				return fmt.Errorf("sqlstore: supervision %d has a pending extension request: %w", sv.ID, org.ErrConflict)
			}
		}
		id, err := tx.insertID(ctx, `INSERT INTO supervision_reports (supervision_id, kind, text, unit_id, by_user, at, requested_deadline,
			decision, decided_by, decided_at, decision_note) VALUES (?, ?, ?, ?, ?, ?, ?, '', 0, 0, '')`,
			sv.ID, r.Kind, r.Text, r.UnitID, r.By, tm(r.At), tm(r.RequestedDeadline))
		if err != nil {
			return fmt.Errorf("sqlstore: add supervision report: %w", err)
		}
		r.ID = id
		kind, reason := casework.EvSupervisionReport, "督办进展报告"
		if r.Kind == casework.ReportExtension {
			kind, reason = casework.EvSupervisionExtension, "申请督办延期至 "+r.RequestedDeadline.Format("2006-01-02")
		}
		actor.At, actor.UnitID = r.At, r.UnitID
		return tx.noteEvent(ctx, actor, sv.CaseID, kind, supervisionRef(sv.ID), reason)
	})
}

const reportCols = `id, supervision_id, kind, text, unit_id, by_user, at, requested_deadline, decision, decided_by, decided_at, decision_note`

func scanReport(sc interface{ Scan(...any) error }) (casework.SupervisionReport, error) {
	var r casework.SupervisionReport
	var at, req, dec int64
	err := sc.Scan(&r.ID, &r.SupervisionID, &r.Kind, &r.Text, &r.UnitID, &r.By, &at, &req, &r.Decision, &r.DecidedBy, &dec, &r.DecisionNote)
	r.At, r.RequestedDeadline, r.DecidedAt = fromTm(at), fromTm(req), fromTm(dec)
	return r, err
}

// DecideSupervisionExtension implements casework.SlipStore.
func (s *Store) DecideSupervisionExtension(ctx context.Context, reportID int64, approve bool, note string, actor casework.CaseEvent) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		actor.At = tx.stamp(actor.At)
		r, err := scanReport(tx.q.QueryRowContext(ctx, tx.rebind(`SELECT `+reportCols+` FROM supervision_reports WHERE id = ?`), reportID))
		if err != nil {
			return notFound(err, "supervision report")
		}
		sv, err := tx.lockSupervision(ctx, r.SupervisionID, actor.At)
		if err != nil {
			return err
		}
		if r.Kind != casework.ReportExtension {
			return org.Invalid("report", "sqlstore.supervision.progress_not_decided")
		}
		if !sv.ClosedAt.IsZero() {
			return org.Invalid("supervision", "sqlstore.supervision.closed")
		}
		decision, reason := casework.ExtensionRefused, "不同意督办延期"
		if approve {
			decision, reason = casework.ExtensionApproved, "同意督办延期至 "+r.RequestedDeadline.Format("2006-01-02")
		}
		res, err := tx.exec(ctx, `UPDATE supervision_reports SET decision = ?, decided_by = ?, decided_at = ?, decision_note = ?
			WHERE id = ? AND decision = ''`, decision, actor.ActorID, tm(actor.At), note, reportID)
		if err != nil {
			return fmt.Errorf("sqlstore: decide extension: %w", err)
		}
		if err := mustAffect(res, "decide extension"); err != nil {
			return fmt.Errorf("sqlstore: extension request %d was decided already: %w", reportID, org.ErrConflict)
		}
		if approve {
			if _, err := tx.exec(ctx, `UPDATE supervisions SET deadline = ? WHERE id = ?`, tm(r.RequestedDeadline), sv.ID); err != nil {
				return fmt.Errorf("sqlstore: extend supervision: %w", err)
			}
		}
		return tx.noteEvent(ctx, actor, sv.CaseID, casework.EvSupervisionExtension, supervisionRef(sv.ID), reason)
	})
}

// ListSupervisionReports implements casework.SlipStore.
func (s *Store) ListSupervisionReports(ctx context.Context, supervisionID int64) ([]casework.SupervisionReport, error) {
	out, err := collect(ctx, s, scanReport, `SELECT `+reportCols+` FROM supervision_reports WHERE supervision_id = ? ORDER BY id`, supervisionID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list supervision reports: %w", err)
	}
	return out, nil
}
