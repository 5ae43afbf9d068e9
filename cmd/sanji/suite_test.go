package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"go.uber.org/zap/zaptest"

	"sanji/scheduler/exchange"
	"sanji/scheduler/org"
)

// TestCryptoSuiteValidated: crypto.suite takes intl or gm; gm turns on SM3 seals and SM2
// bundle signatures, and refuses a SHA-256 recording seal that would contradict it.
func TestCryptoSuiteValidated(t *testing.T) {
	load := func(env map[string]string) (config, error) {
		return loadConfig(nil, envMap(env), &bytes.Buffer{})
	}
	cfg, err := load(nil)
	if err != nil || cfg.Crypto.Suite != suiteIntl || cfg.sealHash() != "sha256" || cfg.signatureAlg() != exchange.AlgEd25519 {
		t.Fatalf("default: %+v %q %q, %v", cfg.Crypto, cfg.sealHash(), cfg.signatureAlg(), err)
	}
	cfg, err = load(map[string]string{"SANJI_CRYPTO_SUITE": "gm"})
	if err != nil || cfg.sealHash() != "sm3" || cfg.signatureAlg() != exchange.AlgSM2 {
		t.Fatalf("gm: %q %q, %v", cfg.sealHash(), cfg.signatureAlg(), err)
	}
	// The older option alone still chooses SM3 under intl.
	if cfg, err = load(map[string]string{"SANJI_RECORDING_HASH": "sm3"}); err != nil || cfg.sealHash() != "sm3" {
		t.Fatalf("recording.hash sm3: %q, %v", cfg.sealHash(), err)
	}
	for env, says := range map[string]map[string]string{
		"crypto.suite \"sm\" is unknown":         {"SANJI_CRYPTO_SUITE": "sm"},
		"cannot be sha256 under crypto.suite gm": {"SANJI_CRYPTO_SUITE": "gm", "SANJI_RECORDING_HASH": "sha256"},
	} {
		if _, err := load(says); err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%v: %v, want %q", says, err, env)
		}
	}
}

// TestSuiteSwitchKeepsAuditVerifiable: a store sealed under intl, then opened under gm, holds
// one chain of SHA-256 then SM3 entries that `sanji verify --audit` passes; a changed SM3 entry
// is named.
func TestSuiteSwitchKeepsAuditVerifiable(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	log := zaptest.NewLogger(t)
	algs := map[string]int{}
	for _, suite := range []string{suiteIntl, suiteGM} {
		cfg.Crypto.Suite = suite
		st, _, err := openStore(cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			e := org.AuditEntry{Action: "user.update", Actor: "admin", ActorID: 1, Target: fmt.Sprintf("user:%d", i)}
			if err := st.AppendAudit(ctx, &e); err != nil {
				t.Fatal(err)
			}
			algs[e.HashAlg]++
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if algs[org.AuditHashSHA256] != 2 || algs[org.AuditHashSM3] != 2 {
		t.Fatalf("entries sealed %v: want two of each", algs)
	}
	verify := func() (int, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, []string{"verify", "--audit", "--data-dir", cfg.DataDir}, &out, &errOut, func(string) string { return "" })
		return code, out.String() + errOut.String()
	}
	if code, out := verify(); code != exitOK || !strings.Contains(out, org.AuditHashSM3) {
		t.Fatalf("mixed chain: exit %d\n%s", code, out)
	}
	db, err := sql.Open("sqlite", filepath.Join(cfg.DataDir, storeFile))
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	for _, q := range []string{`DROP TRIGGER audit_no_update`, `UPDATE audit_log SET target = 'user:9' WHERE id = (SELECT max(id) FROM audit_log WHERE hash_alg = 'sm3')`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.QueryRow(`SELECT max(id) FROM audit_log WHERE hash_alg = 'sm3'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if code, out := verify(); code != exitMismatch || !strings.Contains(out, fmt.Sprintf("entry %d does not match its hash", id)) {
		t.Fatalf("changed SM3 entry %d: exit %d\n%s", id, code, out)
	}
}

// TestExchangeKeysFollowSuite: under gm the bundles are signed with an SM2 key of its own file;
// the Ed25519 key of before the switch stays trusted, so the system's older bundles still import.
func TestExchangeKeysFollowSuite(t *testing.T) {
	cfg := testConfig(t)
	log := zaptest.NewLogger(t)
	intl, err := exchangeKeys(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Crypto.Suite = suiteGM
	gm, err := exchangeKeys(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := intl.Private.(ed25519.PrivateKey); !ok {
		t.Fatalf("intl key is %T", intl.Private)
	}
	if _, ok := gm.Private.(*sm2.PrivateKey); !ok {
		t.Fatalf("gm key is %T", gm.Private)
	}
	again, err := exchangeKeys(cfg, log)
	if err != nil || again.OwnID() != gm.OwnID() {
		t.Fatalf("the SM2 key changed between starts (%v)", err)
	}
	var old bytes.Buffer
	if err := exchange.WriteBundle(&old, []byte(`{}`), nil, intl.Private, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := exchange.ReadBundle(bytes.NewReader(old.Bytes()), int64(old.Len()), gm); err != nil {
		t.Fatalf("a bundle of before the switch: %v", err)
	}
	if _, err := exchange.ReadBundle(bytes.NewReader(old.Bytes()), int64(old.Len()), exchange.ExchangeKeys{Private: gm.Private}); err == nil {
		t.Fatal("a system trusting only the SM2 key read an Ed25519 bundle")
	}
}

// TestTOTPRolesSetting: auth.totp_roles defaults to the policy's roles, takes a list or none,
// and refuses an unknown role and the hall terminal's.
func TestTOTPRolesSetting(t *testing.T) {
	load := func(v string) (config, error) {
		return loadConfig(nil, envMap(map[string]string{"SANJI_AUTH_TOTP_ROLES": v}), &bytes.Buffer{})
	}
	for v, want := range map[string][]string{"": nil, "none": {}, "admin, supervisor": {"admin", "supervisor"}} {
		cfg, err := load(v)
		if got := cfg.Auth.totpRoles(); err != nil || (got == nil) != (want == nil) || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%q: %#v, %v; want %#v", v, got, err, want)
		}
	}
	for _, v := range []string{"admin,boss", "hall_terminal", "none,admin"} {
		if _, err := load(v); err == nil || !strings.Contains(err.Error(), "auth.totp_roles") {
			t.Errorf("%q: %v", v, err)
		}
	}
}
