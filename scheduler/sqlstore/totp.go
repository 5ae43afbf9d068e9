package sqlstore

import (
	"context"
	"fmt"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/org"
)

// ---- two-factor login (TOTP) ----

// BeginTOTP implements scheduler.Store: a new pending secret replaces a pending one; a confirmed
// one stays until an admin resets it. The secret is stored sealed with the identity's current
// key (identity.go).
func (s *Store) BeginTOTP(ctx context.Context, userID int64, secret string, now time.Time) error {
	if userID == 0 || secret == "" {
		return fmt.Errorf("sqlstore: begin totp: %w: user and secret are required", org.ErrInvalid)
	}
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		if _, err := tx.exec(ctx, `DELETE FROM user_totp WHERE user_id = ? AND confirmed_at = 0`, userID); err != nil {
			return fmt.Errorf("sqlstore: begin totp: %w", err)
		}
		sealed, err := tx.sealRow(totpSecret, secret)
		if err != nil {
			return fmt.Errorf("sqlstore: begin totp: %w", err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO user_totp (user_id, secret, key_id, created_at) VALUES (?, ?, ?, ?)`,
			userID, sealed[0], sealed[1], tm(s.stamp(now))); err != nil {
			return fmt.Errorf("sqlstore: begin totp: %w", err) // a confirmed secret: ErrConflict
		}
		return nil
	})
}

// GetTOTP implements scheduler.Store.
func (s *Store) GetTOTP(ctx context.Context, userID int64) (org.TOTP, error) {
	t := org.TOTP{UserID: userID}
	var confirmed, created int64
	var keyID string
	err := s.q.QueryRowContext(ctx, s.rebind(`SELECT secret, key_id, confirmed_at, last_step, created_at,
		(SELECT count(*) FROM recovery_codes r WHERE r.user_id = t.user_id AND r.used_at = 0)
		FROM user_totp t WHERE user_id = ?`), userID).Scan(&t.Secret, &keyID, &confirmed, &t.LastStep, &created, &t.RecoveryLeft)
	if err != nil {
		return t, notFound(err, "get totp")
	}
	if err := s.openRow(totpSecret, keyID, &t.Secret); err != nil {
		return org.TOTP{UserID: userID}, fmt.Errorf("sqlstore: get totp: %w", err)
	}
	t.ConfirmedAt, t.CreatedAt = fromTm(confirmed), fromTm(created)
	return t, nil
}

// ConfirmTOTP implements scheduler.Store.
func (s *Store) ConfirmTOTP(ctx context.Context, userID, step int64, recoveryHashes []string, now time.Time) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		r, err := tx.exec(ctx, `UPDATE user_totp SET confirmed_at = ?, last_step = ? WHERE user_id = ? AND confirmed_at = 0`,
			tm(s.stamp(now)), step, userID)
		if err != nil {
			return fmt.Errorf("sqlstore: confirm totp: %w", err)
		}
		if err := mustAffect(r, "confirm totp"); err != nil {
			return err
		}
		return tx.putRecoveryCodes(ctx, userID, recoveryHashes)
	})
}

func (s *Store) putRecoveryCodes(ctx context.Context, userID int64, hashes []string) error {
	if _, err := s.exec(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("sqlstore: recovery codes: %w", err)
	}
	for _, h := range hashes {
		if _, err := s.exec(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)`, userID, h); err != nil {
			return fmt.Errorf("sqlstore: recovery codes: %w", err)
		}
	}
	return nil
}

// UseTOTPStep implements scheduler.Store: one conditional update, so two requests with the
// same code cannot both pass.
func (s *Store) UseTOTPStep(ctx context.Context, userID, step int64) error {
	r, err := s.exec(ctx, `UPDATE user_totp SET last_step = ? WHERE user_id = ? AND confirmed_at <> 0 AND last_step < ?`, step, userID, step)
	if err != nil {
		return fmt.Errorf("sqlstore: use totp step: %w", err)
	}
	if n, err := r.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("sqlstore: use totp step %d: %w", step, org.ErrConflict)
	}
	return nil
}

// UseRecoveryCode implements scheduler.Store.
func (s *Store) UseRecoveryCode(ctx context.Context, userID int64, codeHash string, now time.Time) error {
	r, err := s.exec(ctx, `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at = 0`,
		tm(s.stamp(now)), userID, codeHash)
	if err != nil {
		return fmt.Errorf("sqlstore: use recovery code: %w", err)
	}
	return mustAffect(r, "use recovery code")
}

// DeleteTOTP implements scheduler.Store.
func (s *Store) DeleteTOTP(ctx context.Context, userID int64) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		if _, err := tx.exec(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("sqlstore: delete totp: %w", err)
		}
		r, err := tx.exec(ctx, `DELETE FROM user_totp WHERE user_id = ?`, userID)
		if err != nil {
			return fmt.Errorf("sqlstore: delete totp: %w", err)
		}
		return mustAffect(r, "delete totp")
	})
}
