package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"modernc.org/sqlite"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
	"sanji/scheduler/storetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(durabilityChild(os.Getenv(childEnv)))
	}
	goleak.VerifyTestMain(m)
}

// TestAuditChain runs the audit chain suite; dropping the triggers is the administrator's tamper.
func TestAuditChain(t *testing.T) {
	storetest.RunAuditChain(t, openTemp, storetest.AuditTamper{Unlock: []string{
		`DROP TRIGGER audit_no_update`, `DROP TRIGGER audit_no_delete`, `DROP TRIGGER audit_seal_once`}})
}

func openTemp(t *testing.T) scheduler.Store {
	t.Helper()
	s, err := OpenKeys(context.Background(), filepath.Join(t.TempDir(), "sanji.db"), storetest.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, openTemp) }

func TestQueryCounts(t *testing.T) { storetest.RunQueryCounts(t, openCounting) }

// openCounting is openTemp with the statements counted.
func openCounting(t *testing.T) (scheduler.Store, *storetest.StatementCounter) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sanji.db")
	c, err := sqlite.NewConnector(dataSource(path))
	if err != nil {
		t.Fatal(err)
	}
	conn, n := storetest.CountStatements(c)
	s, err := open(context.Background(), sql.OpenDB(conn), path, storetest.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, n
}

func TestPragmas(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1"} {
		var got string
		if err := s.DB().QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

func TestMigrationsIdempotentAndForwardOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := Migrations()
	if v, _ := s.SchemaVersion(ctx); v != len(ms) {
		t.Fatalf("version %d, want %d", v, len(ms))
	}
	u := org.Unit{Kind: org.KindRoot, Code: org.RootCode, Name: "本系统"}
	if err := s.CreateUnit(ctx, &u); err != nil {
		t.Fatal(err)
	}
	// Pretend a newer binary migrated this file.
	if _, err := s.DB().Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)`, len(ms)+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("opening a newer database: %v, want a refusal", err)
	}
	// Without the future row it opens again, keeping the data (migrations are not re-run).
	s2, err := Open(ctx, path+"-fresh")
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	s3, err := Open(ctx, path+"-fresh")
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s3.Close()
}

func TestAuditLogRefusesChanges(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := org.AuditEntry{Action: "user.create"}
	if err := s.AppendAudit(context.Background(), &e); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`UPDATE audit_log SET action = 'x'`); err == nil {
		t.Error("UPDATE of audit_log succeeded")
	}
	if _, err := s.DB().Exec(`DELETE FROM audit_log`); err == nil {
		t.Error("DELETE from audit_log succeeded")
	}
}

const childEnv = "SANJI_SQLITE_DURABILITY_CHILD"

func durabilityChild(path string) int {
	return storetest.DurabilityChild(func() (scheduler.Store, error) { return Open(context.Background(), path) })
}

// TestDurabilityAcknowledgedWritesSurviveKill: a child process writing to the database is
// killed with SIGKILL mid-stream; every write it acknowledged is there afterwards.
func TestDurabilityAcknowledgedWritesSurviveKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	storetest.Durability(t, []string{childEnv + "=" + path}, func() (scheduler.Store, error) {
		return Open(context.Background(), path)
	})
}

// TestCalendarSeedKeepsOperatorDays: every open copies holidays.txt into the store, and a day an
// operator corrected stays as the operator left it.
func TestCalendarSeedKeepsOperatorDays(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// holidays.txt has 2026-10-10 as a make-up workday; the operator says otherwise.
	if err := s.PutHoliday(ctx, calendar.Holiday{Date: "2026-10-10", Kind: calendar.DayOff, Name: "更正"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hs, err := s.ListHolidays(ctx, "2026-10-10", "2026-10-10")
	if err != nil || len(hs) != 1 || hs[0].Kind != calendar.DayOff || hs[0].Name != "更正" {
		t.Errorf("after reopening: %+v %v", hs, err)
	}
	cal, err := calendar.LoadCalendar(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := cal.IsWorkingDay(calendar.Date(2026, 10, 10)); ok {
		t.Error("the clock does not read the operator's correction")
	}
}

// TestAuditChainMigratesExistingLog opens a database of the schema before the chain, with entries
// in its audit log, and checks that the migration and the first seal chain them in place.
func TestAuditChainMigratesExistingLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sanji.db")
	db, old := openBefore(t, path, "audit_chain")
	for i := range 3 {
		if _, err := db.Exec(`INSERT INTO audit_log (at, actor_id, actor, unit_id, unit_path, action, target, before_json,
			after_json, purpose, ip, request_id) VALUES (?, 1, 'admin', 0, '', 'user.create', ?, '', '', '', '', '')`,
			1700000000000000+i, fmt.Sprint("user:", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.SealAudit(ctx, org.AuditHashSHA256); err != nil || n != 3 {
		t.Fatalf("SealAudit = %d, %v; want the 3 existing entries chained", n, err)
	}
	if c, err := s.VerifyAudit(ctx, ""); err != nil || !c.OK || c.Records != 3 {
		t.Fatalf("VerifyAudit = %+v, %v; want 3 chained entries", c, err)
	}
	if _, err := s.DB().Exec(`UPDATE audit_log SET hash = 'x'`); err == nil {
		t.Fatal("a sealed entry's hash was rewritten through the triggers")
	}
}
