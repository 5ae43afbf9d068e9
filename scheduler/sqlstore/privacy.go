package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"sanji/scheduler"
	"sanji/scheduler/casework"
)

// What intake marked as 涉及检举控告 in a matter: casework.PrivacyStore. A case without a row
// has no marks.

// setPrivacy stores p for a case (in the caller's transaction); no marks, no row.
func (s *Store) setPrivacy(ctx context.Context, caseID int64, p casework.Privacy) error {
	if _, err := s.exec(ctx, `DELETE FROM case_privacy WHERE case_id = ?`, caseID); err != nil {
		return fmt.Errorf("sqlstore: clear case privacy: %w", err)
	}
	if !p.Marked() {
		return nil
	}
	passages, err := json.Marshal(append([]string{}, p.Passages...))
	if err != nil {
		return fmt.Errorf("sqlstore: case privacy: %w", err)
	}
	if _, err := s.exec(ctx, `INSERT INTO case_privacy (case_id, whole, passages, unit_summary) VALUES (?, ?, ?, ?)`,
		caseID, b2i(p.Whole), string(passages), p.UnitSummary); err != nil {
		return fmt.Errorf("sqlstore: case privacy: %w", err)
	}
	return nil
}

// fillPrivacy loads the marks of the cases at (ids in, args: inIDs of them).
func (s *Store) fillPrivacy(ctx context.Context, at map[int64]*casework.Case, in string, args []any) error {
	err := s.eachRow(ctx, func(sc scanner) error {
		var caseID int64
		var whole int
		var passages, summary string
		if err := sc.Scan(&caseID, &whole, &passages, &summary); err != nil {
			return err
		}
		p := casework.Privacy{Whole: whole != 0, UnitSummary: summary}
		if err := json.Unmarshal([]byte(passages), &p.Passages); err != nil {
			return fmt.Errorf("case %d passages: %w", caseID, err)
		}
		at[caseID].Privacy = p
		return nil
	}, `SELECT case_id, whole, passages, unit_summary FROM case_privacy WHERE case_id IN `+in, args...)
	if err != nil {
		return fmt.Errorf("sqlstore: case privacy: %w", err)
	}
	return nil
}

// SetCasePrivacy implements casework.PrivacyStore.
func (s *Store) SetCasePrivacy(ctx context.Context, caseID int64, p casework.Privacy, actor casework.CaseEvent) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		actor.At = tx.stamp(actor.At)
		if err := tx.lockCase(ctx, caseID, actor.At); err != nil {
			return err
		}
		c, err := tx.GetCase(ctx, caseID)
		if err != nil {
			return err
		}
		if err := casework.ValidatePrivacy(c, p); err != nil {
			return err
		}
		if err := tx.setPrivacy(ctx, caseID, p); err != nil {
			return err
		}
		// The note says that the matter was marked, never what: the timeline is read more widely.
		reason := fmt.Sprintf("标记涉及检举控告：%d 处", len(p.Passages))
		if p.Whole {
			reason = "标记涉及检举控告：全部内容"
		}
		return tx.noteEvent(ctx, actor, caseID, casework.EvPrivacy, "", reason)
	})
}
