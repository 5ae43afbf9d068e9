// Package sqlstore implements scheduler.Store on database/sql, for the SQL both SQLite and
// PostgreSQL understand. The driver packages (scheduler/sqlite, scheduler/postgres) open the
// database, bring their own migrations and say how their errors look; the queries live here once,
// so the two stores cannot drift apart.
//
// It is one package of over 3,500 lines on purpose: it implements the one aggregate Store, in files
// per subject (sessions, cases, slips, rates, …) that share the transaction, the dialect's
// placeholders and the row reader; split, those would have to be exported to every part.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sanji/i18n"
	"sanji/internal/sealed"
	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
)

// Dialect is what differs between the databases.
type Dialect struct {
	Name string
	// Dollar is true when placeholders are $1, $2 … (PostgreSQL) instead of ? (SQLite).
	Dollar bool
	// Classify maps a driver error to org.ErrConflict (unique or foreign-key violation)
	// by wrapping; other errors come back unchanged.
	Classify func(error) error
	// LockMigrations, when set, runs first in the migration transaction so that several nodes
	// starting together apply migrations one at a time.
	LockMigrations string
	// LockAudit, when set, runs first in a transaction that appends to the audit chain, so that
	// concurrent appends take turns (PostgreSQL; SQLite's write transactions already do).
	LockAudit string
}

// Migration is one forward-only schema step. Versions start at 1 and have no gaps.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Store is scheduler.Store on a database/sql handle.
type Store struct {
	db *sql.DB
	q  querier // db, or the transaction of InTx
	tx *sql.Tx
	d  Dialect
	// now is the clock for CreatedAt and the like; tests of the driver packages keep the default.
	now func() time.Time
	// auditAlg seals new audit entries: sha256 (default) or sm3 (SealAudit sets it).
	auditAlg string
	// keys seal and open the petitioners' identity (UseIdentityKeys sets them).
	keys *sealed.Keyring
	// sealedAtOpen is how many rows in clear New sealed.
	sealedAtOpen int
}

var _ scheduler.Store = (*Store)(nil)

// New wraps an open database and applies the migrations that are not applied yet. keys seal the
// petitioners' identity and the TOTP secrets; the rows a database from before migration 0012 (or
// 0017) holds in clear are sealed
// now (SealedAtOpen says how many). Without keys (nil: tests of older schemas) no identity can be
// written or read.
func New(ctx context.Context, db *sql.DB, d Dialect, migrations []Migration, keys *sealed.Keyring) (*Store, error) {
	if d.Classify == nil {
		d.Classify = func(err error) error { return err }
	}
	s := &Store{db: db, q: db, d: d, now: time.Now}
	if err := s.migrate(ctx, migrations); err != nil {
		return nil, err
	}
	if keys != nil {
		n, err := s.useIdentityKeys(ctx, keys)
		if err != nil {
			return nil, err
		}
		s.sealedAtOpen = n
	}
	if err := s.seedCalendar(ctx, calendar.DefaultCalendar()); err != nil {
		return nil, err
	}
	if err := s.ensureRateCounts(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// SealedAtOpen is how many rows of identity or TOTP secrets in clear (from before migration 0012
// or 0017) the store
// sealed when it opened.
func (s *Store) SealedAtOpen() int { return s.sealedAtOpen }

// DB is the underlying handle, for driver-specific tests.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database (not allowed inside InTx).
func (s *Store) Close() error {
	if s.tx != nil {
		return errors.New("sqlstore: Close inside a transaction")
	}
	return s.db.Close()
}

// migrate applies, in one transaction each, the migrations newer than the database's version.
// A database newer than the binary is refused: forward-only means an old binary must not guess.
func (s *Store) migrate(ctx context.Context, ms []Migration) error {
	for i, m := range ms {
		if m.Version != i+1 {
			return fmt.Errorf("sqlstore: migration %d has version %d; versions must run 1, 2, 3 … without gaps", i, m.Version)
		}
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("sqlstore: create schema_migrations: %w", err)
	}
	for _, m := range ms {
		if err := s.applyOne(ctx, m, len(ms)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) applyOne(ctx context.Context, m Migration, known int) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin migration %d: %w", m.Version, err)
	}
	defer func() { _ = tx.Rollback() }()
	if s.d.LockMigrations != "" {
		if _, err := tx.ExecContext(ctx, s.d.LockMigrations); err != nil {
			return fmt.Errorf("sqlstore: lock migrations: %w", err)
		}
	}
	var cur sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&cur); err != nil {
		return fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	if int(cur.Int64) > known {
		return errors.New(i18n.T("sqlstore.schema_too_new", "version", cur.Int64, "known", known).String())
	}
	if int(cur.Int64) >= m.Version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("sqlstore: migration %d (%s): %w", m.Version, m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		m.Version, m.Name, s.now().UnixMicro()); err != nil {
		return fmt.Errorf("sqlstore: record migration %d: %w", m.Version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit migration %d: %w", m.Version, err)
	}
	return nil
}

// SchemaVersion implements scheduler.Store.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.q.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlstore: schema version: %w", err)
	}
	return int(v.Int64), nil
}

// InTx implements scheduler.Store.
func (s *Store) InTx(ctx context.Context, fn func(tx scheduler.Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	inner := &Store{db: s.db, q: tx, tx: tx, d: s.d, now: s.now, auditAlg: s.auditAlg, keys: s.keys}
	if err := fn(inner); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", s.d.Classify(err))
	}
	return nil
}

// rebind turns ? placeholders into $n for PostgreSQL. Queries here never hold a literal "?".
func (s *Store) rebind(q string) string {
	if !s.d.Dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	r, err := s.q.ExecContext(ctx, s.rebind(q), args...)
	if err != nil {
		return nil, s.d.Classify(err)
	}
	return r, nil
}

// insertID runs an INSERT … RETURNING id.
func (s *Store) insertID(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	if err := s.q.QueryRowContext(ctx, s.rebind(q+" RETURNING id"), args...).Scan(&id); err != nil {
		return 0, s.d.Classify(err)
	}
	return id, nil
}

// mustAffect turns "no row changed" into ErrNotFound.
func mustAffect(r sql.Result, what string) error {
	n, err := r.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %s: %w", what, org.ErrNotFound)
	}
	return nil
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: %s: %w", what, org.ErrNotFound)
	}
	return fmt.Errorf("sqlstore: %s: %w", what, err)
}

// Times are stored as Unix microseconds, 0 for the zero time: the same in both databases,
// and ordered as numbers.
func tm(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// stamp is the first of ts that is set, or now, to the microsecond the databases keep.
func (s *Store) stamp(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t.UTC().Truncate(time.Microsecond)
		}
	}
	return s.now().UTC().Truncate(time.Microsecond)
}

func fromTm(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// prefixPattern is a LIKE pattern matching strings that start with p. Paths hold only digits
// and slashes, so nothing needs escaping.
func prefixPattern(p string) string { return p + "%" }
