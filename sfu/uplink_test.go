package sfu

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// layerTrace reads a subscriber's simulcast track (each test frame is one packet whose last
// payload byte is its layer) and tells what arrived when.
type layerTrace struct {
	t  *testing.T
	tr *webrtc.TrackRemote
}

// phase reads for d and returns the packets per layer, the longest time without a packet and
// the packets in the emptiest second.
func (lt layerTrace) phase(d time.Duration) (layers [3]int, longestGap time.Duration, worstSecond int) {
	lt.t.Helper()
	start := time.Now()
	last := start
	perSecond := map[int]int{}
	for time.Since(start) < d {
		_ = lt.tr.SetReadDeadline(time.Now().Add(2 * time.Second))
		pkt, _, err := lt.tr.ReadRTP()
		at := time.Now()
		if err != nil {
			longestGap = max(longestGap, at.Sub(last))
			last = at
			continue
		}
		longestGap = max(longestGap, at.Sub(last))
		last = at
		if n := len(pkt.Payload); n > 0 && pkt.Payload[n-1] < 3 {
			layers[pkt.Payload[n-1]]++
		}
		perSecond[int(at.Sub(start)/time.Second)]++
	}
	worstSecond = -1
	for s := range int(d / time.Second) {
		if worstSecond < 0 || perSecond[s] < worstSecond {
			worstSecond = perSecond[s]
		}
	}
	return layers, longestGap, worstSecond
}

// untilTop reads until n packets in a row come from the top layer and returns how long it took.
func (lt layerTrace) untilTop(n int, limit time.Duration) time.Duration {
	lt.t.Helper()
	start := time.Now()
	run := 0
	for run < n {
		if time.Since(start) > limit {
			lt.t.Fatalf("the top layer did not come back within %v", limit)
		}
		_ = lt.tr.SetReadDeadline(time.Now().Add(2 * time.Second))
		pkt, _, err := lt.tr.ReadRTP()
		if err != nil {
			continue
		}
		if p := pkt.Payload; len(p) > 0 && p[len(p)-1] == 2 {
			run++
		} else {
			run = 0
		}
	}
	return time.Since(start)
}

// uplinkCall joins a simulcast publisher and a subscriber on the network and returns the
// subscriber's trace.
func uplinkCall(t *testing.T, n *lossyNetwork, sizes [3]int) (*SFU, *peer, layerTrace) {
	t.Helper()
	s, err := New(Config{ListenIP: vnetSFU, Net: n.sfu, PLIThrottle: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	a := joinPeerOn(t, s, "uplink", "hall", n.pub)
	b := joinPeerOn(t, s, "uplink", "leader", n.sub)
	publishSimulcastSized(t, a, sizes)
	ids := publishedIDs(t, s, "uplink", 1)
	if err := b.p.Subscribe(ids...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "subscriber track", func() bool { return b.track(ids[0]) != nil })
	// The stage's main tile: what the leader's console asks for the hall on stage.
	if err := b.p.SetTrackSettings(ids[0], TrackSettings{Priority: 2}); err != nil {
		t.Fatal(err)
	}
	return s, b, layerTrace{t: t, tr: b.track(ids[0])}
}

// TestPublisherUplinkLoss: 10 % of the publisher's packets lost with 100 ms RTT. The loss is
// repaired upstream and is not the subscriber's: its own clean link keeps it on the top layer
// (TWCC sees only what the SFU sent), it never loses the picture, and after the loss it is on
// the top layer at once.
func TestPublisherUplinkLoss(t *testing.T) {
	n := newImpairedNetwork(t, impairment{pubLoss: 10, delay: 50 * time.Millisecond})
	s, b, trace := uplinkCall(t, n, [3]int{150, 600, 1150})
	trace.untilTop(25, 20*time.Second)
	layers, gap, worst := trace.phase(10 * time.Second)
	n.mu.Lock()
	dropped, sent := n.pubDropped, n.rtpUp
	n.mu.Unlock()
	if dropped*100 < sent*5 {
		t.Fatalf("the uplink dropped only %d of %d RTP packets: the test is not lossy", dropped, sent)
	}
	total := layers[0] + layers[1] + layers[2]
	t.Logf("10 %% uplink loss, 100 ms RTT: %v packets per layer in 10 s, longest gap %v, emptiest second %d packets; "+
		"%d of %d uplink packets dropped; NACKs from the subscriber %.0f, upstream keyframe requests %.0f; estimate %d bit/s",
		layers, gap, worst, dropped, sent, testutil.ToFloat64(s.metrics.nacks), testutil.ToFloat64(s.metrics.plisSent), b.p.bwe.estimate())
	if gap > time.Second || worst < 25 {
		t.Fatalf("the picture stalled: longest gap %v, emptiest second %d packets (50 fps sent)", gap, worst)
	}
	if layers[2]*10 < total*8 {
		t.Fatalf("the subscriber's clean link was lowered for the publisher's loss: %v packets per layer", layers)
	}
	n.pubLoss.Store(0)
	took := trace.untilTop(25, 5*time.Second)
	t.Logf("top layer steady %v after the loss ended", took)
}

// TestPublisherUplinkCapped: the publisher's uplink capped at 500 kbit/s with 5 % loss (its
// encoder fits the cap, as a browser's does from its own estimate). The subscriber keeps
// receiving video throughout and is back on the top layer within 5 s after the link clears.
func TestPublisherUplinkCapped(t *testing.T) {
	n := newImpairedNetwork(t, impairment{pubLoss: 5, pubCap: 500_000, delay: 50 * time.Millisecond})
	_, b, trace := uplinkCall(t, n, [3]int{120, 250, 520}) // ≈ 60, 110, 220 kbit/s on the wire
	layers, gap, worst := trace.phase(12 * time.Second)
	t.Logf("500 kbit/s + 5 %% loss uplink: %v packets per layer in 12 s, longest gap %v, emptiest second %d packets; estimate %d bit/s",
		layers, gap, worst, b.p.bwe.estimate())
	if gap > time.Second || worst < 10 {
		t.Fatalf("the picture stalled: longest gap %v, emptiest second %d packets (want ≥ 10 fps)", gap, worst)
	}
	n.pubLoss.Store(0)
	n.pubLink.SetRate(10_000_000)
	took := trace.untilTop(25, 5*time.Second)
	t.Logf("top layer steady %v after the link cleared", took)
}
