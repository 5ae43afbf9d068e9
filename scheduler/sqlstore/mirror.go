package sqlstore

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/casework"
	"sanji/scheduler/exchange"
	"sanji/scheduler/org"
)

// Copies of cases from other systems: exchange.MirrorStore. The rows are written as the bundle
// has them (times, statuses, slips as they stand there); the checks of the status machine and
// the slips ran where the case lives.

// GetCaseByExternal implements exchange.MirrorStore.
func (s *Store) GetCaseByExternal(ctx context.Context, source, externalID string) (casework.Case, error) {
	if source == "" {
		return casework.Case{}, fmt.Errorf("sqlstore: get case by external id: no source: %w", org.ErrNotFound)
	}
	c, err := scanCase(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+caseCols+` FROM cases c WHERE c.external_source = ? AND c.external_id = ?`),
		source, externalID))
	if err != nil {
		return casework.Case{}, notFound(err, "get case by external id")
	}
	if err := s.fillCase(ctx, &c); err != nil {
		return casework.Case{}, err
	}
	return c, nil
}

var mirrorRef = regexp.MustCompile(`^(supervision|consultation)#([0-9]+)$`)

// PutMirror implements exchange.MirrorStore.
func (s *Store) PutMirror(ctx context.Context, f *exchange.CaseFile, keep int) error {
	if f.Case.ExternalSource == "" || f.Case.ExternalID == "" {
		return org.Invalid("external_id", "sqlstore.mirror.source_required")
	}
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		c := &f.Case
		stamp := func(t *time.Time) { *t = tx.stamp(*t) }
		for _, t := range []*time.Time{&c.RegisteredAt, &c.UpdatedAt} {
			stamp(t)
		}
		if c.ID == 0 {
			_, hash, err := casework.NewQueryCode() // a copy is queried where the petitioner registered
			if err != nil {
				return err
			}
			c.QueryCodeHash = hash
			if err := tx.insertCase(ctx, c); err != nil {
				return err
			}
		} else {
			r, err := tx.exec(ctx, `UPDATE cases SET unit_id = ?, territory = ?, form = ?, type = ?, category_id = ?, title = ?,
				content = ?, complained_unit_id = ?, complained_party = ?, responsible_unit_id = ?, involved_count = ?, fast_track = ?,
				result = ?, status = ?, supervised = ?, registered_at = ?, accepted_at = ?, closed_at = ?, updated_at = ?
				WHERE id = ? AND external_source = ? AND external_id = ?`,
				c.UnitID, c.Territory, string(c.Form), string(c.Type), c.CategoryID, c.Title, c.Content, nullID(c.ComplainedUnitID),
				c.ComplainedParty, nullID(c.ResponsibleUnitID), c.InvolvedCount, b2i(c.FastTrack), string(c.Result), string(c.Status),
				b2i(c.Supervised), tm(c.RegisteredAt), tm(c.AcceptedAt), tm(c.ClosedAt), tm(c.UpdatedAt), c.ID, c.ExternalSource, c.ExternalID)
			if err != nil {
				return fmt.Errorf("sqlstore: update copy: %w", err)
			}
			if err := mustAffect(r, "update copy"); err != nil {
				return err
			}
			if err := tx.setPetitioners(ctx, c.ID, c.Petitioners); err != nil {
				return err
			}
			if err := tx.setCoUnits(ctx, c.ID, c.CoUnitIDs); err != nil {
				return err
			}
		}
		if err := tx.putMirrorSlips(ctx, f); err != nil {
			return err
		}
		for i := range f.Evaluations {
			e := &f.Evaluations[i]
			e.CaseID = c.ID
			id, err := tx.insertID(ctx, `INSERT INTO case_evaluations (case_id, stage, score, via, at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (case_id, stage) DO UPDATE SET score = excluded.score, via = excluded.via, at = excluded.at`,
				c.ID, e.Stage, e.Score, e.Via, tm(tx.stamp(e.At)))
			if err != nil {
				return fmt.Errorf("sqlstore: copy evaluation: %w", err)
			}
			e.ID = id
		}
		for i := range f.Attachments {
			a := &f.Attachments[i]
			a.CaseID, a.UploadedAt = c.ID, tx.stamp(a.UploadedAt)
			err := tx.q.QueryRowContext(ctx, tx.rebind(`SELECT id FROM case_attachments WHERE case_id = ? AND sha256 = ? AND kind = ?
				AND name = ? AND uploaded_at = ?`), c.ID, a.SHA256, a.Kind, a.Name, tm(a.UploadedAt)).Scan(&a.ID)
			if err == nil {
				continue
			}
			if err := tx.AddAttachment(ctx, a); err != nil {
				return err
			}
		}
		var have int
		if err := tx.q.QueryRowContext(ctx, tx.rebind(`SELECT COUNT(*) FROM case_events WHERE case_id = ?`), c.ID).Scan(&have); err != nil {
			return fmt.Errorf("sqlstore: copy timeline: %w", err)
		}
		if have != keep || keep > len(f.Events) {
			return fmt.Errorf("sqlstore: copy of %s has %d events, expected to keep %d of %d: %w", c.ExternalID, have, keep, len(f.Events), org.ErrConflict)
		}
		for i := keep; i < len(f.Events); i++ {
			ev := &f.Events[i]
			ev.CaseID = c.ID
			if m := mirrorRef.FindStringSubmatch(ev.Ref); m != nil {
				n, _ := strconv.Atoi(m[2])
				switch {
				case m[1] == "supervision" && n < len(f.Supervisions):
					ev.Ref = supervisionRef(f.Supervisions[n].Item.ID)
				case m[1] == "consultation" && n < len(f.Consultations):
					ev.Ref = consultationRef(f.Consultations[n].ID)
				}
			}
			if err := tx.appendCaseEvent(ctx, ev); err != nil {
				return err
			}
		}
		if err := tx.refreshRates(ctx, c.ID); err != nil {
			return err
		}
		return tx.refreshRepeats(ctx, c.ID)
	})
}

// slipIDs lists the ids of a child table's rows of parent, oldest first; a copy with more of
// them than the bundle (want) is not the bundle's earlier state.
func (s *Store) slipIDs(ctx context.Context, table, parentCol string, parent int64, want int) ([]int64, error) {
	out, err := collect(ctx, s, scanID, `SELECT id FROM `+table+` WHERE `+parentCol+` = ? ORDER BY id`, parent)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %s of %d: %w", table, parent, err)
	}
	if len(out) > want {
		return nil, fmt.Errorf("sqlstore: the copy has more %s than the bundle: %w", table, org.ErrConflict)
	}
	return out, nil
}

// upsertAt updates the row with the i-th of ids, or inserts a new one when there is none yet.
func (s *Store) upsertAt(ctx context.Context, ids []int64, i int, table, cols string, args ...any) (int64, error) {
	if i < len(ids) {
		set := ""
		for j, col := range splitCols(cols) {
			if j > 0 {
				set += ", "
			}
			set += col + " = ?"
		}
		if _, err := s.exec(ctx, `UPDATE `+table+` SET `+set+` WHERE id = ?`, append(args, ids[i])...); err != nil {
			return 0, fmt.Errorf("sqlstore: copy %s: %w", table, err)
		}
		return ids[i], nil
	}
	marks := "?"
	for range len(args) - 1 {
		marks += ", ?"
	}
	id, err := s.insertID(ctx, `INSERT INTO `+table+` (`+cols+`) VALUES (`+marks+`)`, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: copy %s: %w", table, err)
	}
	return id, nil
}

func splitCols(cols string) []string {
	out := strings.Split(cols, ",")
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// putMirrorSlips brings the copy's assignments, supervisions (with reports) and consultations (with
// units and opinions) to f's, position by position.
func (s *Store) putMirrorSlips(ctx context.Context, f *exchange.CaseFile) error {
	caseID := f.Case.ID
	ids, err := s.slipIDs(ctx, "assignments", "case_id", caseID, len(f.Assignments))
	if err != nil {
		return err
	}
	for i := range f.Assignments {
		a := &f.Assignments[i]
		a.CaseID = caseID
		if a.ID, err = s.upsertAt(ctx, ids, i, "assignments", `case_id, assigner_unit_id, assigner_id, responsible_unit_id, co_units,
			requirements, instruction, method, session_id, recording_offset_ms, assigned_at, feedback_due, status, objection_reason, objected_at`,
			caseID, a.AssignerUnitID, a.AssignerID, a.ResponsibleUnitID, idList(a.CoUnitIDs), a.Requirements, a.Instruction, a.Method,
			a.SessionID, a.RecordingOffset.Milliseconds(), tm(a.AssignedAt), tm(a.FeedbackDue), a.Status, a.ObjectionReason, tm(a.ObjectedAt)); err != nil {
			return err
		}
	}
	if ids, err = s.slipIDs(ctx, "supervisions", "case_id", caseID, len(f.Supervisions)); err != nil {
		return err
	}
	for i := range f.Supervisions {
		sv := &f.Supervisions[i].Item
		sv.CaseID = caseID
		if sv.ID, err = s.upsertAt(ctx, ids, i, "supervisions", `case_id, unit_id, opened_by, basis, level, method, escalation, deadline,
			opened_at, closed_at, opinion, notes`, caseID, sv.UnitID, sv.OpenedBy, sv.Basis, sv.Level, sv.Method, sv.Escalation,
			tm(sv.Deadline), tm(sv.OpenedAt), tm(sv.ClosedAt), sv.Opinion, sv.Notes); err != nil {
			return err
		}
		rids, err := s.slipIDs(ctx, "supervision_reports", "supervision_id", sv.ID, len(f.Supervisions[i].Reports))
		if err != nil {
			return err
		}
		for j := range f.Supervisions[i].Reports {
			r := &f.Supervisions[i].Reports[j]
			r.SupervisionID = sv.ID
			if r.ID, err = s.upsertAt(ctx, rids, j, "supervision_reports", `supervision_id, kind, text, unit_id, by_user, at,
				requested_deadline, decision, decided_by, decided_at, decision_note`, sv.ID, r.Kind, r.Text, r.UnitID, r.By, tm(r.At),
				tm(r.RequestedDeadline), r.Decision, r.DecidedBy, tm(r.DecidedAt), r.DecisionNote); err != nil {
				return err
			}
		}
	}
	if ids, err = s.slipIDs(ctx, "consultations", "case_id", caseID, len(f.Consultations)); err != nil {
		return err
	}
	for i := range f.Consultations {
		co := &f.Consultations[i]
		co.CaseID = caseID
		if co.ID, err = s.upsertAt(ctx, ids, i, "consultations", `case_id, competent_unit_id, subject, session_id, recording_offset_ms,
			created_by, created_at, conclusion, signed_by, signed_at`, caseID, co.CompetentUnitID, co.Subject, co.SessionID,
			co.RecordingOffset.Milliseconds(), co.CreatedBy, tm(co.CreatedAt), co.Conclusion, co.SignedBy, tm(co.SignedAt)); err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM consultation_opinions WHERE consultation_id = ?`, `DELETE FROM consultation_units WHERE consultation_id = ?`} {
			if _, err := s.exec(ctx, q, co.ID); err != nil {
				return fmt.Errorf("sqlstore: copy consultation: %w", err)
			}
		}
		for _, u := range co.UnitIDs {
			if _, err := s.exec(ctx, `INSERT INTO consultation_units (consultation_id, unit_id) VALUES (?, ?)`, co.ID, u); err != nil {
				return fmt.Errorf("sqlstore: copy consultation unit: %w", err)
			}
		}
		for _, o := range co.Opinions {
			if _, err := s.exec(ctx, `INSERT INTO consultation_opinions (consultation_id, unit_id, text, dissent, by_user, at)
				VALUES (?, ?, ?, ?, ?, ?)`, co.ID, o.UnitID, o.Text, b2i(o.Dissent), o.By, tm(o.At)); err != nil {
				return fmt.Errorf("sqlstore: copy consultation opinion: %w", err)
			}
		}
	}
	return nil
}
