package signaling

import (
	"math"
	"slices"
	"strings"
	"time"

	"sanji/call"
	"sanji/sfu"
)

// qualityRefresh is how long an unchanged `quality` waits before it is sent again: the SFU grades
// every sfu.QualityInterval, but a client needs only the changes, and now and then fresh numbers.
const qualityRefresh = 10 * time.Second

// qualityGate decides which of a session's quality reports go to its client. Guarded by session.mu.
type qualityGate struct {
	last   QualityData
	sentAt time.Time // zero: nothing sent yet
}

// admit reports whether d goes out at now, and if so remembers it. A change is a change of a
// level or of how a track is delivered; loss, round trip and bitrate move on every report, so
// they only ride along (and are refreshed every qualityRefresh).
func (g *qualityGate) admit(d QualityData, now time.Time) bool {
	if !g.sentAt.IsZero() && now.Sub(g.sentAt) < qualityRefresh && sameQuality(g.last, d) {
		return false
	}
	g.last, g.sentAt = d, now
	return true
}

func sameQuality(a, b QualityData) bool {
	return a.Uplink.Level == b.Uplink.Level && a.Downlink.Level == b.Downlink.Level && slices.Equal(a.Tracks, b.Tracks)
}

// qualityData is e as s's client may see it: in a reception call, a track the call's policy does
// not let s receive is left out, even if the SFU listed it in the instant before the stage changed
// (as active_speaker never names whom s may not hear).
func (s *session) qualityData(e sfu.EventQuality) QualityData {
	var pol *call.Snapshot
	if s.call != nil {
		pol = s.call.Policy().Snapshot()
	}
	tracks := make([]TrackQuality, 0, len(e.Tracks))
	for _, t := range e.Tracks {
		if pol != nil && !pol.Allow(s.id, t.ParticipantID, sfu.KindVideo) {
			continue
		}
		tracks = append(tracks, TrackQuality{TrackID: t.TrackID, ParticipantID: t.ParticipantID, Layer: t.Layer,
			TopLayer: t.TopLayer, Lowered: t.Lowered, Paused: t.Paused, PublisherUplink: string(t.PublisherUplink)})
	}
	// One order, so that the same set in another order is no change.
	slices.SortFunc(tracks, func(a, b TrackQuality) int { return strings.Compare(a.TrackID, b.TrackID) })
	return QualityData{Uplink: linkQuality(e.Uplink), Downlink: linkQuality(e.Downlink), Tracks: tracks}
}

func linkQuality(l sfu.LinkQuality) LinkQuality {
	return LinkQuality{
		Level:   string(l.Level),
		Loss:    math.Round(min(max(l.Loss, 0), 1)*1e4) / 1e4, // 0.01 % is precision enough
		RTTMs:   l.RTT.Milliseconds(),
		Bitrate: l.Bitrate,
	}
}

// onQuality sends the client its quality report when it changed, or as a refresh. Reports that
// come before `joined` are dropped: the next one follows in sfu.QualityInterval.
func (s *session) onQuality(e sfu.EventQuality) {
	d := s.qualityData(e)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.joinedSent && s.quality.admit(d, time.Now()) {
		s.send(TypeQuality, "", d)
	}
}
