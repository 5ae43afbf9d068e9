package exchange

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fuzzKey is fixed so that the committed corpus stays signed by a key the targets trust.
var fuzzKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

// checkBundleError holds a refusal to what the importer shows: a *BundleError naming the part,
// with the catalog's Chinese and English texts filled.
func checkBundleError(t *testing.T, err error) {
	t.Helper()
	var be *BundleError
	if !errors.As(err, &be) {
		t.Fatalf("refused with %T %v, not a *BundleError", err, err)
	}
	if be.Part == "" || be.ZH == "" || be.EN == "" || be.ZH == be.EN ||
		!strings.ContainsFunc(be.ZH, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
		t.Fatalf("a refusal that is not a clean bilingual error: %+v", be)
	}
	for _, s := range []string{be.ZH, be.EN} {
		if i := strings.IndexByte(s, '{'); i >= 0 && strings.IndexByte(s[i:], '}') > 0 {
			t.Fatalf("an unfilled parameter in %q", s)
		}
	}
}

// FuzzReadBundle feeds ReadBundle any bytes as an uploaded bundle. Invariants: no panic; a
// refusal is a bilingual *BundleError; a bundle it accepts is signed by the trusted key, holds
// cases.json and serves every listed file with the manifest's hash and size; its cases.json is
// either refused cleanly by ParseCases or re-encodes to the same document.
func FuzzReadBundle(f *testing.F) {
	raw, sum := testBundle(f, fuzzKey)
	f.Add(raw)
	f.Add(rezip(f, raw, func(e map[string][]byte, _ *[]string) { delete(e, BundleSignature) }))
	f.Add(rezip(f, raw, func(e map[string][]byte, o *[]string) {
		e["../etc/passwd"] = []byte("x")
		*o = append(*o, "../etc/passwd")
	}))
	f.Add(flip(f, raw, "files/"+sum))
	f.Add([]byte("PK\x03\x04 not really"))
	keys := ExchangeKeys{Private: fuzzKey}

	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := ReadBundle(bytes.NewReader(raw), int64(len(raw)), keys)
		if err != nil {
			checkBundleError(t, err)
			return
		}
		if b.KeyID != keys.OwnID() || b.Cases == nil {
			t.Fatalf("accepted a bundle of key %s, cases %v", b.KeyID, b.Cases != nil)
		}
		for _, e := range b.Manifest.Files {
			if e.Path == BundleCases {
				continue
			}
			rc, err := b.OpenFile(e.SHA256)
			if err != nil {
				t.Fatalf("listed file %s: %v", e.Path, err)
			}
			h := sha256.New()
			n, err := io.Copy(h, rc)
			_ = rc.Close()
			if err != nil || n != e.Size || hex.EncodeToString(h.Sum(nil)) != e.SHA256 {
				t.Fatalf("file %s: %d bytes, %v", e.Path, n, err)
			}
		}
		checkCasesRoundTrip(t, b)
	})
}

// checkCasesRoundTrip parses b's cases.json; what it accepts must encode and parse back equal.
func checkCasesRoundTrip(t *testing.T, b *Bundle) {
	t.Helper()
	doc, err := ParseCases(b)
	if err != nil {
		checkBundleError(t, err)
		return
	}
	enc, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("encode %+v: %v", doc, err)
	}
	again, err := ParseCases(&Bundle{Cases: enc})
	if err != nil {
		t.Fatalf("re-parse of %s: %v", enc, err)
	}
	if !reflect.DeepEqual(doc, again) {
		t.Fatalf("cases round trip changed\n%+v\ninto\n%+v", doc, again)
	}
}

// FuzzSignedBundle writes a signed bundle of any cases.json and one attachment, then reads it
// back: what WriteBundle signs, ReadBundle must accept unchanged (the round trip between two
// systems), and the cases are refused cleanly or survive a re-encode.
func FuzzSignedBundle(f *testing.F) {
	f.Add([]byte(`{"format":"sanji.cases/1","identity":"masked","cases":[]}`), []byte("%PDF-1.4\n%%EOF\n"))
	f.Add([]byte(`{"format":"sanji.cases/1","identity":"full","cases":[{}]}`), []byte{})
	f.Add([]byte(`{"format":"sanji.cases/1","identity":"other"}`), []byte("x"))
	f.Add([]byte(`{"format":"sanji.cases/1","identity":"masked","cases":[],"extra":1}`), []byte("x"))
	f.Add([]byte(`[]`), []byte("x"))
	keys := ExchangeKeys{Private: fuzzKey}
	at := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

	f.Fuzz(func(t *testing.T, cases, file []byte) {
		s := sha256.Sum256(file)
		sum := hex.EncodeToString(s[:])
		var buf bytes.Buffer
		err := WriteBundle(&buf, cases, []BundleFile{{SHA256: sum, Size: int64(len(file)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(file)), nil }}}, fuzzKey, at)
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		b, err := ReadBundle(bytes.NewReader(buf.Bytes()), int64(buf.Len()), keys)
		if err != nil {
			t.Fatalf("a bundle just written is refused: %v", err)
		}
		if !bytes.Equal(b.Cases, cases) || !b.HasFile(sum) {
			t.Fatalf("cases.json or the file changed on the way")
		}
		rc, err := b.OpenFile(sum)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil || !bytes.Equal(got, file) {
			t.Fatalf("the attachment came back as %q (%v)", got, err)
		}
		checkCasesRoundTrip(t, b)
	})
}
