package recording

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
)

// CaseClosed tells when a case was closed; ok is false while it is open (or it has no closing).
type CaseClosed func(ctx context.Context, caseID int64) (closedAt time.Time, ok bool, err error)

// Purged is one hearing whose recordings were deleted: the caller records it as a case event.
type Purged struct {
	Hearing   string
	SessionID int64
	CaseID    int64
	Files     []string
	Bytes     int64
	ClosedAt  time.Time
}

// Purge deletes the media files of every hearing whose case closed more than the configured
// retention before now. The manifest stays, with its chain head and a record of the deletion,
// so the hearing's existence, timeline and seal outlive its media. Open hearings, hearings of no
// case and hearings already purged are left alone; with no retention configured nothing is
// deleted. Run it daily; it returns what it deleted, and every hearing it could not handle in
// the error.
func (r *Recorder) Purge(ctx context.Context, now time.Time, closed CaseClosed) ([]Purged, error) {
	if r.cfg.Retention <= 0 {
		return nil, nil
	}
	dirs, err := r.closedHearings()
	if err != nil {
		return nil, fmt.Errorf("recording: retention: %w", err)
	}
	var out []Purged
	var errs []error
	for _, dir := range dirs {
		if err := ctx.Err(); err != nil {
			return out, errors.Join(append(errs, err)...)
		}
		p, ok, err := r.purgeHearing(ctx, dir, now, closed)
		if err != nil {
			errs = append(errs, fmt.Errorf("recording: retention of hearing %s: %w", filepath.Base(dir), err))
			continue
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, errors.Join(errs...)
}

func (r *Recorder) purgeHearing(ctx context.Context, dir string, now time.Time, closed CaseClosed) (Purged, bool, error) {
	m, err := ReadManifest(dir)
	if err != nil || m.Purge != nil || m.CaseID == 0 || m.Chain.Head == "" {
		return Purged{}, false, err
	}
	closedAt, ok, err := closed(ctx, m.CaseID)
	if err != nil || !ok || now.Sub(closedAt) <= r.cfg.Retention {
		return Purged{}, false, err
	}
	p := Purged{Hearing: m.Hearing, SessionID: m.SessionID, CaseID: m.CaseID, ClosedAt: closedAt, Files: []string{}}
	// The record goes first: a crash halfway leaves a manifest that says the files are being
	// deleted, never files missing without a word.
	for _, t := range m.Tracks {
		if t.Status == StatusEmpty || t.File != filepath.Base(t.File) {
			continue
		}
		p.Files = append(p.Files, t.File)
	}
	m.Purge = &Deletion{At: now, CaseClosedAt: closedAt, Retention: r.cfg.Retention.String(), Files: p.Files}
	if err := m.write(dir); err != nil {
		return Purged{}, false, err
	}
	var errs []error
	for _, name := range p.Files {
		path := filepath.Join(dir, name)
		if st, err := os.Stat(path); err == nil {
			p.Bytes += st.Size()
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Purged{}, false, err
	}
	r.metrics.purged.Inc()
	r.log.Info("hearing recordings deleted under retention", zap.String("hearing", m.Hearing),
		zap.Int64("case", m.CaseID), zap.Int("files", len(p.Files)), zap.Int64("bytes", p.Bytes))
	return p, true, nil
}
