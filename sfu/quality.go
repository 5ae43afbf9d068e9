package sfu

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// Connection quality: every QualityInterval the housekeeping goroutine grades each participant's
// uplink (what reaches the SFU of what it publishes) and downlink (the subscriber link's estimate
// and loss), and tells it how each video it receives is delivered, with the publisher's uplink
// grade, so that a lowered or paused picture always comes with a reason a person can read.

// uplinkCounters are a layer's packet counts at the last quality round (housekeeping only).
type uplinkCounters struct {
	highest, packets, gaps uint64
}

// noteSeq extends the layer's highest sequence number; only the layer's read loop calls it.
func (l *layer) noteSeq(seq uint16) {
	if !l.seqStarted {
		l.seqStarted, l.extHighest = true, uint64(seq)
	} else if diff := int16(seq - uint16(l.extHighest)); diff > 0 {
		l.extHighest += uint64(diff)
		l.gaps.Add(uint64(diff - 1))
	}
	l.highest.Store(l.extHighest)
	l.packets.Add(1)
}

// uplinkRound measures, since the last round, the share of the participant's packets the link
// lost (the sequence numbers skipped when they first arrived: what the link did, before NACK
// repair, which hides it from the receivers but not from the people on a poor link) and what
// arrived.
func (p *Participant) uplinkRound() LinkQuality {
	p.mu.Lock()
	tracks := make([]*publishedTrack, 0, len(p.published))
	for _, t := range p.published {
		tracks = append(tracks, t)
	}
	p.mu.Unlock()
	var expected, lost uint64
	var bits int64
	for _, t := range tracks {
		for _, l := range *t.layers.Load() {
			h, n, g := l.highest.Load(), l.packets.Load(), l.gaps.Load()
			if l.counted.packets != 0 && h >= l.counted.highest && g >= l.counted.gaps {
				expected += h - l.counted.highest
				lost += g - l.counted.gaps
			}
			l.counted = uplinkCounters{highest: h, packets: n, gaps: g}
			if t.remoteKind == webrtc.RTPCodecTypeVideo {
				bits += l.bitrate.Load()
			}
		}
	}
	q := LinkQuality{RTT: selectedRTT(p.pub)}
	if expected == 0 {
		return q
	}
	q.Loss = min(1, float64(lost)/float64(expected))
	q.Bitrate = bits
	q.Level = grade(q.Loss, false, false)
	return q
}

// grade turns loss and what the allocator did into a level.
func grade(loss float64, lowered, paused bool) QualityLevel {
	switch {
	case paused || loss >= 0.10:
		return QualityPoor
	case lowered || loss >= 0.02:
		return QualityFair
	}
	return QualityGood
}

// selectedRTT is the round trip of a connection's selected ICE pair (its consent checks).
func selectedRTT(pc *webrtc.PeerConnection) time.Duration {
	if pc == nil || pc.SCTP() == nil || pc.SCTP().Transport() == nil {
		return 0
	}
	stats, ok := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePairStats()
	if !ok {
		return 0
	}
	return time.Duration(stats.CurrentRoundTripTime * float64(time.Second))
}

// qualityCounts is what one quality round found, for the metrics.
type qualityCounts struct{ paused, lowered, poor int }

// reportQuality grades every participant of the room and sends each its EventQuality.
func (r *Room) reportQuality(parts []*Participant) qualityCounts {
	uplinks := make(map[string]QualityLevel, len(parts))
	for _, p := range parts {
		p.uplink = p.uplinkRound()
		uplinks[p.id] = p.uplink.Level
	}
	var c qualityCounts
	for _, p := range parts {
		ev := p.quality(uplinks)
		for _, tq := range ev.Tracks {
			if tq.Paused {
				c.paused++
			} else if tq.Lowered {
				c.lowered++
			}
		}
		if ev.Uplink.Level == QualityPoor || ev.Downlink.Level == QualityPoor {
			c.poor++
		}
		p.emit(ev)
	}
	return c
}

// quality is the participant's EventQuality, given every publisher's uplink level.
func (p *Participant) quality(uplinks map[string]QualityLevel) EventQuality {
	p.mu.Lock()
	downs := make([]*DownTrack, 0, len(p.subs))
	for _, s := range p.subs {
		downs = append(downs, s.down)
	}
	p.mu.Unlock()
	ev := EventQuality{Uplink: p.uplink}
	var lowered, paused, video bool
	for _, d := range downs {
		if d.kind != webrtc.RTPCodecTypeVideo {
			continue
		}
		video = true
		tq := TrackQuality{TrackID: d.id, ParticipantID: d.streamID, Layer: int(d.cur.Load()),
			TopLayer: d.source.topQuality(), Lowered: d.lowered.Load(), Paused: d.paused.Load(),
			PublisherUplink: uplinks[d.streamID]}
		lowered = lowered || tq.Lowered
		paused = paused || tq.Paused
		ev.Tracks = append(ev.Tracks, tq)
	}
	ev.Downlink = LinkQuality{Loss: float64(p.bwe.lossPPM.Load()) / 1e6, RTT: selectedRTT(p.sub), Bitrate: p.bwe.rate.Load()}
	if p.rtx != nil {
		p.rtx.rtt.Store(int64(ev.Downlink.RTT)) // how long a repair stays useful
	}
	if video || len(downs) > 0 {
		ev.Downlink.Level = grade(ev.Downlink.Loss, lowered, paused)
	}
	return ev
}
