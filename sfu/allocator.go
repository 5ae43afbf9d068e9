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

// bandwidth estimates what a subscriber's link carries. Where the receiver sends transport-wide
// congestion control feedback (TWCC: every browser), the estimate comes from its own link only:
// the packets the SFU sent that were lost, and the queueing delay they met (send times are ours,
// so the publisher's jitter does not count). Without TWCC it comes from the loss in the receiver's
// reports. A receiver's REMB is a ceiling only (×1.5: it is estimated from what arrives, so it
// would otherwise hold a subscriber below the next layer for ever).
//
// Coming down: queueing (the link is full) sets the estimate to 85 % of what got through; heavy
// loss lowers it by half the loss. Random loss on a link that is not full (a township radio link)
// never goes below the lowest layer, and never pauses video: NACK repair serves it better.
//
// Going up is by trial, as no padding is sent: once the link has been clean for a while, the
// estimate jumps to what the subscriber's tracks want (at most 10× at a time), the allocator
// switches up, and if the link cannot carry it, the next rounds bring it down again. A climb
// blamed for congestion doubles the wait before the next (1 s up to 6 s); clean time halves it
// again, so a link that clears is tried within seconds. A paused video is resumed the same way:
// a pause is always followed by trials.
type bandwidth struct {
	remb    atomic.Int64 // bits/s from the receiver, 0 = none yet
	loss    atomic.Int32 // last fraction lost from a receiver report, 0..255
	reports atomic.Int64 // receiver reports seen, so each is acted on once
	rate    atomic.Int64 // the estimate, bits/s; 0 = no limit known
	twcc    *twccLog     // nil without a connection (unit tests)

	// For quality reports and pausing, written by housekeeping.
	lossPPM     atomic.Int64 // the subscriber link's loss over the last round with news, ×1e6
	twccOn      atomic.Bool  // TWCC feedback flows
	capacityLow atomic.Bool  // the last congestion was the link being full, not random loss

	// Used by the housekeeping goroutine only.
	lastCongestion int64         // monotonic ns
	lastClimb      int64         // monotonic ns of the last increase
	lastRound      int64         // monotonic ns of the last update
	lastTWCC       int64         // monotonic ns of the last round with TWCC feedback
	lastDecay      int64         // monotonic ns wait was last halved
	wait           time.Duration // clean time needed before climbing
	handled        int64         // reports count at the last decision on loss
	prevQueue      time.Duration
	need           int64 // bits/s the subscriber's tracks would take with no limit (last allocation)
	floor          int64 // bits/s of the lowest layers of what it receives (last allocation)
}

func (b *bandwidth) setREMB(bps int64) { b.remb.Store(bps) }
func (b *bandwidth) setLoss(frac uint8) {
	b.loss.Store(int32(frac))
	b.reports.Add(1)
}

// congestionHold is how long after coming down the next loss report is not acted on: it still
// describes the time before the switch (receiver reports come about once a second, TWCC
// feedback every 100 ms or so).
const (
	congestionHold     = 1500 * time.Millisecond
	congestionHoldTWCC = 1000 * time.Millisecond
)

const (
	lossHigh      = 25 // of 256: about 10 %
	lossLow       = 5  // about 2 %
	minClimbWait  = 1 * time.Second
	maxClimbWait  = 6 * time.Second
	maxEstimate   = 100_000_000
	minEstimate   = 50_000
	climbPercent  = 108
	maxJump       = 10
	climbBlame    = 3 * time.Second // congestion this soon after a climb is blamed on it
	rembHeadroom2 = 3               // REMB × 3/2
	// Queueing delay on the subscriber's link, above its recent minimum: above queueHigh (and
	// growing) the link is full; under queueLow it is clean.
	queueHigh = 80 * time.Millisecond
	queueLow  = 30 * time.Millisecond
	// heavyLoss is loss (of 1) at which a link counts as unable to carry video whether or not it
	// queues: most of what is sent never arrives.
	heavyLoss = 0.4
)

// update folds in one allocation round: sending is the video bitrate the subscriber is being sent.
func (b *bandwidth) update(at, sending int64) {
	if b.wait == 0 {
		b.wait = minClimbWait
	}
	interval := housekeepingTick * 2
	if b.lastRound != 0 {
		interval = time.Duration(at - b.lastRound)
	}
	b.lastRound = at
	var round linkRound
	if b.twcc != nil {
		round = b.twcc.take(at, interval)
	}
	if round.fresh {
		b.lastTWCC = at
	}
	twcc := b.lastTWCC != 0 && at-b.lastTWCC < int64(twccFeedbackFresh)
	b.twccOn.Store(twcc)

	rate := b.rate.Load()
	next := int64(-1) // the estimate after congestion; -1: none this round
	capacity := false
	clean := false
	hold := congestionHold
	if twcc {
		hold = congestionHoldTWCC
		if round.fresh {
			b.lossPPM.Store(int64(round.loss * 1e6))
			switch {
			case round.loss >= heavyLoss:
				next, capacity = max(round.delivered*85/100, 1), true
			case round.queueDelay > queueHigh && round.queueDelay >= b.prevQueue:
				next, capacity = max(round.delivered*85/100, 1), true
			case round.loss > float64(lossHigh)/256 && sending > 0:
				// Random loss: come down, but not below the lowest layers (repair serves them).
				next = max(int64(float64(sending)*(1-round.loss/2)), min(b.floor, sending))
			case round.loss < float64(lossLow)/256 && round.queueDelay < queueLow:
				clean = true
			}
			b.prevQueue = round.queueDelay
		}
	} else {
		loss := b.loss.Load()
		fresh := b.reports.Load() != b.handled
		b.handled = b.reports.Load()
		if fresh {
			b.lossPPM.Store(int64(loss) * 1e6 / 256)
		}
		switch {
		case loss > lossHigh && sending > 0 && fresh:
			next = max(sending*(512-int64(loss))/512, min(b.floor, sending)) // what gets through, less half the loss
		case loss < lossLow:
			clean = true
		}
	}
	if next >= 0 && (b.lastCongestion == 0 || at-b.lastCongestion > int64(hold)) {
		// Congestion right after we climbed: the climb caused it, so try again later next time.
		if b.lastClimb > b.lastCongestion && at-b.lastClimb < int64(climbBlame) {
			b.wait = min(2*b.wait, maxClimbWait)
		}
		b.lastCongestion, b.lastDecay = at, at
		b.capacityLow.Store(capacity)
		if rate == 0 || next < rate {
			rate = max(next, min(minEstimate, rate))
		}
	}
	if clean && at-b.lastDecay > int64(2*minClimbWait) && b.wait > minClimbWait {
		b.wait, b.lastDecay = max(b.wait/2, minClimbWait), at // the link has been clean: try sooner
	}
	if clean && rate != 0 && at-b.lastCongestion > int64(b.wait) {
		// Climbing far above what is being sent proves nothing: twice that is enough to take the
		// next layer, unless the tracks want more, which is then tried at once.
		up := min(rate*climbPercent/100, max(2*sending, rate))
		if b.need > up {
			up = max(up, min(b.need, rate*maxJump))
		}
		if up > rate {
			b.lastClimb = at
			b.capacityLow.Store(false)
		}
		rate = min(up, maxEstimate)
	}
	if remb := b.remb.Load(); remb > 0 {
		if ceiling := remb * rembHeadroom2 / 2; rate == 0 || rate > ceiling {
			rate = ceiling
		}
	}
	b.rate.Store(rate)
}

// mayPause says whether the estimate may pause a video: only when the receiver's own link is
// known to be full (TWCC), or, for a track not on stage, when the receiver itself said how little
// it can take (REMB). Loss alone (which a CPU-starved receiver or a lossy radio link also
// reports) lowers layers but never takes the last picture away, and a stage track is never
// paused for what the receiver's REMB says (the publisher's jitter pulls it down).
func (b *bandwidth) mayPause(stage bool) bool {
	if b.twccOn.Load() && b.capacityLow.Load() {
		return true
	}
	return !stage && b.remb.Load() > 0
}

// estimate returns the usable bits per second, or MaxInt64 when no limit is known.
func (b *bandwidth) estimate() int64 {
	if r := b.rate.Load(); r > 0 {
		return r
	}
	return math.MaxInt64
}

// audioReserve is what an Opus track is budgeted at when sharing a link.
const audioReserve = 64_000

// layerActiveFor is how recently a layer must have sent a packet to be chosen. Short, because a
// browser whose uplink thins stops sending its top layer without a word, and every moment the
// receiver waits on it is a frozen picture; long enough for several frames of a slow layer.
// The forwarding path uses it too (DownTrack.writeRTP): a packet of a lower layer moves a down
// track whose layer has gone silent at once, without waiting for the next allocation round.
const layerActiveFor = 500 * time.Millisecond

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
	if p.rtx != nil {
		p.rtx.setEstimate(p.bwe.rate.Load())
	}
	budget := p.bwe.estimate()
	if budget != math.MaxInt64 {
		p.sfu.metrics.subscriberBandwidth.Observe(float64(budget))
	}
	var need, floor int64
	for _, d := range downs {
		if d.kind != webrtc.RTPCodecTypeVideo {
			budget -= audioReserve
			need += audioReserve
			continue
		}
		budget -= d.allocate(budget, p.bwe.mayPause(d.priority.Load() > 0), at)
		w, lo := d.demand()
		need += w
		floor += lo
	}
	p.bwe.need, p.bwe.floor = need, floor
}

// demand is what this down track would take with no limit (the layer its size asks for) and
// what its lowest layer takes, from the layers' last known rates.
func (d *DownTrack) demand() (want, lowest int64) {
	ceiling := d.source.qualityForSize(int(d.maxWidth.Load()), int(d.maxHeight.Load()))
	for _, l := range *d.source.layers.Load() {
		if lowest == 0 {
			lowest = l.bitrate.Load()
		}
		if l.quality <= ceiling {
			want = l.bitrate.Load()
		}
	}
	return want, lowest
}

// allocate picks this down track's layer within budget and returns the bitrate it will use.
// It also records the layer it would pick if the publisher sent every layer (wanted), which
// tells the publisher which layers to send at all.
func (d *DownTrack) allocate(budget int64, mayPause bool, at int64) int64 {
	// Forwarding to it lagged: below the layer it lagged on (overload.go), whatever the link.
	ceiling := min(d.source.qualityForSize(int(d.maxWidth.Load()), int(d.maxHeight.Load())), int(d.lagCeiling.Load()))
	var lowest, chosen, best *layer
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
		if l.quality <= ceiling {
			best = l
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
		d.lowered.Store(true)
		return 0
	case chosen == nil:
		chosen = lowest
	}
	d.setPaused(false)
	d.setTarget(chosen.quality)
	// Lowered: a better layer that is being sent and that the tile's size asks for did not fit.
	d.lowered.Store(best != nil && best.quality > chosen.quality)
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
