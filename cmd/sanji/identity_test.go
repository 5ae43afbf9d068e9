package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"sanji/internal/sealed"
	"sanji/scheduler/reception"
	"sanji/scheduler/sqlite"
	"sanji/scheduler/storetest"
)

// testIdentityKeys is a fresh key file's text, for a store that makes none (PostgreSQL).
func testIdentityKeys(t testing.TB) string {
	t.Helper()
	text, err := sealed.NewKeyFile("k1")
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// TestFreshStartMakesKeyFile: with SQLite and no keys configured the first start makes
// data_dir/identity.keys (0600) and says so loudly; the next start uses it and says nothing.
func TestFreshStartMakesKeyFile(t *testing.T) {
	cfg := testConfig(t)
	for i, want := range []int{1, 0} {
		core, logs := observer.New(zapcore.WarnLevel)
		st, err := connectStore(context.Background(), cfg, zap.New(core))
		if err != nil {
			t.Fatal(err)
		}
		_ = st.Close()
		if n := logs.FilterMessageSnippet("GENERATED A NEW KEY FILE").Len(); n != want {
			t.Errorf("start %d: %d warnings of a new key file, want %d", i+1, n, want)
		}
	}
	st, err := os.Stat(filepath.Join(cfg.DataDir, sqlite.KeyFileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", st, err)
	}
	// The gm suite reads the same file with SM4 and HMAC-SM3: the identity sealed under intl does
	// not open, so a changed suite is found at once, not in a petitioner's record.
	cfg.Crypto.Suite = sealed.GM
	cfg.Identity.KeyFile = filepath.Join(cfg.DataDir, sqlite.KeyFileName)
	if _, err := identityKeys(cfg, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
}

// TestKeysRotateCommand: `sanji keys rotate --new` adds a key, makes it current and re-seals every
// row, while a store opened before (a running server) keeps reading all of it.
func TestKeysRotateCommand(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	running, err := connectStore(ctx, cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	ids := storetest.DemoIdentity(t, running)

	var out, errOut bytes.Buffer
	code := run(ctx, []string{"keys", "rotate", "--new", "--batch", "3", "--data-dir", cfg.DataDir}, &out, &errOut, func(string) string { return "" })
	if code != exitOK {
		t.Fatalf("keys rotate: exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "k2") || !strings.Contains(out.String(), "rows re-sealed") {
		t.Errorf("keys rotate said:\n%s", out.String())
	}
	var left int
	db := running.(interface{ DB() *sql.DB }).DB()
	if err := db.QueryRow(`SELECT (SELECT COUNT(*) FROM appointments WHERE key_id <> 'k2') +
		(SELECT COUNT(*) FROM case_petitioners WHERE key_id <> 'k2')`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d rows not under k2 after the rotation (%v)", left, err)
	}
	// The running store had only k1: it meets k2 in the rows and reads it from the file.
	rows, err := db.Query(`SELECT id FROM appointments`)
	if err != nil {
		t.Fatal(err)
	}
	var apptIDs []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		apptIDs = append(apptIDs, id)
	}
	_ = rows.Close()
	known := " " + strings.Join(ids, " ") + " "
	for _, id := range apptIDs {
		a, err := running.GetAppointment(ctx, id)
		if err != nil || !strings.Contains(known, " "+a.Name+" ") || !strings.Contains(known, " "+a.IDNumber+" ") {
			t.Errorf("appointment %d read by the running store after the rotation: %q %q, %v", id, a.Name, a.IDNumber, err)
		}
	}
	if len(apptIDs) == 0 {
		t.Fatal("no appointments")
	}
}

// TestDemoStartLogsNoIdentity starts the server with the demo (its petitioners booked for today,
// the reminders' job, the SMS log without a gateway) at debug level and looks for every demo
// petitioner's name, ID number and phone number in every log line and field.
func TestDemoStartLogsNoIdentity(t *testing.T) {
	cfg := testConfig(t)
	cfg.Demo = true
	core, logs := observer.New(zapcore.DebugLevel)
	a, err := newApp(cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		_ = a.Shutdown(context.Background())
		t.Fatal(err)
	}
	var ids []string
	sessions, err := a.store.ListReceptionSessions(context.Background(), reception.SessionQuery{})
	if err != nil || len(sessions) == 0 {
		t.Fatalf("demo sessions: %d, %v", len(sessions), err)
	}
	for _, s := range sessions {
		appts, err := a.store.ListAppointments(context.Background(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, ap := range appts {
			ids = append(ids, ap.Name, ap.IDNumber, ap.Phone)
		}
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(ids) == 0 || logs.Len() == 0 {
		t.Fatalf("%d identities, %d log lines: the test proves nothing", len(ids), logs.Len())
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	for _, e := range logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if id != "" && strings.Contains(buf.String(), id) {
				t.Errorf("a log line holds %q: %s", id, buf.String())
			}
		}
		buf.Free()
	}
}
