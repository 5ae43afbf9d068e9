package exchange

import (
	"archive/zip"
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"sanji/scheduler/org"
)

// testBundle is a signed bundle of a small cases.json and one attachment file.
func testBundle(t testing.TB, key crypto.Signer) (raw []byte, fileSum string) {
	t.Helper()
	file := []byte("%PDF-1.4\n材料\n%%EOF\n")
	sum := sha256.Sum256(file)
	fileSum = hex.EncodeToString(sum[:])
	cases := []byte(`{"format":"sanji.cases/1","identity":"masked","cases":[]}`)
	var buf bytes.Buffer
	err := WriteBundle(&buf, cases, []BundleFile{{SHA256: fileSum, Size: int64(len(file)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(file)), nil }}}, key, time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), fileSum
}

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newKeyOf is a signing key of either suite.
func newKeyOf(t *testing.T, alg string) crypto.Signer {
	t.Helper()
	k, err := GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// rezip rewrites a bundle's entries through edit (which may change, add or drop entries), with
// the zip's own checksums recomputed: what a careful tamperer would do.
func rezip(t testing.TB, raw []byte, edit func(entries map[string][]byte, order *[]string)) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string][]byte{}
	var order []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		_ = rc.Close()
		entries[f.Name] = b
		order = append(order, f.Name)
	}
	edit(entries, &order)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range order {
		b, ok := entries[name]
		if !ok {
			continue
		}
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// flip changes one byte in the middle of the stored data of the named entry, in place.
func flip(t testing.TB, raw []byte, name string) []byte {
	t.Helper()
	out := append([]byte(nil), raw...)
	zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			off, err := f.DataOffset()
			if err != nil {
				t.Fatal(err)
			}
			out[off+int64(f.CompressedSize64/2)] ^= 0x20
			return out
		}
	}
	t.Fatalf("no entry %s", name)
	return nil
}

func TestBundleVerifies(t *testing.T) {
	for _, alg := range []string{AlgEd25519, AlgSM2} {
		t.Run(alg, func(t *testing.T) {
			a, b := newKeyOf(t, alg), newKeyOf(t, AlgEd25519)
			raw, sum := testBundle(t, a)
			// Signed by a: a's own system and a system trusting a (among keys of the other
			// kind) read it; a system trusting only b does not.
			for _, keys := range []ExchangeKeys{{Private: a}, {Private: b, Trusted: []crypto.PublicKey{newKeyOf(t, AlgSM2).Public(), a.Public()}}} {
				bd, err := ReadBundle(bytes.NewReader(raw), int64(len(raw)), keys)
				if err != nil {
					t.Fatal(err)
				}
				if bd.KeyID != KeyID(a.Public()) || Algorithm(bd.PublicKey) != alg || !bd.HasFile(sum) || !strings.Contains(string(bd.Cases), "sanji.cases/1") {
					t.Errorf("bundle %+v", bd.Manifest)
				}
			}
			var be *BundleError
			if _, err := ReadBundle(bytes.NewReader(raw), int64(len(raw)), ExchangeKeys{Private: b}); !errors.As(err, &be) || be.Part != BundleSignature {
				t.Errorf("read by a system that does not trust it: %v", err)
			}
			for _, form := range []string{PublicKeyPEM(a.Public()), MarshalPublicKey(a.Public())} {
				pub, err := ParsePublicKey(form)
				if err != nil || KeyID(pub) != KeyID(a.Public()) || Algorithm(pub) != alg {
					t.Errorf("round trip of %q: %v", form, err)
				}
			}
		})
	}
	if _, err := ParsePublicKey("not a key"); !errors.Is(err, org.ErrInvalid) {
		t.Errorf("bad key: %v", err)
	}
}

// TestBundleSM2ClaimRefused: an SM2 signature presented as Ed25519 (or the reverse) is refused
// before any verification, so an algorithm cannot be swapped under a trusted key.
func TestBundleSM2ClaimRefused(t *testing.T) {
	a := newKeyOf(t, AlgSM2)
	raw, _ := testBundle(t, a)
	for _, claim := range []string{AlgEd25519, "SM2withSHA256"} {
		bad := rezip(t, raw, func(e map[string][]byte, _ *[]string) {
			var sig signatureFile
			_ = json.Unmarshal(e[BundleSignature], &sig)
			sig.Algorithm = claim
			e[BundleSignature], _ = json.Marshal(sig)
		})
		var be *BundleError
		if _, err := ReadBundle(bytes.NewReader(bad), int64(len(bad)), ExchangeKeys{Private: a}); !errors.As(err, &be) || be.Part != BundleSignature {
			t.Errorf("claimed %s: %v", claim, err)
		}
	}
}

// TestBundleTamperRefused changes a bundle one way at a time; each is refused, naming the part.
func TestBundleTamperRefused(t *testing.T) {
	for _, alg := range []string{AlgEd25519, AlgSM2} {
		t.Run(alg, func(t *testing.T) { testBundleTamperRefused(t, newKeyOf(t, alg)) })
	}
}

func testBundleTamperRefused(t *testing.T, a crypto.Signer) {
	other := newKey(t)
	raw, sum := testBundle(t, a)
	file := "files/" + sum
	keys := ExchangeKeys{Private: newKey(t), Trusted: []crypto.PublicKey{a.Public(), other.Public()}}
	change := func(name string, at int) func(map[string][]byte, *[]string) {
		return func(e map[string][]byte, _ *[]string) {
			b := append([]byte(nil), e[name]...)
			b[at] ^= 0x01
			e[name] = b
		}
	}
	resign := func(e map[string][]byte, _ *[]string) {
		// A valid signature, by another trusted key, over a manifest that is not this one.
		var sig signatureFile
		_ = json.Unmarshal(e[BundleSignature], &sig)
		sig.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(other, []byte("another manifest")))
		e[BundleSignature], _ = json.Marshal(sig)
	}
	swapKey := func(e map[string][]byte, _ *[]string) {
		// The manifest re-signed by another trusted key: the manifest names a's key id.
		sig := signatureFile{Algorithm: "Ed25519", PublicKey: base64.StdEncoding.EncodeToString(other.Public().(ed25519.PublicKey)),
			Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(other, e[BundleManifest]))}
		e[BundleSignature], _ = json.Marshal(sig)
	}
	untrusted := func(e map[string][]byte, _ *[]string) {
		k := newKey(t)
		sig := signatureFile{Algorithm: "Ed25519", PublicKey: base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey)),
			Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(k, e[BundleManifest]))}
		e[BundleSignature], _ = json.Marshal(sig)
	}
	for _, tc := range []struct {
		name, part, says string
		bundle           []byte
	}{
		{"a byte of the attachment", file, "SHA-256", rezip(t, raw, change(file, 5))},
		{"a byte of cases.json", BundleCases, "SHA-256", rezip(t, raw, change(BundleCases, 10))},
		{"a byte of the manifest", BundleSignature, "manifest.json", rezip(t, raw, change(BundleManifest, 30))},
		{"a wrong signature", BundleSignature, "does not verify", rezip(t, raw, resign)},
		{"another trusted key's signature", BundleManifest, "key id", rezip(t, raw, swapKey)},
		{"an untrusted key", BundleSignature, "untrusted key", rezip(t, raw, untrusted)},
		{"no signature", BundleSignature, "not signed", rezip(t, raw, func(e map[string][]byte, _ *[]string) { delete(e, BundleSignature) })},
		{"a file the manifest does not list", "files/" + strings.Repeat("0", 64), "does not list", rezip(t, raw, func(e map[string][]byte, o *[]string) {
			e["files/"+strings.Repeat("0", 64)] = []byte("x")
			*o = append(*o, "files/"+strings.Repeat("0", 64))
		})},
		{"a file taken out", file, "lacks", rezip(t, raw, func(e map[string][]byte, _ *[]string) { delete(e, file) })},
		{"a path trick", `"../etc/passwd"` /* quoted: a name is untrusted bytes */, "should not", rezip(t, raw, func(e map[string][]byte, o *[]string) {
			e["../etc/passwd"] = []byte("x")
			*o = append(*o, "../etc/passwd")
		})},
		{"a flipped byte of the stored attachment", file, "SHA-256", flip(t, raw, file)},
		{"a flipped byte of the deflated cases.json", BundleCases, "cases.json", flip(t, raw, BundleCases)},
		{"a flipped byte of the deflated manifest", BundleManifest, "manifest.json", flip(t, raw, BundleManifest)},
		{"not a zip", "zip", "zip", []byte("PK not really")},
	} {
		_, err := ReadBundle(bytes.NewReader(tc.bundle), int64(len(tc.bundle)), keys)
		var be *BundleError
		if !errors.As(err, &be) || be.Part != tc.part || !strings.Contains(be.EN, tc.says) {
			t.Errorf("%s: got %v, want a refusal naming %s (%q)", tc.name, err, tc.part, tc.says)
		}
	}
}

// TestBundleZipBombRefused: a correctly signed bundle whose attachment inflates a thousandfold
// is refused before it is decompressed; so are too many entries and too many bytes. The same
// bundle within generous limits reads, so it is the limit that refuses.
func TestBundleZipBombRefused(t *testing.T) {
	key := newKey(t)
	zeros := make([]byte, 8<<20)
	sum := sha256.Sum256(zeros)
	var buf bytes.Buffer
	err := WriteBundle(&buf, []byte(`{"format":"sanji.cases/1","identity":"masked","cases":[]}`),
		[]BundleFile{{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(zeros)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(zeros)), nil }}},
		key, time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	// Deflate every entry: the manifest and its signature are untouched, so it still verifies.
	bomb := rezip(t, buf.Bytes(), func(map[string][]byte, *[]string) {})
	if len(bomb) > 64<<10 {
		t.Fatalf("the bomb is %d bytes: not much of a bomb", len(bomb))
	}
	keys := ExchangeKeys{Private: key}
	read := func(lim Limits) error {
		_, err := ReadBundleLimited(bytes.NewReader(bomb), int64(len(bomb)), keys, lim)
		return err
	}
	if err := read(Limits{MaxRatio: 100000}); err != nil {
		t.Fatalf("the bundle itself is sound: %v", err)
	}
	for _, c := range []struct {
		lim  Limits
		part string
		says string
	}{
		{Limits{}, "files/" + hex.EncodeToString(sum[:]), "zip bomb"},
		{Limits{MaxRatio: 100000, MaxBytes: 4 << 20}, "zip", "4 MiB"},
		{Limits{MaxRatio: 100000, MaxFiles: 3}, "zip", "holds 4 files"},
	} {
		err := read(c.lim)
		var be *BundleError
		if !errors.As(err, &be) || be.Part != c.part || !strings.Contains(be.EN, c.says) || be.ZH == "" {
			t.Errorf("limits %+v: %v, want part %s saying %q", c.lim, err, c.part, c.says)
		}
	}
}
