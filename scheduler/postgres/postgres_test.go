package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/goleak"

	"sanji/scheduler"
	"sanji/scheduler/org"
	"sanji/scheduler/sqlstore"
	"sanji/scheduler/storetest"
)

const childEnv = "SANJI_PG_DURABILITY_CHILD"

func TestMain(m *testing.M) {
	if dsn := os.Getenv(childEnv); dsn != "" {
		os.Exit(storetest.DurabilityChild(func() (scheduler.Store, error) { return Open(context.Background(), dsn, storetest.TestKeys()) }))
	}
	goleak.VerifyTestMain(m)
}

// TestDurabilityAcknowledgedWritesSurviveKill: a child process writing through this store is
// killed with SIGKILL mid-stream; every write it acknowledged is in the database afterwards.
func TestDurabilityAcknowledgedWritesSurviveKill(t *testing.T) {
	dsn := testDSN(t)
	sdsn := withSearchPath(t, dsn, newSchema(t, dsn))
	storetest.Durability(t, []string{childEnv + "=" + sdsn}, func() (scheduler.Store, error) {
		return Open(context.Background(), sdsn, storetest.TestKeys())
	})
}

// testDSN is the PostgreSQL of the test run; CI sets SANJI_TEST_PG.
func testDSN(t *testing.T) string {
	dsn := os.Getenv("SANJI_TEST_PG")
	if dsn == "" {
		t.Skip("SANJI_TEST_PG is not set: PostgreSQL store tests need a database (CI sets it; e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	return dsn
}

// OpenSchema opens a store in a new schema of the test database, dropped when the test ends.
func openSchema(t *testing.T) scheduler.Store {
	t.Helper()
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	s, err := Open(context.Background(), withSearchPath(t, dsn, schema), storetest.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newSchema(t *testing.T, dsn string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "sanji_test_" + hex.EncodeToString(b)
	admin, err := DB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return schema
}

func withSearchPath(t *testing.T, dsn, schema string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

func TestConformance(t *testing.T) { storetest.Run(t, openSchema) }

// TestAuditChain runs the audit chain suite; disabling the triggers is the administrator's tamper.
func TestAuditChain(t *testing.T) {
	storetest.RunAuditChain(t, openSchema, storetest.AuditTamper{Unlock: []string{
		`ALTER TABLE audit_log DISABLE TRIGGER USER`}})
}

func TestQueryCounts(t *testing.T) { storetest.RunQueryCounts(t, openCounting) }

// openCounting is openSchema with the statements counted.
func openCounting(t *testing.T) (scheduler.Store, *storetest.StatementCounter) {
	t.Helper()
	dsn := testDSN(t)
	cfg, err := pgxConfig(withSearchPath(t, dsn, newSchema(t, dsn)))
	if err != nil {
		t.Fatal(err)
	}
	conn, n := storetest.CountStatements(stdlib.GetConnector(*cfg))
	s, err := open(context.Background(), sql.OpenDB(conn), storetest.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, n
}

func TestMigrationsIdempotentAndForwardOnly(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	sdsn := withSearchPath(t, dsn, schema)
	ctx := context.Background()
	s, err := Open(ctx, sdsn, storetest.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := Migrations()
	if v, _ := s.SchemaVersion(ctx); v != len(ms) {
		t.Fatalf("version %d, want %d", v, len(ms))
	}
	s.Close()
	s, err = Open(ctx, sdsn, storetest.TestKeys())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if _, err := s.DB().Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future', 0)`, len(ms)+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, sdsn, storetest.TestKeys()); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("opening a newer database: %v, want a refusal", err)
	}
}

func TestAuditLogRefusesChanges(t *testing.T) {
	s := openSchema(t).(*sqlstore.Store)
	e := org.AuditEntry{Action: "user.create"}
	if err := s.AppendAudit(context.Background(), &e); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE audit_log SET action = 'x'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`} {
		if _, err := s.DB().Exec(q); err == nil {
			t.Errorf("%s succeeded on the append-only log", q)
		}
	}
}
