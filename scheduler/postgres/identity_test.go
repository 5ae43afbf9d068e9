package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"sanji/scheduler/sqlstore"
	"sanji/scheduler/storetest"
)

// TestIdentityNotInRows seeds the demo (its petitioners booked for today) and a case, then reads
// every row of every table of the schema as text and looks for each name, ID number and phone
// number they hold: a dump of the database alone must reveal no identity.
func TestIdentityNotInRows(t *testing.T) {
	s := openSchema(t)
	ids := storetest.DemoIdentity(t, s)
	db := s.(*sqlstore.Store).DB()
	rows, err := db.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, table := range tables {
		rows, err := db.Query(`SELECT t::text FROM "` + table + `" t`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var row string
			if err := rows.Scan(&row); err != nil {
				t.Fatal(err)
			}
			seen++
			for _, n := range ids {
				if n != "" && strings.Contains(row, n) {
					t.Errorf("table %s holds %q in clear: %.200s", table, n, row)
				}
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(tables) < 20 || seen < 50 {
		t.Fatalf("read %d rows of %d tables: the test proves nothing", seen, len(tables))
	}
}

// TestIdentityLegacySchemaSealedOnStart: a schema of the version before 0012 with identity in
// clear is sealed at start, by two nodes starting together; its rows then hold none of it and
// read back as they were.
func TestIdentityLegacySchemaSealedOnStart(t *testing.T) {
	ctx := context.Background()
	dsn := testDSN(t)
	sdsn := withSearchPath(t, dsn, newSchema(t, dsn))
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	db, err := DB(sdsn)
	if err != nil {
		t.Fatal(err)
	}
	old, err := sqlstore.New(ctx, db, sqlstore.Dialect{Name: "postgres", Dollar: true, Classify: classify,
		LockMigrations: migrationLock, LockAudit: auditLock}, storetest.MigrationsBefore(t, ms, "identity_sealed"), nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Rows alone, without their session, hall or case: foreign keys off for this old writer.
	if _, err := conn.ExecContext(ctx, `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	const n = 250
	for i := range n {
		if _, err := conn.ExecContext(ctx, `INSERT INTO appointments (session_id, hall_id, name, id_number, phone, matter, people,
			representatives, guidance, walk_in, queue_no, position, status, override_reason, booked_by, created_at)
			VALUES (1, 1, $1, '330102197001010011', '13900001111', '事项', 1, '["代表人甲"]', '', 0, $2, $2, 'booked', '', 1, 1)`,
			fmt.Sprintf("旧名%d", i), i+1); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO case_petitioners (case_id, seq, name, id_number, phone, address, role, anonymous, agrees_public)
			VALUES ($1, 0, '旧名', '330102199001011234', '13812345678', '旧地址某路9号', 'petitioner', 0, 0)`, i+1); err != nil {
			t.Fatal(err)
		}
	}
	_ = conn.Close()
	_ = old.Close()

	// Two nodes start at once: they share the work, neither fails for the other's batches.
	var stores [2]*sqlstore.Store
	var errs [2]error
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(ctx, sdsn, storetest.TestKeys()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		defer stores[i].Close()
	}
	s := stores[0]
	if got := stores[0].SealedAtOpen() + stores[1].SealedAtOpen(); got != 2*n {
		t.Errorf("sealed %d + %d rows at start, want %d in all", stores[0].SealedAtOpen(), stores[1].SealedAtOpen(), 2*n)
	}
	for _, table := range []string{"appointments", "case_petitioners"} {
		var left int
		if err := s.DB().QueryRow(`SELECT COUNT(*) FROM ` + table + ` t WHERE t::text ~ '旧名|旧地址|330102|1390000|1381234|代表人'`).Scan(&left); err != nil || left != 0 {
			t.Errorf("%s: %d rows still hold identity in clear (%v)", table, left, err)
		}
	}
	if a, err := s.GetAppointment(ctx, 7); err != nil || a.Name != "旧名6" || a.Representatives[0] != "代表人甲" {
		t.Errorf("appointment 7 after sealing: %+v, %v", a, err)
	}
	if as, err := s.AppointmentsByIDNumber(ctx, "330102197001010011", 100); err != nil || len(as) != 100 {
		t.Errorf("lookup by ID number after sealing: %d, %v", len(as), err)
	}
}
