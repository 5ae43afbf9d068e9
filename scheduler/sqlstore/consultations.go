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

// Consultations (会商): casework.SlipStore. Every step is a note on the case's timeline.

func consultationRef(id int64) string { return "consultation:" + strconv.FormatInt(id, 10) }

// CreateConsultation implements casework.SlipStore.
func (s *Store) CreateConsultation(ctx context.Context, c *casework.Consultation, actor casework.CaseEvent) error {
	if err := casework.ValidateConsultation(*c); err != nil {
		return err
	}
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		c.CreatedAt = tx.stamp(c.CreatedAt, actor.At)
		if c.CreatedBy == 0 {
			c.CreatedBy = actor.ActorID
		}
		if err := tx.lockCase(ctx, c.CaseID, c.CreatedAt); err != nil {
			return err
		}
		id, err := tx.insertID(ctx, `INSERT INTO consultations (case_id, competent_unit_id, subject, session_id, recording_offset_ms,
			created_by, created_at, conclusion, signed_by, signed_at) VALUES (?, ?, ?, ?, ?, ?, ?, '', 0, 0)`,
			c.CaseID, c.CompetentUnitID, c.Subject, c.SessionID, c.RecordingOffset.Milliseconds(), c.CreatedBy, tm(c.CreatedAt))
		if err != nil {
			return fmt.Errorf("sqlstore: create consultation: %w", err)
		}
		c.ID = id
		for _, u := range c.UnitIDs {
			if _, err := tx.exec(ctx, `INSERT INTO consultation_units (consultation_id, unit_id) VALUES (?, ?)`, id, u); err != nil {
				return fmt.Errorf("sqlstore: consultation unit %d: %w", u, err)
			}
		}
		c.Opinions, c.Conclusion, c.SignedBy, c.SignedUnitID, c.SignedAt = nil, "", 0, 0, time.Time{}
		actor.At = c.CreatedAt
		reason := fmt.Sprintf("会商：%s（%d 个单位参加）", c.Subject, len(c.UnitIDs))
		if c.SessionID != "" {
			reason += "，视频接访中发起"
		}
		return tx.noteEvent(ctx, actor, c.CaseID, casework.EvConsultation, consultationRef(id), reason)
	})
}

const consultationCols = `id, case_id, competent_unit_id, subject, session_id, recording_offset_ms, created_by, created_at,
	conclusion, signed_by, signed_at`

func scanConsultation(sc interface{ Scan(...any) error }) (casework.Consultation, error) {
	var c casework.Consultation
	var off, created, signed int64
	err := sc.Scan(&c.ID, &c.CaseID, &c.CompetentUnitID, &c.Subject, &c.SessionID, &off, &c.CreatedBy, &created,
		&c.Conclusion, &c.SignedBy, &signed)
	c.RecordingOffset, c.CreatedAt, c.SignedAt = time.Duration(off)*time.Millisecond, fromTm(created), fromTm(signed)
	if c.SignedBy != 0 {
		c.SignedUnitID = c.CompetentUnitID // only the competent unit signs
	}
	return c, err
}

// fillConsultations loads the units and opinions of cs: two queries for the whole list.
func (s *Store) fillConsultations(ctx context.Context, cs []casework.Consultation) error {
	if len(cs) == 0 {
		return nil
	}
	ids := make([]int64, len(cs))
	at := make(map[int64]*casework.Consultation, len(cs))
	for i := range cs {
		ids[i], at[cs[i].ID] = cs[i].ID, &cs[i]
	}
	in, args := inIDs(ids)
	err := s.eachRow(ctx, func(sc scanner) error {
		var id, u int64
		if err := sc.Scan(&id, &u); err != nil {
			return err
		}
		c := at[id]
		c.UnitIDs = append(c.UnitIDs, u)
		return nil
	}, `SELECT consultation_id, unit_id FROM consultation_units WHERE consultation_id IN `+in+` ORDER BY consultation_id, unit_id`, args...)
	if err != nil {
		return fmt.Errorf("sqlstore: consultation units: %w", err)
	}
	err = s.eachRow(ctx, func(sc scanner) error {
		var id int64
		var o casework.Opinion
		var dissent int
		var when int64
		if err := sc.Scan(&id, &o.UnitID, &o.Text, &dissent, &o.By, &when); err != nil {
			return err
		}
		o.Dissent, o.At = dissent != 0, fromTm(when)
		c := at[id]
		c.Opinions = append(c.Opinions, o)
		return nil
	}, `SELECT consultation_id, unit_id, text, dissent, by_user, at FROM consultation_opinions
		WHERE consultation_id IN `+in+` ORDER BY consultation_id, at, unit_id`, args...)
	if err != nil {
		return fmt.Errorf("sqlstore: consultation opinions: %w", err)
	}
	return s.fillAbsences(ctx, at, in, args)
}

// fillConsultation is fillConsultations of one.
func (s *Store) fillConsultation(ctx context.Context, c *casework.Consultation) error {
	cs := []casework.Consultation{*c}
	err := s.fillConsultations(ctx, cs)
	*c = cs[0]
	return err
}

// GetConsultation implements casework.SlipStore.
func (s *Store) GetConsultation(ctx context.Context, id int64) (casework.Consultation, error) {
	c, err := scanConsultation(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+consultationCols+` FROM consultations WHERE id = ?`), id))
	if err != nil {
		return casework.Consultation{}, notFound(err, "get consultation")
	}
	if err := s.fillConsultation(ctx, &c); err != nil {
		return casework.Consultation{}, err
	}
	return c, nil
}

// ListConsultations implements casework.SlipStore.
func (s *Store) ListConsultations(ctx context.Context, caseID int64) ([]casework.Consultation, error) {
	out, err := collect(ctx, s, scanConsultation, `SELECT `+consultationCols+` FROM consultations WHERE case_id = ? ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list consultations: %w", err)
	}
	if err := s.fillConsultations(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// lockConsultation locks the consultation's case and loads the consultation, and checks that the
// actor is a member of unit (a unit's voice comes from its own people).
func (s *Store) lockConsultation(ctx context.Context, id, unit int64, actor *casework.CaseEvent) (casework.Consultation, error) {
	actor.At = s.stamp(actor.At)
	var caseID int64
	if err := s.q.QueryRowContext(ctx, s.rebind(`SELECT case_id FROM consultations WHERE id = ?`), id).Scan(&caseID); err != nil {
		return casework.Consultation{}, notFound(err, "consultation")
	}
	if err := s.lockCase(ctx, caseID, actor.At); err != nil {
		return casework.Consultation{}, err
	}
	c, err := s.GetConsultation(ctx, id)
	if err != nil {
		return c, err
	}
	if actor.ActorID == 0 {
		return c, org.Invalid("actor", "sqlstore.consultation.person_required")
	}
	gs, err := s.ListGrants(ctx, actor.ActorID)
	if err != nil {
		return c, err
	}
	if !casework.MemberOf(gs, unit) {
		return c, org.Invalid("unit_id", "sqlstore.consultation.not_a_member")
	}
	return c, nil
}

// AddConsultationOpinion implements casework.SlipStore.
func (s *Store) AddConsultationOpinion(ctx context.Context, id int64, o casework.Opinion, actor casework.CaseEvent) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		c, err := tx.lockConsultation(ctx, id, o.UnitID, &actor)
		if err != nil {
			return err
		}
		o.By, o.At = actor.ActorID, actor.At
		if err := c.AddOpinion(o); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO consultation_opinions (consultation_id, unit_id, text, dissent, by_user, at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (consultation_id, unit_id) DO UPDATE SET text = excluded.text,
			dissent = excluded.dissent, by_user = excluded.by_user, at = excluded.at`,
			id, o.UnitID, o.Text, b2i(o.Dissent), o.By, tm(o.At)); err != nil {
			return fmt.Errorf("sqlstore: consultation opinion: %w", err)
		}
		u, err := tx.GetUnit(ctx, o.UnitID)
		if err != nil {
			return err
		}
		reason := u.Name + " 发表会商意见"
		if o.Dissent {
			reason += "（不同意见）"
		}
		actor.UnitID = o.UnitID
		return tx.noteEvent(ctx, actor, c.CaseID, casework.EvConsultationOpinion, consultationRef(id), reason)
	})
}

// SignConsultation implements casework.SlipStore.
func (s *Store) SignConsultation(ctx context.Context, id int64, conclusion string, actor casework.CaseEvent) error {
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
		if err := c.Sign(actor.ActorID, competent, conclusion, actor.At); err != nil {
			return err
		}
		r, err := tx.exec(ctx, `UPDATE consultations SET conclusion = ?, signed_by = ?, signed_at = ? WHERE id = ? AND signed_by = 0`,
			c.Conclusion, c.SignedBy, tm(c.SignedAt), id)
		if err != nil {
			return fmt.Errorf("sqlstore: sign consultation: %w", err)
		}
		if err := mustAffect(r, "sign consultation"); err != nil {
			return fmt.Errorf("sqlstore: consultation %d is signed already: %w", id, org.ErrConflict)
		}
		dissent := len(c.Dissent())
		reason := "会商结论已由主管单位签署"
		if dissent > 0 {
			reason += fmt.Sprintf("（记录不同意见 %d 条）", dissent)
		}
		actor.UnitID = competent
		return tx.noteEvent(ctx, actor, c.CaseID, casework.EvConsultationSigned, consultationRef(id), reason)
	})
}
