package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"sanji/scheduler"
	"sanji/scheduler/org"
	"sanji/scheduler/postgres"
)

// TestFirstStartCreatesAdminOnce: a new data directory gets a store with one admin whose
// password is returned (to print) once; the next start prints nothing.
func TestFirstStartCreatesAdminOnce(t *testing.T) {
	cfg := testConfig(t)
	st, logins, err := openStore(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if len(logins) != 1 || logins[0].Username != scheduler.AdminUsername || len(logins[0].Password) < 12 {
		t.Fatalf("first start logins: %+v", logins)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, storeFile)); err != nil {
		t.Fatalf("no database file: %v", err)
	}
	st, again, err := openStore(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if len(again) != 0 {
		t.Errorf("second start printed passwords again: %+v", again)
	}
	var out bytes.Buffer
	printLogins(&out, logins)
	if !strings.Contains(out.String(), logins[0].Password) || !strings.Contains(out.String(), "first login") {
		t.Errorf("printed: %s", out.String())
	}
}

// TestServeDemoAndLogin starts the app with --demo and logs in through the API as a demo user
// (real argon2id hashes).
func TestServeDemoAndLogin(t *testing.T) {
	cfg := testConfig(t)
	cfg.Demo = true
	a := startTestApp(t, cfg)
	var leader *scheduler.Login
	for i := range a.logins {
		if a.logins[i].Role == org.RoleLeader {
			leader = &a.logins[i]
		}
	}
	if leader == nil || len(a.logins) != 13 {
		t.Fatalf("logins %d, leader %v", len(a.logins), leader)
	}
	c := testHTTPClient(t)
	body, _ := json.Marshal(map[string]string{"username": leader.Username, "password": leader.Password})
	resp, err := c.Post(a.URL()+"/api/v1/session", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"csrf_token"`) {
		t.Fatalf("login: %d %s", resp.StatusCode, b)
	}
	resp, err = c.Get(a.URL() + "/api/v1/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("openapi.yaml: %d", resp.StatusCode)
	}
}

// TestServeOnPostgres runs the app on PostgreSQL (store.dsn) when SANJI_TEST_PG is set.
func TestServeOnPostgres(t *testing.T) {
	dsn := os.Getenv("SANJI_TEST_PG")
	if dsn == "" {
		t.Skip("SANJI_TEST_PG is not set (CI sets it)")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "sanji_cmd_" + hex.EncodeToString(b)
	db, err := postgres.DB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		db.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	cfg := testConfig(t)
	cfg.Store.DSN = u.String()
	// PostgreSQL makes no key file of its own: the nodes must share one.
	if _, err := newApp(cfg, zaptest.NewLogger(t)); err == nil || !strings.Contains(err.Error(), "SANJI_IDENTITY_KEYS") {
		t.Fatalf("PostgreSQL without identity keys: %v", err)
	}
	cfg.Identity.Keys = testIdentityKeys(t)
	a, err := newApp(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.logins) != 1 {
		t.Errorf("logins on a new PostgreSQL schema: %+v", a.logins)
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, storeFile)); err == nil {
		t.Error("a SQLite file was created although store.dsn is set")
	}
}
