package sqlite

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"sanji/auth"
	"sanji/scheduler/storetest"
)

// TestTOTPLegacySecretsSealedOnStart opens a database of the schema before 0017 holding TOTP
// secrets in clear, starts on it and finds no secret left in the file; the secrets read back
// as they were and their codes check.
func TestTOTPLegacySecretsSealedOnStart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sanji.db")
	db, old := openBefore(t, path, "totp_sealed")
	// Secrets alone, without their users: the keys are off for this old writer.
	for _, q := range []string{`PRAGMA foreign_keys = OFF`, `PRAGMA secure_delete = OFF`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	const n = 3
	var secrets []string
	for i := range n {
		secret, err := auth.NewTOTPSecret()
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, secret)
		if _, err := db.Exec(`INSERT INTO user_totp (user_id, secret, confirmed_at, last_step, created_at) VALUES (?, ?, 1, 1, 1)`,
			100+i, secret); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); !bytes.Contains(data, []byte(secrets[0])) {
		t.Fatal("the old database does not hold the secret in clear: the test proves nothing")
	}

	s, err := OpenKeys(ctx, path, storetest.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	if s.SealedAtOpen() != n {
		t.Errorf("sealed %d rows at start, want %d", s.SealedAtOpen(), n)
	}
	for i, secret := range secrets {
		got, err := s.GetTOTP(ctx, int64(100+i))
		if err != nil || got.Secret != secret {
			t.Errorf("secret %d after sealing: %q, %v", i, got.Secret, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	grepFiles(t, path, secrets)
}
