package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"sanji/scheduler"
	"sanji/scheduler/org"
)

// The audit chain (org/auditchain.go, docs/security.md): every entry is sealed onto the one
// before it, in id order, when it is appended.

// auditColumns are audit_log's columns in the order scanAudit reads them.
const auditColumns = `id, at, actor_id, actor, unit_id, unit_path, action, target, before_json, after_json,
	purpose, ip, request_id, prev_hash, hash, hash_alg`

func scanAudit(sc scanner) (org.AuditEntry, error) {
	var e org.AuditEntry
	var at int64
	err := sc.Scan(&e.ID, &at, &e.ActorID, &e.Actor, &e.UnitID, &e.UnitPath, &e.Action, &e.Target,
		&e.Before, &e.After, &e.Purpose, &e.IP, &e.RequestID, &e.PrevHash, &e.Hash, &e.HashAlg)
	e.At = fromTm(at)
	return e, err
}

func (s *Store) auditHash() string {
	if s.auditAlg == "" {
		return org.AuditHashSHA256
	}
	return s.auditAlg
}

// SealAudit sets the algorithm that seals new audit entries (sha256 or sm3) and chains the
// entries written before the chain existed (the step that completes migration 0010), returning
// how many it sealed. The server calls it once at start; appends also seal such a tail.
func (s *Store) SealAudit(ctx context.Context, alg string) (int, error) {
	if _, err := org.AuditHash(alg); err != nil {
		return 0, err
	}
	if alg == "" {
		alg = org.AuditHashSHA256
	}
	s.auditAlg = alg
	n := 0
	err := s.InTx(ctx, func(txs scheduler.Store) error {
		var err error
		_, n, err = txs.(*Store).lockAuditChain(ctx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: seal audit log: %w", err)
	}
	return n, nil
}

// lockAuditChain takes the audit lock for the rest of the transaction and returns the hash the
// next entry follows, sealing first any entries that have none at the end of the log (they were
// written before migration 0010). It also returns how many it sealed.
func (s *Store) lockAuditChain(ctx context.Context) (string, int, error) {
	if s.tx == nil {
		return "", 0, errors.New("audit chain outside a transaction")
	}
	if s.d.LockAudit != "" {
		if _, err := s.q.ExecContext(ctx, s.d.LockAudit); err != nil {
			return "", 0, fmt.Errorf("lock audit chain: %w", err)
		}
	}
	var hash string
	err := s.q.QueryRowContext(ctx, `SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1`).Scan(&hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		g, err := org.AuditGenesis(s.auditHash())
		return g, 0, err
	case err != nil:
		return "", 0, fmt.Errorf("read audit head: %w", err)
	case hash != "":
		return hash, 0, nil
	}
	// The unsealed tail follows the newest sealed entry (or starts the chain).
	var lastID int64
	prev, err := org.AuditGenesis(s.auditHash())
	if err != nil {
		return "", 0, err
	}
	err = s.q.QueryRowContext(ctx, `SELECT id, hash FROM audit_log WHERE hash <> '' ORDER BY id DESC LIMIT 1`).Scan(&lastID, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", 0, fmt.Errorf("read audit head: %w", err)
	}
	tail, err := collect(ctx, s, scanAudit, `SELECT `+auditColumns+` FROM audit_log WHERE id > ? ORDER BY id`, lastID)
	if err != nil {
		return "", 0, fmt.Errorf("read unsealed audit entries: %w", err)
	}
	for i := range tail {
		e := &tail[i]
		e.PrevHash, e.HashAlg = prev, s.auditHash()
		if err := s.sealAudit(ctx, e); err != nil {
			return "", 0, err
		}
		prev = e.Hash
	}
	return prev, len(tail), nil
}

// sealAudit computes e's hash from its PrevHash and writes the three chain columns into its row,
// which must have no hash yet (the append-only triggers allow exactly this).
func (s *Store) sealAudit(ctx context.Context, e *org.AuditEntry) error {
	h, err := e.ChainHash(e.PrevHash)
	if err != nil {
		return err
	}
	e.Hash = h
	r, err := s.exec(ctx, `UPDATE audit_log SET prev_hash = ?, hash = ?, hash_alg = ? WHERE id = ? AND hash = ''`,
		e.PrevHash, e.Hash, e.HashAlg, e.ID)
	if err != nil {
		return fmt.Errorf("seal audit entry %d: %w", e.ID, err)
	}
	return mustAffect(r, "seal audit entry")
}

// AuditHead implements scheduler.Store.
func (s *Store) AuditHead(ctx context.Context) (org.AuditHead, error) {
	var h org.AuditHead
	if err := s.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log`).Scan(&h.Records); err != nil {
		return h, fmt.Errorf("sqlstore: audit head: %w", err)
	}
	var at int64
	err := s.q.QueryRowContext(ctx, `SELECT id, at, hash, hash_alg FROM audit_log ORDER BY id DESC LIMIT 1`).
		Scan(&h.ID, &at, &h.Hash, &h.Algorithm)
	if errors.Is(err, sql.ErrNoRows) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("sqlstore: audit head: %w", err)
	}
	h.At = fromTm(at)
	return h, nil
}

// errStop ends a walk early; it never leaves this file.
var errStop = errors.New("stop")

// VerifyAudit implements scheduler.Store. It reads the log in id order, once.
func (s *Store) VerifyAudit(ctx context.Context, noted string) (org.AuditCheck, error) {
	v := org.NewAuditVerifier(noted)
	err := s.eachRow(ctx, func(sc scanner) error {
		e, err := scanAudit(sc)
		if err != nil {
			return err
		}
		if !v.Add(e) {
			return errStop
		}
		return nil
	}, `SELECT `+auditColumns+` FROM audit_log ORDER BY id`)
	if err != nil && !errors.Is(err, errStop) {
		return org.AuditCheck{}, fmt.Errorf("sqlstore: verify audit log: %w", err)
	}
	return v.Finish(), nil
}
