package recording

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"go.uber.org/zap"

	"sanji/i18n"
)

// A cluster's failover: the node recording a hearing dies; the node that takes the call over
// starts the hearing's recording again with the same id and Continue. The dead node's open
// segments are sealed as found and marked interrupted (as Recover does at start), and the
// hearing goes on: new segments are numbered after the old ones and hashed onto the same
// chain, whose head Close writes as usual. The recordings directory must be on storage every
// node sees (docs/operations.md).

// ErrHearingSealed: a hearing to continue was sealed already (Recover found it first).
var ErrHearingSealed = errors.New("recording: the hearing to continue is sealed")

// continueHearing continues the hearing in dir if there is one, else starts it.
func (r *Recorder) continueHearing(id, dir string, info HearingInfo) (*Hearing, error) {
	m, err := ReadManifest(dir)
	if errors.Is(err, os.ErrNotExist) {
		return r.startHearing(id, dir, info)
	}
	if err != nil {
		return nil, err
	}
	if m.Chain.Head != "" || m.Purge != nil {
		return nil, fmt.Errorf("%w: %s", ErrHearingSealed, id)
	}
	if m.Chain.Algorithm != r.cfg.Hash {
		return nil, fmt.Errorf("recording: continue hearing %s: its chain is %s, this server's %s", id, m.Chain.Algorithm, r.cfg.Hash)
	}
	last, links, err := r.chain.sealInterrupted(dir, m)
	if err != nil {
		return nil, fmt.Errorf("recording: continue hearing %s: %w", id, err)
	}
	for _, p := range info.Participants {
		if !slices.ContainsFunc(m.Participants, func(q Participant) bool { return q.ID == p.ID }) {
			m.Participants = append(m.Participants, p)
		}
	}
	now := time.Now().Round(0)
	m.Notes = append(m.Notes, Note{OffsetMS: now.Sub(m.StartedAt).Milliseconds(), At: now, Kind: "taken_over",
		Text: i18n.T("recording.failover.continued").String()})
	start := info.Start
	if start.IsZero() {
		start = m.StartedAt
	}
	h, err := r.open(dir, info, m, start, last, links)
	if err != nil {
		return nil, err
	}
	h.log.Warn("hearing recording continued after its node was lost", zap.Int("segments", len(m.Tracks)), zap.Int("links", links))
	return h, nil
}
