// Package sealed encrypts small values at rest and computes keyed blind indexes over them, for
// the petitioners' identity the scheduler stores (names, ID numbers, phone numbers, addresses).
//
// A Keyring holds several data keys, each with an id, one of them current: new values are
// sealed with the current key, and every value is stored with the id of its key, so old values
// stay readable while `sanji keys rotate` re-seals them. The blind index key is separate and does
// not rotate: an index is an equality test (the same ID number gives the same index), and
// rotating its key would mean recomputing every index at once.
//
// Suites: intl seals with AES-256-GCM and indexes with HMAC-SHA-256; gm (国密) seals with
// SM4-GCM and indexes with HMAC-SM3. The key material is the same 32 bytes either way; SM4's
// 128-bit key is derived from it.
//
// The key file (or the environment variable holding the same text) has one entry a line:
//
//	current k2
//	index <base64 of 32 bytes>
//	key k1 <base64 of 32 bytes>
//	key k2 <base64 of 32 bytes>
//
// Blank lines and lines starting with # are ignored; in the environment variable ';' separates
// entries as a newline does.
package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
)

// Suites.
const (
	Intl = "intl"
	GM   = "gm"
)

// KeyLen is the length of every key in the file.
const KeyLen = 32

// ErrUnknownKey is returned when a value's key id is not in the keyring (after a reload).
var ErrUnknownKey = errors.New("sealed: unknown key id")

// keyID is what an id may hold: it is stored beside every value.
var keyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Keyring is a set of data keys and one index key under one suite. It is safe for concurrent use.
type Keyring struct {
	suite string
	path  string // the file it came from, reread when it changes ("" for the environment)

	mu      sync.RWMutex
	current string
	aeads   map[string]cipher.AEAD
	index   []byte
	mod     time.Time // the file's modification time when read
	checked time.Time // when the file's time was last looked at
}

// reloadEvery bounds how often a keyring looks whether its file changed.
const reloadEvery = 2 * time.Second

// Parse reads a keyring's text under suite (Intl or GM).
func Parse(text, suite string) (*Keyring, error) {
	k := &Keyring{suite: suite}
	if err := k.parse(text); err != nil {
		return nil, err
	}
	return k, nil
}

// Load reads the key file at path. The keyring rereads the file when it changes, so a server
// picks up a new current key, and the keys `sanji keys rotate` sealed with, without a restart.
func Load(path, suite string) (*Keyring, error) {
	k := &Keyring{suite: suite, path: path}
	if err := k.reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// LoadOrCreate loads the key file at path, creating it (mode 0600, one fresh key) when missing;
// created says it did.
func LoadOrCreate(path, suite string) (k *Keyring, created bool, err error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		text, err := NewKeyFile("k1")
		if err != nil {
			return nil, false, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		switch {
		case errors.Is(err, os.ErrExist): // another process made it meanwhile: its keys win
		case err != nil:
			return nil, false, fmt.Errorf("sealed: create key file: %w", err)
		default:
			if werr := writeClose(f, text); werr != nil {
				_ = os.Remove(path) // a half-written key file would lose every value sealed with it
				return nil, false, fmt.Errorf("sealed: write key file: %w", werr)
			}
			created = true
		}
	}
	k, err = Load(path, suite)
	return k, created, err
}

// NewKeyFile is the text of a new key file holding one fresh data key (id) and a fresh index key.
func NewKeyFile(id string) (string, error) {
	key, err := NewKey()
	if err != nil {
		return "", err
	}
	idx, err := NewKey()
	if err != nil {
		return "", err
	}
	return "# Sanji identity keys. Back this file up apart from the database: without it the\n" +
		"# petitioners' identities in the database cannot be read.\n" +
		"current " + id + "\nindex " + idx + "\nkey " + id + " " + key + "\n", nil
}

// NewKey is a fresh random key, base64.
func NewKey() (string, error) {
	b := make([]byte, KeyLen)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("sealed: random key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

func (k *Keyring) reload() error {
	st, err := os.Stat(k.path)
	if err != nil {
		return fmt.Errorf("sealed: key file: %w", err)
	}
	data, err := os.ReadFile(k.path)
	if err != nil {
		return fmt.Errorf("sealed: key file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("sealed: key file %s is readable by others (mode %v); chmod 600 it", k.path, st.Mode().Perm())
	}
	if err := k.parse(string(data)); err != nil {
		return err
	}
	k.mu.Lock()
	k.mod, k.checked = st.ModTime(), time.Now()
	k.mu.Unlock()
	return nil
}

func (k *Keyring) parse(text string) error {
	if k.suite != Intl && k.suite != GM {
		return fmt.Errorf("sealed: suite %q: want %s or %s", k.suite, Intl, GM)
	}
	aeads := map[string]cipher.AEAD{}
	var current string
	var index []byte
	for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ';' }) {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch {
		case f[0] == "current" && len(f) == 2:
			current = f[1]
		case f[0] == "index" && len(f) == 2:
			b, err := decodeKey(f[1])
			if err != nil {
				return fmt.Errorf("sealed: index key: %w", err)
			}
			index = b
		case f[0] == "key" && len(f) == 3:
			if !keyID.MatchString(f[1]) {
				return fmt.Errorf("sealed: key id %q: letters, digits, - and _ only, at most 32", f[1])
			}
			if _, dup := aeads[f[1]]; dup {
				return fmt.Errorf("sealed: key %s twice", f[1])
			}
			b, err := decodeKey(f[2])
			if err != nil {
				return fmt.Errorf("sealed: key %s: %w", f[1], err)
			}
			a, err := newAEAD(k.suite, b)
			if err != nil {
				return err
			}
			aeads[f[1]] = a
		default:
			return fmt.Errorf("sealed: key file line starting %q: want current, index or key", f[0])
		}
	}
	if index == nil {
		return errors.New("sealed: no index key")
	}
	if _, ok := aeads[current]; !ok {
		return fmt.Errorf("sealed: the current key %q is not among the keys", current)
	}
	k.mu.Lock()
	k.current, k.aeads, k.index = current, aeads, index
	k.mu.Unlock()
	return nil
}

func decodeKey(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("not base64")
	}
	if len(b) != KeyLen {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), KeyLen)
	}
	return b, nil
}

func newAEAD(suite string, key []byte) (cipher.AEAD, error) {
	var b cipher.Block
	var err error
	if suite == GM {
		// SM4 takes 128 bits: derive them from the 32 bytes rather than cut, so the halves of
		// one key are not both in use under two suites.
		m := hmac.New(sm3.New, key)
		m.Write([]byte("sanji sm4-gcm key"))
		b, err = sm4.NewCipher(m.Sum(nil)[:16])
	} else {
		b, err = aes.NewCipher(key)
	}
	if err != nil {
		return nil, fmt.Errorf("sealed: cipher: %w", err)
	}
	return cipher.NewGCM(b)
}

// Suite is intl or gm.
func (k *Keyring) Suite() string { return k.suite }

// Current is the id of the key new values are sealed with.
func (k *Keyring) Current() string {
	k.maybeReload()
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.current
}

// IDs lists the key ids, sorted.
func (k *Keyring) IDs() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]string, 0, len(k.aeads))
	for id := range k.aeads {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// maybeReload rereads the file when its modification time changed, at most every reloadEvery.
// A file that fails to read keeps the keys already loaded: the next look tries again.
func (k *Keyring) maybeReload() {
	if k.path == "" {
		return
	}
	k.mu.RLock()
	due := time.Since(k.checked) >= reloadEvery
	mod := k.mod
	k.mu.RUnlock()
	if !due {
		return
	}
	st, err := os.Stat(k.path)
	k.mu.Lock()
	k.checked = time.Now()
	k.mu.Unlock()
	if err == nil && !st.ModTime().Equal(mod) {
		_ = k.reload()
	}
}

func (k *Keyring) aead(id string) (cipher.AEAD, error) {
	k.mu.RLock()
	a, ok := k.aeads[id]
	k.mu.RUnlock()
	if ok {
		return a, nil
	}
	// A key added since the file was read (a rotation under way): read it again now.
	if k.path != "" {
		if err := k.reload(); err == nil {
			k.mu.RLock()
			a, ok = k.aeads[id]
			k.mu.RUnlock()
			if ok {
				return a, nil
			}
		}
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
}

// Seal encrypts plain with key id; label (the column, say) is bound to the value as additional
// data, so a value copied into another column does not open. The result is base64 of the nonce
// and the ciphertext.
func (k *Keyring) Seal(id, label, plain string) (string, error) {
	a, err := k.aead(id)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plain)+a.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("sealed: nonce: %w", err)
	}
	return base64.StdEncoding.EncodeToString(a.Seal(nonce, nonce, []byte(plain), []byte(label))), nil
}

// Open decrypts what Seal returned under the same key id and label.
func (k *Keyring) Open(id, label, sealed string) (string, error) {
	a, err := k.aead(id)
	if err != nil {
		return "", err
	}
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(b) < a.NonceSize()+a.Overhead() {
		return "", fmt.Errorf("sealed: %s: not a sealed value", label)
	}
	plain, err := a.Open(nil, b[:a.NonceSize()], b[a.NonceSize():], []byte(label))
	if err != nil {
		return "", fmt.Errorf("sealed: %s under key %s: %w", label, id, err)
	}
	return string(plain), nil
}

// Index is the blind index of value under label: hex of HMAC-SHA-256 (HMAC-SM3 under gm) with
// the index key. Equal values give equal indexes; without the key an index tells nothing, not
// even by trying every ID number. An empty value has the empty index.
func (k *Keyring) Index(label, value string) string {
	if value == "" {
		return ""
	}
	k.mu.RLock()
	key := k.index
	k.mu.RUnlock()
	h := sha256.New
	if k.suite == GM {
		h = func() hash.Hash { return sm3.New() }
	}
	m := hmac.New(h, key)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// AddKey adds a fresh key to the key file at path and makes it current, keeping every other
// line; it returns the new key's id (k<n>, the first unused). The file is replaced whole
// (written beside it, synced, renamed), so a reader sees the old file or the new one.
func AddKey(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("sealed: key file: %w", err)
	}
	old, err := Parse(string(data), Intl)
	if err != nil {
		return "", err
	}
	have := map[string]bool{}
	for _, id := range old.IDs() {
		have[id] = true
	}
	id := ""
	for n := 1; id == ""; n++ {
		if c := fmt.Sprintf("k%d", n); !have[c] {
			id = c
		}
	}
	key, err := NewKey()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "current" {
			continue
		}
		b.WriteString(line + "\n")
	}
	b.WriteString("key " + id + " " + key + "\ncurrent " + id + "\n")
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", fmt.Errorf("sealed: write key file: %w", err)
	}
	werr := writeClose(f, b.String())
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("sealed: write key file: %w", werr)
	}
	return id, nil
}

// SetCurrent makes id, one of the keys, the one new values are sealed with (until a keyring read
// from a file rereads it).
func (k *Keyring) SetCurrent(id string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.aeads[id]; !ok {
		return fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	k.current = id
	return nil
}

// writeClose writes text to f, syncs and closes it.
func writeClose(f *os.File, text string) error {
	_, err := f.WriteString(text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
