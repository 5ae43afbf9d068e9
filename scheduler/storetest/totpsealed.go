package storetest

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"sanji/auth"
	"sanji/scheduler"
)

// testTOTPSealed: a TOTP secret, pending or confirmed, is stored sealed with the identity's
// current key (migration 0017), reads back in clear, is re-sealed by a key rotation, and a code
// computed from it still logs in after the rotation.
func testTOTPSealed(t *testing.T, s scheduler.Store) {
	is, ok := s.(identityStore)
	if !ok {
		t.Fatalf("%T does not seal", s)
	}
	tr := BuildTree(t, s)
	u := mustUser(t, s, "tess", tr.City.ID)
	secret, err := auth.NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Microsecond)
	stored := func(want string) {
		t.Helper()
		var keyID, v string
		if err := is.DB().QueryRowContext(ctx, `SELECT key_id, secret FROM user_totp WHERE user_id = `+strconv.FormatInt(u.ID, 10)).Scan(&keyID, &v); err != nil {
			t.Fatal(err)
		}
		if keyID != want {
			t.Errorf("secret sealed with key %q, want %q", keyID, want)
		}
		if strings.Contains(v, secret) || strings.Contains(strings.ToLower(v), strings.ToLower(secret)) {
			t.Errorf("the stored secret holds it in clear: %q", v)
		}
	}
	if err := s.BeginTOTP(ctx, u.ID, secret, now); err != nil {
		t.Fatal(err)
	}
	stored("k1") // pending
	code, err := auth.TOTPCode(secret, auth.TOTPStep(now))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetTOTP(ctx, u.ID)
	if err != nil || got.Secret != secret {
		t.Fatalf("pending secret read back as %q, %v", got.Secret, err)
	}
	step, ok := auth.CheckTOTP(got.Secret, code, now)
	if !ok {
		t.Fatal("the enrolment code does not check against the secret read back")
	}
	if err := s.ConfirmTOTP(ctx, u.ID, step, []string{"r1"}, now); err != nil {
		t.Fatal(err)
	}
	stored("k1")

	if err := is.IdentityKeys().SetCurrent("k2"); err != nil {
		t.Fatal(err)
	}
	n, err := is.RotateIdentityKeys(ctx, 10, nil)
	if err != nil || n != 1 {
		t.Fatalf("RotateIdentityKeys = %d, %v; want the one secret", n, err)
	}
	stored("k2")

	// A login after the rotation: the next step's code, computed from the secret enrolled.
	later := now.Add(auth.TOTPPeriod)
	code, err = auth.TOTPCode(secret, auth.TOTPStep(later))
	if err != nil {
		t.Fatal(err)
	}
	got, err = s.GetTOTP(ctx, u.ID)
	if err != nil || got.Secret != secret {
		t.Fatalf("secret after rotation %q, %v", got.Secret, err)
	}
	step, ok = auth.CheckTOTP(got.Secret, code, later)
	if !ok {
		t.Fatal("a fresh code is refused after the rotation")
	}
	if err := s.UseTOTPStep(ctx, u.ID, step); err != nil {
		t.Errorf("login after rotation: %v", err)
	}
}
