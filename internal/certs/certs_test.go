package certs

import (
	"crypto/tls"
	"os"
	"testing"
	"time"

	"sanji/internal/certs/certstest"
)

// serialSeen handshakes with a server on r and returns the serial of the certificate it showed.
func serialSeen(t *testing.T, r *Reloader) int64 {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", r.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err == nil {
			_ = c.(*tls.Conn).Handshake()
			_ = c.Close()
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test: the serial is what is checked
	if err != nil {
		t.Fatal(err)
	}
	serial := c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	_ = c.Close()
	<-done
	return serial
}

func TestReloadWhenFilesReplaced(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := certstest.New(t, 1).Write(t, dir)
	r, err := New(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := serialSeen(t, r); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}
	certstest.New(t, 2).Write(t, dir)
	// A file system with coarse times could give the new files the old ones' time: a renewal
	// comes later than that, so the test says so.
	touch(t, certFile, keyFile)
	if got := serialSeen(t, r); got != 2 {
		t.Fatalf("serial %d after the files were replaced, want 2", got)
	}
}

// touch moves the files' times forward a second, as a later write would.
func touch(t *testing.T, files ...string) {
	for _, f := range files {
		at := time.Now().Add(time.Second)
		if err := os.Chtimes(f, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHalfWrittenPairKeepsTheOldCertificate(t *testing.T) {
	dir := t.TempDir()
	old := certstest.New(t, 1)
	certFile, keyFile := old.Write(t, dir)
	r, err := New(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The new certificate is written, its key not yet: the old pair stays in service.
	next := certstest.New(t, 2)
	writeFile(t, certFile, next.CertPEM)
	touch(t, certFile)
	if got := serialSeen(t, r); got != 1 {
		t.Fatalf("serial %d during a half-written renewal, want the old 1", got)
	}
	writeFile(t, keyFile, next.KeyPEM)
	touch(t, keyFile)
	if got := serialSeen(t, r); got != 2 {
		t.Fatalf("serial %d after the renewal, want 2", got)
	}
}

func TestNewRefusesAMissingPair(t *testing.T) {
	if _, err := New("/nonexistent/tls.crt", "/nonexistent/tls.key", nil); err == nil {
		t.Fatal("a missing certificate was accepted")
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
