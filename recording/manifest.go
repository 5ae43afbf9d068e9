package recording

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ManifestName is the file in a hearing's directory that describes it.
const ManifestName = "manifest.json"

// manifestVersion changes when the manifest's meaning (or the sealed body's form) does.
const manifestVersion = 1

// Manifest describes one hearing's recording: who took part, each track segment's file and its
// place on the hearing's clock, what happened when (offsets in milliseconds from StartedAt), and
// the seal. It is written at every change, so that a crash leaves what was known.
type Manifest struct {
	Version      int           `json:"version"`
	Hearing      string        `json:"hearing"`
	SessionID    int64         `json:"session_id"`
	CaseID       int64         `json:"case_id"`
	Room         string        `json:"room,omitempty"`
	StartedAt    time.Time     `json:"started_at"`
	EndedAt      time.Time     `json:"ended_at,omitzero"`
	Participants []Participant `json:"participants"`
	Tracks       []Track       `json:"tracks"`
	StageChanges []StageChange `json:"stage_changes"`
	MuteEvents   []MuteEvent   `json:"mute_events"`
	Slips        []SlipEvent   `json:"slips"`
	Notes        []Note        `json:"notes"`
	Chain        Chain         `json:"chain"`
	Purge        *Deletion     `json:"purge,omitempty"`
}

// Participant is someone in the hearing, by the call's participant id, with their role in it
// (leader, hall, petitioner, unit, ...). No names: the manifest is read by tools and auditors.
type Participant struct {
	ID     string `json:"id"`
	Role   string `json:"role"`
	UnitID int64  `json:"unit_id,omitempty"`
}

// Track is one track segment: one file. A publisher who reconnects publishes a new track, which
// becomes the next segment (Segment counts per participant and kind).
type Track struct {
	File          string `json:"file"`
	Participant   string `json:"participant"`
	Role          string `json:"role"`
	Kind          string `json:"kind"` // audio or video
	Codec         string `json:"codec"`
	TrackID       string `json:"track_id"`
	Segment       int    `json:"segment"`
	StartOffsetMS int64  `json:"start_offset_ms"` // first frame, on the hearing's clock
	DurationMS    int64  `json:"duration_ms"`     // last frame's time in the file
	// Status is recording, sealed, or empty (no frame ever came: no file).
	Status string `json:"status"`
	// End is why the segment ended: stopped, track_ended, error (then Error says what),
	// interrupted (the server stopped while recording).
	End   string     `json:"end,omitempty"`
	Error string     `json:"error,omitempty"`
	Stats TrackStats `json:"stats"`
	// The seal: the file's hash, its place in the chain (1-based) and the link (hex).
	FileHash   string `json:"file_hash,omitempty"`
	ChainIndex int    `json:"chain_index,omitempty"`
	Link       string `json:"link,omitempty"`
}

// Track statuses and end reasons.
const (
	StatusRecording = "recording"
	StatusSealed    = "sealed"
	StatusEmpty     = "empty"

	EndStopped    = "stopped"
	EndTrackEnded = "track_ended"
	EndError      = "error"
	// EndInterrupted: the process stopped while recording; Recover sealed the file as found.
	EndInterrupted = "interrupted"
)

// StageChange says who was on stage from OffsetMS on.
type StageChange struct {
	OffsetMS int64     `json:"offset_ms"`
	At       time.Time `json:"at"`
	OnStage  []string  `json:"on_stage"` // participant ids
}

// MuteEvent is a participant muting or unmuting a track.
type MuteEvent struct {
	OffsetMS    int64     `json:"offset_ms"`
	At          time.Time `json:"at"`
	Participant string    `json:"participant"`
	TrackID     string    `json:"track_id,omitempty"`
	Kind        string    `json:"kind"`
	Muted       bool      `json:"muted"`
}

// SlipEvent is a slip (交办单, 督办单, ...) created during the hearing.
type SlipEvent struct {
	OffsetMS int64     `json:"offset_ms"`
	At       time.Time `json:"at"`
	SlipID   int64     `json:"slip_id"`
	Number   string    `json:"number"`
	Type     string    `json:"type"` // assign, supervise, ...
}

// Note is anything else worth finding on the timeline: the recording notice acknowledged, a
// track's recording failing, ...
type Note struct {
	OffsetMS int64     `json:"offset_ms"`
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"`
	Text     string    `json:"text,omitempty"`
}

// Chain is the seal (see chain.go): the algorithm and, once the hearing closed, the head (hex).
type Chain struct {
	Algorithm string `json:"algorithm"`
	Head      string `json:"head,omitempty"`
}

// Deletion records that the media files were deleted under the retention rule; the chain stays.
type Deletion struct {
	At           time.Time `json:"at"`
	CaseClosedAt time.Time `json:"case_closed_at"`
	Retention    string    `json:"retention"`
	Files        []string  `json:"files"`
}

// ReadManifest reads a hearing's manifest from its directory.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	// Strictly: a field this program does not know would not be covered by the seal it checks.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", filepath.Join(dir, ManifestName), err)
	}
	if m.Version != manifestVersion {
		return nil, fmt.Errorf("read manifest %s: version %d, this program reads %d", filepath.Join(dir, ManifestName), m.Version, manifestVersion)
	}
	return &m, nil
}

// write replaces the manifest in dir atomically: a reader (or a crash) sees the old one or the
// new one, never half of one.
func (m *Manifest) write(dir string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".manifest-*.tmp")
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), filepath.Join(dir, ManifestName))
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write manifest: %w", werr)
	}
	if d, err := os.Open(dir); err == nil { // the rename itself must reach the disk
		werr = d.Sync()
		_ = d.Close()
	}
	return werr
}

// clone copies the manifest deeply enough to write it without the hearing's lock.
func (m *Manifest) clone() *Manifest {
	c := *m
	c.Participants = append([]Participant{}, m.Participants...)
	c.Tracks = append([]Track{}, m.Tracks...)
	c.StageChanges = append([]StageChange{}, m.StageChanges...)
	c.MuteEvents = append([]MuteEvent{}, m.MuteEvents...)
	c.Slips = append([]SlipEvent{}, m.Slips...)
	c.Notes = append([]Note{}, m.Notes...)
	if m.Purge != nil {
		p := *m.Purge
		c.Purge = &p
	}
	return &c
}
