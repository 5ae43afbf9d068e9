// Package recording writes the recording of each hearing of a reception call (同步录音录像):
// every recorded track to its own WebM file, a manifest tying the files to the hearing's clock
// and its events, and a hash chain that seals the lot (docs/recording.md).
//
// The SFU delivers each track's packets in process (sfu.Room.Record); a TrackWriter puts them
// in order and writes the file; a Hearing owns the writers of one hearing, its manifest and its
// chain; Verify checks a hearing's files against the chain; Recorder.Purge deletes recordings
// whose retention has run out.
package recording

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"sanji/sfu"
)

// Config sets up the recorder. Dir is required; the rest have defaults.
type Config struct {
	// Dir holds one directory per hearing (<Dir>/<hearing id>/).
	Dir string
	// Hash is the seal's hash: sha256 (default) or sm3 (国密, GB/T 32905).
	Hash string
	// Retention is how long after its case closed a hearing's recording is kept (0 = for ever).
	Retention time.Duration
	// Latency is how long a missing packet is waited for before it is written as a gap (500 ms).
	Latency    time.Duration
	Logger     *zap.Logger
	Registerer prometheus.Registerer
}

// Recorder creates the hearings' recordings under one directory and deletes them when their
// retention ends.
type Recorder struct {
	cfg     Config
	chain   chain
	log     *zap.Logger
	metrics *metrics

	mu     sync.Mutex
	active map[string]*Hearing // open hearings (nil while one is created): Purge and Recover leave them alone

	createFile func(string) (*os.File, error) // tests: a full disk
}

// New checks the config and creates the recordings directory.
func New(cfg Config) (*Recorder, error) {
	if cfg.Dir == "" {
		return nil, errors.New("recording: no directory configured")
	}
	if cfg.Hash == "" {
		cfg.Hash = HashSHA256
	}
	h, err := newHash(cfg.Hash)
	if err != nil {
		return nil, err
	}
	if cfg.Retention < 0 {
		return nil, fmt.Errorf("recording: retention %v is negative", cfg.Retention)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("recording: create %s: %w", cfg.Dir, err)
	}
	return &Recorder{cfg: cfg, chain: chain{h}, log: cfg.Logger, metrics: newMetrics(cfg.Registerer),
		active: map[string]*Hearing{}}, nil
}

// HearingInfo is what a hearing's recording is tied to.
type HearingInfo struct {
	// ID names the hearing's directory (letters, digits, '-', '_', '.'); empty: one is made
	// from the time and a random part.
	ID string
	// Start is the origin of the hearing's clock (the call's acknowledgement of the recording
	// notice, so that offsets agree with the call's); zero = now.
	Start        time.Time
	SessionID    int64
	CaseID       int64
	Room         string
	Participants []Participant
	// OnError is told when a track's recording fails (a full disk, a write error): that track's
	// recording has stopped, the others go on. It is called from a recording goroutine and must
	// not block.
	OnError func(error)
	// Continue, when the hearing's directory exists with a manifest not sealed (the node that
	// recorded it died; recordings on storage every node sees), continues that hearing instead
	// of refusing: its open segments are sealed as interrupted and recording goes on in new
	// segments on the same chain (continue.go).
	Continue bool
}

// Hearing is the recording of one hearing: one file per track segment, the manifest and the
// chain. Its methods may be called from any goroutine.
type Hearing struct {
	r       *Recorder
	id, dir string
	start   time.Time
	onError func(error)
	log     *zap.Logger

	mu       sync.Mutex
	m        *Manifest
	active   map[string]*segment // by track id
	segments map[string]int      // segment numbers, by participant and kind
	files    int
	closed   bool
	failure  error // the first track failure
	seal     Seal
	sealErr  error

	saveMu sync.Mutex // one manifest write at a time, each of the latest state

	// The sealer: finished segments are sealed one at a time, in the order they finished.
	sealMu  sync.Mutex
	pending []*segment
	wake    chan struct{}
	quit    chan struct{}
	wg      sync.WaitGroup
	last    []byte // the chain's last link (sealer only, then Close)
	links   int
}

// Seal is what closing a hearing yields: the chain head to record as a case event.
type Seal struct {
	Hearing   string
	Dir       string
	Algorithm string
	Head      string // hex
}

// Errors of the hearing API.
var (
	ErrHearingClosed = errors.New("recording: hearing closed")
	ErrBadHearingID  = errors.New("recording: hearing id must be 1-64 letters, digits, '-', '_' or '.'")
)

var hearingIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidHearingID reports whether id can name a hearing's directory: a single path element that
// cannot climb out of the recordings directory.
func ValidHearingID(id string) bool { return hearingIDPattern.MatchString(id) }

// StartHearing creates the hearing's directory and manifest; the hearing's clock starts at
// info.Start (now when zero).
func (r *Recorder) StartHearing(info HearingInfo) (*Hearing, error) {
	id := info.ID
	if id == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		id = time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
	}
	if !hearingIDPattern.MatchString(id) {
		return nil, fmt.Errorf("%w: %q", ErrBadHearingID, id)
	}
	dir := filepath.Join(r.cfg.Dir, id)
	// Known as open before its directory exists, so that Recover and Purge never take it for
	// one a stopped server left behind.
	r.mu.Lock()
	if _, open := r.active[id]; open {
		r.mu.Unlock()
		return nil, fmt.Errorf("recording: hearing %s is already being recorded", id)
	}
	r.active[id] = nil
	r.mu.Unlock()
	var h *Hearing
	var err error
	if info.Continue {
		h, err = r.continueHearing(id, dir, info)
	} else {
		h, err = r.startHearing(id, dir, info)
	}
	r.mu.Lock()
	if err != nil {
		delete(r.active, id)
	} else {
		r.active[id] = h
	}
	r.mu.Unlock()
	return h, err
}

func (r *Recorder) startHearing(id, dir string, info HearingInfo) (*Hearing, error) {
	if err := os.Mkdir(dir, 0o750); err != nil {
		return nil, fmt.Errorf("recording: create hearing %s: %w", id, err)
	}
	start := info.Start
	if start.IsZero() {
		start = time.Now()
	}
	m := &Manifest{Version: manifestVersion, Hearing: id, SessionID: info.SessionID, CaseID: info.CaseID,
		Room: info.Room, StartedAt: start.Round(0), Participants: []Participant{}, Tracks: []Track{},
		StageChanges: []StageChange{}, MuteEvents: []MuteEvent{}, Slips: []SlipEvent{}, Notes: []Note{},
		Chain: Chain{Algorithm: r.cfg.Hash}}
	m.Participants = append(m.Participants, info.Participants...)
	h, err := r.open(dir, info, m, start, r.chain.genesis(id), 0)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	h.log.Info("hearing recording started", zap.Int64("session", info.SessionID), zap.Int64("case", info.CaseID))
	return h, nil
}

// open makes the Hearing of manifest m in dir, its clock starting at start, its chain ending
// with link last (links long), writes the manifest and starts the sealer.
func (r *Recorder) open(dir string, info HearingInfo, m *Manifest, start time.Time, last []byte, links int) (*Hearing, error) {
	h := &Hearing{r: r, id: m.Hearing, dir: dir, start: start, onError: info.OnError,
		log:    r.log.With(zap.String("hearing", m.Hearing)),
		active: map[string]*segment{}, segments: map[string]int{},
		wake: make(chan struct{}, 1), quit: make(chan struct{}), last: last, links: links, m: m,
		files: len(m.Tracks)}
	for _, t := range m.Tracks {
		k := t.Participant + "/" + t.Kind
		h.segments[k] = max(h.segments[k], t.Segment)
	}
	if err := h.save(); err != nil {
		return nil, err
	}
	r.metrics.hearings.Inc()
	h.wg.Add(1)
	go h.sealer()
	return h, nil
}

// ID is the hearing's id (its directory's name).
func (h *Hearing) ID() string { return h.id }

// Dir is the hearing's directory.
func (h *Hearing) Dir() string { return h.dir }

// Start is the time the hearing's clock counts from.
func (h *Hearing) Start() time.Time { return h.start }

// Source is where tracks are recorded from: the call's SFU room (*sfu.Room).
type Source interface {
	Record(trackID string, sink sfu.RecordSink) (*sfu.Recording, error)
}

// AddParticipant adds someone to the manifest, or changes their role.
func (h *Hearing) AddParticipant(p Participant) error {
	return h.update(func(m *Manifest) {
		for i := range m.Participants {
			if m.Participants[i].ID == p.ID {
				m.Participants[i] = p
				return
			}
		}
		m.Participants = append(m.Participants, p)
	})
}

// Record starts recording a published track as a new segment of this hearing: a publisher who
// reconnects publishes a new track, which is recorded as the next segment of their audio or video.
// Recording a track already being recorded does nothing.
func (h *Hearing) Record(src Source, track sfu.TrackInfo) error {
	started, err := h.record(src, track)
	if err != nil || !started {
		return err
	}
	return h.save()
}

func (h *Hearing) record(src Source, track sfu.TrackInfo) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false, ErrHearingClosed
	}
	if h.active[track.ID] != nil {
		return false, nil
	}
	spec, ok := codecSpecs[strings.ToLower(track.Codec)]
	if !ok {
		return false, fmt.Errorf("%w: %s", ErrUnsupportedCodec, track.Codec)
	}
	role := ""
	for _, p := range h.m.Participants {
		if p.ID == track.ParticipantID {
			role = p.Role
		}
	}
	kind := string(track.Kind)
	name := fmt.Sprintf("%03d-%s%s", h.files+1, kind, spec.ext)
	seg := &segment{h: h, idx: len(h.m.Tracks), name: name}
	w, err := NewTrackWriter(filepath.Join(h.dir, name), track.Codec, TrackOptions{Latency: h.r.cfg.Latency,
		RequestKeyframe: seg.requestKeyframe})
	if err != nil {
		return false, err
	}
	if h.r.createFile != nil {
		w.create = h.r.createFile
	}
	seg.w = w
	number := h.segments[track.ParticipantID+"/"+kind] + 1
	h.m.Tracks = append(h.m.Tracks, Track{File: name, Participant: track.ParticipantID, Role: role, Kind: kind,
		Codec: spec.mime, TrackID: track.ID, Segment: number, Status: StatusRecording})
	rec, err := src.Record(track.ID, seg)
	if err != nil {
		h.m.Tracks = h.m.Tracks[:seg.idx]
		return false, fmt.Errorf("recording: record track %s: %w", track.ID, err)
	}
	seg.rec.Store(rec)
	h.files++
	h.segments[track.ParticipantID+"/"+kind] = number
	h.active[track.ID] = seg
	h.r.metrics.tracks.Inc()
	h.log.Info("track recording started", zap.String("track", track.ID), zap.String("participant", track.ParticipantID),
		zap.String("file", name))
	return true, nil
}

// StopTrack ends the recording of one track (its segment is sealed); it returns once the track's
// last packets are written. A track that is not being recorded is ignored.
func (h *Hearing) StopTrack(trackID string) {
	h.mu.Lock()
	seg := h.active[trackID]
	h.mu.Unlock()
	if seg != nil {
		seg.rec.Load().Stop()
	}
}

// StageChanged records who is on stage from at on.
func (h *Hearing) StageChanged(at time.Time, onStage []string) error {
	return h.event(at, func(m *Manifest, off int64, at time.Time) {
		m.StageChanges = append(m.StageChanges, StageChange{OffsetMS: off, At: at, OnStage: append([]string{}, onStage...)})
	})
}

// MuteChanged records a participant muting or unmuting a track (kind audio or video).
func (h *Hearing) MuteChanged(at time.Time, participant, trackID, kind string, muted bool) error {
	return h.event(at, func(m *Manifest, off int64, at time.Time) {
		m.MuteEvents = append(m.MuteEvents, MuteEvent{OffsetMS: off, At: at, Participant: participant, TrackID: trackID,
			Kind: kind, Muted: muted})
	})
}

// SlipCreated records a slip created during the hearing; the returned offset is the recording
// timestamp to store on the slip.
func (h *Hearing) SlipCreated(at time.Time, slipID int64, number, slipType string) (offsetMS int64, err error) {
	err = h.event(at, func(m *Manifest, off int64, at time.Time) {
		offsetMS = off
		m.Slips = append(m.Slips, SlipEvent{OffsetMS: off, At: at, SlipID: slipID, Number: number, Type: slipType})
	})
	return offsetMS, err
}

// AddNote records anything else on the timeline (the recording notice acknowledged, ...).
func (h *Hearing) AddNote(at time.Time, kind, text string) error {
	return h.event(at, func(m *Manifest, off int64, at time.Time) {
		m.Notes = append(m.Notes, Note{OffsetMS: off, At: at, Kind: kind, Text: text})
	})
}

// Offset is at on the hearing's clock.
func (h *Hearing) Offset(at time.Time) time.Duration { return at.Sub(h.start) }

func (h *Hearing) event(at time.Time, add func(m *Manifest, offsetMS int64, at time.Time)) error {
	if at.IsZero() {
		at = time.Now()
	}
	return h.update(func(m *Manifest) { add(m, at.Sub(h.start).Milliseconds(), at.Round(0)) })
}

// update changes the manifest and writes it.
func (h *Hearing) update(change func(*Manifest)) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrHearingClosed
	}
	change(h.m)
	h.mu.Unlock()
	return h.save()
}

// save writes the manifest as it is now.
func (h *Hearing) save() error {
	h.saveMu.Lock()
	defer h.saveMu.Unlock()
	h.mu.Lock()
	m := h.m.clone()
	h.mu.Unlock()
	if err := m.write(h.dir); err != nil {
		h.r.metrics.writeErrors.Inc()
		h.log.Error("manifest not written", zap.Error(err))
		return fmt.Errorf("recording: hearing %s: %w", h.id, err)
	}
	return nil
}

// Err is the first failure of a track's recording, if any.
func (h *Hearing) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failure
}

// failed reports a track's recording failure: log, metric, OnError. The track's recording ends
// (the SFU stops delivering after the error); the hearing's others go on.
func (h *Hearing) failed(seg *segment, err error) {
	if !seg.failed.CompareAndSwap(false, true) {
		return
	}
	h.r.metrics.writeErrors.Inc()
	h.log.Error("track recording failed", zap.String("file", seg.name), zap.Error(err))
	h.mu.Lock()
	if h.failure == nil {
		h.failure = err
	}
	h.mu.Unlock()
	if h.onError != nil {
		h.onError(fmt.Errorf("recording: hearing %s, %s: %w", h.id, seg.name, err))
	}
}

// Close stops every track's recording, seals the last segments, seals the manifest and returns
// the chain head. It returns the first track failure too (the seal covers what was written).
// Closing twice returns the same.
func (h *Hearing) Close() (Seal, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.wg.Wait()
		return h.seal, h.sealErr
	}
	h.closed = true
	segs := make([]*segment, 0, len(h.active))
	for _, s := range h.active {
		segs = append(segs, s)
	}
	h.mu.Unlock()
	for _, s := range segs {
		s.rec.Load().Stop() // returns once the segment is queued for sealing
	}
	close(h.quit)
	h.wg.Wait()

	h.mu.Lock()
	h.m.EndedAt = time.Now().Round(0)
	head, err := h.r.chain.head(h.last, h.m)
	if err == nil {
		h.m.Chain.Head = hex.EncodeToString(head)
	}
	failure := h.failure
	h.mu.Unlock()
	if err == nil {
		err = h.save()
	}
	h.r.mu.Lock()
	delete(h.r.active, h.id)
	h.r.mu.Unlock()
	h.r.metrics.hearings.Dec()
	h.seal = Seal{Hearing: h.id, Dir: h.dir, Algorithm: h.r.cfg.Hash, Head: h.m.Chain.Head}
	h.sealErr = errors.Join(failure, err)
	h.log.Info("hearing recording sealed", zap.String("head", h.seal.Head), zap.Error(h.sealErr))
	return h.seal, h.sealErr
}

// segment is one track segment: the SFU's sink for the track, and the file's entry.
type segment struct {
	h      *Hearing
	idx    int // in the manifest's tracks
	name   string
	w      *TrackWriter
	rec    atomic.Pointer[sfu.Recording]
	failed atomic.Bool
	end    error // why it ended (sealer)
}

// WriteRTP is called by the SFU's recording goroutine.
func (s *segment) WriteRTP(p *rtp.Packet) error {
	err := s.w.WriteRTP(p)
	if err != nil {
		s.h.failed(s, err)
	}
	return err
}

// Close is the SFU's last call: the segment goes to the sealer (finishing and hashing a file
// takes a while; the SFU's goroutine does not wait for it).
func (s *segment) Close(err error) {
	s.end = err
	h := s.h
	h.sealMu.Lock()
	h.pending = append(h.pending, s)
	h.sealMu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (s *segment) requestKeyframe() {
	if rec := s.rec.Load(); rec != nil {
		rec.RequestKeyframe()
	}
}

// sealer seals finished segments in the order they finished, until Close.
func (h *Hearing) sealer() {
	defer h.wg.Done()
	for {
		h.sealMu.Lock()
		segs := h.pending
		h.pending = nil
		h.sealMu.Unlock()
		for _, s := range segs {
			h.sealSegment(s)
		}
		if len(segs) > 0 {
			continue
		}
		select {
		case <-h.wake:
		case <-h.quit:
			h.sealMu.Lock()
			left := len(h.pending)
			h.sealMu.Unlock()
			if left == 0 {
				return
			}
		}
	}
}

// sealSegment finishes a segment's file, hashes it onto the chain and records it in the manifest.
func (h *Hearing) sealSegment(s *segment) {
	closeErr := s.w.Close()
	end, errText := EndStopped, ""
	switch {
	case closeErr != nil:
		h.failed(s, closeErr)
		end, errText = EndError, closeErr.Error()
	case errors.Is(s.end, sfu.ErrTrackEnded):
		end = EndTrackEnded
	case s.end != nil:
		end, errText = EndError, s.end.Error()
	}
	path := filepath.Join(h.dir, s.name)
	status := StatusEmpty
	var fileHash, link []byte
	if _, err := os.Stat(path); err == nil {
		if fileHash, err = h.r.chain.file(path); err != nil {
			h.failed(s, err)
			if errText != "" {
				errText += "; "
			}
			errText += err.Error()
		} else {
			link = h.r.chain.link(h.last, fileHash, s.name)
			h.last = link
			h.links++
			status = StatusSealed
		}
	}
	stats := s.w.Stats()
	h.r.metrics.lostPackets.Add(float64(stats.LostPackets))
	h.r.metrics.tracks.Dec()

	h.mu.Lock()
	t := &h.m.Tracks[s.idx]
	if started, ok := s.w.Started(); ok {
		t.StartOffsetMS = started.Sub(h.start).Milliseconds()
		t.DurationMS = s.w.Duration().Milliseconds()
	}
	t.Status, t.End, t.Error, t.Stats = status, end, errText, stats
	if link != nil {
		t.FileHash, t.ChainIndex, t.Link = hex.EncodeToString(fileHash), h.links, hex.EncodeToString(link)
		h.r.metrics.sealed.Inc()
	}
	if h.active[t.TrackID] == s {
		delete(h.active, t.TrackID)
	}
	h.mu.Unlock()
	h.log.Info("segment sealed", zap.String("file", s.name), zap.String("end", end), zap.Uint64("frames", stats.Frames),
		zap.Uint64("lost_packets", stats.LostPackets))
	_ = h.save()
}
