package exchange

import (
	"archive/zip"
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"sanji/i18n"
)

// Exchange bundles (docs/exchange.md): a zip holding cases.json, the attachment files under
// files/<sha256>, manifest.json (the SHA-256 and size of every other entry) and manifest.sig (an
// Ed25519 or SM2 signature over manifest.json's bytes, with the public key). The importing side checks
// the signature against the keys it trusts, then every file against the manifest, before it
// reads anything else.

// Entry names of a bundle.
const (
	BundleCases     = "cases.json"
	BundleManifest  = "manifest.json"
	BundleSignature = "manifest.sig"
	bundleFilesDir  = "files/"

	// BundleFormat names the manifest's format and version.
	BundleFormat = "sanji.bundle/1"
	// maxBundleJSON bounds cases.json, the manifest and the signature when read.
	maxBundleJSON = 256 << 20
)

// BundleError refuses a bundle: Part names the entry that does not match (cases.json,
// files/<sha256>, manifest.json, manifest.sig).
type BundleError struct {
	Part   string
	ZH, EN string
}

func (e *BundleError) Error() string { return "bundle: " + e.Part + ": " + e.ZH + " / " + e.EN }

func bundleErr(part string, k i18n.Key, args ...any) error {
	t := i18n.T(k, args...)
	return &BundleError{Part: part, ZH: t.ZH, EN: t.EN}
}

// BundleEntry is one file the manifest vouches for.
type BundleEntry struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Manifest is manifest.json.
type Manifest struct {
	Format    string        `json:"format"`
	CreatedAt time.Time     `json:"created_at"`
	KeyID     string        `json:"key_id"`
	Files     []BundleEntry `json:"files"`
}

// signatureFile is manifest.sig.
type signatureFile struct {
	Algorithm string `json:"algorithm"`
	PublicKey string `json:"public_key"` // MarshalPublicKey's form
	Signature string `json:"signature"`  // base64, over manifest.json as stored
}

// BundleFile is an attachment file to put in a bundle: its hash and size as stored, and how to
// read it. A file whose content no longer matches its hash makes the bundle fail at the importer.
type BundleFile struct {
	SHA256 string
	Size   int64
	Open   func() (io.ReadCloser, error)
}

// WriteBundle writes a signed bundle of cases (the bytes of cases.json) and files to w.
// key is an ed25519.PrivateKey or an *sm2.PrivateKey (the gm suite).
func WriteBundle(w io.Writer, cases []byte, files []BundleFile, key crypto.Signer, now time.Time) error {
	if key == nil {
		return errors.New("bundle: no signing key")
	}
	sum := sha256.Sum256(cases)
	m := Manifest{Format: BundleFormat, CreatedAt: now.UTC(), KeyID: KeyID(key.Public()),
		Files: []BundleEntry{{Path: BundleCases, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(cases))}}}
	seen := map[string]bool{}
	var uniq []BundleFile
	for _, f := range files {
		if seen[f.SHA256] {
			continue
		}
		seen[f.SHA256] = true
		uniq = append(uniq, f)
		m.Files = append(m.Files, BundleEntry{Path: bundleFilesDir + f.SHA256, SHA256: f.SHA256, Size: f.Size})
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("bundle: manifest: %w", err)
	}
	sig, err := sign(key, mb)
	if err != nil {
		return err
	}
	sb, err := json.MarshalIndent(sig, "", "  ")
	if err != nil {
		return fmt.Errorf("bundle: signature: %w", err)
	}
	zw := zip.NewWriter(w)
	put := func(name string, method uint16, r io.Reader) error {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: now.UTC()})
		if err != nil {
			return fmt.Errorf("bundle: %s: %w", name, err)
		}
		if _, err := io.Copy(fw, r); err != nil {
			return fmt.Errorf("bundle: %s: %w", name, err)
		}
		return nil
	}
	for _, e := range []struct {
		name string
		b    []byte
	}{{BundleManifest, mb}, {BundleSignature, sb}, {BundleCases, cases}} {
		if err := put(e.name, zip.Deflate, bytes.NewReader(e.b)); err != nil {
			return err
		}
	}
	for _, f := range uniq {
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("bundle: file %s: %w", f.SHA256, err)
		}
		// Stored, not deflated: scans, recordings and PDFs are compressed already.
		err = put(bundleFilesDir+f.SHA256, zip.Store, rc)
		_ = rc.Close()
		if err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	return nil
}

// Bundle is a bundle whose signature and files have been checked.
type Bundle struct {
	Manifest  Manifest
	PublicKey crypto.PublicKey // ed25519.PublicKey or an SM2 *ecdsa.PublicKey
	KeyID     string           // KeyID(PublicKey): the system that signed it
	Cases     []byte           // cases.json
	files     map[string]*zip.File
}

// HasFile reports whether the bundle carries the attachment file with this hash.
func (b *Bundle) HasFile(sum string) bool { return b.files[sum] != nil }

// OpenFile opens the attachment file with this hash (checked against the manifest by ReadBundle).
func (b *Bundle) OpenFile(sum string) (io.ReadCloser, error) {
	f := b.files[sum]
	if f == nil {
		return nil, bundleErr(BundleCases, "exchange.bundle.file_missing", "sum", sum)
	}
	return f.Open()
}

var bundleFileName = regexp.MustCompile(`^files/[0-9a-f]{64}$`)

// ReadBundle opens a bundle and checks it, refusing it with a *BundleError that names the part at
// fault: an entry that is not a bundle's, a missing or malformed signature, a key keys does not
// trust, a signature that does not verify over the manifest, a file missing from the bundle or
// the manifest, or a file whose SHA-256 or size differs from the manifest's.
func ReadBundle(r io.ReaderAt, size int64, keys ExchangeKeys) (*Bundle, error) {
	return ReadBundleLimited(r, size, keys, Limits{})
}

// Limits bound what reading a bundle may cost, checked on the zip's headers before anything is
// decompressed, and before the signature: a trusted peer's key may be stolen or its export
// broken, and a zip bomb must not fill the disk or the memory either way. The reader refuses
// an entry that inflates past its header's size, so the headers can be trusted for this.
// Zero values take the defaults.
type Limits struct {
	MaxFiles int   // entries in the zip; default 10000
	MaxBytes int64 // all entries uncompressed; default 8 GiB
	// MaxRatio bounds an entry's uncompressed size over its compressed size, for entries over
	// 1 MiB (small JSON compresses well); default 100. Attachments are stored, not deflated,
	// and scans, PDFs and recordings hardly compress.
	MaxRatio int
}

func (l Limits) withDefaults() Limits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = 10000
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = 8 << 30
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = 100
	}
	return l
}

// ratioFloor is the size under which an entry's compression ratio is not checked.
const ratioFloor = 1 << 20

func checkLimits(files []*zip.File, lim Limits) error {
	if len(files) > lim.MaxFiles {
		return bundleErr("zip", "exchange.limits.files", "count", len(files), "limit", lim.MaxFiles)
	}
	var total uint64
	for _, f := range files {
		total += f.UncompressedSize64
		if total > uint64(lim.MaxBytes) {
			return bundleErr("zip", "exchange.limits.bytes", "limit", (lim.MaxBytes+1<<20-1)>>20)
		}
		if f.UncompressedSize64 > ratioFloor && f.UncompressedSize64 > uint64(lim.MaxRatio)*max(f.CompressedSize64, 1) {
			return bundleErr(f.Name, "exchange.limits.ratio", "name", f.Name, "limit", lim.MaxRatio)
		}
	}
	return nil
}

// ReadBundleLimited is ReadBundle within lim.
func ReadBundleLimited(r io.ReaderAt, size int64, keys ExchangeKeys, lim Limits) (*Bundle, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, bundleErr("zip", "exchange.bundle.not_zip")
	}
	if err := checkLimits(zr.File, lim.withDefaults()); err != nil {
		return nil, err
	}
	entries := map[string]*zip.File{}
	for _, f := range zr.File {
		name := f.Name
		// Quoted: a name is any bytes the zip holds, even none.
		if name != BundleCases && name != BundleManifest && name != BundleSignature && !bundleFileName.MatchString(name) {
			return nil, bundleErr(strconv.Quote(name), "exchange.bundle.foreign_entry", "name", strconv.Quote(name))
		}
		if entries[name] != nil {
			return nil, bundleErr(strconv.Quote(name), "exchange.bundle.duplicate_entry", "name", strconv.Quote(name))
		}
		entries[name] = f
	}
	read := func(name string) ([]byte, error) {
		f := entries[name]
		if f == nil {
			if name == BundleSignature {
				return nil, bundleErr(name, "exchange.bundle.unsigned")
			}
			return nil, bundleErr(name, "exchange.bundle.entry_missing", "name", name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, bundleErr(name, "exchange.bundle.unreadable", "name", name)
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, maxBundleJSON+1))
		if err != nil || len(b) > maxBundleJSON {
			return nil, bundleErr(name, "exchange.bundle.damaged", "name", name)
		}
		return b, nil
	}
	sb, err := read(BundleSignature)
	if err != nil {
		return nil, err
	}
	var sig signatureFile
	if err := json.Unmarshal(sb, &sig); err != nil || (sig.Algorithm != AlgEd25519 && sig.Algorithm != AlgSM2) {
		return nil, bundleErr(BundleSignature, "exchange.signature.malformed")
	}
	pub, err := ParsePublicKey(sig.PublicKey)
	if err != nil || algorithmOf(pub) != sig.Algorithm {
		return nil, bundleErr(BundleSignature, "exchange.signature.bad_key")
	}
	if !keys.trusts(pub) {
		return nil, bundleErr(BundleSignature, "exchange.signature.untrusted", "key_id", KeyID(pub))
	}
	mb, err := read(BundleManifest)
	if err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil || !verify(pub, mb, raw) {
		return nil, bundleErr(BundleSignature, "exchange.signature.mismatch")
	}
	var m Manifest
	if err := json.Unmarshal(mb, &m); err != nil || m.Format != BundleFormat {
		return nil, bundleErr(BundleManifest, "exchange.manifest.format", "format", BundleFormat)
	}
	if m.KeyID != KeyID(pub) {
		return nil, bundleErr(BundleManifest, "exchange.manifest.key_id")
	}
	b := &Bundle{Manifest: m, PublicKey: pub, KeyID: KeyID(pub), files: map[string]*zip.File{}}
	listed := map[string]bool{}
	for _, e := range m.Files {
		if listed[e.Path] || (e.Path != BundleCases && !bundleFileName.MatchString(e.Path)) {
			return nil, bundleErr(BundleManifest, "exchange.manifest.bad_entry", "path", e.Path)
		}
		listed[e.Path] = true
		f := entries[e.Path]
		if f == nil {
			return nil, bundleErr(e.Path, "exchange.manifest.file_missing", "path", e.Path)
		}
		if e.Path != BundleCases && e.SHA256 != strings.TrimPrefix(e.Path, bundleFilesDir) {
			return nil, bundleErr(BundleManifest, "exchange.manifest.hash_name", "path", e.Path)
		}
		if err := checkEntry(f, e); err != nil {
			return nil, err
		}
		if e.Path == BundleCases {
			if b.Cases, err = read(BundleCases); err != nil {
				return nil, err
			}
		} else {
			b.files[e.SHA256] = f
		}
	}
	var unlisted []string
	for name := range entries {
		if name != BundleManifest && name != BundleSignature && !listed[name] {
			unlisted = append(unlisted, name)
		}
	}
	if len(unlisted) > 0 {
		sort.Strings(unlisted)
		return nil, bundleErr(unlisted[0], "exchange.manifest.unlisted", "name", unlisted[0])
	}
	if b.Cases == nil {
		return nil, bundleErr(BundleCases, "exchange.bundle.cases_missing")
	}
	return b, nil
}

// checkEntry reads f to its end and compares its size and SHA-256 with the manifest's.
func checkEntry(f *zip.File, e BundleEntry) error {
	mismatch := bundleErr(e.Path, "exchange.manifest.content_mismatch", "path", e.Path)
	rc, err := f.Open()
	if err != nil {
		return mismatch
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(rc, e.Size+1))
	if err != nil || n != e.Size || hex.EncodeToString(h.Sum(nil)) != e.SHA256 {
		return mismatch
	}
	return nil
}
