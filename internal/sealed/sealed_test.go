package sealed

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSealOpenBothSuites(t *testing.T) {
	text, err := NewKeyFile("k1")
	if err != nil {
		t.Fatal(err)
	}
	for _, suite := range []string{Intl, GM} {
		k, err := Parse(text, suite)
		if err != nil {
			t.Fatal(err)
		}
		c, err := k.Seal("k1", "t.name", "张三")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(c, "张三") {
			t.Fatalf("%s: ciphertext holds the clear text", suite)
		}
		if c2, _ := k.Seal("k1", "t.name", "张三"); c2 == c {
			t.Errorf("%s: two seals of one value are equal (nonce reused)", suite)
		}
		if p, err := k.Open("k1", "t.name", c); err != nil || p != "张三" {
			t.Errorf("%s: Open = %q, %v", suite, p, err)
		}
		if _, err := k.Open("k1", "t.phone", c); err == nil {
			t.Errorf("%s: a value opened under another column's label", suite)
		}
		if _, err := k.Open("k9", "t.name", c); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("%s: unknown key: %v", suite, err)
		}
		if k.Index("id", "X") != k.Index("id", "X") || k.Index("id", "X") == k.Index("phone", "X") || k.Index("id", "") != "" {
			t.Errorf("%s: index not deterministic per label", suite)
		}
	}
	// The suites differ: a value sealed under one does not open under the other, nor do indexes match.
	intl, _ := Parse(text, Intl)
	gm, _ := Parse(text, GM)
	c, _ := intl.Seal("k1", "l", "v")
	if _, err := gm.Open("k1", "l", c); err == nil {
		t.Error("an AES-GCM value opened under SM4-GCM")
	}
	if intl.Index("l", "v") == gm.Index("l", "v") {
		t.Error("HMAC-SHA-256 and HMAC-SM3 indexes agree")
	}
}

func TestParseRefuses(t *testing.T) {
	for _, text := range []string{
		"",
		"current k1;index AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",                                                      // no key k1
		"current k1;key k1 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",                                                     // no index
		"current k1;index AAEC;key k1 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",                                          // short index key
		"current k1;index AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=;key k/1 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", // bad id
	} {
		if _, err := Parse(text, Intl); err == nil {
			t.Errorf("Parse(%q) accepted", text)
		}
	}
	if _, err := Parse("", "des"); err == nil {
		t.Error("an unknown suite accepted")
	}
}

// TestKeyFileRotation: a file made on first use is 0600; a key added to it is current, and a
// keyring loaded before the change reads values sealed with the new key (it rereads the file on
// meeting its id) and, once it has looked again, seals with it.
func TestKeyFileRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identity.keys")
	old, created, err := LoadOrCreate(path, Intl)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate = %v, %v", created, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st.Mode().Perm())
	}
	if _, again, err := LoadOrCreate(path, Intl); err != nil || again {
		t.Fatalf("second LoadOrCreate = %v, %v; want the file kept", again, err)
	}
	before, _ := old.Seal(old.Current(), "l", "v")
	id, err := AddKey(path)
	if err != nil || id != "k2" {
		t.Fatalf("AddKey = %q, %v", id, err)
	}
	fresh, err := Load(path, Intl)
	if err != nil || fresh.Current() != "k2" || len(fresh.IDs()) != 2 {
		t.Fatalf("after AddKey: current %q ids %v, %v", fresh.Current(), fresh.IDs(), err)
	}
	if v, err := fresh.Open("k1", "l", before); err != nil || v != "v" {
		t.Errorf("old value under the new file: %q, %v", v, err)
	}
	if fresh.Index("l", "v") != old.Index("l", "v") {
		t.Error("the index key changed with a rotation")
	}
	after, _ := fresh.Seal("k2", "l", "w")
	if v, err := old.Open("k2", "l", after); err != nil || v != "w" {
		t.Errorf("a keyring loaded before the rotation cannot read the new key: %q, %v", v, err)
	}
	old.mu.Lock()
	old.checked = time.Time{}
	old.mu.Unlock()
	if old.Current() != "k2" {
		t.Errorf("the running keyring still seals with %q", old.Current())
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode after AddKey %v", st.Mode().Perm())
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, Intl); err == nil {
		t.Error("a key file readable by others was accepted")
	}
}
