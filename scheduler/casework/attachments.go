package casework

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"sanji/i18n"
	"sanji/scheduler/org"
)

// Attachments: files of a case, stored content-addressed under the data directory; the database
// keeps the metadata. The type is decided by content, and the name's extension must agree.

// Attachment is one file of a case.
type Attachment struct {
	ID         int64
	CaseID     int64
	Kind       string // AttachSubmitted, AttachSignedRecord, AttachNotice, AttachAnswer, AttachClosure, AttachRecording
	Name       string // safe display name
	SHA256     string // hex; the file's address in the blob directory
	Size       int64
	MIME       string
	UploadedBy int64
	UploadedAt time.Time
}

// AttachmentKinds lists the kinds, in a stable order.
var AttachmentKinds = []string{AttachSubmitted, AttachSignedRecord, AttachNotice, AttachAnswer, AttachClosure, AttachRecording}

// SensitiveAttachment reports whether viewing an attachment of this kind is written to the audit
// log with a purpose: what the petitioner submitted, signed or said carries their identity.
func SensitiveAttachment(kind string) bool {
	return kind == AttachSubmitted || kind == AttachSignedRecord || kind == AttachRecording
}

// AttachmentStore is the attachment part of CaseStore.
type AttachmentStore interface {
	// AddAttachment stores the metadata of a file already put in the blob directory.
	AddAttachment(ctx context.Context, a *Attachment) error
	GetAttachment(ctx context.Context, id int64) (Attachment, error)
	// ListAttachments lists a case's attachments, of one kind when kind is not "".
	ListAttachments(ctx context.Context, caseID int64, kind string) ([]Attachment, error)
	// AttachmentUsage is what the upload quotas count: a case's files and their bytes, and the
	// bytes uploaded by the users of a unit, to any case.
	AttachmentUsage(ctx context.Context, caseID, uploaderUnitID int64) (AttachmentUsage, error)
}

// AttachmentUsage is what a case and a unit hold in attachments.
type AttachmentUsage struct {
	CaseFiles int
	CaseBytes int64
	UnitBytes int64
}

// ValidateAttachment checks the metadata.
func ValidateAttachment(a Attachment) error {
	ok := false
	for _, k := range AttachmentKinds {
		ok = ok || k == a.Kind
	}
	if !ok {
		return org.Invalid("kind", "casework.attachment.kind_invalid",
			"kinds", i18n.Text{ZH: strings.Join(AttachmentKinds, "、"), EN: strings.Join(AttachmentKinds, ", ")})
	}
	if a.CaseID == 0 || !shaHex.MatchString(a.SHA256) || a.Size <= 0 || a.MIME == "" {
		return org.Invalid("file", "casework.attachment.incomplete")
	}
	if a.Name == "" || SafeName(a.Name) != a.Name {
		return org.Invalid("name", "casework.attachment.name_unsafe")
	}
	return nil
}

var shaHex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// SafeName keeps the last path element of name and only letters, digits, spaces, dots, dashes,
// underscores and parentheses; no leading dot; at most 120 characters (extension kept).
func SafeName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = name[strings.LastIndex(name, "/")+1:]
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '.', r == '-', r == '_', r == ' ', r == '(', r == ')':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	s := strings.TrimLeft(strings.TrimSpace(b.String()), ".")
	if utf8.RuneCountInString(s) > 120 {
		ext := filepath.Ext(s)
		if utf8.RuneCountInString(ext) > 10 {
			ext = ""
		}
		r := []rune(strings.TrimSuffix(s, ext))
		s = string(r[:120-utf8.RuneCountInString(ext)]) + ext
	}
	if s == "" || strings.Trim(s, "._ ") == "" {
		return "file"
	}
	return s
}

// allowedTypes maps the detected type to the extensions a name may carry for it.
var allowedTypes = map[string][]string{
	"application/pdf": {".pdf"},
	"image/jpeg":      {".jpg", ".jpeg"},
	"image/png":       {".png"},
	"video/mp4":       {".mp4"},
	"video/webm":      {".webm"},
	"audio/mpeg":      {".mp3"},
	"audio/wave":      {".wav"},
	"text/plain":      {".txt"},
}

// SniffType decides the type from the first bytes (net/http's sniffing algorithm) and checks it
// against the allow-list and the name's extension: a disguised file is refused.
func SniffType(head []byte, name string) (string, error) {
	ct := http.DetectContentType(head)
	mt, _, _ := mime.ParseMediaType(ct)
	if mt == "text/plain" && !utf8.Valid(head) {
		mt = "" // text in a legacy encoding could be anything
	}
	exts, ok := allowedTypes[mt]
	if !ok {
		return "", org.Invalid("file", "casework.attachment.type_refused", "type", ct)
	}
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range exts {
		if e == ext {
			return mt, nil
		}
	}
	return "", org.Invalid("name", "casework.attachment.extension_mismatch", "ext", ext, "mime", mt)
}

// ErrTooLarge is returned by Blobs.Put when the content exceeds the limit.
var ErrTooLarge = errors.New("scheduler: attachment too large")

// Blobs is the content-addressed file directory: <dir>/ab/cd/<sha256>.
type Blobs struct {
	Dir     string
	MaxSize int64
}

// Put reads r to its end (at most MaxSize bytes), checks its type against name, and stores it
// under its hash. The same content twice is stored once.
func (b Blobs) Put(r io.Reader, name string) (sum string, size int64, mimeType string, err error) {
	tmpDir := filepath.Join(b.Dir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		return "", 0, "", fmt.Errorf("attachments: %w", err)
	}
	f, err := os.CreateTemp(tmpDir, "up-*")
	if err != nil {
		return "", 0, "", fmt.Errorf("attachments: %w", err)
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name()) // a no-op after the rename
	}()
	h := sha256.New()
	var head bytes.Buffer
	n, err := io.Copy(io.MultiWriter(f, h, &limitedBuffer{&head, 512}), io.LimitReader(r, b.MaxSize+1))
	if err != nil {
		return "", 0, "", fmt.Errorf("attachments: read upload: %w", err)
	}
	if n > b.MaxSize {
		return "", 0, "", fmt.Errorf("%w: %s", ErrTooLarge, i18n.T("casework.attachment.too_large", "limit", b.MaxSize))
	}
	if n == 0 {
		return "", 0, "", org.Invalid("file", "casework.attachment.empty")
	}
	mt, err := SniffType(head.Bytes(), name)
	if err != nil {
		return "", 0, "", err
	}
	if err := f.Sync(); err != nil {
		return "", 0, "", fmt.Errorf("attachments: sync: %w", err)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	dst := b.path(sum)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", 0, "", fmt.Errorf("attachments: %w", err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return "", 0, "", fmt.Errorf("attachments: store: %w", err)
	}
	return sum, n, mt, nil
}

func (b Blobs) path(sum string) string {
	return filepath.Join(b.Dir, sum[:2], sum[2:4], sum)
}

// Open opens the blob with this hash.
func (b Blobs) Open(sum string) (*os.File, error) {
	if !shaHex.MatchString(sum) {
		return nil, fmt.Errorf("%w: not a sha256", org.ErrInvalid)
	}
	f, err := os.Open(b.path(sum))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("attachments: %s: %w", sum, org.ErrNotFound)
	}
	return f, err
}

type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		l.b.Write(p[:room])
	}
	return len(p), nil
}

// DownloadHeaders sets the headers of a download: the detected type, never sniffed by the
// browser, always a download (never rendered in our origin), not cached.
func DownloadHeaders(h http.Header, a Attachment) {
	h.Set("Content-Type", a.MIME)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Cache-Control", "private, no-store")
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, a.Name)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii, url.PathEscape(a.Name)))
	h.Set("Content-Length", fmt.Sprint(a.Size))
}
