// Package sqlite is the embedded scheduler store: one SQLite file under the data directory,
// through modernc.org/sqlite (pure Go, no cgo).
//
// Durability: WAL journal with synchronous=FULL, so a transaction that returned from COMMIT is
// on disk even if the process or the machine dies right after (NORMAL would only protect against
// a process crash). Foreign keys are on for every connection.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"sanji/i18n"
	"sanji/internal/sealed"
	"sanji/scheduler/org"
	"sanji/scheduler/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations are the embedded schema steps, in order.
func Migrations() ([]sqlstore.Migration, error) {
	return sqlstore.LoadMigrations(migrationFS, "migrations")
}

// KeyFileName is the key file Open keeps beside the database when it is given no keys.
const KeyFileName = "identity.keys"

// Open opens (creating when missing) the database file at path and migrates it, sealing the
// petitioners' identity with the keys in KeyFileName beside it (created on first use).
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	keys, _, err := sealed.LoadOrCreate(filepath.Join(filepath.Dir(path), KeyFileName), sealed.Intl)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return OpenKeys(ctx, path, keys)
}

// OpenKeys is Open with the keys that seal the petitioners' identity.
func OpenKeys(ctx context.Context, path string, keys *sealed.Keyring) (*sqlstore.Store, error) {
	db, err := sql.Open("sqlite", dataSource(path))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One idle connection: SQLite has one writer, so a second kept connection buys little, and
	// each holds two descriptors (the file and its WAL) and its own page cache. With the default
	// of two, a burst (the ten-minute jobs running together) left the second one open for good,
	// which the churn soak showed as descriptors and RSS that never came back.
	db.SetMaxIdleConns(1)
	return open(ctx, db, path, keys)
}

// dataSource is the driver's name for the file at path, with the pragmas every connection runs.
func dataSource(path string) string {
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"foreign_keys(ON)",
		"busy_timeout(10000)",
		// Freed space is zeroed: the clear text of a row sealed in place (or deleted) does not
		// linger in the file's free pages.
		"secure_delete(ON)",
	} {
		q.Add("_pragma", p)
	}
	// Write transactions take the write lock at BEGIN: a deferred transaction that reads, then
	// writes, could fail with SQLITE_BUSY instead of waiting its turn.
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// open pings and migrates the handle Open made (or a test's, whose statements it counts).
func open(ctx context.Context, db *sql.DB, path string, keys *sealed.Keyring) (*sqlstore.Store, error) {
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%s: %w", i18n.T("sqlite.open_failed", "path", path), err)
	}
	ms, err := Migrations()
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s, err := sqlstore.New(ctx, db, sqlstore.Dialect{Name: "sqlite", Classify: classify}, ms, keys)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if s.SealedAtOpen() > 0 {
		// Rows sealed in place leave their clear text behind in the file (the slack of rewritten
		// pages, the old index's pages) and in the WAL: rebuild the file and empty the WAL, once.
		for _, q := range []string{`VACUUM`, `PRAGMA wal_checkpoint(TRUNCATE)`} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				_ = db.Close()
				return nil, fmt.Errorf("sqlite: %s: %s after sealing: %w", path, q, err)
			}
		}
	}
	return s, nil
}

// classify marks constraint violations (unique, foreign key) as conflicts.
func classify(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY,
			sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqlite3.SQLITE_CONSTRAINT_TRIGGER:
			return fmt.Errorf("%w: %v", org.ErrConflict, err)
		}
	}
	return err
}
