package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/org"
)

// Booleans are stored as integers 0/1 in both databases, so the queries need no dialect.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ---- units ----

const unitCols = `id, parent_id, kind, code, name, path, created_at`

func scanUnit(sc interface{ Scan(...any) error }) (org.Unit, error) {
	var u org.Unit
	var parent sql.NullInt64
	var kind string
	var created int64
	if err := sc.Scan(&u.ID, &parent, &kind, &u.Code, &u.Name, &u.Path, &created); err != nil {
		return u, err
	}
	u.ParentID = parent.Int64
	u.Kind = org.UnitKind(kind)
	u.CreatedAt = fromTm(created)
	return u, nil
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// CreateUnit implements scheduler.Store. The path needs the new id, so the insert and the path
// update run in one transaction.
func (s *Store) CreateUnit(ctx context.Context, u *org.Unit) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		var parent *org.Unit
		parentPath := "/"
		if u.ParentID != 0 {
			p, err := tx.GetUnit(ctx, u.ParentID)
			if err != nil {
				return fmt.Errorf("sqlstore: create unit: parent %d: %w", u.ParentID, err)
			}
			parent, parentPath = &p, p.Path
		}
		if err := org.ValidateUnit(*u, parent); err != nil {
			return err
		}
		now := tx.now().UTC().Truncate(time.Microsecond)
		// A temporary unique path, replaced below once the id is known.
		tmp := parentPath + "new-" + strconv.FormatInt(now.UnixNano(), 36) + "/"
		id, err := tx.insertID(ctx, `INSERT INTO units (parent_id, kind, code, name, path, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			nullID(u.ParentID), string(u.Kind), u.Code, u.Name, tmp, tm(now))
		if err != nil {
			return fmt.Errorf("sqlstore: create unit %s: %w", u.Code, err)
		}
		path := parentPath + strconv.FormatInt(id, 10) + "/"
		if _, err := tx.exec(ctx, `UPDATE units SET path = ? WHERE id = ?`, path, id); err != nil {
			return fmt.Errorf("sqlstore: create unit path: %w", err)
		}
		u.ID, u.Path, u.CreatedAt = id, path, now
		return nil
	})
}

// GetUnit implements scheduler.Store.
func (s *Store) GetUnit(ctx context.Context, id int64) (org.Unit, error) {
	u, err := scanUnit(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+unitCols+` FROM units WHERE id = ?`), id))
	if err != nil {
		return u, notFound(err, "get unit "+strconv.FormatInt(id, 10))
	}
	return u, nil
}

// GetUnitByCode implements scheduler.Store.
func (s *Store) GetUnitByCode(ctx context.Context, code string) (org.Unit, error) {
	u, err := scanUnit(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+unitCols+` FROM units WHERE code = ?`), code))
	if err != nil {
		return u, notFound(err, "get unit by code")
	}
	return u, nil
}

// ListUnits implements scheduler.Store.
func (s *Store) ListUnits(ctx context.Context, underPath string) ([]org.Unit, error) {
	out, err := collect(ctx, s, scanUnit, `SELECT `+unitCols+` FROM units WHERE path LIKE ? ORDER BY path`, prefixPattern(underPath))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list units: %w", err)
	}
	return out, nil
}

// RenameUnit implements scheduler.Store.
func (s *Store) RenameUnit(ctx context.Context, id int64, name string) error {
	u, err := s.GetUnit(ctx, id)
	if err != nil {
		return err
	}
	u.Name = name
	var parent *org.Unit
	if u.ParentID != 0 {
		p, err := s.GetUnit(ctx, u.ParentID)
		if err != nil {
			return err
		}
		parent = &p
	}
	if err := org.ValidateUnit(u, parent); err != nil {
		return err
	}
	r, err := s.exec(ctx, `UPDATE units SET name = ? WHERE id = ?`, name, id)
	if err != nil {
		return fmt.Errorf("sqlstore: rename unit: %w", err)
	}
	return mustAffect(r, "rename unit")
}

// ---- halls and categories ----

// CreateHall implements scheduler.Store.
func (s *Store) CreateHall(ctx context.Context, h *org.Hall) error {
	if err := org.ValidateHall(*h); err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	id, err := s.insertID(ctx, `INSERT INTO halls (unit_id, kind, name, created_at) VALUES (?, ?, ?, ?)`,
		h.UnitID, string(h.Kind), h.Name, tm(now))
	if err != nil {
		return fmt.Errorf("sqlstore: create hall: %w", err)
	}
	h.ID, h.CreatedAt = id, now
	return nil
}

const hallCols = `h.id, h.unit_id, h.kind, h.name, h.created_at`

func scanHall(sc interface{ Scan(...any) error }) (org.Hall, error) {
	var h org.Hall
	var kind string
	var created int64
	err := sc.Scan(&h.ID, &h.UnitID, &kind, &h.Name, &created)
	h.Kind, h.CreatedAt = org.HallKind(kind), fromTm(created)
	return h, err
}

// GetHall implements scheduler.Store.
func (s *Store) GetHall(ctx context.Context, id int64) (org.Hall, error) {
	h, err := scanHall(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+hallCols+` FROM halls h WHERE h.id = ?`), id))
	if err != nil {
		return h, notFound(err, "get hall")
	}
	return h, nil
}

// ListHalls implements scheduler.Store.
func (s *Store) ListHalls(ctx context.Context, underPath string) ([]org.Hall, error) {
	out, err := collect(ctx, s, scanHall, `SELECT `+hallCols+` FROM halls h JOIN units u ON u.id = h.unit_id
		WHERE u.path LIKE ? ORDER BY u.path, h.id`, prefixPattern(underPath))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list halls: %w", err)
	}
	return out, nil
}

// CreateCategory implements scheduler.Store.
func (s *Store) CreateCategory(ctx context.Context, c *org.Category) error {
	if strings.TrimSpace(c.Code) == "" || strings.TrimSpace(c.Name) == "" {
		return org.Invalid("name", "sqlstore.category.code_name_required")
	}
	id, err := s.insertID(ctx, `INSERT INTO categories (parent_id, code, name) VALUES (?, ?, ?)`, nullID(c.ParentID), c.Code, c.Name)
	if err != nil {
		return fmt.Errorf("sqlstore: create category: %w", err)
	}
	c.ID = id
	return nil
}

// ListCategories implements scheduler.Store.
func (s *Store) ListCategories(ctx context.Context) ([]org.Category, error) {
	out, err := collect(ctx, s, func(sc scanner) (org.Category, error) {
		var c org.Category
		var p sql.NullInt64
		err := sc.Scan(&c.ID, &p, &c.Code, &c.Name)
		c.ParentID = p.Int64
		return c, err
	}, `SELECT id, parent_id, code, name FROM categories ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list categories: %w", err)
	}
	return out, nil
}

// ---- users ----

const userCols = `s.id, s.kind, s.username, s.display_name, s.unit_id, s.hall_id, s.password_hash,
	s.must_change_password, s.disabled, s.failed_logins, s.locked_until, s.created_at, s.updated_at`

func scanUser(sc interface{ Scan(...any) error }) (org.User, error) {
	var u org.User
	var kind string
	var hall sql.NullInt64
	var must, disabled int
	var locked, created, updated int64
	if err := sc.Scan(&u.ID, &kind, &u.Username, &u.DisplayName, &u.UnitID, &hall, &u.PasswordHash,
		&must, &disabled, &u.FailedLogins, &locked, &created, &updated); err != nil {
		return u, err
	}
	u.Kind, u.HallID = org.UserKind(kind), hall.Int64
	u.MustChangePassword, u.Disabled = must != 0, disabled != 0
	u.LockedUntil, u.CreatedAt, u.UpdatedAt = fromTm(locked), fromTm(created), fromTm(updated)
	return u, nil
}

// CreateUser implements scheduler.Store.
func (s *Store) CreateUser(ctx context.Context, u *org.User) error {
	if err := org.ValidateUser(*u); err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	id, err := s.insertID(ctx, `INSERT INTO users (kind, username, display_name, unit_id, hall_id, password_hash,
		must_change_password, disabled, failed_logins, locked_until, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)`,
		string(u.Kind), u.Username, u.DisplayName, u.UnitID, nullID(u.HallID), u.PasswordHash,
		b2i(u.MustChangePassword), b2i(u.Disabled), tm(now), tm(now))
	if err != nil {
		return fmt.Errorf("sqlstore: create user: %w", err)
	}
	u.ID, u.CreatedAt, u.UpdatedAt, u.FailedLogins, u.LockedUntil = id, now, now, 0, time.Time{}
	return nil
}

// GetUser implements scheduler.Store.
func (s *Store) GetUser(ctx context.Context, id int64) (org.User, error) {
	u, err := scanUser(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+userCols+` FROM users s WHERE s.id = ?`), id))
	if err != nil {
		return u, notFound(err, "get user")
	}
	return u, nil
}

// GetUserByUsername implements scheduler.Store.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (org.User, error) {
	u, err := scanUser(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+userCols+` FROM users s WHERE s.username = ?`), username))
	if err != nil {
		return u, notFound(err, "get user by name")
	}
	return u, nil
}

// ListUsers implements scheduler.Store.
func (s *Store) ListUsers(ctx context.Context, f org.UserFilter) ([]org.User, error) {
	q := `SELECT ` + userCols + ` FROM users s JOIN units u ON u.id = s.unit_id WHERE u.path LIKE ?`
	args := []any{prefixPattern(f.UnderPath)}
	if f.Kind != "" {
		q += ` AND s.kind = ?`
		args = append(args, string(f.Kind))
	}
	out, err := collect(ctx, s, scanUser, q+` ORDER BY u.path, s.username`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list users: %w", err)
	}
	return out, nil
}

// SetPassword implements scheduler.Store.
func (s *Store) SetPassword(ctx context.Context, userID int64, hash string, mustChange bool) error {
	r, err := s.exec(ctx, `UPDATE users SET password_hash = ?, must_change_password = ?, failed_logins = 0,
		locked_until = 0, updated_at = ? WHERE id = ?`, hash, b2i(mustChange), tm(s.now()), userID)
	if err != nil {
		return fmt.Errorf("sqlstore: set password: %w", err)
	}
	return mustAffect(r, "set password")
}

// SetUserDisabled implements scheduler.Store.
func (s *Store) SetUserDisabled(ctx context.Context, userID int64, disabled bool) error {
	r, err := s.exec(ctx, `UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?`, b2i(disabled), tm(s.now()), userID)
	if err != nil {
		return fmt.Errorf("sqlstore: set disabled: %w", err)
	}
	return mustAffect(r, "set disabled")
}

// RecordLoginFailure implements scheduler.Store. The increment happens in the database so two
// concurrent failures both count.
func (s *Store) RecordLoginFailure(ctx context.Context, userID int64, lockedUntil time.Time) (int, error) {
	var n int
	err := s.q.QueryRowContext(ctx, s.rebind(`UPDATE users SET failed_logins = failed_logins + 1, locked_until = ?
		WHERE id = ? RETURNING failed_logins`), tm(lockedUntil), userID).Scan(&n)
	if err != nil {
		return 0, notFound(err, "record login failure")
	}
	return n, nil
}

// ResetLoginFailures implements scheduler.Store.
func (s *Store) ResetLoginFailures(ctx context.Context, userID int64) error {
	r, err := s.exec(ctx, `UPDATE users SET failed_logins = 0, locked_until = 0 WHERE id = ?`, userID)
	if err != nil {
		return fmt.Errorf("sqlstore: reset login failures: %w", err)
	}
	return mustAffect(r, "reset login failures")
}

// ---- grants ----

// AddGrant implements scheduler.Store.
func (s *Store) AddGrant(ctx context.Context, g *org.Grant) error {
	if !org.ValidRole(g.Role) {
		return org.Invalid("role", "sqlstore.grant.role_unknown")
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	id, err := s.insertID(ctx, `INSERT INTO grants (user_id, role, unit_id, created_at) VALUES (?, ?, ?, ?)`,
		g.UserID, g.Role, g.UnitID, tm(now))
	if err != nil {
		return fmt.Errorf("sqlstore: add grant: %w", err)
	}
	g.ID, g.CreatedAt = id, now
	return nil
}

// RemoveGrant implements scheduler.Store.
func (s *Store) RemoveGrant(ctx context.Context, id int64) error {
	r, err := s.exec(ctx, `DELETE FROM grants WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlstore: remove grant: %w", err)
	}
	return mustAffect(r, "remove grant")
}

// ListGrants implements scheduler.Store.
func (s *Store) ListGrants(ctx context.Context, userID int64) ([]org.Grant, error) {
	out, err := collect(ctx, s, func(sc scanner) (org.Grant, error) {
		var g org.Grant
		var created int64
		err := sc.Scan(&g.ID, &g.UserID, &g.Role, &g.UnitID, &g.UnitPath, &created)
		g.CreatedAt = fromTm(created)
		return g, err
	}, `SELECT g.id, g.user_id, g.role, g.unit_id, u.path, g.created_at
		FROM grants g JOIN units u ON u.id = g.unit_id WHERE g.user_id = ? ORDER BY g.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list grants: %w", err)
	}
	return out, nil
}

// ---- sessions ----

// CreateSession implements scheduler.Store.
func (s *Store) CreateSession(ctx context.Context, ss org.Session) error {
	if ss.IDHash == "" || ss.UserID == 0 || ss.ExpiresAt.IsZero() {
		return fmt.Errorf("sqlstore: create session: %w: id hash, user and expiry are required", org.ErrInvalid)
	}
	created := ss.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	if _, err := s.exec(ctx, `INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at, pending) VALUES (?, ?, ?, ?, ?, ?)`,
		ss.IDHash, ss.UserID, ss.CSRFToken, tm(created), tm(ss.ExpiresAt), ss.Pending); err != nil {
		return fmt.Errorf("sqlstore: create session: %w", err)
	}
	return nil
}

// GetSession implements scheduler.Store.
func (s *Store) GetSession(ctx context.Context, idHash string) (org.Session, error) {
	var ss org.Session
	var created, expires int64
	err := s.q.QueryRowContext(ctx, s.rebind(`SELECT id_hash, user_id, csrf_token, created_at, expires_at, pending FROM sessions WHERE id_hash = ?`), idHash).
		Scan(&ss.IDHash, &ss.UserID, &ss.CSRFToken, &created, &expires, &ss.Pending)
	if err != nil {
		return ss, notFound(err, "get session")
	}
	ss.CreatedAt, ss.ExpiresAt = fromTm(created), fromTm(expires)
	return ss, nil
}

// DeleteSession implements scheduler.Store.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("sqlstore: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions implements scheduler.Store.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) error {
	if _, err := s.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("sqlstore: delete user sessions: %w", err)
	}
	return nil
}

// DeleteExpiredSessions implements scheduler.Store.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) error {
	if _, err := s.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, tm(now)); err != nil {
		return fmt.Errorf("sqlstore: delete expired sessions: %w", err)
	}
	return nil
}

// ---- API tokens ----

const tokenCols = `id, user_id, name, hash, scopes, created_at, expires_at, revoked_at`

func scanToken(sc interface{ Scan(...any) error }) (org.APIToken, error) {
	var t org.APIToken
	var scopes string
	var created, expires, revoked int64
	if err := sc.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &scopes, &created, &expires, &revoked); err != nil {
		return t, err
	}
	if scopes != "" {
		t.Scopes = strings.Split(scopes, " ")
	}
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = fromTm(created), fromTm(expires), fromTm(revoked)
	return t, nil
}

// CreateAPIToken implements scheduler.Store.
func (s *Store) CreateAPIToken(ctx context.Context, t *org.APIToken) error {
	if t.Hash == "" || t.UserID == 0 {
		return fmt.Errorf("sqlstore: create token: %w: hash and user are required", org.ErrInvalid)
	}
	if err := validName(t.Name); err != nil {
		return err
	}
	for _, sc := range t.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\n") {
			return org.Invalid("scopes", "sqlstore.token.scope_invalid")
		}
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	id, err := s.insertID(ctx, `INSERT INTO api_tokens (user_id, name, hash, scopes, created_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, 0)`, t.UserID, t.Name, t.Hash, strings.Join(t.Scopes, " "), tm(now), tm(t.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlstore: create token: %w", err)
	}
	t.ID, t.CreatedAt = id, now
	return nil
}

func validName(name string) error {
	if strings.TrimSpace(name) == "" || len(name) > 200 {
		return org.Invalid("name", "sqlstore.token.name_length")
	}
	return nil
}

// GetAPITokenByHash implements scheduler.Store.
func (s *Store) GetAPITokenByHash(ctx context.Context, hash string) (org.APIToken, error) {
	t, err := scanToken(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+tokenCols+` FROM api_tokens WHERE hash = ?`), hash))
	if err != nil {
		return t, notFound(err, "get token")
	}
	return t, nil
}

// ListAPITokens implements scheduler.Store.
func (s *Store) ListAPITokens(ctx context.Context, userID int64) ([]org.APIToken, error) {
	out, err := collect(ctx, s, scanToken, `SELECT `+tokenCols+` FROM api_tokens WHERE user_id = ? ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list tokens: %w", err)
	}
	return out, nil
}

// RevokeAPIToken implements scheduler.Store. Revoking twice keeps the first time.
func (s *Store) RevokeAPIToken(ctx context.Context, id int64, at time.Time) error {
	r, err := s.exec(ctx, `UPDATE api_tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE id = ?`, tm(at), id)
	if err != nil {
		return fmt.Errorf("sqlstore: revoke token: %w", err)
	}
	return mustAffect(r, "revoke token")
}

// ---- device pairing ----

// SetPairingCode implements scheduler.Store.
func (s *Store) SetPairingCode(ctx context.Context, userID int64, codeHash string, expiresAt time.Time) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		if _, err := tx.exec(ctx, `DELETE FROM pairing_codes WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("sqlstore: set pairing code: %w", err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO pairing_codes (code_hash, user_id, expires_at) VALUES (?, ?, ?)`,
			codeHash, userID, tm(expiresAt)); err != nil {
			return fmt.Errorf("sqlstore: set pairing code: %w", err)
		}
		return nil
	})
}

// ConsumePairingCode implements scheduler.Store. DELETE … RETURNING makes the check and the
// removal one statement, so two terminals racing with the same code cannot both win.
func (s *Store) ConsumePairingCode(ctx context.Context, codeHash string, now time.Time) (int64, error) {
	var userID int64
	err := s.q.QueryRowContext(ctx, s.rebind(`DELETE FROM pairing_codes WHERE code_hash = ? AND expires_at > ? RETURNING user_id`),
		codeHash, tm(now)).Scan(&userID)
	if err != nil {
		return 0, notFound(err, "consume pairing code")
	}
	return userID, nil
}

// ---- audit ----

// AppendAudit implements scheduler.Store. The entry is sealed onto the chain (audit.go) in the
// same transaction, under the store's audit lock, so that appends from many requests make one chain.
func (s *Store) AppendAudit(ctx context.Context, e *org.AuditEntry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		prev, _, err := tx.lockAuditChain(ctx)
		if err != nil {
			return fmt.Errorf("sqlstore: append audit: %w", err)
		}
		e.PrevHash, e.HashAlg = prev, tx.auditHash()
		id, err := tx.insertID(ctx, `INSERT INTO audit_log (at, actor_id, actor, unit_id, unit_path, action, target, before_json,
			after_json, purpose, ip, request_id, prev_hash, hash_alg) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			tm(e.At), e.ActorID, e.Actor, e.UnitID, e.UnitPath, e.Action, e.Target, e.Before, e.After, e.Purpose, e.IP, e.RequestID,
			e.PrevHash, e.HashAlg)
		if err != nil {
			return fmt.Errorf("sqlstore: append audit: %w", err)
		}
		e.ID = id
		// The hash covers the id, which the database assigns: it is written once, right after.
		if err := tx.sealAudit(ctx, e); err != nil {
			return fmt.Errorf("sqlstore: append audit: %w", err)
		}
		return nil
	})
}

// SearchAudit implements scheduler.Store.
func (s *Store) SearchAudit(ctx context.Context, q org.AuditQuery) ([]org.AuditEntry, error) {
	where := []string{"1 = 1"}
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if q.ActorID != 0 {
		add("actor_id = ?", q.ActorID)
	}
	switch {
	case strings.HasSuffix(q.Action, "."):
		add("action LIKE ?", strings.NewReplacer("%", "", "_", "").Replace(q.Action)+"%")
	case q.Action != "":
		add("action = ?", q.Action)
	}
	if q.Target != "" {
		add("target = ?", q.Target)
	}
	if q.UnderPath != "" {
		add("unit_path LIKE ?", prefixPattern(q.UnderPath))
	}
	if !q.From.IsZero() {
		add("at >= ?", tm(q.From))
	}
	if !q.To.IsZero() {
		add("at < ?", tm(q.To))
	}
	if q.BeforeID != 0 {
		add("id < ?", q.BeforeID)
	}
	limit := q.Limit
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	out, err := collect(ctx, s, scanAudit, `SELECT `+auditColumns+` FROM audit_log WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT `+strconv.Itoa(limit), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: search audit: %w", err)
	}
	return out, nil
}
