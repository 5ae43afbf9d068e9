package recording

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"sanji/i18n"
)

// Close closes every open hearing (a graceful shutdown): each is sealed as if it had ended.
func (r *Recorder) Close() error {
	r.mu.Lock()
	open := make([]*Hearing, 0, len(r.active))
	for _, h := range r.active {
		if h != nil { // nil: still being created
			open = append(open, h)
		}
	}
	r.mu.Unlock()
	var errs []error
	for _, h := range open {
		if _, err := h.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Recover seals the hearings a stopped process left open: their files are hashed onto the
// chain as they are found (a file cut short plays up to where it ends), their segments marked
// interrupted, and the manifest sealed. Run it at start, before recording; it returns the seals
// so that they can be recorded with their cases.
func (r *Recorder) Recover() ([]Seal, error) {
	dirs, err := r.closedHearings()
	if err != nil {
		return nil, fmt.Errorf("recording: recover: %w", err)
	}
	var seals []Seal
	var errs []error
	for _, dir := range dirs {
		m, err := ReadManifest(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if m.Chain.Head != "" || m.Purge != nil {
			continue
		}
		seal, err := r.sealFound(dir, m)
		if err != nil {
			errs = append(errs, fmt.Errorf("recording: recover hearing %s: %w", m.Hearing, err))
			continue
		}
		seals = append(seals, seal)
	}
	return seals, errors.Join(errs...)
}

// sealFound seals a hearing's manifest as found: the sealed segments keep their links, the ones
// still recording are hashed on after them.
func (r *Recorder) sealFound(dir string, m *Manifest) (Seal, error) {
	c := r.chain
	if m.Chain.Algorithm != r.cfg.Hash {
		h, err := newHash(m.Chain.Algorithm)
		if err != nil {
			return Seal{}, err
		}
		c = chain{h}
	}
	last, _, err := c.sealInterrupted(dir, m)
	if err != nil {
		return Seal{}, err
	}
	m.EndedAt = time.Now().Round(0)
	m.Notes = append(m.Notes, Note{OffsetMS: m.EndedAt.Sub(m.StartedAt).Milliseconds(), At: m.EndedAt, Kind: "recovered",
		Text: i18n.T("recording.recover.interrupted").String()})
	head, err := c.head(last, m)
	if err != nil {
		return Seal{}, err
	}
	m.Chain.Head = hex.EncodeToString(head)
	if err := m.write(dir); err != nil {
		return Seal{}, err
	}
	r.log.Warn("interrupted hearing sealed as found", zap.String("hearing", m.Hearing), zap.String("head", m.Chain.Head))
	return Seal{Hearing: m.Hearing, Dir: dir, Algorithm: m.Chain.Algorithm, Head: m.Chain.Head}, nil
}

// sealInterrupted hashes the segments of m still marked recording onto its chain as found,
// marked interrupted (a file never made is empty), and returns the chain's last link and its
// length.
func (c chain) sealInterrupted(dir string, m *Manifest) (last []byte, links int, err error) {
	last = c.genesis(m.Hearing)
	for _, t := range m.Tracks {
		if t.ChainIndex > links {
			links, last = t.ChainIndex, decodeHex(t.Link)
		}
	}
	for i := range m.Tracks {
		t := &m.Tracks[i]
		if t.Status != StatusRecording {
			continue
		}
		t.End = EndInterrupted
		sum, err := c.file(filepath.Join(dir, t.File))
		if errors.Is(err, os.ErrNotExist) {
			t.Status = StatusEmpty
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		last = c.link(last, sum, t.File)
		links++
		t.Status, t.FileHash, t.ChainIndex, t.Link = StatusSealed, hex.EncodeToString(sum), links, hex.EncodeToString(last)
	}
	return last, links, nil
}

// closedHearings lists the directories of the hearings that are not being recorded.
func (r *Recorder) closedHearings() ([]string, error) {
	entries, err := os.ReadDir(r.cfg.Dir)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var dirs []string
	for _, e := range entries {
		if _, open := r.active[e.Name()]; e.IsDir() && hearingIDPattern.MatchString(e.Name()) && !open {
			dirs = append(dirs, filepath.Join(r.cfg.Dir, e.Name()))
		}
	}
	return dirs, nil
}
