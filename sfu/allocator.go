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

// bandwidth is what a subscriber's link is estimated to carry: the receiver's REMB, lowered while
// its receiver reports show heavy loss. A receiver estimates from what it receives, so while
// the link is clean we allow headroom above its REMB, or it could never climb to a larger layer
// (we send no probing padding).
type bandwidth struct {
	remb atomic.Int64 // bits/s, 0 = no estimate yet
	loss atomic.Int32 // last fraction lost, 0..255
}

func (b *bandwidth) setREMB(bps int64)  { b.remb.Store(bps) }
func (b *bandwidth) setLoss(frac uint8) { b.loss.Store(int32(frac)) }

// estimate returns the usable bits per second, or MaxInt64 when the subscriber gave no estimate.
func (b *bandwidth) estimate() int64 {
	est := b.remb.Load()
	if est <= 0 {
		return math.MaxInt64
	}
	if loss := b.loss.Load(); loss > 25 { // > 10 % loss: the estimate is too optimistic
		return est * int64(256-loss) / 256
	}
	return est * 3 / 2
}

// audioReserve is what an Opus track is budgeted at when sharing a link.
const audioReserve = 64_000

// layerActiveFor is how recently a layer must have sent a packet to be chosen.
const layerActiveFor = 2 * time.Second

// allocate shares the subscriber's estimate among its down tracks: audio first, then video by
// priority (stage speaker > other stage > thumbnails), each at the best layer that fits the
// budget and the size it is shown at. Video that does not fit even at its lowest layer is paused.
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
	budget := p.bwe.estimate()
	if budget != math.MaxInt64 {
		p.sfu.metrics.subscriberBandwidth.Observe(float64(budget))
	}
	for _, d := range downs {
		if d.kind != webrtc.RTPCodecTypeVideo {
			budget -= audioReserve
			continue
		}
		budget -= d.allocate(budget, at)
	}
}

// allocate picks this down track's layer within budget and returns the bitrate it will use.
// It also records the layer it would pick if the publisher sent every layer (wanted), which
// tells the publisher which layers to send at all.
func (d *DownTrack) allocate(budget int64, at int64) int64 {
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
	case chosen == nil && lowest.bitrate.Load() > budget:
		d.setPaused(true)
		return 0
	case chosen == nil:
		chosen = lowest
	}
	d.setPaused(false)
	d.setTarget(chosen.quality)
	return chosen.bitrate.Load()
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
