package casework

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sanji/scheduler/org"
)

var (
	pdfBytes = []byte("%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n")
	pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00")
	exeBytes = []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00")
)

func TestSafeName(t *testing.T) {
	cases := map[string]string{
		"../../etc/passwd":         "passwd",
		`..\..\windows\system.ini`: "system.ini",
		"/abs/path/材料 1.pdf":       "材料 1.pdf",
		".htaccess":                "htaccess",
		"a\x00b;rm -rf.pdf":        "a_b_rm -rf.pdf",
		"..":                       "file",
		"":                         "file",
		"我的<script>.txt":           "我的_script_.txt",
	}
	for in, want := range cases {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
	long := SafeName(strings.Repeat("长", 300) + ".pdf")
	if n := len([]rune(long)); n != 120 || !strings.HasSuffix(long, ".pdf") {
		t.Errorf("long name: %d runes, %q", n, long[len(long)-8:])
	}
}

func TestSniffType(t *testing.T) {
	if mt, err := SniffType(pdfBytes, "信访材料.PDF"); err != nil || mt != "application/pdf" {
		t.Errorf("pdf: %s %v", mt, err)
	}
	if mt, err := SniffType(pngBytes, "a.png"); err != nil || mt != "image/png" {
		t.Errorf("png: %s %v", mt, err)
	}
	var fe *org.FieldError
	if _, err := SniffType(exeBytes, "invoice.pdf"); !errors.As(err, &fe) || fe.Field != "file" {
		t.Errorf("an executable named .pdf: %v", err)
	}
	if _, err := SniffType(pngBytes, "photo.pdf"); !errors.As(err, &fe) || fe.Field != "name" {
		t.Errorf("a png named .pdf: %v", err)
	}
	if _, err := SniffType([]byte("<html><script>alert(1)</script>"), "a.txt"); !errors.As(err, &fe) {
		t.Errorf("html named .txt: %v", err)
	}
	if _, err := SniffType([]byte("\xb2\xe2\xca\xd4 gbk text"), "a.txt"); !errors.As(err, &fe) {
		t.Errorf("non-UTF-8 text: %v", err)
	}
}

func TestBlobs(t *testing.T) {
	dir := t.TempDir()
	b := Blobs{Dir: dir, MaxSize: 64}
	sum, n, mt, err := b.Put(bytes.NewReader(pdfBytes), "a.pdf")
	if err != nil || n != int64(len(pdfBytes)) || mt != "application/pdf" || len(sum) != 64 {
		t.Fatalf("put: %s %d %s %v", sum, n, mt, err)
	}
	sum2, _, _, err := b.Put(bytes.NewReader(pdfBytes), "copy.pdf")
	if err != nil || sum2 != sum {
		t.Errorf("same content: %s %v", sum2, err)
	}
	f, err := b.Open(sum)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, pdfBytes) || filepath.Dir(f.Name()) != filepath.Join(dir, sum[:2], sum[2:4]) {
		t.Errorf("open: %q at %s", got, f.Name())
	}
	if _, _, _, err := b.Put(bytes.NewReader(append(pdfBytes, make([]byte, 64)...)), "big.pdf"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	if _, _, _, err := b.Put(bytes.NewReader(exeBytes), "x.pdf"); !errors.Is(err, org.ErrInvalid) {
		t.Errorf("disguised: %v", err)
	}
	if _, _, _, err := b.Put(bytes.NewReader(nil), "x.pdf"); !errors.Is(err, org.ErrInvalid) {
		t.Errorf("empty: %v", err)
	}
	if _, err := b.Open("../../etc/passwd"); !errors.Is(err, org.ErrInvalid) {
		t.Errorf("path in hash: %v", err)
	}
	if _, err := b.Open(strings.Repeat("0", 64)); !errors.Is(err, org.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	// Refused uploads leave nothing behind.
	left, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	if len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestDownloadHeaders(t *testing.T) {
	h := http.Header{}
	DownloadHeaders(h, Attachment{Name: `答复 "意见".pdf`, MIME: "application/pdf", Size: 42})
	if h.Get("Content-Type") != "application/pdf" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Length") != "42" ||
		!strings.HasPrefix(h.Get("Content-Disposition"), `attachment; filename="__ ____.pdf"`) ||
		!strings.Contains(h.Get("Content-Disposition"), "filename*=UTF-8''%E7%AD%94%E5%A4%8D%20%22%E6%84%8F%E8%A7%81%22.pdf") ||
		!strings.Contains(h.Get("Content-Security-Policy"), "sandbox") || h.Get("Cache-Control") != "private, no-store" {
		t.Errorf("headers: %v", h)
	}
}

func TestValidateAttachment(t *testing.T) {
	ok := Attachment{CaseID: 1, Kind: AttachAnswer, Name: "a.pdf", SHA256: strings.Repeat("a", 64), Size: 3, MIME: "application/pdf"}
	if err := ValidateAttachment(ok); err != nil {
		t.Fatal(err)
	}
	for field, mod := range map[string]func(*Attachment){
		"kind": func(a *Attachment) { a.Kind = "photo" },
		"file": func(a *Attachment) { a.SHA256 = "xyz" },
		"name": func(a *Attachment) { a.Name = "../a.pdf" },
	} {
		a := ok
		mod(&a)
		var fe *org.FieldError
		if err := ValidateAttachment(a); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	if !SensitiveAttachment(AttachRecording) || SensitiveAttachment(AttachNotice) {
		t.Error("sensitive kinds")
	}
}
