package auth

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"strings"
	"testing"
	"time"
)

// TestTOTPVectors: RFC 6238 appendix B, every time and hash, 8 digits, seeds of the hash's length.
func TestTOTPVectors(t *testing.T) {
	seed20 := "12345678901234567890"
	seeds := map[string]struct {
		h   func() hash.Hash
		key string
	}{
		"SHA1":   {sha1.New, seed20},
		"SHA256": {sha256.New, seed20 + "123456789012"},
		"SHA512": {sha512.New, seed20 + seed20 + seed20 + "1234"},
	}
	for _, v := range []struct {
		unix int64
		alg  string
		code string
	}{
		{59, "SHA1", "94287082"}, {59, "SHA256", "46119246"}, {59, "SHA512", "90693936"},
		{1111111109, "SHA1", "07081804"}, {1111111109, "SHA256", "68084774"}, {1111111109, "SHA512", "25091201"},
		{1111111111, "SHA1", "14050471"}, {1111111111, "SHA256", "67062674"}, {1111111111, "SHA512", "99943326"},
		{1234567890, "SHA1", "89005924"}, {1234567890, "SHA256", "91819424"}, {1234567890, "SHA512", "93441116"},
		{2000000000, "SHA1", "69279037"}, {2000000000, "SHA256", "90698825"}, {2000000000, "SHA512", "38618901"},
		{20000000000, "SHA1", "65353130"}, {20000000000, "SHA256", "77737706"}, {20000000000, "SHA512", "47863826"},
	} {
		s := seeds[v.alg]
		step := TOTPStep(time.Unix(v.unix, 0))
		if got := hotp(s.h, []byte(s.key), uint64(step), 8); got != v.code {
			t.Errorf("T=%d %s: %s, want %s", v.unix, v.alg, got, v.code)
		}
	}
	// The app's form: the SHA-1 seed in base32, 6 digits (the last six of the 8-digit vector).
	secret := b32.EncodeToString([]byte(seed20))
	if got, _ := TOTPCode(secret, TOTPStep(time.Unix(59, 0))); got != "287082" {
		t.Errorf("6-digit code %s, want 287082", got)
	}
}

func TestCheckTOTP(t *testing.T) {
	secret, err := NewTOTPSecret()
	if err != nil || len(secret) != 32 {
		t.Fatalf("secret %q, %v", secret, err)
	}
	now := time.Unix(1_800_000_015, 0)
	cur := TOTPStep(now)
	for d := int64(-2); d <= 2; d++ {
		code, _ := TOTPCode(secret, cur+d)
		step, ok := CheckTOTP(secret, code[:3]+" "+code[3:], now)
		if want := d >= -TOTPSkew && d <= TOTPSkew; ok != want || (ok && step != cur+d) {
			t.Errorf("code of step %+d: ok %v step %d", d, ok, step)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := CheckTOTP(secret, bad, now); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	uri := TOTPURI("Sanji 信访", "li.ming", secret)
	if !strings.HasPrefix(uri, "otpauth://totp/Sanji%20%E4%BF%A1%E8%AE%BF:li.ming?") || !strings.Contains(uri, "secret="+secret) || !strings.Contains(uri, "period=30") {
		t.Errorf("uri %s", uri)
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, err := NewRecoveryCodes(10)
	if err != nil || len(codes) != 10 {
		t.Fatal(codes, err)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 11 || c[5] != '-' || seen[c] {
			t.Errorf("code %q", c)
		}
		seen[c] = true
		if n := NormalizeRecoveryCode(" " + strings.ToUpper(strings.Replace(c, "-", " ", 1))); n != strings.Replace(c, "-", "", 1) {
			t.Errorf("normalised %q to %q", c, n)
		}
	}
}
