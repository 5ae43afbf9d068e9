package sfu

import (
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// bandwidth estimates what a subscriber's link carries from what the receiver tells us: the
// loss in its receiver reports (all browsers send them) and its REMB (when it sends one). It comes
// down to what actually gets through when loss is high, and climbs again by 8 % per round once
// the link has been clean for a while; each congestion soon after the previous one doubles that
// while (2 s up to 30 s), so a link that cannot carry the next layer is not tried every second.
// A receiver's REMB is estimated from what it receives, so it caps the estimate only with 50 %
// headroom, or the subscriber could never climb to a larger layer (we send no probing padding).
type bandwidth struct {
	remb    atomic.Int64 // bits/s from the receiver, 0 = none yet
	loss    atomic.Int32 // last fraction lost, 0..255
	reports atomic.Int64 // receiver reports seen, so each is acted on once
	rate    atomic.Int64 // the estimate, bits/s; 0 = no limit known

	// Used by the housekeeping goroutine only.
	lastCongestion int64         // monotonic ns
	lastClimb      int64         // monotonic ns of the last increase
	wait           time.Duration // clean time needed before climbing
	handled        int64         // reports count at the last decision on loss
}

func (b *bandwidth) setREMB(bps int64) { b.remb.Store(bps) }
func (b *bandwidth) setLoss(frac uint8) {
	b.loss.Store(int32(frac))
	b.reports.Add(1)
}

// congestionHold is how long after coming down the next loss report is not acted on: it still
// describes the time before the switch (reports come about once a second).
const congestionHold = 1500 * time.Millisecond

const (
	lossHigh      = 25 // of 256: about 10 %
	lossLow       = 5  // about 2 %
	minClimbWait  = 2 * time.Second
	maxClimbWait  = 30 * time.Second
	maxEstimate   = 100_000_000
	climbPercent  = 108
	climbBlame    = 4 * time.Second // congestion this soon after a climb is blamed on it
	rembHeadroom2 = 3               // REMB × 3/2
)

// update folds in one allocation round: sending is the video bitrate the subscriber is being sent.
func (b *bandwidth) update(at, sending int64) {
	if b.wait == 0 {
		b.wait = minClimbWait
	}
	rate, loss := b.rate.Load(), b.loss.Load()
	fresh := b.reports.Load() != b.handled
	b.handled = b.reports.Load()
	congested := func(next int64) {
		// Congestion right after we climbed: the climb caused it, so try again later next time.
		if b.lastClimb > b.lastCongestion && at-b.lastClimb < int64(climbBlame) {
			b.wait = min(2*b.wait, maxClimbWait)
		}
		b.lastCongestion = at
		if rate == 0 || next < rate {
			rate = next
		}
	}
	switch {
	case loss > lossHigh && sending > 0 && fresh && (b.lastCongestion == 0 || at-b.lastCongestion > int64(congestionHold)):
		congested(max(sending*(512-int64(loss))/512, 1)) // what gets through, less half the loss
	case rate != 0 && loss < lossLow && at-b.lastCongestion > int64(b.wait):
		// Climbing far above what is being sent proves nothing: twice that is enough to take the
		// next layer.
		rate = min(rate*climbPercent/100, max(2*sending, rate), maxEstimate)
		b.lastClimb = at
	}
	if remb := b.remb.Load(); remb > 0 {
		if ceiling := remb * rembHeadroom2 / 2; rate == 0 || rate > ceiling {
			rate = ceiling
		}
	}
	b.rate.Store(rate)
}

// mayPause says whether the estimate may pause video: only when the receiver itself said how
// little it can take (REMB). Loss alone (which a CPU-starved receiver also reports) lowers
// layers but never takes the last picture away.
func (b *bandwidth) mayPause() bool { return b.remb.Load() > 0 }

// estimate returns the usable bits per second, or MaxInt64 when no limit is known.
func (b *bandwidth) estimate() int64 {
	if r := b.rate.Load(); r > 0 {
		return r
	}
	return math.MaxInt64
}

// audioReserve is what an Opus track is budgeted at when sharing a link.
const audioReserve = 64_000

// layerActiveFor is how recently a layer must have sent a packet to be chosen.
const layerActiveFor = 2 * time.Second

// allocate shares the subscriber's estimate among its down tracks: audio first, then video by
// priority (stage speaker > other stage > thumbnails), each at the best layer that fits the
// budget and the size it is shown at. Video whose lowest layer needs more than twice what is left
// is paused.
func (p *Participant) allocate(at int64) {
	p.mu.Lock()
	downs := make([]*DownTrack, 0, len(p.subs))
	for _, s := range p.subs {
		downs = append(downs, s.down)
	}
	p.mu.Unlock()
	slices.SortStableFunc(downs, func(a, b *DownTrack) int {
		if a.kind != b.kind {
			return int(a.kind) - int(b.kind) // audio (1) before video (2)
		}
		return int(b.priority.Load() - a.priority.Load())
	})
	var sending int64
	for _, d := range downs {
		sending += d.sendingBitrate()
	}
	p.bwe.update(at, sending)
	budget := p.bwe.estimate()
	if budget != math.MaxInt64 {
		p.sfu.metrics.subscriberBandwidth.Observe(float64(budget))
	}
	for _, d := range downs {
		if d.kind != webrtc.RTPCodecTypeVideo {
			budget -= audioReserve
			continue
		}
		budget -= d.allocate(budget, p.bwe.mayPause(), at)
	}
}

// allocate picks this down track's layer within budget and returns the bitrate it will use.
// It also records the layer it would pick if the publisher sent every layer (wanted), which
// tells the publisher which layers to send at all.
func (d *DownTrack) allocate(budget int64, mayPause bool, at int64) int64 {
	ceiling := d.source.qualityForSize(int(d.maxWidth.Load()), int(d.maxHeight.Load()))
	var lowest, chosen *layer
	wanted := -1
	for _, l := range *d.source.layers.Load() {
		fits := l.quality <= ceiling && l.bitrate.Load() <= budget
		if fits || wanted < 0 {
			wanted = l.quality
		}
		if at-l.lastPacket.Load() > int64(layerActiveFor) {
			continue // the publisher is not sending it (paused upstream, or a bad link)
		}
		if lowest == nil {
			lowest = l
		}
		if fits {
			chosen = l
		}
	}
	d.wanted.Store(int32(wanted))
	switch {
	case lowest == nil:
		return 0 // nothing is being sent yet; keep the target
	case chosen == nil && mayPause && lowest.bitrate.Load() > 2*budget:
		// Pause only when the link carries less than half the lowest layer: a lossy link that
		// nearly carries it is better served by the picture (with NACK repair) than by none.
		d.setPaused(true)
		return 0
	case chosen == nil:
		chosen = lowest
	}
	d.setPaused(false)
	d.setTarget(chosen.quality)
	return chosen.bitrate.Load()
}

// sendingBitrate is what this down track is being sent now (the rate of its current layer).
func (d *DownTrack) sendingBitrate() int64 {
	if d.kind != webrtc.RTPCodecTypeVideo || d.paused.Load() || !d.bound.Load() {
		return 0
	}
	if l := d.source.layer(int(d.cur.Load())); l != nil {
		return l.bitrate.Load()
	}
	return 0
}

// qualityForSize is the lowest layer at least as large as the size a subscriber renders the
// track at; without a size (0) or without known layer sizes, the best layer.
func (t *publishedTrack) qualityForSize(w, h int) int {
	layers := *t.layers.Load()
	if len(layers) == 0 {
		return 0
	}
	top := layers[len(layers)-1].quality
	if w <= 0 && h <= 0 {
		return top
	}
	for _, l := range layers {
		lw, lh := int(l.width.Load()), int(l.height.Load())
		if lw == 0 {
			continue // size unknown until the layer's first keyframe
		}
		if lw >= w && lh >= h {
			return l.quality
		}
	}
	return top
}

// pausedLayers lists the layers (RIDs) of t that no subscriber would take: the publisher need
// not send them (dynacast). The lowest layer is always sent, so that a new subscriber starts at
// once, and a layer the SFU has not seen yet is never listed.
func (t *publishedTrack) pausedLayers() []string {
	layers := *t.layers.Load()
	want := map[int]bool{}
	for _, d := range *t.downs.Load() {
		if !d.paused.Load() && d.wanted.Load() >= 0 {
			want[int(d.wanted.Load())] = true
		}
	}
	paused := []string{}
	for i, l := range layers {
		if i > 0 && !want[l.quality] {
			paused = append(paused, l.rid)
		}
	}
	return paused
}

// announceLayers tells the publisher when the set of layers nobody takes changed.
func (p *Participant) announceLayers(t *publishedTrack) {
	if !t.info.Simulcast {
		return
	}
	paused := t.pausedLayers()
	key := strings.Join(paused, ",")
	if t.announced == key {
		return
	}
	t.announced = key
	p.log.Debug("layers paused", zap.String("track", t.info.ID), zap.Strings("rids", paused))
	p.emit(EventLayersPaused{TrackID: t.info.ID, RIDs: paused})
}
