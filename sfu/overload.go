package sfu

import (
	"math"
	"slices"
	"time"
)

// Drop rather than queue. A layer's packets used to wait, when its one forwarding goroutine
// could not keep up with the fan-out, in pion's read buffer (up to 1 MB a stream, seconds of
// video) and reached every subscriber that late (docs/benchmarks.md: 7 s behind at 300
// subscribers). Now the read loop only reads, buffers and stamps each packet, and hands it to
// the layer's fan-out goroutine; whatever the fan-out reaches later than maxDelay after its
// arrival is not sent (to the subscribers not yet served, or to all); those subscribers see it
// as lost on their link, and their NACKs repair it within the retransmission budget (a drop
// that made them wait for a keyframe froze their picture at every passing stall). Subscribers
// dropped from repeatedly are stepped down a layer, lowest priority first, so the work shrinks
// and moves to the lower layers' goroutines.

const (
	// DefaultMaxDelay bounds the delay the SFU adds to a packet (setting sfu.max_delay).
	DefaultMaxDelay = 100 * time.Millisecond
	// fanOutQueue is how many packets may wait for a layer's fan-out: far more than maxDelay
	// holds at any bit rate we forward, so it fills only when the fan-out is stuck.
	fanOutQueue = 1024
	// fanOutClockEvery: the fan-out reads the clock once per this many subscribers (a clock read
	// per subscriber would cost more than the bound needs).
	fanOutClockEvery = 16
	// lagStepRounds: a down track that had packets dropped in this many consecutive rounds (1 s
	// each) is stepped down a layer.
	lagStepRounds = 2
	// lagRecoverRounds: after this many rounds without a drop, a stepped-down track may go one
	// layer up again.
	lagRecoverRounds = 10
	noLagCeiling     = math.MaxInt32
)

// queued is one packet waiting for its layer's fan-out: it is in the layer's packet buffer.
type queued struct {
	at  int64 // arrival, monotonic ns
	seq uint16
}

// forward is one layer's read loop; it ends when the track's receiver stops, after its fan-out.
func (t *publishedTrack) forward(l *layer) {
	t.metrics.forwarded.track(&l.fwd)
	defer t.metrics.forwarded.retire(&l.fwd)
	q := make(chan queued, fanOutQueue)
	done := make(chan struct{})
	go func() { defer close(done); t.fanOutLoop(l, q) }()
	defer func() { close(q); <-done }()
	var buf [maxPacketSize]byte
	var p packet
	for {
		n, _, err := l.remote.Read(buf[:])
		if err != nil {
			t.readEnded(l, err)
			return
		}
		at := now()
		if !t.accept(l, buf[:n], &p, at) {
			continue
		}
		select {
		case q <- queued{at: at, seq: p.seq}:
		default: // the fan-out is stuck: this packet would be far too late anyway
			t.metrics.lateDropped.Add(float64(len(*t.downs.Load())))
		}
	}
}

// fanOutLoop sends each queued packet to the layer's subscribers, from the packet buffer.
func (t *publishedTrack) fanOutLoop(l *layer, q <-chan queued) {
	var buf [maxPacketSize]byte
	var p packet
	for e := range q {
		n := l.buffer.get(e.seq, buf[:])
		if n == 0 || parseRTP(buf[:n], &p) != nil {
			continue // overwritten: it waited a buffer's length, far beyond the bound
		}
		t.fanOut(l, &p, e.at)
	}
}

// dropLate is called when the fan-out of packet p reaches downs (the rest of the list) too late:
// those that take its layer do not get it, but it keeps its place in their streams as a packet
// lost on the way (DownTrack.skipRTP), which their NACKs repair. The others are not lagging on
// this layer's account.
func (t *publishedTrack) dropLate(downs []*DownTrack, p *packet, at int64) {
	q, n := int32(p.quality), 0
	for _, d := range downs {
		if !d.bound.Load() || d.paused.Load() || (d.cur.Load() != q && d.target.Load() != q) {
			continue
		}
		n++
		d.lagged.Add(1)
		d.skipRTP(p, at)
	}
	t.metrics.lateDropped.Add(float64(n))
}

// shedLag runs each second: it puts the fan-out in priority order (the recorder and the stage
// first, so the lowest-priority tiles are the ones the bound cuts off) and steps down a layer
// the lagging down tracks of the lowest priority that can still go down.
func (t *publishedTrack) shedLag() {
	downs := *t.downs.Load()
	if !slices.IsSortedFunc(downs, fanOutOrder) {
		t.mu.Lock()
		next := slices.Clone(*t.downs.Load())
		slices.SortStableFunc(next, fanOutOrder)
		t.downs.Store(&next)
		t.mu.Unlock()
		downs = next
	}
	lowest := int32(math.MaxInt32)
	var steppable []*DownTrack
	for _, d := range downs {
		if d.lagged.Swap(0) == 0 {
			d.lagStreak = 0
			if d.calm++; d.calm >= lagRecoverRounds && d.lagCeiling.Load() != noLagCeiling {
				d.calm = 0
				if c := d.lagCeiling.Add(1); int(c) >= t.topQuality() {
					d.lagCeiling.Store(noLagCeiling)
				}
			}
			continue
		}
		d.calm = 0
		if d.lagStreak++; d.lagStreak < lagStepRounds || d.lagLayer() <= 0 {
			continue
		}
		if pr := d.fanOutPriority(); pr < lowest {
			lowest, steppable = pr, steppable[:0]
		}
		if d.fanOutPriority() == lowest {
			steppable = append(steppable, d)
		}
	}
	for _, d := range steppable {
		d.lagStreak = 0
		d.lagCeiling.Store(d.lagLayer() - 1)
		t.metrics.lagStepDowns.Inc()
	}
}

// lagLayer is the layer a lagging down track is on: the one it waits for while it waits for a
// keyframe.
func (d *DownTrack) lagLayer() int32 {
	if cur := d.cur.Load(); cur >= 0 {
		return cur
	}
	return d.target.Load()
}

// fanOutPriority orders a track's subscribers: the server's recorders first, then by the
// subscriber's priority for the tile (stage before thumbnails).
func (d *DownTrack) fanOutPriority() int32 {
	if d.sub == nil {
		return math.MaxInt32
	}
	return d.priority.Load()
}

func fanOutOrder(a, b *DownTrack) int {
	pa, pb := a.fanOutPriority(), b.fanOutPriority()
	switch {
	case pa > pb:
		return -1
	case pa < pb:
		return 1
	}
	return 0
}
