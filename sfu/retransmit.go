package sfu

import (
	"sync"
	"sync/atomic"
	"time"
)

// NACKs are answered only while the repair can still be played and within a budget per
// subscriber, so that a receiver that cannot keep up (or forges NACKs) cannot make the SFU send
// more repairs than media: under overload, retransmissions of packets lost because a side is
// behind add to the load that lost them (docs/benchmarks.md, the 1 → 200 collapse).

const (
	// nackAgeRTTs: on a long round trip a repair is useful for a few of them.
	nackAgeRTTs = 4
	// nackMinAge is the youngest a packet is ever refused at, however short the round trip. A
	// receiver does not give a frame up after a few round trips: libwebrtc holds an incomplete
	// frame, and every frame after it, NACKing again at its own pace (every 100 ms while it
	// knows no round trip; later still when its CPU is busy), until it asks for a keyframe a
	// second or more later. A repair refused before then buys a frozen picture until that
	// keyframe: with 200 ms here, a hall on a 10 % lossy link froze for seconds.
	nackMinAge = time.Second
	// nackMaxAge applies when the round trip is unknown, and bounds the age however long it is
	// (mediasoup keeps video two seconds for repair).
	nackMaxAge = 2 * time.Second

	// retransmitShare of the subscriber's estimated bandwidth may go to retransmissions: loss
	// repair beyond a third of the link is a link that needs a lower layer, not more copies.
	retransmitShare = 3
	// retransmitDefaultRate (bits/s) is the budget before any estimate exists: enough to repair
	// 10 % loss of a 1.5 Mbit/s video several times over.
	retransmitDefaultRate = 1_000_000
	// retransmitMinRate (bits/s) is the least budget whatever the estimate says: a 1,200-byte
	// repair every 100 ms. An estimate of a link that carries little (a small stream, a
	// starting estimator) must not leave its few losses unrepaired.
	retransmitMinRate = 100_000
	// retransmitBurst is how long the budget may be saved up for one burst of NACKs.
	retransmitBurst = 250 * time.Millisecond
	// retransmitMinBurst (bytes) is the least a burst may be: one NACK's worth (a packet id and
	// a 16-bit mask) of full packets, the losses of a keyframe on a lossy link. At the least
	// rate a quarter of a second held three packets, and a keyframe's repairs trickled over
	// seconds while the picture waited for them.
	retransmitMinBurst = 17 * 1200
)

// retransmitBudget is one subscriber's token bucket for retransmissions (bytes), shared by its
// down tracks. The bucket may go one packet into debt, so checking costs no packet size.
type retransmitBudget struct {
	rate atomic.Int64 // bits/s
	rtt  atomic.Int64 // ns, 0 = unknown

	mu     sync.Mutex
	tokens int64 // bytes
	last   int64 // monotonic ns of the last refill
}

func newRetransmitBudget() *retransmitBudget {
	b := &retransmitBudget{}
	b.rate.Store(retransmitDefaultRate)
	b.tokens = burstBytes(retransmitDefaultRate)
	return b
}

func burstBytes(bps int64) int64 {
	return max(bps/8*int64(retransmitBurst)/int64(time.Second), retransmitMinBurst)
}

// setEstimate sets the budget from the subscriber's estimated bandwidth (bits/s, 0 or
// unbounded = unknown, which keeps the default).
func (b *retransmitBudget) setEstimate(bps int64) {
	if bps <= 0 || bps >= maxEstimate {
		bps = retransmitDefaultRate * retransmitShare
	}
	b.rate.Store(max(bps/retransmitShare, retransmitMinRate))
}

// maxAge is how old a sent packet may be and still be retransmitted.
func (b *retransmitBudget) maxAge() int64 {
	rtt := b.rtt.Load()
	if rtt <= 0 {
		return int64(nackMaxAge)
	}
	return min(max(nackAgeRTTs*rtt, int64(nackMinAge)), int64(nackMaxAge))
}

// allow reports whether a retransmission may be sent at now.
func (b *retransmitBudget) allow(now int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	rate := b.rate.Load()
	switch elapsed := now - b.last; {
	case b.last == 0 || elapsed >= int64(retransmitBurst): // also keeps the product below from overflowing
		b.tokens = burstBytes(rate)
	case elapsed > 0:
		b.tokens = min(b.tokens+rate/8*elapsed/int64(time.Second), burstBytes(rate))
	}
	b.last = now
	return b.tokens > 0
}

// spend takes the size of a sent retransmission from the bucket.
func (b *retransmitBudget) spend(n int) {
	b.mu.Lock()
	b.tokens -= int64(n)
	b.mu.Unlock()
}
