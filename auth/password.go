package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"sanji/i18n"
)

// Argon2Params are the argon2id cost parameters. The defaults follow RFC 9106's second
// recommended option (64 MiB, 3 passes) scaled to a small server: one hash takes tens of
// milliseconds on one core.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	KeyLen  uint32
	SaltLen uint32
}

// DefaultArgon2 is what HashPassword uses.
var DefaultArgon2 = Argon2Params{Memory: 64 * 1024, Time: 3, Threads: 2, KeyLen: 32, SaltLen: 16}

// ErrPasswordMismatch is returned by CheckPassword for a wrong password.
var ErrPasswordMismatch = errors.New("auth: password mismatch")

// MinPasswordLen and MaxPasswordLen bound passwords (in characters); the upper bound keeps a
// hostile request from making the server hash megabytes.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 128
)

// ValidatePassword checks a new password's length; it returns a bilingual message or nil.
func ValidatePassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	if !utf8.ValidString(pw) || n < MinPasswordLen || n > MaxPasswordLen {
		return errors.New(i18n.T("auth.password.length", "min", MinPasswordLen, "max", MaxPasswordLen).String())
	}
	return nil
}

// HashPassword returns the argon2id hash of pw in the PHC string format
// ($argon2id$v=19$m=65536,t=3,p=2$salt$key), which carries its own parameters so they can be
// raised later without breaking stored hashes.
func HashPassword(pw string) (string, error) { return HashPasswordWith(pw, DefaultArgon2) }

// HashPasswordWith is HashPassword with explicit parameters (tests use cheap ones).
func HashPasswordWith(pw string, p Argon2Params) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword compares pw with a hash from HashPassword in constant time. It returns nil,
// ErrPasswordMismatch, or an error for a malformed hash.
func CheckPassword(hash, pw string) error {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return errors.New("auth: not an argon2id hash")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return errors.New("auth: unsupported argon2 version")
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return errors.New("auth: bad argon2 parameters")
	}
	// Refuse absurd costs from a tampered row rather than exhausting memory.
	if p.Memory == 0 || p.Memory > 1<<21 || p.Time == 0 || p.Time > 20 || p.Threads == 0 {
		return errors.New("auth: argon2 parameters out of range")
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return errors.New("auth: bad salt")
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return errors.New("auth: bad key")
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrPasswordMismatch
	}
	return nil
}

// dummyHash is checked against when a user does not exist, so a login for an unknown name costs
// the same time as one for a known name. It is made at the first such login, not at start: an
// argon2id hash takes 64 MiB, which every process importing this package would otherwise pay.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("sanji-dummy-password-for-timing")
	return h
})

// BurnPasswordCheck spends the time of one password check; see dummyHash.
func BurnPasswordCheck(pw string) { _ = CheckPassword(dummyHash(), pw) }

// RandomToken returns n random bytes, base64url-encoded: session ids, CSRF tokens, API tokens.
func RandomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken is how session ids, API tokens and pairing codes are kept at rest: SHA-256, hex.
// They are long random values, so a fast hash suffices (no dictionary to guess from), and a
// leaked table does not give working credentials.
func HashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// passwordAlphabet avoids characters people confuse when reading a printed password (0/O, 1/l/I).
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// RandomPassword returns a password of n characters from an unambiguous alphabet, for one-time
// passwords printed to a terminal.
func RandomPassword(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: random: %w", err)
	}
	for i := range b {
		// 256 is not a multiple of 56: the bias is under 2 % per character, harmless here.
		b[i] = passwordAlphabet[int(b[i])%len(passwordAlphabet)]
	}
	return string(b), nil
}

// RandomDigits returns n random decimal digits, for pairing codes typed on a terminal.
func RandomDigits(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: random: %w", err)
	}
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b), nil
}
