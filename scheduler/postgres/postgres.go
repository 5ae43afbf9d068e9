// Package postgres is the scheduler store on PostgreSQL (jackc/pgx/v5 through database/sql),
// for deployments with several nodes. Select it with store.dsn.
//
// Durability: PostgreSQL acknowledges COMMIT after its WAL is flushed (synchronous_commit on,
// the default), so an acknowledged write survives a crash of Sanji or of the database server.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

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

// migrationLock is an arbitrary advisory lock key ("sanji" in ASCII): several nodes starting at
// once apply the migrations one after another.
const migrationLock = `SELECT pg_advisory_xact_lock(1935764074)`

// auditLock serialises appends to the audit chain (another arbitrary key): under READ COMMITTED
// two appends would otherwise read the same newest entry and fork the chain.
const auditLock = `SELECT pg_advisory_xact_lock(1935764075)`

// Open connects with dsn (a postgres:// URL or key=value string; a search_path parameter
// selects the schema) and migrates the database; keys seal the petitioners' identity (required:
// every node of a cluster must share them, so none may make its own).
func Open(ctx context.Context, dsn string, keys *sealed.Keyring) (*sqlstore.Store, error) {
	if keys == nil {
		return nil, errors.New(i18n.T("postgres.identity.keys_required").String())
	}
	cfg, err := pgxConfig(dsn)
	if err != nil {
		return nil, err
	}
	return open(ctx, stdlib.OpenDB(*cfg), keys)
}

// open pings and migrates the handle Open made (or a test's, whose statements it counts).
func open(ctx context.Context, db *sql.DB, keys *sealed.Keyring) (*sqlstore.Store, error) {
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%s: %w", i18n.T("postgres.connect_failed"), err)
	}
	ms, err := Migrations()
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s, err := sqlstore.New(ctx, db, sqlstore.Dialect{Name: "postgres", Dollar: true, Classify: classify, LockMigrations: migrationLock, LockAudit: auditLock}, ms, keys)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}

// classify marks unique and foreign-key violations (class 23) and our own trigger's refusal as
// conflicts.
func classify(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505", "23503", "P0001":
			return fmt.Errorf("%w: %v", org.ErrConflict, err)
		}
	}
	return err
}

// DB opens a plain handle for dsn, for tests and administration (schemas).
func DB(dsn string) (*sql.DB, error) {
	cfg, err := pgxConfig(dsn)
	if err != nil {
		return nil, err
	}
	return stdlib.OpenDB(*cfg), nil
}
