package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// Invitations of units and halls to a session: reception.InvitationStore.

const invCols = `i.id, i.session_id, i.kind, i.target_id, i.unit_id, i.note, i.status, i.reason, i.invited_by, i.invited_at,
	i.answered_by, i.answered_at`

func scanInv(sc interface{ Scan(...any) error }) (reception.Invitation, error) {
	var v reception.Invitation
	var status string
	var invited, answered int64
	err := sc.Scan(&v.ID, &v.SessionID, &v.Kind, &v.TargetID, &v.UnitID, &v.Note, &status, &v.Reason, &v.InvitedBy, &invited,
		&v.AnsweredBy, &answered)
	v.Status, v.InvitedAt, v.AnsweredAt = reception.InvitationStatus(status), fromTm(invited), fromTm(answered)
	return v, err
}

// InviteToSession implements reception.InvitationStore.
func (s *Store) InviteToSession(ctx context.Context, sessionID int64, units, halls []int64, note string, by int64, now time.Time) ([]reception.Invitation, error) {
	if err := reception.ValidateInvitationNote(note); err != nil {
		return nil, err
	}
	if len(units)+len(halls) == 0 {
		return nil, org.Invalid("unit_ids", "sqlstore.invitation.nobody_invited")
	}
	var out []reception.Invitation
	err := s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		if err := tx.lock(ctx, []string{"session:" + strconv.FormatInt(sessionID, 10)}); err != nil {
			return err
		}
		sess, err := tx.GetReceptionSession(ctx, sessionID)
		if err != nil {
			return err
		}
		if err := reception.CheckAnswerable(sess, now); err != nil {
			return err
		}
		if err := tx.checkRefs(ctx, 0, 0, halls, units); err != nil {
			return err
		}
		// Whoever is invited joins: the roster grows first, under the overlap check, so an
		// invited unit or hall can never be double-booked. A hall outside the session's subtree
		// is another district's room: it joins, and its time is held, only once its own unit
		// accepts (AnswerInvitation).
		owner, err := tx.GetUnit(ctx, sess.UnitID)
		if err != nil {
			return err
		}
		var inside []int64
		for _, h := range halls {
			out, _, err := tx.hallOutside(ctx, owner.Path, h)
			if err != nil {
				return err
			}
			if !out {
				inside = append(inside, h)
			}
		}
		var cu, ch bool
		sess.UnitIDs, cu = reception.WithIDs(sess.UnitIDs, units)
		sess.HallIDs, ch = reception.WithIDs(sess.HallIDs, inside)
		if cu || ch {
			if err := tx.UpdateReceptionSession(ctx, sess); err != nil {
				return err
			}
		}
		at := tm(now.UTC().Truncate(time.Microsecond))
		invite := func(kind string, target, unit int64) error {
			old, err := scanInv(tx.q.QueryRowContext(ctx, tx.rebind(`SELECT `+invCols+` FROM session_invitations i
				WHERE i.session_id = ? AND i.kind = ? AND i.target_id = ?`), sessionID, kind, target))
			switch {
			case err == sql.ErrNoRows:
				id, err := tx.insertID(ctx, `INSERT INTO session_invitations (session_id, kind, target_id, unit_id, note, status,
					reason, invited_by, invited_at, answered_by, answered_at) VALUES (?, ?, ?, ?, ?, ?, '', ?, ?, 0, 0)`,
					sessionID, kind, target, unit, note, string(reception.InvInvited), by, at)
				if err != nil {
					return fmt.Errorf("sqlstore: invite: %w", err)
				}
				out = append(out, reception.Invitation{ID: id, SessionID: sessionID, Kind: kind, TargetID: target, UnitID: unit,
					Note: note, Status: reception.InvInvited, InvitedBy: by, InvitedAt: fromTm(at)})
			case err != nil:
				return fmt.Errorf("sqlstore: invite: %w", err)
			case old.Status == reception.InvDeclined:
				if _, err := tx.exec(ctx, `UPDATE session_invitations SET status = ?, reason = '', note = ?, invited_by = ?,
					invited_at = ?, answered_by = 0, answered_at = 0 WHERE id = ?`, string(reception.InvInvited), note, by, at, old.ID); err != nil {
					return fmt.Errorf("sqlstore: invite again: %w", err)
				}
				old.Status, old.Reason, old.Note, old.InvitedBy, old.InvitedAt = reception.InvInvited, "", note, by, fromTm(at)
				old.AnsweredBy, old.AnsweredAt = 0, time.Time{}
				out = append(out, old)
			}
			return nil
		}
		for _, u := range units {
			if err := invite(reception.InviteUnit, u, u); err != nil {
				return err
			}
		}
		for _, h := range halls {
			hall, err := tx.GetHall(ctx, h)
			if err != nil {
				return err
			}
			if err := invite(reception.InviteHall, h, hall.UnitID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetInvitation implements reception.InvitationStore.
func (s *Store) GetInvitation(ctx context.Context, id int64) (reception.Invitation, error) {
	v, err := scanInv(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+invCols+` FROM session_invitations i WHERE i.id = ?`), id))
	if err != nil {
		return v, notFound(err, "get invitation")
	}
	return v, nil
}

// ListInvitations implements reception.InvitationStore.
func (s *Store) ListInvitations(ctx context.Context, q reception.InvitationQuery) ([]reception.Invitation, error) {
	where := []string{"u.path LIKE ?"}
	args := []any{prefixPattern(q.UnderPath)}
	if q.SessionID != 0 {
		where, args = append(where, "i.session_id = ?"), append(args, q.SessionID)
	}
	if q.Status != "" {
		where, args = append(where, "i.status = ?"), append(args, string(q.Status))
	}
	if !q.From.IsZero() {
		where, args = append(where, "s.ends_at > ?"), append(args, tm(q.From))
	}
	limit := q.Limit
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	out, err := collect(ctx, s, scanInv, `SELECT `+invCols+` FROM session_invitations i
		JOIN units u ON u.id = i.unit_id JOIN reception_sessions s ON s.id = i.session_id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY s.starts_at, i.id LIMIT `+strconv.Itoa(limit), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list invitations: %w", err)
	}
	return out, nil
}

// AnswerInvitation implements reception.InvitationStore.
func (s *Store) AnswerInvitation(ctx context.Context, id int64, accept bool, reason string, by int64, now time.Time) (reception.Invitation, error) {
	reason = strings.TrimSpace(reason)
	if err := reception.ValidateAnswer(accept, reason); err != nil {
		return reception.Invitation{}, err
	}
	var out reception.Invitation
	err := s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		v, err := tx.GetInvitation(ctx, id)
		if err != nil {
			return err
		}
		// The answer may change the roster: the session's lock first, as for every roster change.
		if err := tx.lock(ctx, []string{"session:" + strconv.FormatInt(v.SessionID, 10)}); err != nil {
			return err
		}
		sess, err := tx.GetReceptionSession(ctx, v.SessionID)
		if err != nil {
			return err
		}
		if err := reception.CheckAnswerable(sess, now); err != nil {
			return err
		}
		v.Status, v.Reason = reception.InvAccepted, ""
		if !accept {
			v.Status, v.Reason = reception.InvDeclined, reason
		}
		v.AnsweredBy, v.AnsweredAt = by, now.UTC().Truncate(time.Microsecond)
		// The answer is written before the roster changes, so that the roster update keeps the
		// declined invitation (dropOffRoster) for staff to see.
		if _, err := tx.exec(ctx, `UPDATE session_invitations SET status = ?, reason = ?, answered_by = ?, answered_at = ? WHERE id = ?`,
			string(v.Status), v.Reason, by, tm(v.AnsweredAt), id); err != nil {
			return fmt.Errorf("sqlstore: answer invitation: %w", err)
		}
		next, err := tx.rosterAfterAnswer(ctx, v, sess)
		if err != nil {
			return err
		}
		if next != nil {
			if err := tx.UpdateReceptionSession(ctx, *next); err != nil {
				return err
			}
		}
		out = v
		return nil
	})
	return out, err
}

// rosterAfterAnswer is the session's new roster after answer v, or nil when it stays. A decline
// takes the unit or hall off the roster, so its time is free for other sessions; a hall with
// petitioners still booked there stays on until staff move them (nothing booked is lost). An
// acceptance after a decline puts it back, under the overlap check of the update.
func (s *Store) rosterAfterAnswer(ctx context.Context, v reception.Invitation, sess reception.ReceptionSession) (*reception.ReceptionSession, error) {
	on := v.OnRoster(sess)
	list := &sess.UnitIDs
	if v.Kind == reception.InviteHall {
		list = &sess.HallIDs
	}
	switch {
	case v.Status == reception.InvAccepted && !on:
		*list, _ = reception.WithIDs(*list, []int64{v.TargetID})
	case v.Status == reception.InvDeclined && on:
		if v.Kind == reception.InviteHall {
			var n int
			if err := s.q.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM appointments WHERE session_id = ? AND hall_id = ? AND status IN (?, ?)`),
				sess.ID, v.TargetID, string(reception.ApptBooked), string(reception.ApptCheckedIn)).Scan(&n); err != nil {
				return nil, fmt.Errorf("sqlstore: bookings at a declining hall: %w", err)
			}
			if n > 0 {
				return nil, nil
			}
		}
		*list = slices.DeleteFunc(slices.Clone(*list), func(id int64) bool { return id == v.TargetID })
		if sess.LeaderID == 0 && sess.StudioID == 0 && len(sess.HallIDs) == 0 {
			return nil, nil // the last room of a session without leader or studio: staff decide what becomes of it
		}
	default:
		return nil, nil
	}
	return &sess, nil
}

// dropOffRoster deletes the invitations of units and halls no longer on the session's roster: a
// unit taken off a hearing has nothing left to answer. Declines are kept, and so are the open
// invitations of halls outside the subtree, which join only when they accept.
func (s *Store) dropOffRoster(ctx context.Context, sess reception.ReceptionSession) error {
	list, err := s.ListInvitations(ctx, reception.InvitationQuery{SessionID: sess.ID})
	if err != nil {
		return err
	}
	var owner org.Unit
	for _, v := range list {
		// A decline stays, off the roster, for staff to see who said no and why.
		if v.OnRoster(sess) || v.Status == reception.InvDeclined {
			continue
		}
		if v.Kind == reception.InviteHall && v.Status == reception.InvInvited {
			if owner.ID == 0 {
				if owner, err = s.GetUnit(ctx, sess.UnitID); err != nil {
					return err
				}
			}
			out, _, err := s.hallOutside(ctx, owner.Path, v.TargetID)
			if err != nil {
				return err
			}
			if out {
				continue // not on the roster until its unit accepts
			}
		}
		if _, err := s.exec(ctx, `DELETE FROM session_invitations WHERE id = ?`, v.ID); err != nil {
			return fmt.Errorf("sqlstore: drop invitation off the roster: %w", err)
		}
	}
	return nil
}

// MarkReminded implements reception.SessionStore.
func (s *Store) MarkReminded(ctx context.Context, id int64, at time.Time) (bool, error) {
	r, err := s.exec(ctx, `UPDATE reception_sessions SET reminded_at = ? WHERE id = ? AND reminded_at = 0`, tm(at), id)
	if err != nil {
		return false, fmt.Errorf("sqlstore: mark reminded: %w", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlstore: mark reminded: %w", err)
	}
	return n == 1, nil
}
