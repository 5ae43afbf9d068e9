package sfu

import (
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"
)

// carrier stands in for the control plane's link between two nodes: it queues what one end
// sends (send never blocks) and delivers it in order to the other end on its own goroutine.
type carrier struct {
	t     *testing.T
	mu    sync.Mutex
	queue []RelayMessage
	to    *Relay
	wake  chan struct{}
	done  chan struct{}
	wg    sync.WaitGroup
}

func newCarrier(t *testing.T) *carrier {
	return &carrier{t: t, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (c *carrier) send(m RelayMessage) {
	c.mu.Lock()
	c.queue = append(c.queue, m)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *carrier) start(to *Relay) {
	c.mu.Lock()
	c.to = to
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			select {
			case <-c.done:
				return
			case <-c.wake:
			}
			c.mu.Lock()
			q := c.queue
			c.queue = nil
			c.mu.Unlock()
			for _, m := range q {
				if err := c.to.Deliver(m); err != nil && !errors.Is(err, ErrClosed) {
					c.t.Errorf("deliver %s: %v", m.Kind, err)
				}
			}
		}
	}()
	select { // deliver what queued before start
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *carrier) stop() {
	close(c.done)
	c.wg.Wait()
}

// relayPair opens the two ends of a relay between a and b for a room and wires them; the ends
// close, then the carriers stop, at the end of the test (or by calling the returned func).
func relayPair(t *testing.T, a *SFU, aName string, b *SFU, bName, room string, bOpts ...RelayOption) (ra, rb *Relay, closeBoth func()) {
	t.Helper()
	ab, ba := newCarrier(t), newCarrier(t)
	ra, err := a.OpenRelay(room, bName, ab.send)
	if err != nil {
		t.Fatal(err)
	}
	rb, err = b.OpenRelay(room, aName, ba.send, bOpts...)
	if err != nil {
		t.Fatal(err)
	}
	ab.start(rb)
	ba.start(ra)
	var once sync.Once
	closeBoth = func() {
		once.Do(func() {
			ra.Close()
			rb.Close()
			ab.stop()
			ba.stop()
		})
	}
	t.Cleanup(closeBoth)
	return ra, rb, closeBoth
}

// publishAV publishes a video and an audio source from a new participant and returns the
// room's track ids once they are published on s.
func publishAV(t *testing.T, s *SFU, room, id string) (*peer, *source, []string) {
	t.Helper()
	p := joinPeer(t, s, room, id)
	video, audio := startSource(t, true), startSource(t, false)
	senders := p.publish(video.track, audio.track)
	go answerPLI(senders[0], video)
	return p, video, publishedIDs(t, s, room, 2)
}

// readContinuous reads n packets of a subscriber's track and checks that sequence numbers run on.
func readContinuous(t *testing.T, tr *webrtc.TrackRemote, n int) []*rtp.Packet {
	t.Helper()
	// A packet the fan-out reaches late is skipped and repaired on the receiver's NACK (the
	// delay bound), so under load one may come after its successors: the run is read in
	// sequence order, and must have no hole once repaired.
	seen := map[uint16]*rtp.Packet{}
	var first uint16
	_ = tr.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer func() { _ = tr.SetReadDeadline(time.Time{}) }()
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			t.Fatalf("%s after %d packets: %v (not %d in a row from %d)", tr.Kind(), len(seen), err, n, first)
		}
		if len(seen) == 0 || int16(pkt.SequenceNumber-first) < 0 {
			first = pkt.SequenceNumber // the first, or a repair of one before it
		}
		seen[pkt.SequenceNumber] = pkt
		run := make([]*rtp.Packet, 0, n)
		for seq := first; len(run) < n && seen[seq] != nil; seq++ {
			run = append(run, seen[seq])
		}
		if len(run) == n {
			return run
		}
	}
}

func sentOf(st RelayStats, trackID string) (bytes, packets, plis uint64) {
	for _, s := range st.Sent {
		if s.TrackID == trackID {
			bytes += s.Bytes
			packets += s.Packets
			plis += s.PLIs
		}
	}
	return
}

func receivedOf(st RelayStats, trackID string) (bytes uint64) {
	for _, s := range st.Received {
		if s.TrackID == trackID {
			bytes += s.Bytes
		}
	}
	return
}

func kindOf(s *SFU, room, id string) Kind {
	for _, i := range s.Room(room).Tracks() {
		if i.ID == id {
			return i.Kind
		}
	}
	return ""
}

// subscribeAll subscribes c to ids and waits until each track's media reaches it.
func subscribeAll(t *testing.T, c *peer, ids ...string) {
	t.Helper()
	if err := c.p.Subscribe(ids...); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		waitFor(t, c.p.ID()+" receives "+id, func() bool { return c.track(id) != nil })
	}
}

// videoOf is the video track among a room's ids.
func videoOf(s *SFU, room string, ids []string) string {
	for _, id := range ids {
		if kindOf(s, room, id) == KindVideo {
			return id
		}
	}
	return ""
}

func TestRelayCarriesMediaToFarSubscribers(t *testing.T) {
	a, b := newTestSFU(t), newTestSFU(t)
	_, _, ids := publishAV(t, a, "call", "leader")
	ra, rb, _ := relayPair(t, a, "city", b, "district", "call")
	farIDs := publishedIDs(t, b, "call", 2)
	for _, info := range b.Room("call").Tracks() {
		if info.ParticipantID != "leader" {
			t.Fatalf("relayed track %+v: want the publisher's participant id", info)
		}
	}
	waitFor(t, "the same track ids on both nodes", func() bool {
		return len(farIDs) == 2 && (farIDs[0] == ids[0] && farIDs[1] == ids[1] || farIDs[0] == ids[1] && farIDs[1] == ids[0])
	})
	// Nothing crosses before someone on the far node subscribes.
	time.Sleep(300 * time.Millisecond) // a quiet period to observe, not a wait for media
	if st := ra.Stats(); len(st.Sent) != 0 {
		t.Fatalf("sent before any demand: %+v", st.Sent)
	}
	hall := joinPeer(t, b, "call", "hall")
	subscribeAll(t, hall, ids...)
	for _, id := range ids {
		tr := hall.track(id)
		if tr.StreamID() != "leader" {
			t.Fatalf("stream id %q, want the publisher's participant id", tr.StreamID())
		}
		pkts := readContinuous(t, tr, 20)
		if tr.Kind() == webrtc.RTPCodecTypeVideo && !isVP8Keyframe(pkts[0].Payload) {
			t.Fatal("far video did not start on a keyframe")
		}
	}
	for _, id := range ids {
		if bytes, _, _ := sentOf(ra.Stats(), id); bytes == 0 {
			t.Fatalf("relay counters show nothing sent for %s (%s)", id, kindOf(a, "call", id))
		}
		if receivedOf(rb.Stats(), id) == 0 {
			t.Fatalf("relay counters show nothing received for %s", id)
		}
	}
	// The last far subscriber leaving ends the demand: nothing crosses any more.
	if err := hall.p.Unsubscribe(ids...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "sending stopped", func() bool { return len(ra.Stats().Sent) == 0 })
}

// TestRelayCarriesEachStreamOnce: the relay's bytes per stream are one copy, whatever the number
// of subscribers on the far node.
func TestRelayCarriesEachStreamOnce(t *testing.T) {
	a, b := newTestSFU(t), newTestSFU(t)
	_, _, ids := publishAV(t, a, "call", "leader")
	ra, _, _ := relayPair(t, a, "city", b, "district", "call")
	publishedIDs(t, b, "call", 2)
	var subs []*peer
	for i := range 5 {
		subs = append(subs, joinPeer(t, b, "call", "hall"+string(rune('0'+i))))
	}
	measure := func(n int) float64 {
		t.Helper()
		for _, s := range subs[:n] {
			subscribeAll(t, s, ids...)
			for _, id := range ids {
				readContinuous(t, s.track(id), 5)
			}
		}
		b0, p0, _ := sentOf(ra.Stats(), ids[0])
		b1, p1, _ := sentOf(ra.Stats(), ids[1])
		in0, in1 := a.Room("call").track(ids[0]).layer(0).packets.Load(), a.Room("call").track(ids[1]).layer(0).packets.Load()
		start := time.Now()
		time.Sleep(2 * time.Second) // the measuring window
		e0, q0, _ := sentOf(ra.Stats(), ids[0])
		e1, q1, _ := sentOf(ra.Stats(), ids[1])
		out0, out1 := a.Room("call").track(ids[0]).layer(0).packets.Load(), a.Room("call").track(ids[1]).layer(0).packets.Load()
		rate := float64(e0-b0+e1-b1) / time.Since(start).Seconds()
		// Each packet the publisher sent crosses once (within the window's edges).
		published, relayed := float64(out0-in0+out1-in1), float64(q0-p0+q1-p1)
		t.Logf("%d far subscribers: %.0f relay bytes/s, %.0f packets relayed for %.0f published", n, rate, relayed, published)
		if relayed < 0.95*published || relayed > 1.05*published {
			t.Fatalf("%d far subscribers: %.0f packets relayed for %.0f published: want one copy", n, relayed, published)
		}
		return rate
	}
	one := measure(1)
	five := measure(5)
	if one == 0 || five/one > 1.1 || five/one < 0.9 {
		t.Fatalf("relay bytes/s: %.0f with 1 far subscriber, %.0f with 5: want one copy (within 10 %%)", one, five)
	}
	if st := ra.Stats(); len(st.Sent) != 2 {
		t.Fatalf("%d streams cross the relay for 2 tracks and 5 subscribers", len(st.Sent))
	}
}

// policyFunc adapts a function to Policy.
type policyFunc func(sub string, t TrackInfo) bool

func (f policyFunc) Allow(sub string, t TrackInfo) bool { return f(sub, t) }

func TestRelayHonoursBothNodesPolicies(t *testing.T) {
	a, b := newTestSFU(t), newTestSFU(t)
	_, _, ids := publishAV(t, a, "call", "hearing")
	ra, _, _ := relayPair(t, a, "city", b, "district", "call",
		RelayPolicy(policyFunc(func(sub string, _ TrackInfo) bool { return sub != "waiting" })))
	publishedIDs(t, b, "call", 2)

	// The far node's own policy (from its relay's opening): a waiting hall may not receive the hearing.
	waiting := joinPeer(t, b, "call", "waiting")
	if err := waiting.p.Subscribe(ids...); !errors.Is(err, ErrForbidden) {
		t.Fatalf("waiting hall subscribing: %v, want ErrForbidden", err)
	}
	// The near node's policy forbids the far subscriber: nothing crosses.
	var mu sync.Mutex
	unitAllowed := false
	nearPolicy := policyFunc(func(sub string, _ TrackInfo) bool {
		mu.Lock()
		defer mu.Unlock()
		return sub != "unit" || unitAllowed
	})
	a.Room("call").SetPolicy(nearPolicy)
	unit := joinPeer(t, b, "call", "unit")
	if err := unit.p.Subscribe(ids...); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a quiet period to observe, not a wait for media
	for _, id := range ids {
		if bytes, _, _ := sentOf(ra.Stats(), id); bytes != 0 || len(ra.Stats().Sent) != 0 {
			t.Fatalf("%d bytes of %s crossed for a subscriber the near policy forbids", bytes, id)
		}
	}
	// Allowed on the near node: it flows. Revoked: it stops.
	mu.Lock()
	unitAllowed = true
	mu.Unlock()
	a.Room("call").SetPolicy(nearPolicy)
	for _, id := range ids {
		waitFor(t, "far track "+id, func() bool { return unit.track(id) != nil })
		readContinuous(t, unit.track(id), 5)
	}
	mu.Lock()
	unitAllowed = false
	mu.Unlock()
	a.Room("call").SetPolicy(nearPolicy)
	waitFor(t, "the relay stops sending", func() bool { return len(ra.Stats().Sent) == 0 })
	b0, _, _ := sentOf(ra.Stats(), ids[0])
	time.Sleep(500 * time.Millisecond) // a quiet period to observe
	if b1, _, _ := sentOf(ra.Stats(), ids[0]); b1 != b0 {
		t.Fatal("the relay went on sending after the near policy revoked it")
	}
}

// TestRelayStar: C's publisher reaches B's subscriber through the owner A (A–B and A–C relays).
func TestRelayStar(t *testing.T) {
	a, b, c := newTestSFU(t), newTestSFU(t), newTestSFU(t)
	_, ba, _ := relayPair(t, a, "city", b, "district-b", "call")
	_, ca, _ := relayPair(t, a, "city", c, "district-c", "call")
	_, _, ids := publishAV(t, c, "call", "unit")
	publishedIDs(t, a, "call", 2)
	publishedIDs(t, b, "call", 2)
	hall := joinPeer(t, b, "call", "hall")
	subscribeAll(t, hall, ids...)
	for _, id := range ids {
		readContinuous(t, hall.track(id), 10)
		if receivedOf(ba.Stats(), id) == 0 {
			t.Fatalf("B's relay counters show nothing of %s", id)
		}
		if bytes, _, _ := sentOf(ca.Stats(), id); bytes == 0 {
			t.Fatalf("C's relay counters show nothing of %s sent", id)
		}
	}
	// Nothing is echoed back: C's room holds only its own two tracks.
	if n := len(c.Room("call").Tracks()); n != 2 {
		t.Fatalf("C's room has %d tracks, want its own 2", n)
	}
}

// TestRelayKeyframeForNewFarSubscriber: a second subscriber on the far node starts on a keyframe
// asked for over the relay.
func TestRelayKeyframeForNewFarSubscriber(t *testing.T) {
	a, b := newTestSFU(t), newTestSFU(t)
	_, _, ids := publishAV(t, a, "call", "leader")
	ra, _, _ := relayPair(t, a, "city", b, "district", "call")
	publishedIDs(t, b, "call", 2)
	video := videoOf(a, "call", ids)
	first := joinPeer(t, b, "call", "first")
	subscribeAll(t, first, video)
	readContinuous(t, first.track(video), 5)
	_, _, plis := sentOf(ra.Stats(), video)
	second := joinPeer(t, b, "call", "second")
	start := time.Now()
	subscribeAll(t, second, video)
	// Its stream reaches a keyframe (usually the one its PLI asked for, within a few packets; in
	// CI under -race and load it has come only with the source's own, every 30: see
	// docs/architecture.md "Not built yet"), and the PLI crossed the relay (below).
	pkts := readContinuous(t, second.track(video), 40)
	if !slices.ContainsFunc(pkts, func(p *rtp.Packet) bool { return isVP8Keyframe(p.Payload) }) {
		t.Fatal("no keyframe in the second far subscriber's first 40 packets")
	}
	t.Logf("second far subscriber's first keyframe after %v", time.Since(start))
	waitFor(t, "a PLI relayed up", func() bool { _, _, n := sentOf(ra.Stats(), video); return n > plis })
}

// TestRelayDropAndRestore: the relay closed and opened again (the carrier's recovery) brings the
// media back to the far subscriber.
func TestRelayDropAndRestore(t *testing.T) {
	a, b := newTestSFU(t), newTestSFU(t)
	_, _, ids := publishAV(t, a, "call", "leader")
	_, _, closeBoth := relayPair(t, a, "city", b, "district", "call")
	publishedIDs(t, b, "call", 2)
	hall := joinPeer(t, b, "call", "hall")
	subscribeAll(t, hall, ids...)
	for _, id := range ids {
		readContinuous(t, hall.track(id), 5)
	}
	closeBoth()
	waitFor(t, "relayed tracks gone", func() bool { return len(b.Room("call").Tracks()) == 0 })
	hall.mu.Lock()
	ended := hall.ended[ids[0]] || hall.ended[ids[1]]
	hall.tracks = map[string]*webrtc.TrackRemote{}
	hall.mu.Unlock()
	waitFor(t, "subscription ended", func() bool {
		hall.mu.Lock()
		defer hall.mu.Unlock()
		return ended || hall.ended[ids[0]] && hall.ended[ids[1]]
	})
	ra, _, _ := relayPair(t, a, "city", b, "district", "call")
	publishedIDs(t, b, "call", 2)
	subscribeAll(t, hall, ids...)
	for _, id := range ids {
		readContinuous(t, hall.track(id), 5)
	}
	if bytes, _, _ := sentOf(ra.Stats(), ids[0]); bytes == 0 {
		t.Fatal("the new relay's counters show nothing sent")
	}
}

// TestRelayForwardingAllocatesNothing: forwarding into a relay (counting, the audio level
// carried) allocates nothing per packet.
// relayTestTrack is an audio track with a level extension (id 1) forwarded into one relay down
// track that writes to w; raw is a packet of it with level 5 and a payload of size bytes.
func relayTestTrack(t testing.TB, size int) (tr *publishedTrack, rt *relayTrack, w *recordingWriter, raw []byte) {
	t.Helper()
	tr, _ = testTrack(t, time.Hour)
	tr.remoteKind, tr.info.Kind = webrtc.RTPCodecTypeAudio, KindAudio
	tr.keyframe, tr.frameSize = nil, nil
	tr.audioLevel = 1
	r := &Relay{sentPackets: tr.metrics.relayPackets.WithLabelValues("peer", "sent"),
		sentBytes: tr.metrics.relayBytes.WithLabelValues("peer", "sent")}
	d := newDownTrack(tr, nil, tr.metrics)
	d.pinned, d.levelExt = true, relayAudioLevelID
	subs := []string{"x"}
	d.relaySubs.Store(&subs)
	rt = &relayTrack{DownTrack: d, stats: &relayCounters{}, r: r}
	w = &recordingWriter{}
	ctx := bindContext{codecs: []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 120},
	}, ssrc: 4242, writer: w}
	if _, err := rt.Bind(ctx); err != nil {
		t.Fatal(err)
	}
	tr.addDown(d)
	h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 777}
	if err := h.SetExtension(1, []byte{0x85}); err != nil {
		t.Fatal(err)
	}
	return tr, rt, w, marshal(t, h, make([]byte, size))
}

func TestRelayForwardingAllocatesNothing(t *testing.T) {
	tr, rt, w, raw := relayTestTrack(t, 100)
	var p packet
	seq := uint16(0)
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		binary.BigEndian.PutUint16(raw[2:], seq)
		tr.receive(tr.layer(0), raw, &p, now())
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per packet forwarded into a relay, want 0", allocs)
	}
	if rt.stats.packets.Load() < 1000 {
		t.Fatalf("%d packets counted", rt.stats.packets.Load())
	}
	w.keep = true
	seq++
	binary.BigEndian.PutUint16(raw[2:], seq)
	tr.receive(tr.layer(0), raw, &p, now())
	if got := w.headers[0].GetExtension(relayAudioLevelID); len(got) != 1 || got[0]&0x7f != 0x05 {
		t.Fatalf("audio level on the relay: %x, want the source's 0x05", got)
	}
}

// TestRelaySimulcastLayersOnDemand: a far subscriber's allocator picks among the layers of a
// relayed simulcast track, and only the layers it uses cross.
func TestRelaySimulcastLayersOnDemand(t *testing.T) {
	a, b := newTestSFU(t), newTestSFU(t)
	pub := joinPeer(t, a, "sim", "leader")
	publishSimulcast(t, pub)
	ids := publishedIDs(t, a, "sim", 1)
	waitFor(t, "three layers", func() bool { return len(*a.Room("sim").track(ids[0]).layers.Load()) == 3 })
	ra, _, _ := relayPair(t, a, "city", b, "district", "sim")
	waitFor(t, "three relayed layers", func() bool {
		tr := b.Room("sim").track(ids[0])
		return tr != nil && len(*tr.layers.Load()) == 3 && tr.Info().Simulcast
	})
	hall := joinPeer(t, b, "sim", "hall")
	subscribeAll(t, hall, ids...)
	tr := hall.track(ids[0])
	layerOf := func() byte {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			t.Fatal(err)
		}
		return pkt.Payload[len(pkt.Payload)-1]
	}
	onlySent := func(rid string) func() bool {
		return func() bool {
			st := ra.Stats()
			return len(st.Sent) == 1 && st.Sent[0].RID == rid
		}
	}
	waitFor(t, "top layer at the far subscriber", func() bool { return layerOf() == 2 })
	waitFor(t, "only the top layer crosses", onlySent("f"))
	if err := hall.p.SetTrackSettings(ids[0], TrackSettings{Width: 160, Height: 120}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "low layer for a small far tile", func() bool { return layerOf() == 0 })
	waitFor(t, "only the low layer crosses", onlySent("q"))
	waitFor(t, "the publisher is told to pause h and f", func() bool {
		pub.mu.Lock()
		defer pub.mu.Unlock()
		return len(pub.layersPaused) > 0 && pub.layersPaused[len(pub.layersPaused)-1] == "h,f"
	})
}

// TestRelayCarriesAudioLevels: the far node's active speaker detection hears a speaker of the
// near node.
func TestRelayCarriesAudioLevels(t *testing.T) {
	a, b := newTestSFU(t), newTestSFU(t)
	loud := joinPeer(t, a, "talk", "loud")
	publishSpeech(t, loud, 30)
	ids := publishedIDs(t, a, "talk", 1)
	relayPair(t, a, "city", b, "district", "talk")
	publishedIDs(t, b, "talk", 1)
	listener := joinPeer(t, b, "talk", "listener")
	if err := listener.p.Subscribe(ids...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the far node names the near speaker", func() bool {
		listener.mu.Lock()
		defer listener.mu.Unlock()
		return len(listener.speakers) > 0 && listener.speakers[len(listener.speakers)-1] == "loud"
	})
}

// TestRelayedTrackRecorded: the owner node records a track published on another node; the
// recording alone makes it cross.
func TestRelayedTrackRecorded(t *testing.T) {
	a, b := newTestSFU(t), newTestSFU(t)
	_, _, ids := publishAV(t, a, "call", "hall")
	ra, _, _ := relayPair(t, a, "district", b, "city", "call")
	publishedIDs(t, b, "call", 2)
	video := videoOf(a, "call", ids)
	sink := newPacketSink()
	rec, err := b.Room("call").Record(video, sink)
	if err != nil {
		t.Fatal(err)
	}
	waitForCount(t, sink, 20)
	if bytes, _, _ := sentOf(ra.Stats(), video); bytes == 0 {
		t.Fatal("the recording's demand did not cross the relay")
	}
	rec.Stop()
}

// BenchmarkForwardRelay measures one packet forwarded into a relay: the down track, the level
// carried on, the counters.
func BenchmarkForwardRelay(b *testing.B) {
	tr, _, _, raw := relayTestTrack(b, 1100)
	var p packet
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		binary.BigEndian.PutUint16(raw[2:], uint16(i))
		tr.receive(tr.layer(0), raw, &p, now())
	}
}

// TestRelaySurvivesALinkCut: the nodes' network drops everything between them for 7 s (the link
// goes "disconnected"); the far subscriber's tracks stay published, and media comes back by
// itself when the network does.
func TestRelaySurvivesALinkCut(t *testing.T) {
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.78.0.0/24", LoggerFactory: logging.NewDefaultLoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	ips := []string{"10.78.0.1", "10.78.0.2", "10.78.0.3", "10.78.0.4"} // node A, node B, publisher, subscriber
	nets := make([]*vnet.Net, len(ips))
	for i, ip := range ips {
		if nets[i], err = vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}}); err != nil {
			t.Fatal(err)
		}
		if err := router.AddNet(nets[i]); err != nil {
			t.Fatal(err)
		}
	}
	var cut atomic.Bool
	router.AddChunkFilter(func(c vnet.Chunk) bool {
		src, dst := c.SourceAddr().(*net.UDPAddr), c.DestinationAddr().(*net.UDPAddr)
		between := src != nil && dst != nil && (src.IP.String() == ips[0] && dst.IP.String() == ips[1] ||
			src.IP.String() == ips[1] && dst.IP.String() == ips[0])
		return !(between && cut.Load())
	})
	if err := router.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = router.Stop() })
	node := func(i int) *SFU {
		s, err := New(Config{ListenIP: ips[i], Net: nets[i], PLIThrottle: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a, b := node(0), node(1)
	pub := joinPeerOn(t, a, "call", "leader", nets[2])
	video := startSource(t, true)
	senders := pub.publish(video.track)
	go answerPLI(senders[0], video)
	ids := publishedIDs(t, a, "call", 1)
	states := make(chan string, 64)
	relayPair(t, a, "city", b, "district", "call", RelayTrackEvents(func(e Event) {
		if st, ok := e.(EventRelayState); ok {
			select {
			case states <- st.State:
			default:
			}
		}
	}))
	publishedIDs(t, b, "call", 1)
	hall := joinPeerOn(t, b, "call", "hall", nets[3])
	subscribeAll(t, hall, ids...)
	readContinuous(t, hall.track(ids[0]), 10)

	cut.Store(true)
	deadline := time.After(15 * time.Second)
	for interrupted := false; !interrupted; {
		select {
		case st := <-states:
			interrupted = st == webrtc.PeerConnectionStateDisconnected.String() || st == webrtc.PeerConnectionStateFailed.String()
		case <-deadline:
			t.Fatal("the relay's link never showed as interrupted while cut")
		}
	}
	if n := len(b.Room("call").Tracks()); n != 1 {
		t.Fatalf("%d relayed tracks during the cut, want the 1 still published", n)
	}
	tr := hall.track(ids[0])
	drained := 0
	for { // what arrived before the cut, until nothing more comes
		_ = tr.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if _, _, err := tr.ReadRTP(); err != nil {
			break
		}
		drained++
	}
	t.Logf("%d packets from before the cut read", drained)
	cut.Store(false)
	_ = tr.SetReadDeadline(time.Now().Add(15 * time.Second))
	for range 10 { // media back (sequence numbers may jump over what the cut lost)
		if _, _, err := tr.ReadRTP(); err != nil {
			t.Fatalf("media did not come back after the link did: %v", err)
		}
	}
}

// TestRelayPortsStayInTheirRange: with RelayPortMin/Max set, both connections of a relay take
// their UDP ports from that range (a firewall between nodes names them), and media crosses.
func TestRelayPortsStayInTheirRange(t *testing.T) {
	const lo, hi = 41700, 41719
	a, err := New(Config{ListenIP: "127.0.0.1", LoopbackOnly: true, RelayPortMin: lo, RelayPortMax: hi})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	b := newTestSFU(t)
	_, _, ids := publishAV(t, a, "call", "leader")
	ra, _, _ := relayPair(t, a, "city", b, "district", "call")
	publishedIDs(t, b, "call", 2) // announced on b
	hall := joinPeer(t, b, "call", "hall")
	subscribeAll(t, hall, ids...)
	readContinuous(t, hall.track(ids[0]), 10)
	// a sends (b publishes nothing, so a's receiving connection is never offered).
	for name, pc := range map[string]*webrtc.PeerConnection{"sending": ra.out} {
		stats := pc.GetStats()
		found := false
		for _, s := range stats {
			if c, ok := s.(webrtc.ICECandidateStats); ok && c.Type == webrtc.StatsTypeLocalCandidate {
				found = true
				if c.Port < lo || c.Port > hi {
					t.Fatalf("%s connection's local candidate on port %d, outside %d-%d", name, c.Port, lo, hi)
				}
			}
		}
		if !found {
			t.Fatalf("%s connection has no local candidate", name)
		}
	}
	if _, err := New(Config{ListenIP: "127.0.0.1", LoopbackOnly: true, RelayPortMin: hi, RelayPortMax: lo}); err == nil {
		t.Fatal("a reversed relay port range was taken")
	}
}

// TestRelayCarriesMutes: a publisher muting its track after the announcement shows muted on the
// far node too, and unmuted again.
func TestRelayCarriesMutes(t *testing.T) {
	a, b := newTestSFU(t), newTestSFU(t)
	leader, _, ids := publishAV(t, a, "call", "leader")
	relayPair(t, a, "city", b, "district", "call")
	publishedIDs(t, b, "call", 2)
	mutedOnB := func(id string) bool {
		for _, info := range b.Room("call").Tracks() {
			if info.ID == id {
				return info.Muted
			}
		}
		return false
	}
	if err := leader.p.SetMuted(ids[0], true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the far track muted", func() bool { return mutedOnB(ids[0]) })
	if mutedOnB(ids[1]) {
		t.Fatal("the other track muted too")
	}
	if err := leader.p.SetMuted(ids[0], false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the far track unmuted", func() bool { return !mutedOnB(ids[0]) })
}
