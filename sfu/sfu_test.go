package sfu

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newTestSFU(t *testing.T) *SFU {
	t.Helper()
	s, err := New(Config{ListenIP: "127.0.0.1", LoopbackOnly: true, PLIThrottle: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// peer is a pion client of the SFU, wired directly to a Participant (no signaling), as a browser
// would be: it offers on its publisher connection and answers the SFU's subscriber offers.
type peer struct {
	t      *testing.T
	p      *Participant
	pub    *webrtc.PeerConnection
	sub    *webrtc.PeerConnection
	events chan Event
	done   chan struct{}
	wg     sync.WaitGroup

	mu           sync.Mutex
	speakers     []string // EventActiveSpeaker, in order
	layersPaused []string // EventLayersPaused RIDs, comma-joined, in order
	tracks       map[string]*webrtc.TrackRemote
	ended        map[string]bool
	pending      map[Target][]webrtc.ICECandidateInit
}

// addRemoteCandidate applies an SFU candidate, or keeps it until the connection has the remote
// description: the publisher answer reaches the client on another path than the candidates.
func (c *peer) addRemoteCandidate(target Target, cand webrtc.ICECandidateInit) {
	pc := c.pub
	if target == TargetSubscriber {
		pc = c.sub
	}
	c.mu.Lock()
	if pc.RemoteDescription() == nil {
		if c.pending == nil {
			c.pending = map[Target][]webrtc.ICECandidateInit{}
		}
		c.pending[target] = append(c.pending[target], cand)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if err := pc.AddICECandidate(cand); err != nil {
		c.t.Errorf("client add candidate: %v", err)
	}
}

func (c *peer) flushCandidates(target Target) {
	c.mu.Lock()
	cands := c.pending[target]
	delete(c.pending, target)
	c.mu.Unlock()
	for _, cand := range cands {
		c.addRemoteCandidate(target, cand)
	}
}

// newClientPC is a browser-like pion PeerConnection on loopback, or on vnet when given.
func newClientPC(t *testing.T, vnet transport.Net) *webrtc.PeerConnection {
	t.Helper()
	return newClientPCWith(t, vnet, false)
}

// newClientPCWith is newClientPC that also offers RED for audio (as browsers do) when red is set.
func newClientPCWith(t *testing.T, vnet transport.Net, red bool) *webrtc.PeerConnection {
	t.Helper()
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if vnet != nil {
		se.SetNet(vnet)
	} else {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	if red {
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeRED,
			ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"}, PayloadType: 63}, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir)).
		NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

func joinPeer(t *testing.T, s *SFU, room, id string) *peer {
	t.Helper()
	return joinPeerOn(t, s, room, id, nil)
}

func joinPeerOn(t *testing.T, s *SFU, room, id string, vnet transport.Net) *peer {
	t.Helper()
	return joinPeerWith(t, s, room, id, newClientPC(t, vnet), newClientPC(t, vnet))
}

// joinPeerWith joins a peer made of the given publisher and subscriber connections.
func joinPeerWith(t *testing.T, s *SFU, room, id string, pub, sub *webrtc.PeerConnection) *peer {
	t.Helper()
	c := &peer{t: t, pub: pub, sub: sub, events: make(chan Event, 256), done: make(chan struct{}),
		tracks: map[string]*webrtc.TrackRemote{}, ended: map[string]bool{}}
	p, err := s.Join(room, id, EventSinkFunc(func(e Event) {
		select {
		case c.events <- e:
		case <-c.done:
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	c.p = p
	for target, pc := range map[Target]*webrtc.PeerConnection{TargetPublisher: c.pub, TargetSubscriber: c.sub} {
		target := target
		pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
			if cand != nil {
				if err := p.AddICECandidate(target, cand.ToJSON()); err != nil {
					t.Errorf("add candidate: %v", err)
				}
			}
		})
	}
	c.sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.mu.Lock()
		c.tracks[tr.ID()] = tr
		c.mu.Unlock()
	})
	c.wg.Add(1)
	go c.loop()
	t.Cleanup(c.close)
	return c
}

func (c *peer) loop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.done:
			return
		case e := <-c.events:
			switch e := e.(type) {
			case EventICECandidate:
				if e.Candidate == nil {
					continue
				}
				c.addRemoteCandidate(e.Target, *e.Candidate)
			case EventSubscriberOffer:
				if err := c.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: e.SDP}); err != nil {
					c.t.Errorf("client set offer: %v", err)
					continue
				}
				answer, err := c.sub.CreateAnswer(nil)
				if err == nil {
					err = c.sub.SetLocalDescription(answer)
				}
				if err == nil {
					err = c.p.SetSubscriberAnswer(answer.SDP)
				}
				c.flushCandidates(TargetSubscriber)
				if err != nil {
					c.t.Errorf("client answer: %v", err)
				}
			case EventLayersPaused:
				c.mu.Lock()
				c.layersPaused = append(c.layersPaused, strings.Join(e.RIDs, ","))
				c.mu.Unlock()
			case EventActiveSpeaker:
				c.mu.Lock()
				c.speakers = append(c.speakers, e.ParticipantID)
				c.mu.Unlock()
			case EventSubscriptionEnded:
				c.mu.Lock()
				c.ended[e.TrackID] = true
				c.mu.Unlock()
			}
		}
	}
}

func (c *peer) close() {
	close(c.done)
	c.wg.Wait()
	c.p.Close("test done")
	_ = c.pub.Close()
	_ = c.sub.Close()
}

// publish adds tracks to the client's publisher connection and negotiates them with the SFU.
func (c *peer) publish(tracks ...webrtc.TrackLocal) []*webrtc.RTPSender {
	c.t.Helper()
	var senders []*webrtc.RTPSender
	for _, tr := range tracks {
		s, err := c.pub.AddTrack(tr)
		if err != nil {
			c.t.Fatal(err)
		}
		senders = append(senders, s)
	}
	offer, err := c.pub.CreateOffer(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.pub.SetLocalDescription(offer); err != nil {
		c.t.Fatal(err)
	}
	answer, err := c.p.Publish(offer.SDP)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		c.t.Fatal(err)
	}
	c.flushCandidates(TargetPublisher)
	return senders
}

func (c *peer) track(id string) *webrtc.TrackRemote {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tracks[id]
}

// source sends synthetic media on a static RTP track until stopped: VP8 with a keyframe every
// 30 frames (and on demand), or Opus-sized audio frames.
type source struct {
	track *webrtc.TrackLocalStaticRTP
	video bool
	h264  bool
	stop  chan struct{}
	wg    sync.WaitGroup
	key   chan struct{}
}

func startSource(t *testing.T, video bool) *source {
	t.Helper()
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	if video {
		codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	}
	return startSourceCodec(t, codec)
}

func startSourceCodec(t *testing.T, codec webrtc.RTPCodecCapability) *source {
	t.Helper()
	video := strings.HasPrefix(codec.MimeType, "video/")
	tr, err := webrtc.NewTrackLocalStaticRTP(codec, map[bool]string{true: "video", false: "audio"}[video], "stream")
	if err != nil {
		t.Fatal(err)
	}
	s := &source{track: tr, video: video, h264: codec.MimeType == webrtc.MimeTypeH264, stop: make(chan struct{}), key: make(chan struct{}, 1)}
	s.wg.Add(1)
	go s.run()
	t.Cleanup(func() { close(s.stop); s.wg.Wait() })
	return s
}

func (s *source) run() {
	defer s.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var seq uint16
	var ts uint32
	for frame := 0; ; frame++ {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		payload := []byte{0xfc, 0xff, 0xfe} // an Opus frame's size class is irrelevant here
		if s.video {
			payload = []byte{0x10, 0x01, 0x00, 0x00} // delta frame
			select {
			case <-s.key:
				payload[1] = 0x00
			default:
			}
			if frame%30 == 0 {
				payload[1] = 0x00
			}
			if s.h264 { // single NAL units: IDR (5) when a keyframe is due, else a non-IDR slice (1)
				key := payload[1] == 0x00
				payload = []byte{0x41, 0x9a, 0x00}
				if key {
					payload[0] = 0x65
				}
			}
			ts += 1800
		} else {
			ts += 960
		}
		seq++
		_ = s.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: s.video}, Payload: payload})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// publishedIDs waits for the SFU to announce n of the peer's tracks and returns their ids.
func publishedIDs(t *testing.T, s *SFU, room string, n int) []string {
	t.Helper()
	var ids []string
	waitFor(t, "tracks published", func() bool {
		r := s.Room(room)
		if r == nil {
			return false
		}
		infos := r.Tracks()
		ids = ids[:0]
		for _, i := range infos {
			ids = append(ids, i.ID)
		}
		return len(ids) >= n
	})
	return ids
}

func TestForwardingBetweenPionPeers(t *testing.T) {
	s := newTestSFU(t)
	a := joinPeer(t, s, "room1", "alice")
	b := joinPeer(t, s, "room1", "bob")
	video, audio := startSource(t, true), startSource(t, false)
	senders := a.publish(video.track, audio.track)
	go func() { // the publisher answers keyframe requests, like a browser
		for {
			pkts, _, err := senders[0].ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if _, ok := p.(*rtcp.PictureLossIndication); ok {
					select {
					case video.key <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	ids := publishedIDs(t, s, "room1", 2)
	if err := b.p.Subscribe(ids...); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		waitFor(t, "subscriber track "+id, func() bool { return b.track(id) != nil })
	}
	for _, id := range ids {
		tr := b.track(id)
		if tr.StreamID() != "alice" {
			t.Fatalf("stream id %q, want the publisher's participant id", tr.StreamID())
		}
		var last *rtp.Packet
		for range 20 {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				t.Fatal(err)
			}
			if last != nil && pkt.SequenceNumber != last.SequenceNumber+1 {
				t.Fatalf("%s: sequence jumped %d → %d", tr.Kind(), last.SequenceNumber, pkt.SequenceNumber)
			}
			if last != nil && pkt.Timestamp == last.Timestamp {
				t.Fatalf("%s: timestamp did not advance", tr.Kind())
			}
			last = pkt
		}
	}
	// The subscriber gets sender reports for what it receives.
	gotSR := make(chan struct{})
	b.mu.Lock()
	receivers := b.sub.GetReceivers()
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			pkts, _, err := receivers[0].ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if _, ok := p.(*rtcp.SenderReport); ok {
					close(gotSR)
					return
				}
			}
		}
	}()
	select {
	case <-gotSR:
	case <-ctx.Done():
		t.Fatal("no RTCP sender report reached the subscriber")
	}

	// Unsubscribing stops the track at the subscriber; the publisher leaving ends the rest.
	if err := b.p.Unsubscribe(ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := b.p.Unsubscribe(ids[0]); !errors.Is(err, ErrTrackNotFound) {
		t.Fatalf("second unsubscribe: %v", err)
	}
	a.p.Close("left")
	waitFor(t, "subscription ended", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.ended[ids[1]]
	})
	if r := s.Room("room1"); r == nil || len(r.Tracks()) != 0 {
		t.Fatal("tracks of a participant who left are still listed")
	}
}

func TestSSRCRewritten(t *testing.T) {
	s := newTestSFU(t)
	a := joinPeer(t, s, "r", "a")
	b := joinPeer(t, s, "r", "b")
	audio := startSource(t, false)
	senders := a.publish(audio.track)
	ids := publishedIDs(t, s, "r", 1)
	if info := s.Room("r").Tracks()[0]; info.SourceID != "audio" || info.ParticipantID != "a" || info.Kind != KindAudio {
		t.Fatalf("track info %+v: want the publisher's own track id, participant and kind", info)
	}
	if err := b.p.Subscribe(ids...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "track", func() bool { return b.track(ids[0]) != nil })
	pkt, _, err := b.track(ids[0]).ReadRTP()
	if err != nil {
		t.Fatal(err)
	}
	pubSSRC := senders[0].GetParameters().Encodings[0].SSRC
	if uint32(pubSSRC) == pkt.SSRC {
		t.Fatalf("subscriber sees the publisher's SSRC %d", pkt.SSRC)
	}
}

type denyAll struct{}

func (denyAll) Allow(string, TrackInfo) bool { return false }

func TestPolicyRefusesAndRevokes(t *testing.T) {
	s := newTestSFU(t)
	a := joinPeer(t, s, "p", "a")
	b := joinPeer(t, s, "p", "b")
	a.publish(startSource(t, false).track)
	ids := publishedIDs(t, s, "p", 1)
	if err := b.p.Subscribe(ids...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "track", func() bool { return b.track(ids[0]) != nil })
	s.Room("p").SetPolicy(denyAll{})
	waitFor(t, "revoked", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.ended[ids[0]] })
	if err := b.p.Subscribe(ids...); !errors.Is(err, ErrForbidden) {
		t.Fatalf("subscribe against policy: %v", err)
	}
	if err := a.p.Subscribe(ids...); !errors.Is(err, ErrForbidden) {
		t.Fatalf("subscribing to one's own track: %v", err)
	}
	if err := b.p.Subscribe("TR_nope"); !errors.Is(err, ErrTrackNotFound) {
		t.Fatalf("unknown track: %v", err)
	}
}

func TestOfferValidation(t *testing.T) {
	s := newTestSFU(t)
	a := joinPeer(t, s, "v", "a")
	if _, err := a.p.Publish("not an sdp"); !errors.Is(err, ErrBadSDP) {
		t.Fatalf("garbage SDP: %v", err)
	}
	av1Only := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 45\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:45 AV1/90000\r\n" +
		"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 " +
		"AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA\r\na=setup:actpass\r\n"
	if _, err := a.p.Publish(av1Only); !errors.Is(err, ErrUnsupportedCodec) {
		t.Fatalf("AV1-only offer: %v", err)
	}
	if err := a.p.SetSubscriberAnswer("x"); !errors.Is(err, ErrWrongState) {
		t.Fatalf("answer without offer: %v", err)
	}
	if _, err := s.Join("v", "a", EventSinkFunc(func(Event) {})); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate join: %v", err)
	}
}

func TestCloseEndsEveryParticipant(t *testing.T) {
	s, err := New(Config{LoopbackOnly: true, TCPPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	reasons := []string{}
	for _, id := range []string{"a", "b"} {
		if _, err := s.Join("room", id, EventSinkFunc(func(e Event) {
			if c, ok := e.(EventClosed); ok {
				mu.Lock()
				reasons = append(reasons, c.Reason)
				mu.Unlock()
			}
		})); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(reasons) != 2 || reasons[0] != "shutdown" {
		t.Fatalf("closed events: %v", reasons)
	}
	if n := testutil.CollectAndCount(s.metrics.roomParticipants); n != 0 {
		t.Fatalf("%d room series left after every room closed", n)
	}
	if _, err := s.Join("room", "c", EventSinkFunc(func(Event) {})); !errors.Is(err, ErrClosed) {
		t.Fatalf("join after close: %v", err)
	}
}

func TestH264Forwarded(t *testing.T) {
	s := newTestSFU(t)
	a := joinPeer(t, s, "h", "a")
	b := joinPeer(t, s, "h", "b")
	src := startSourceCodec(t, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"})
	a.publish(src.track)
	ids := publishedIDs(t, s, "h", 1)
	if info := s.Room("h").Tracks()[0]; info.Codec != webrtc.MimeTypeH264 {
		t.Fatalf("published codec %q", info.Codec)
	}
	if err := b.p.Subscribe(ids...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "H.264 track", func() bool { return b.track(ids[0]) != nil })
	tr := b.track(ids[0])
	pkt, _, err := tr.ReadRTP()
	if err != nil {
		t.Fatal(err)
	}
	if tr.Codec().MimeType != webrtc.MimeTypeH264 || pkt.Payload[0]&0x1f != 5 {
		t.Fatalf("subscriber got %s, first NAL type %d: want H.264 starting on an IDR", tr.Codec().MimeType, pkt.Payload[0]&0x1f)
	}
}

// publishSimulcast publishes three VP8 layers (RIDs q, h, f) of one track from c and sends them
// until the test ends; every payload's last byte names its layer, and each layer sends a keyframe
// every 10 frames. Like a browser, it marks packets with the mid and rid header extensions.
func publishSimulcast(t *testing.T, c *peer) {
	t.Helper()
	publishSimulcastSized(t, c, [3]int{0, 0, 0})
}

// publishSimulcastSized is publishSimulcast with each layer's frames padded to a size in bytes
// (at 50 frames/s: 100 bytes ≈ 40 kbit/s), for tests of bandwidth allocation.
func publishSimulcastSized(t *testing.T, c *peer, sizes [3]int) {
	t.Helper()
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	var tracks []*webrtc.TrackLocalStaticRTP
	for _, rid := range []string{"q", "h", "f"} {
		tr, err := webrtc.NewTrackLocalStaticRTP(codec, "video", "stream", webrtc.WithRTPStreamID(rid))
		if err != nil {
			t.Fatal(err)
		}
		tracks = append(tracks, tr)
	}
	sender, err := c.pub.AddTrack(tracks[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range tracks[1:] {
		if err := sender.AddEncoding(l); err != nil {
			t.Fatal(err)
		}
	}
	c.publish()
	var midID, ridID uint8
	for _, ext := range sender.GetParameters().HeaderExtensions {
		switch ext.URI {
		case sdp.SDESMidURI:
			midID = uint8(ext.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(ext.ID)
		}
	}
	var mid string
	for _, tr := range c.pub.GetTransceivers() {
		if tr.Sender() == sender {
			mid = tr.Mid()
		}
	}
	if midID == 0 || ridID == 0 || mid == "" {
		t.Fatalf("simulcast not negotiated: mid ext %d, rid ext %d, mid %q", midID, ridID, mid)
	}
	every(t, 20*time.Millisecond, func(frame int) {
		for q, tr := range tracks {
			payload := vp8Frame(uint16(frame+q*1000), uint8(frame), frame%10 == 0, 160<<q, 120<<q)
			if pad := sizes[q] - len(payload) - 1; pad > 0 {
				payload = append(payload, make([]byte, pad)...)
			}
			payload = append(payload, byte(q))
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(frame),
				Timestamp: uint32(frame) * 1800, Marker: true}, Payload: payload}
			_ = pkt.Header.SetExtension(midID, []byte(mid))
			_ = pkt.Header.SetExtension(ridID, []byte(tr.RID()))
			_ = tr.WriteRTP(pkt)
		}
	})
}

func TestSimulcastLayersFollowTileSize(t *testing.T) {
	s := newTestSFU(t)
	a := joinPeer(t, s, "sim", "a")
	b := joinPeer(t, s, "sim", "b")
	publishSimulcast(t, a)
	ids := publishedIDs(t, s, "sim", 1)
	if len(ids) != 1 {
		t.Fatalf("%d tracks published for one simulcast track", len(ids))
	}
	t3 := s.Room("sim").track(ids[0])
	waitFor(t, "three layers", func() bool { return len(*t3.layers.Load()) == 3 })
	if !t3.Info().Simulcast {
		t.Fatal("track not marked simulcast")
	}
	if err := b.p.Subscribe(ids...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "subscriber track", func() bool { return b.track(ids[0]) != nil })
	tr := b.track(ids[0])
	layerOf := func() byte {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			t.Fatal(err)
		}
		return pkt.Payload[len(pkt.Payload)-1]
	}
	waitFor(t, "top layer", func() bool { return layerOf() == 2 })
	if err := b.p.SetTrackSettings(ids[0], TrackSettings{Width: 160, Height: 120}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "low layer for a small tile", func() bool { return layerOf() == 0 })
	waitFor(t, "the publisher is told to pause h and f", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.layersPaused) > 0 && a.layersPaused[len(a.layersPaused)-1] == "h,f"
	})
	if err := b.p.SetTrackSettings(ids[0], TrackSettings{Width: 1280, Height: 720}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "top layer for a large tile", func() bool { return layerOf() == 2 })
	waitFor(t, "the publisher is told to pause only h", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.layersPaused[len(a.layersPaused)-1] == "h"
	})
	// The room's metrics saw the switches and what is forwarded.
	if n := testutil.ToFloat64(s.metrics.roomLayerSwitches.WithLabelValues("sim")); n < 2 {
		t.Fatalf("room layer switches %v, want at least 2", n)
	}
	waitFor(t, "room forwarded bitrate", func() bool {
		return testutil.ToFloat64(s.metrics.roomForwardedBitrate.WithLabelValues("sim")) > 0
	})
	// A thin link (REMB of 1 kbit/s) pauses the video rather than freezing it at a high layer.
	b.p.bwe.setREMB(1000)
	waitFor(t, "pause on a thin link", func() bool { return (*t3.downs.Load())[0].paused.Load() })
}

// publishSpeech publishes an Opus track whose packets carry an RFC 6464 audio level (0 loudest,
// 127 silence) until the test ends.
func publishSpeech(t *testing.T, c *peer, level uint8) {
	t.Helper()
	tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "stream")
	if err != nil {
		t.Fatal(err)
	}
	senders := c.publish(tr)
	var extID uint8
	for _, ext := range senders[0].GetParameters().HeaderExtensions {
		if ext.URI == sdp.AudioLevelURI {
			extID = uint8(ext.ID)
		}
	}
	if extID == 0 {
		t.Fatal("audio level extension not negotiated")
	}
	every(t, 20*time.Millisecond, func(i int) {
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i) * 960}, Payload: []byte{0xfc, 1, 2}}
		_ = pkt.Header.SetExtension(extID, []byte{0x80 | level})
		_ = tr.WriteRTP(pkt)
	})
}

func TestActiveSpeakerIsTheLoudest(t *testing.T) {
	s := newTestSFU(t)
	quiet := joinPeer(t, s, "talk", "quiet")
	loud := joinPeer(t, s, "talk", "loud")
	listener := joinPeer(t, s, "talk", "listener")
	publishSpeech(t, quiet, 110) // background noise
	publishSpeech(t, loud, 30)   // speech
	for _, c := range []*peer{quiet, loud, listener} {
		waitFor(t, "active speaker event at "+c.p.ID(), func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return len(c.speakers) > 0 && c.speakers[len(c.speakers)-1] == "loud"
		})
	}
	listener.mu.Lock()
	defer listener.mu.Unlock()
	for _, sp := range listener.speakers {
		if sp == "quiet" {
			t.Fatalf("background noise became the speaker: %v", listener.speakers)
		}
	}
}

// TestBandwidthStepSwitchesDownWithoutFreeze: the subscriber's REMB drops below what the top
// layer needs; the SFU moves it to the middle layer, and the frames keep coming (the old layer is
// forwarded until the new one's keyframe), with no gap over 300 ms.
func TestBandwidthStepSwitchesDownWithoutFreeze(t *testing.T) {
	s := newTestSFU(t)
	a := joinPeer(t, s, "step", "a")
	b := joinPeer(t, s, "step", "b")
	publishSimulcastSized(t, a, [3]int{150, 600, 1150}) // ≈ 60, 240, 460 kbit/s
	ids := publishedIDs(t, s, "step", 1)
	if err := b.p.Subscribe(ids...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "subscriber track", func() bool { return b.track(ids[0]) != nil })
	tr := b.track(ids[0])
	type frame struct {
		at    time.Time
		layer byte
	}
	read := func() frame {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			t.Fatal(err)
		}
		return frame{time.Now(), pkt.Payload[len(pkt.Payload)-1]}
	}
	waitFor(t, "top layer", func() bool { return read().layer == 2 })
	// Let the layers' bitrates be measured (every second) before the step.
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
		read()
	}
	// A receiver repeats its estimate, as browsers do.
	sendREMB := func(bps float32) (stop func()) {
		remb := &rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: bps, SSRCs: []uint32{uint32(tr.SSRC())}}
		return every(t, 100*time.Millisecond, func(int) { _ = b.sub.WriteRTCP([]rtcp.Packet{remb}) })
	}
	stop := sendREMB(300_000)
	prev := read()
	var maxGap time.Duration
	deadline := time.Now().Add(15 * time.Second)
	for prev.layer != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("still on layer %d 15 s after a 300 kbit/s estimate", prev.layer)
		}
		f := read()
		maxGap = max(maxGap, f.at.Sub(prev.at))
		prev = f
	}
	for range 25 { // and half a second after the switch
		f := read()
		maxGap = max(maxGap, f.at.Sub(prev.at))
		prev = f
	}
	stop()
	if maxGap > 300*time.Millisecond {
		t.Fatalf("the picture froze for %v across the bandwidth step, want ≤ 300 ms", maxGap)
	}
	t.Logf("switched to the middle layer; longest gap between frames %v", maxGap)

	// The link recovers: back to the top layer.
	stop = sendREMB(5_000_000)
	defer stop()
	waitFor(t, "top layer after the link recovered", func() bool { return read().layer == 2 })
}

// TestPublicAddressRewritesCandidates: with a public address configured (a server behind 1:1
// NAT), the SFU's host candidates carry that address. 127.0.0.2 stands in for the public one so
// that nothing leaves the machine.
func TestPublicAddressRewritesCandidates(t *testing.T) {
	s, err := New(Config{ListenIP: "127.0.0.1", LoopbackOnly: true, TCPPort: -1, PublicIPs: []string{"127.0.0.2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	cands := make(chan string, 16)
	p, err := s.Join("nat", "a", EventSinkFunc(func(e Event) {
		if c, ok := e.(EventICECandidate); ok && c.Candidate != nil {
			select {
			case cands <- c.Candidate.Candidate:
			default:
			}
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	client := newClientPC(t, nil)
	t.Cleanup(func() { _ = client.Close() })
	if _, err := client.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := client.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Publish(offer.SDP); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-cands:
		if !strings.Contains(c, " 127.0.0.2 ") || strings.Contains(c, " 127.0.0.1 ") {
			t.Fatalf("candidate %q does not carry the public address", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no candidate gathered")
	}
}

// every calls fn(0), fn(1), … every interval on a goroutine of its own until stop is called or
// the test ends, whichever comes first.
func every(t *testing.T, interval time.Duration, fn func(i int)) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			fn(i)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(done); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}
