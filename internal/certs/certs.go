// Package certs serves a TLS certificate from its files and picks up a new one when the files
// change (a renewal by certbot, acme.sh or the office's CA), without a restart.
package certs

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Reloader holds the certificate of a certificate file and a key file.
type Reloader struct {
	certFile, keyFile string
	log               *zap.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp // the files as they were when cert was loaded
	badSeen [2]fileStamp // the files as they were at the last failed load, not retried until they change
}

// fileStamp tells a changed file from the same one.
type fileStamp struct {
	mod  time.Time
	size int64
}

// New loads the pair once; a missing or mismatched pair is an error here, at start.
func New(certFile, keyFile string, log *zap.Logger) (*Reloader, error) {
	if log == nil {
		log = zap.NewNop()
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, log: log}
	st, err := r.stamps()
	if err != nil {
		return nil, err
	}
	if err := r.load(st); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reloader) stamps() ([2]fileStamp, error) {
	var st [2]fileStamp
	for i, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return st, fmt.Errorf("certs: %w", err)
		}
		st[i] = fileStamp{mod: fi.ModTime(), size: fi.Size()}
	}
	return st, nil
}

func (r *Reloader) load(st [2]fileStamp) error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("certs: load %s and %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert, r.stamp = &c, st
	return nil
}

// GetCertificate is tls.Config.GetCertificate. Each handshake looks at the files' size and time
// (two stat calls, nothing next to a handshake) and reloads when they changed. A pair that does
// not load — the certificate already new, the key not yet — leaves the last good certificate in
// service until the files change again.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := r.stamps()
	if err == nil && st != r.stamp && st != r.badSeen {
		if err := r.load(st); err != nil {
			r.badSeen = st
			r.log.Warn("tls certificate not reloaded, the previous one stays in use", zap.Error(err))
		} else {
			r.log.Info("tls certificate reloaded", zap.Time("not_after", r.cert.Leaf.NotAfter))
		}
	}
	return r.cert, nil
}

// Config is a server TLS config on the reloading certificate, offering protos by ALPN.
func (r *Reloader) Config(protos ...string) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate, NextProtos: protos}
}
