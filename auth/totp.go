package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash"
	"net/url"
	"strings"
	"time"
)

// Two-factor login with time-based one-time passwords (RFC 6238 over RFC 4226's HOTP), as every
// authenticator app computes them: HMAC-SHA1, 6 digits, 30-second steps. Written here on the
// standard library (it is a few dozen lines) rather than adding a module and its QR-code
// dependency the pages do not need.
const (
	TOTPPeriod = 30 * time.Second
	TOTPDigits = 6
	// TOTPSkew is how many steps either side of now a code is accepted in: a phone's clock a
	// little off, a code typed as it turns over.
	TOTPSkew = 1
	// totpSecretBytes is the secret's length: 160 bits, RFC 4226's recommendation for SHA-1.
	totpSecretBytes = 20
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a fresh secret in base32, the form authenticator apps take.
func NewTOTPSecret() (string, error) {
	b := make([]byte, totpSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: totp secret: %w", err)
	}
	return b32.EncodeToString(b), nil
}

// hotp is RFC 4226's HOTP of key at counter, digits long, under the hash h.
func hotp(h func() hash.Hash, key []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(h, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// TOTPStep is the time step of t.
func TOTPStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// TOTPCode is the code of a base32 secret at a time step.
func TOTPCode(secret string, step int64) (string, error) {
	key, err := b32.DecodeString(strings.ToUpper(strings.TrimRight(secret, "=")))
	if err != nil {
		return "", fmt.Errorf("auth: totp secret: %w", err)
	}
	return hotp(sha1.New, key, uint64(step), TOTPDigits), nil
}

// CheckTOTP looks for code among the steps around now and returns the step it belongs to. The
// caller refuses a step not after the last one it accepted (a replay).
func CheckTOTP(secret, code string, now time.Time) (step int64, ok bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != TOTPDigits {
		return 0, false
	}
	cur := TOTPStep(now)
	for s := cur - TOTPSkew; s <= cur+TOTPSkew; s++ {
		want, err := TOTPCode(secret, s)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return s, true
		}
	}
	return 0, false
}

// TOTPURI is the otpauth:// URI of Google Authenticator's key-URI format, which every
// authenticator app reads (typed, pasted or as a QR code).
func TOTPURI(issuer, account, secret string) string {
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	q := url.Values{"secret": {secret}, "issuer": {issuer}, "algorithm": {"SHA1"},
		"digits": {fmt.Sprint(TOTPDigits)}, "period": {fmt.Sprint(int(TOTPPeriod / time.Second))}}
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// recoveryAlphabet leaves out letters read alike (0/o, 1/l/i).
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// NewRecoveryCodes returns n single-use codes of 10 characters (about 49 bits each), shown as
// xxxxx-xxxxx. Kept as HashToken(NormalizeRecoveryCode(code)).
func NewRecoveryCodes(n int) ([]string, error) {
	out := make([]string, n)
	b := make([]byte, 10)
	for i := range out {
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("auth: recovery codes: %w", err)
		}
		var s strings.Builder
		for j, c := range b {
			if j == 5 {
				s.WriteByte('-')
			}
			s.WriteByte(recoveryAlphabet[int(c)%len(recoveryAlphabet)])
		}
		out[i] = s.String()
	}
	return out, nil
}

// NormalizeRecoveryCode is the form a recovery code is hashed in: lower case, without the dash
// and spaces a person may type or leave out.
func NormalizeRecoveryCode(code string) string {
	return strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(code)))
}
