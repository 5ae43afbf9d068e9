package sqlstore

import (
	"context"
	"fmt"

	"sanji/scheduler"
	"sanji/scheduler/casework"
)

// fillAbsences loads the recorded absences of the consultations at (ids in, args).
func (s *Store) fillAbsences(ctx context.Context, at map[int64]*casework.Consultation, in string, args []any) error {
	err := s.eachRow(ctx, func(sc scanner) error {
		var id, when int64
		var a casework.Absence
		if err := sc.Scan(&id, &a.UnitID, &a.Reason, &a.By, &when); err != nil {
			return err
		}
		a.At = fromTm(when)
		c := at[id]
		c.Absences = append(c.Absences, a)
		return nil
	}, `SELECT consultation_id, unit_id, reason, by_user, at FROM consultation_absences
		WHERE consultation_id IN `+in+` ORDER BY consultation_id, at, unit_id`, args...)
	if err != nil {
		return fmt.Errorf("sqlstore: consultation absences: %w", err)
	}
	return nil
}

// RecordConsultationAbsence implements casework.QuorumStore.
func (s *Store) RecordConsultationAbsence(ctx context.Context, id int64, a casework.Absence, actor casework.CaseEvent) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		var competent int64
		if err := tx.q.QueryRowContext(ctx, tx.rebind(`SELECT competent_unit_id FROM consultations WHERE id = ?`), id).Scan(&competent); err != nil {
			return notFound(err, "consultation")
		}
		c, err := tx.lockConsultation(ctx, id, competent, &actor)
		if err != nil {
			return err
		}
		a.By, a.At = actor.ActorID, actor.At
		if err := c.AddAbsence(a); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO consultation_absences (consultation_id, unit_id, reason, by_user, at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (consultation_id, unit_id) DO UPDATE SET reason = excluded.reason,
			by_user = excluded.by_user, at = excluded.at`, id, a.UnitID, a.Reason, a.By, tm(a.At)); err != nil {
			return fmt.Errorf("sqlstore: consultation absence: %w", err)
		}
		u, err := tx.GetUnit(ctx, a.UnitID)
		if err != nil {
			return err
		}
		actor.UnitID = competent
		return tx.noteEvent(ctx, actor, c.CaseID, casework.EvConsultationAbsence, consultationRef(id), u.Name+" 未参加会商，原因："+a.Reason)
	})
}
