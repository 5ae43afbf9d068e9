package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sanji/scheduler/sqlstore"
	"sanji/scheduler/storetest"
)

// openBefore opens path with the schema of the version before the migration named name, without
// identity keys (an older binary's store), on one connection so that a pragma holds for it.
func openBefore(t *testing.T, path, name string) (*sql.DB, *sqlstore.Store) {
	t.Helper()
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dataSource(path))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	old, err := sqlstore.New(context.Background(), db, sqlstore.Dialect{Name: "sqlite", Classify: classify},
		storetest.MigrationsBefore(t, ms, name), nil)
	if err != nil {
		t.Fatal(err)
	}
	return db, old
}

// grepFiles fails for every needle found in the database file or its WAL: a backup of the
// database alone must reveal no identity.
func grepFiles(t *testing.T, path string, needles []string) {
	t.Helper()
	for _, f := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range needles {
			if n != "" && bytes.Contains(data, []byte(n)) {
				t.Errorf("%s holds %q in clear", filepath.Base(f), n)
			}
		}
	}
}

// TestIdentityNotInDatabaseFile seeds the demo (its petitioners booked for today) and a case,
// closes the store and greps the file for every name, ID number and phone number they hold.
func TestIdentityNotInDatabaseFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sanji.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ids := storetest.DemoIdentity(t, s)
	if len(ids) < 10 {
		t.Fatalf("demo identity %v", ids)
	}
	grepFiles(t, path, ids) // while open: the WAL as well
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	grepFiles(t, path, ids)
	// The key file made beside the database is the owner's only.
	if st, err := os.Stat(filepath.Join(filepath.Dir(path), KeyFileName)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, %v", st, err)
	}
}

// TestIdentityLegacyDatabaseSealedOnStart opens a database of the schema before 0012 holding
// identity in clear (in the rows and in the old ID number indexes), starts on it and finds no
// clear text left in the file; the rows read back as they were and are found by ID number. A
// start cut short (the batches commit one by one) resumes: here the second start finds nothing
// left to seal.
func TestIdentityLegacyDatabaseSealedOnStart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sanji.db")
	db, old := openBefore(t, path, "identity_sealed")
	// Rows alone, without their session, hall or case: the keys are off for this old writer.
	const n = 450 // more than two batches
	var names []string
	for _, q := range []string{`PRAGMA foreign_keys = OFF`, `PRAGMA secure_delete = OFF`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		name := "旧名" + strings.Repeat("甲", i%7) + string(rune('一'+i))
		names = append(names, name)
		if _, err := db.Exec(`INSERT INTO appointments (session_id, hall_id, name, id_number, phone, matter, people,
			representatives, guidance, walk_in, queue_no, position, status, override_reason, booked_by, created_at)
			VALUES (1, 1, ?, ?, '13900001111', '事项', 1, '["代表人甲"]', '', 0, ?, ?, 'booked', '', 1, 1)`,
			name, storetest.IDNumber("33010219700101"+string(rune('0'+i%10))+"0"+string(rune('0'+i/100))), i+1, i+1); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO case_petitioners (case_id, seq, name, id_number, phone, address, role, anonymous, agrees_public)
			VALUES (?, 0, ?, '330102199001011234', '13812345678', '旧地址某路9号', 'petitioner', 0, 0)`, i+1, name); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	clear := append([]string{"330102199001011234", "13812345678", "旧地址某路9号", "13900001111", "代表人甲", "33010219700101"}, names...)
	data, _ := os.ReadFile(path)
	if !bytes.Contains(data, []byte("旧地址某路9号")) {
		t.Fatal("the old database does not hold the identity in clear: the test proves nothing")
	}

	s, err := OpenKeys(ctx, path, storetest.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	if s.SealedAtOpen() != 2*n {
		t.Errorf("sealed %d rows at start, want %d", s.SealedAtOpen(), 2*n)
	}
	a, err := s.GetAppointment(ctx, 1)
	if err != nil || a.Name != names[0] || a.Phone != "13900001111" || len(a.Representatives) != 1 || a.Representatives[0] != "代表人甲" {
		t.Errorf("appointment 1 after sealing: %+v, %v", a, err)
	}
	as, err := s.AppointmentsByIDNumber(ctx, a.IDNumber, 100)
	if err != nil || len(as) == 0 {
		t.Errorf("lookup by ID number after sealing: %d, %v", len(as), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	grepFiles(t, path, clear)

	s, err = OpenKeys(ctx, path, storetest.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.SealedAtOpen() != 0 {
		t.Errorf("second start sealed %d rows; want none left", s.SealedAtOpen())
	}
}
