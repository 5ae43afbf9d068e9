package sfu

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// lossyNetwork is pion's virtual network with the SFU, a publisher and a subscriber on it. A
// share of the RTP packets from the SFU to the subscriber (the subscriber's downlink) and from
// the publisher to the SFU (the publisher's uplink) is dropped (seeded, so the run is
// repeatable), while ICE, DTLS and RTCP pass; either link may be capped.
type lossyNetwork struct {
	router            *vnet.Router
	sfu, pub, sub     *vnet.Net
	subLink           *vnet.TBFQueue // the subscriber's downlink, when capped
	pubLink           *vnet.TBFQueue // the publisher's uplink (the SFU's inbound), when capped
	pubLoss           atomic.Int32   // percent of the publisher's RTP dropped
	mu                sync.Mutex
	dropped, rtpToSub int
	pubDropped, rtpUp int
}

const (
	vnetSFU = "10.77.0.1"
	vnetPub = "10.77.0.2"
	vnetSub = "10.77.0.3"
)

func newLossyNetwork(t *testing.T, lossPercent int) *lossyNetwork {
	t.Helper()
	return newNetwork(t, lossPercent, 0)
}

// newNetwork is the virtual network with random loss towards the subscriber and, when capBps is
// set, the subscriber's downlink limited to that many bits per second behind a 6 KB queue.
func newNetwork(t *testing.T, lossPercent, capBps int) *lossyNetwork {
	t.Helper()
	return newImpairedNetwork(t, impairment{subLoss: lossPercent, subCap: capBps})
}

// impairment describes the links of a virtual network.
type impairment struct {
	subLoss, subCap int           // the subscriber's downlink: percent lost, bits/s (0 = none)
	pubLoss, pubCap int           // the publisher's uplink
	delay           time.Duration // one way, on every link (the router's)
}

func newImpairedNetwork(t *testing.T, im impairment) *lossyNetwork {
	t.Helper()
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.77.0.0/24", MinDelay: im.delay,
		LoggerFactory: logging.NewDefaultLoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	n := &lossyNetwork{router: router}
	n.pubLoss.Store(int32(im.pubLoss))
	for _, x := range []struct {
		ip  string
		net **vnet.Net
	}{{vnetSFU, &n.sfu}, {vnetPub, &n.pub}, {vnetSub, &n.sub}} {
		v, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{x.ip}})
		if err != nil {
			t.Fatal(err)
		}
		var nic vnet.NIC = v
		capped := func(bps int) *vnet.TBFQueue {
			tbf := vnet.NewTBFQueue(bps, 4_000, 6_000)
			q, err := vnet.NewQueue(v, tbf)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = q.Close() })
			nic = q
			return tbf
		}
		switch {
		case x.ip == vnetSub && im.subCap > 0:
			n.subLink = capped(im.subCap)
		case x.ip == vnetSFU && im.pubCap > 0:
			// What arrives at the SFU is, but for the subscriber's RTCP, the publisher's uplink.
			n.pubLink = capped(im.pubCap)
		}
		if err := router.AddNet(nic); err != nil {
			t.Fatal(err)
		}
		*x.net = v
	}
	rng := rand.New(rand.NewPCG(7, 7))
	router.AddChunkFilter(func(c vnet.Chunk) bool {
		src, dst := c.SourceAddr().(*net.UDPAddr), c.DestinationAddr().(*net.UDPAddr)
		if src == nil || dst == nil {
			return true
		}
		b := c.UserData()
		// RTP: version 2 and not an RTCP packet type (192–223).
		if len(b) < 2 || b[0]>>6 != 2 || (b[1] >= 192 && b[1] <= 223) {
			return true
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		switch {
		case src.IP.String() == vnetSFU && dst.IP.String() == vnetSub:
			n.rtpToSub++
			if im.subLoss > 0 && rng.IntN(100) < im.subLoss {
				n.dropped++
				return false
			}
		case src.IP.String() == vnetPub && dst.IP.String() == vnetSFU:
			n.rtpUp++
			if loss := int(n.pubLoss.Load()); loss > 0 && rng.IntN(100) < loss {
				n.pubDropped++
				return false
			}
		}
		return true
	})
	if err := router.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = router.Stop() })
	return n
}

// newSFU starts an SFU on the network's server address; the test's end closes it.
func (n *lossyNetwork) newSFU(t *testing.T) *SFU {
	t.Helper()
	s, err := New(Config{ListenIP: vnetSFU, Net: n.sfu, PLIThrottle: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// subscribeVideo publishes a test video source from a, which answers keyframe requests as a
// browser does, subscribes b to it and returns the track's id and b's remote track.
func subscribeVideo(t *testing.T, s *SFU, room string, a, b *peer) (string, *webrtc.TrackRemote) {
	t.Helper()
	video := startSource(t, true)
	senders := a.publish(video.track)
	go answerPLI(senders[0], video)
	ids := publishedIDs(t, s, room, 1)
	if err := b.p.Subscribe(ids...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "subscriber track", func() bool { return b.track(ids[0]) != nil })
	return ids[0], b.track(ids[0])
}

// lossyVideoCall is a publisher and a subscriber of its test video in room, the subscriber's
// downlink losing 10 % of the RTP.
func lossyVideoCall(t *testing.T, room string) (*lossyNetwork, *SFU, string, *webrtc.TrackRemote) {
	t.Helper()
	n := newLossyNetwork(t, 10)
	s := n.newSFU(t)
	a := joinPeerOn(t, s, room, "a", n.pub)
	b := joinPeerOn(t, s, room, "b", n.sub)
	id, remote := subscribeVideo(t, s, room, a, b)
	return n, s, id, remote
}

// TestNACKRepairsTenPercentLoss: with 10 % of the RTP from the SFU to a subscriber lost, the
// subscriber's NACKs are served from the publisher buffer and at least 99 % of the frames arrive.
func TestNACKRepairsTenPercentLoss(t *testing.T) {
	n, s, _, tr := lossyVideoCall(t, "lossy")

	// One packet per frame: a frame is decodable when its packet arrived, first time or repaired.
	got := map[uint16]bool{}
	dups := 0
	var first, last uint16
	for i := 0; i < 400; i++ { // 8 s of 50 fps
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = pkt.SequenceNumber
		}
		if got[pkt.SequenceNumber] {
			dups++
		}
		got[pkt.SequenceNumber] = true
		if int16(pkt.SequenceNumber-last) > 0 || i == 0 {
			last = pkt.SequenceNumber
		}
	}
	// Packets near the end may still be under repair; judge all but the last 25.
	span := int(last-first) + 1 - 25
	have := 0
	for i := range span {
		if got[first+uint16(i)] {
			have++
		}
	}
	n.mu.Lock()
	dropped, sent := n.dropped, n.rtpToSub
	n.mu.Unlock()
	if dropped*100 < sent*5 {
		t.Fatalf("the network dropped only %d of %d RTP packets: the test is not lossy", dropped, sent)
	}
	t.Logf("%d duplicates among 400 packets read; NACKs refused: %v too old, %v over budget", dups,
		testutil.ToFloat64(s.metrics.nacksTooOld), testutil.ToFloat64(s.metrics.nacksOverBudget))
	if have*100 < span*99 {
		t.Fatalf("%d of %d frames arrived (%.1f %%) with %d of %d packets dropped; want ≥ 99 %% after NACK repair",
			have, span, 100*float64(have)/float64(span), dropped, sent)
	}
	t.Logf("%d of %d frames arrived with %d of %d RTP packets dropped on the way; %d NACKed, %d retransmitted",
		have, span, dropped, sent, int(testutil.ToFloat64(s.metrics.nacks)), int(testutil.ToFloat64(s.metrics.retransmits)))
}

// answerPLI makes a static source send a keyframe when the SFU asks, like a browser.
func answerPLI(sender *webrtc.RTPSender, src *source) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			if _, ok := p.(*rtcp.PictureLossIndication); ok {
				select {
				case src.key <- struct{}{}:
				default:
				}
			}
		}
	}
}

// TestLayerFollowsBandwidthCap: the subscriber's downlink is capped below the top layer; the
// loss its receiver reports brings it down to layers that fit (the middle one, or for a while the
// lowest after a bad report), and when the cap is lifted it climbs back to the top layer.
func TestLayerFollowsBandwidthCap(t *testing.T) {
	n := newNetwork(t, 0, 380_000)
	s := n.newSFU(t)
	a := joinPeerOn(t, s, "capped", "a", n.pub)
	b := joinPeerOn(t, s, "capped", "b", n.sub)
	publishSimulcastSized(t, a, [3]int{150, 600, 1150}) // ≈ 75, 255, 475 kbit/s on the wire
	ids := publishedIDs(t, s, "capped", 1)
	if err := b.p.Subscribe(ids...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "subscriber track", func() bool { return b.track(ids[0]) != nil })
	tr := b.track(ids[0])
	layer := func() byte {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			t.Fatal(err)
		}
		return pkt.Payload[len(pkt.Payload)-1]
	}
	within := func(what string, d time.Duration, ok func(byte) bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !ok(layer()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v (estimate %d bit/s)", what, d, b.p.bwe.estimate())
			}
		}
	}
	within("the capped link brings a lower layer", 20*time.Second, func(l byte) bool { return l < 2 })
	// From now on mostly layers that fit: tries of the top layer are allowed, ever more rarely
	// (the first 5 s settle).
	for range 250 {
		layer()
	}
	counts := [3]int{}
	for range 750 { // 15 s
		counts[layer()]++
	}
	if counts[2] >= 375 {
		t.Fatalf("layers received on a 380 kbit/s link over 15 s: %v, want mostly ones below the top (475 kbit/s)", counts)
	}
	n.subLink.SetRate(5_000_000)
	within("the top layer once the cap is lifted", 60*time.Second, func(l byte) bool { return l == 2 })
	t.Logf("on the capped link: %v frames per layer; estimate after lifting the cap %d bit/s", counts, b.p.bwe.estimate())
}

// stallOnce is a subscriber's write path that stalls once, on its nth write, for stall.
type stallOnce struct {
	n      int64
	stall  time.Duration
	writes atomic.Int64
}

func (w *stallOnce) WriteRTP(_ *rtp.Header, payload []byte) (int, error) {
	if w.writes.Add(1) == w.n {
		time.Sleep(w.stall)
	}
	return len(payload) + 12, nil
}

func (w *stallOnce) Write(b []byte) (int, error) { return len(b), nil }

// TestFanOutStallOnLossyLinkIsRepaired: the fan-out stalls once for 400 ms (a write that hangs,
// a starved CPU), well past the delay bound, while the subscriber's downlink loses 10 % of the
// RTP. What the bound dropped is repaired like the link's own losses, by NACK, and every frame
// arrives: the subscriber's stream never waits for a keyframe. (A drop used to make it wait for
// one, so the frames in between never came: a frozen picture at every passing stall, and on a
// lossy link the keyframe itself needed repairs first.)
func TestFanOutStallOnLossyLinkIsRepaired(t *testing.T) {
	n, s, id, remote := lossyVideoCall(t, "stall")
	// Served before the subscriber (priority 5), it stalls the whole fan-out once, soon after
	// its keyframe.
	stall := &stallOnce{n: 10, stall: 400 * time.Millisecond}
	addSubscriberWriter(t, s, "stall", id, stall).shedLag()

	// One packet per frame (50 fps): the frames that arrived, first time or repaired, by their
	// timestamps, which a stream that never splices keeps on the source's 1,800 grid.
	got := map[uint32]bool{}
	var first, last uint32
	start := time.Now()
	for i := 0; time.Since(start) < 5*time.Second; i++ {
		_ = remote.SetReadDeadline(time.Now().Add(2 * time.Second))
		pkt, _, err := remote.ReadRTP()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if i == 0 {
			first, last = pkt.Timestamp, pkt.Timestamp
		}
		if int32(pkt.Timestamp-last) > 0 {
			last = pkt.Timestamp
		}
		got[pkt.Timestamp] = true
	}
	if stall.writes.Load() < stall.n {
		t.Fatalf("the stalling subscriber wrote %d packets: it never stalled", stall.writes.Load())
	}
	late := testutil.ToFloat64(s.metrics.lateDropped)
	if late < 2 {
		t.Fatalf("%v late drops: the stall did not pass the bound", late)
	}
	// Frames near the end may still be under repair: judge all but the last 25.
	want, have := int((last-first)/1800)+1-25, 0
	for i := range want {
		if got[first+uint32(i)*1800] {
			have++
		}
	}
	n.mu.Lock()
	dropped, sent := n.dropped, n.rtpToSub
	n.mu.Unlock()
	t.Logf("%d of %d frames arrived; %v late drops; the link dropped %d of %d RTP packets; %v NACKed, %v retransmitted, refused %v too old, %v over budget",
		have, want, late, dropped, sent, testutil.ToFloat64(s.metrics.nacks), testutil.ToFloat64(s.metrics.retransmits),
		testutil.ToFloat64(s.metrics.nacksTooOld), testutil.ToFloat64(s.metrics.nacksOverBudget))
	if dropped*100 < sent*5 {
		t.Fatalf("the network dropped only %d of %d RTP packets: the test is not lossy", dropped, sent)
	}
	if have*100 < want*99 {
		t.Fatalf("%d of %d frames arrived in their place (%.1f %%) across a stall of the fan-out on a 10 %% lossy link; want ≥ 99 %%",
			have, want, 100*float64(have)/float64(want))
	}
}
