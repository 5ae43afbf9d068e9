package cascade

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"sanji/auth"
	"sanji/call"
	"sanji/sfu"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testSecret = []byte("cascade-test-secret-of-at-least-32-bytes")

// testNode is one node of a test cascade: an SFU and its hub, accepting links on a test server.
type testNode struct {
	name string
	sfu  *sfu.SFU
	hub  *Hub
	srv  *httptest.Server
}

// newTestNodes starts nodes named by names, each able to reach the others.
func newTestNodes(t testing.TB, names ...string) map[string]*testNode {
	t.Helper()
	return newTestNodesGrace(t, 0, names...)
}

// newTestNodesGrace is newTestNodes with the hubs' grace for a lost link.
func newTestNodesGrace(t testing.TB, grace time.Duration, names ...string) map[string]*testNode {
	t.Helper()
	nodes := map[string]*testNode{}
	for _, name := range names {
		s, err := sfu.New(sfu.Config{ListenIP: "127.0.0.1", LoopbackOnly: true, PLIThrottle: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		n := &testNode{name: name, sfu: s}
		n.hub = New(Config{Node: func() string { return name }, SFU: s, Tokens: auth.NewSigner(testSecret),
			URL: func(peer string) string {
				if o := nodes[peer]; o != nil {
					return o.srv.URL
				}
				return ""
			},
			OpenRelay: testRelays(s), Grace: grace})
		n.srv = httptest.NewServer(n.hub)
		nodes[name] = n
		t.Cleanup(func() {
			n.hub.Close()
			n.srv.Close()
			_ = s.Close()
		})
	}
	return nodes
}

// media is what a test peer drives: an *sfu.Participant or a *Remote.
type media interface {
	Publish(string) (string, error)
	SetSubscriberAnswer(string) error
	AddICECandidate(sfu.Target, webrtc.ICECandidateInit) error
	Subscribe(...string) error
	Close(string)
}

// testPeer is a pion client whose media some node holds, wired without signaling.
type testPeer struct {
	t        testing.TB
	m        media
	pub, sub *webrtc.PeerConnection
	events   chan sfu.Event
	done     chan struct{}
	wg       sync.WaitGroup

	mu        sync.Mutex
	published []sfu.TrackInfo
	received  map[string]int // packets by track id (the SFU's)
	pending   map[sfu.Target][]webrtc.ICECandidateInit
	ended     map[string]bool // EventSubscriptionEnded
	closed    string
	latency   []time.Duration // of stamped packets (publishStream's), when recording
	record    bool
	sent      atomic.Int64 // packets publishStream sent
}

func newTestPeer(t testing.TB) *testPeer {
	c := &testPeer{t: t, pub: clientPC(t), sub: clientPC(t), events: make(chan sfu.Event, 256), done: make(chan struct{}),
		received: map[string]int{}, ended: map[string]bool{}, pending: map[sfu.Target][]webrtc.ICECandidateInit{}}
	c.sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				pkt, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				at, stamped := readStamp(pkt.Payload)
				c.mu.Lock()
				c.received[tr.ID()]++
				if stamped && c.record {
					c.latency = append(c.latency, sinceEpoch()-at)
				}
				c.mu.Unlock()
			}
		}()
	})
	return c
}

func (c *testPeer) sink() sfu.EventSink {
	return sfu.EventSinkFunc(func(e sfu.Event) {
		select {
		case c.events <- e:
		case <-c.done:
		}
	})
}

// attach wires c to its media m (joined with c.sink()) and starts its event loop.
func (c *testPeer) attach(m media) {
	c.m = m
	for target, pc := range map[sfu.Target]*webrtc.PeerConnection{sfu.TargetPublisher: c.pub, sfu.TargetSubscriber: c.sub} {
		pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
			if cand != nil {
				_ = m.AddICECandidate(target, cand.ToJSON())
			}
		})
	}
	c.wg.Add(1)
	go c.loop()
	c.t.Cleanup(c.close)
}

func (c *testPeer) pc(target sfu.Target) *webrtc.PeerConnection {
	if target == sfu.TargetSubscriber {
		return c.sub
	}
	return c.pub
}

func (c *testPeer) addCandidate(target sfu.Target, cand webrtc.ICECandidateInit) {
	c.mu.Lock()
	if c.pc(target).RemoteDescription() == nil {
		c.pending[target] = append(c.pending[target], cand)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	_ = c.pc(target).AddICECandidate(cand)
}

func (c *testPeer) flush(target sfu.Target) {
	c.mu.Lock()
	cands := c.pending[target]
	delete(c.pending, target)
	c.mu.Unlock()
	for _, cand := range cands {
		c.addCandidate(target, cand)
	}
}

func (c *testPeer) loop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.done:
			return
		case e := <-c.events:
			switch e := e.(type) {
			case sfu.EventICECandidate:
				if e.Candidate != nil {
					c.addCandidate(e.Target, *e.Candidate)
				}
			case sfu.EventSubscriberOffer:
				err := c.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: e.SDP})
				var answer webrtc.SessionDescription
				if err == nil {
					answer, err = c.sub.CreateAnswer(nil)
				}
				if err == nil {
					err = c.sub.SetLocalDescription(answer)
				}
				if err == nil {
					err = c.m.SetSubscriberAnswer(answer.SDP)
				}
				c.flush(sfu.TargetSubscriber)
				if err != nil {
					c.t.Errorf("answer: %v", err)
				}
			case sfu.EventTrackPublished:
				c.mu.Lock()
				c.published = append(c.published, e.Track)
				c.mu.Unlock()
			case sfu.EventSubscriptionEnded:
				c.mu.Lock()
				c.ended[e.TrackID] = true
				c.mu.Unlock()
			case sfu.EventClosed:
				c.mu.Lock()
				c.closed = e.Reason
				c.mu.Unlock()
			}
		}
	}
}

func (c *testPeer) close() {
	c.m.Close("test done")
	close(c.done)
	_ = c.pub.Close()
	_ = c.sub.Close()
	c.wg.Wait()
}

// negotiate publishes tr, which the caller feeds.
func (c *testPeer) negotiate(tr *webrtc.TrackLocalStaticRTP) {
	c.t.Helper()
	if _, err := c.pub.AddTrack(tr); err != nil {
		c.t.Fatal(err)
	}
	offer, err := c.pub.CreateOffer(nil)
	if err == nil {
		err = c.pub.SetLocalDescription(offer)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	answer, err := c.m.Publish(offer.SDP)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		c.t.Fatal(err)
	}
	c.flush(sfu.TargetPublisher)
}

// publishedID waits until the SFU published the client's track sourceID, and returns its id.
func (c *testPeer) publishedID(sourceID string) string {
	c.t.Helper()
	var id string
	waitUntil(c.t, "the track published", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.published {
			if p.SourceID == sourceID {
				id = p.ID
				return true
			}
		}
		return false
	})
	return id
}

// every runs send(0), send(1), ... once each interval until the test ends.
func (c *testPeer) every(interval time.Duration, send func(i int)) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			send(i)
		}
	}()
	c.t.Cleanup(func() { close(stop); wg.Wait() })
}

// publish sends a synthetic VP8 track until the test ends, and returns its SFU track id.
func (c *testPeer) publish() string {
	c.t.Helper()
	tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "stream")
	if err != nil {
		c.t.Fatal(err)
	}
	c.negotiate(tr)
	c.every(20*time.Millisecond, func(i int) {
		seq := uint16(i)
		payload := []byte{0x10, 0x01, 0x00, 0x00}
		if seq%30 == 0 {
			payload[1] = 0x00 // a keyframe
		}
		_ = tr.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 1800, Marker: true}, Payload: payload})
	})
	return c.publishedID(tr.ID())
}

func (c *testPeer) packets(sourceID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.received[sourceID]
}

func clientPC(t testing.TB) *webrtc.PeerConnection {
	t.Helper()
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
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

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// remotePeer joins a peer whose media node holds for the owner.
func remotePeer(t testing.TB, owner *testNode, node, room, id string, snap *call.Snapshot) *testPeer {
	t.Helper()
	c := newTestPeer(t)
	var pol *call.Policy
	if snap != nil {
		pol = call.NewPolicy(snap)
	}
	r, err := owner.hub.Join(node, room, id, c.sink(), pol)
	if err != nil {
		t.Fatalf("join %s on %s through %s: %v", id, node, owner.name, err)
	}
	c.attach(r)
	return c
}

// localPeer joins a peer whose media its own node holds.
func localPeer(t testing.TB, n *testNode, room, id string) *testPeer {
	t.Helper()
	c := newTestPeer(t)
	p, err := n.sfu.Join(room, id, c.sink())
	if err != nil {
		t.Fatal(err)
	}
	c.attach(p)
	return c
}

// TestMediaHeldByAnotherNode: the owner a drives a participant whose media node b holds; its
// publication lands in b's room, its events come back, and b's own participants receive it, as
// does another participant a drives on b.
func TestMediaHeldByAnotherNode(t *testing.T) {
	nodes := newTestNodes(t, "a", "b")
	a, b := nodes["a"], nodes["b"]
	pubr := remotePeer(t, a, "b", "room", "hall", nil)
	id := pubr.publish()
	if r := b.sfu.Room("room"); r == nil || len(r.Tracks()) != 1 || r.Tracks()[0].ID != id {
		t.Fatalf("b's room does not hold the hall's track %s", id)
	}
	// a knows of the track (the relay announced it) but nothing crossed: nobody on a asked.
	if got := crossed(a, "room", "b", id, false); got != 0 {
		t.Fatalf("%d packets crossed to a with nobody there receiving", got)
	}
	local := localPeer(t, b, "room", "unit")
	if err := local.m.Subscribe(id); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "b's own participant receives the hall", func() bool { return local.packets(id) > 10 })
	other := remotePeer(t, a, "b", "room", "unit2", nil)
	if err := other.m.Subscribe(id); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a's other participant on b receives the hall", func() bool { return other.packets(id) > 10 })
	if err := other.m.Subscribe("TR_nothing"); err == nil || !strings.Contains(err.Error(), "track not found") {
		t.Fatalf("subscribing to no track: %v, want the SFU's not found", err)
	}
}

func snapshot(t *testing.T, js string) *call.Snapshot {
	t.Helper()
	s := &call.Snapshot{}
	if err := json.Unmarshal([]byte(js), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestHolderAppliesTheOwnersPolicy: the node holding media enforces the call's rule as the owner
// sends it: a waiting hall is refused the hearing, and when the hearing ends the unit's
// subscription ends on the holder too.
func TestHolderAppliesTheOwnersPolicy(t *testing.T) {
	nodes := newTestNodes(t, "a", "b")
	a := nodes["a"]
	const seats = `"seats":{"hall1":{"kind":"hall","hall":1},"hall2":{"kind":"hall","hall":2},"unit":{"kind":"unit","unit":7}}`
	hearing := snapshot(t, `{`+seats+`,"stage_hall":1,"stage_units":[7]}`)
	hall1 := remotePeer(t, a, "b", "call", "hall1", hearing)
	id := hall1.publish()
	unit := remotePeer(t, a, "b", "call", "unit", hearing)
	if err := unit.m.Subscribe(id); err != nil {
		t.Fatalf("the unit on stage: %v", err)
	}
	waitUntil(t, "the unit receives the hall in the hearing", func() bool { return unit.packets(id) > 10 })
	waiting := remotePeer(t, a, "b", "call", "hall2", hearing)
	if err := waiting.m.Subscribe(id); !errors.Is(err, sfu.ErrForbidden) {
		t.Fatalf("the waiting hall subscribing to the hearing: %v, want forbidden", err)
	}
	a.hub.Enforce("call", snapshot(t, `{`+seats+`}`))
	waitUntil(t, "the unit's subscription ended on b", func() bool {
		unit.mu.Lock()
		defer unit.mu.Unlock()
		return unit.ended[id]
	})
	if n := waiting.packets(id); n != 0 {
		t.Fatalf("the waiting hall received %d packets of the hearing", n)
	}
}

// TestLinkLostAndBack: a link that drops is opened again by the owner within the grace; the
// participants the other node holds stay, and commands work again.
func TestLinkLostAndBack(t *testing.T) {
	nodes := newTestNodes(t, "a", "b")
	a, b := nodes["a"], nodes["b"]
	hall := remotePeer(t, a, "b", "room", "hall", nil)
	id := hall.publish()
	old := a.hub.current("b")
	old.close()
	waitUntil(t, "the owner's new link", func() bool {
		l := a.hub.current("b")
		return l != nil && l != old && b.hub.current("a") != nil
	})
	if s := b.hub.Stats(); s.Held != 1 {
		t.Fatalf("b after the link came back: %+v, want the hall still held", s)
	}
	unit := remotePeer(t, a, "b", "room", "unit", nil)
	if err := unit.m.Subscribe(id); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a new participant on b receives the hall", func() bool { return unit.packets(id) > 10 })
	hall.mu.Lock()
	defer hall.mu.Unlock()
	if hall.closed != "" {
		t.Fatalf("the hall's media closed: %s", hall.closed)
	}
}

// TestLinkNotBackEndsRemoteMedia: when the link does not come back within the grace, the owner's
// sessions hear their media closed (their clients come back through a resume) and the holder lets
// the participants go.
func TestLinkNotBackEndsRemoteMedia(t *testing.T) {
	nodes := newTestNodesGrace(t, 500*time.Millisecond, "a", "b")
	a, b := nodes["a"], nodes["b"]
	hall := remotePeer(t, a, "b", "room", "hall", nil)
	hall.publish()
	b.srv.Listener.Close() // b takes no link any more
	a.hub.current("b").close()
	waitUntil(t, "the owner's side closed", func() bool {
		hall.mu.Lock()
		defer hall.mu.Unlock()
		return hall.closed == evLinkClosed
	})
	waitUntil(t, "the holder let the hall go", func() bool {
		r := b.sfu.Room("room")
		return b.hub.Stats().Held == 0 && (r == nil || len(r.Tracks()) == 0)
	})
}

// TestLinkNeedsANodeToken: only a node of the installation opens a link, naming the node it
// reaches; a participant's token, another secret's or one for another node is refused.
func TestLinkNeedsANodeToken(t *testing.T) {
	nodes := newTestNodes(t, "a", "b")
	b := nodes["b"]
	url := "ws" + strings.TrimPrefix(b.srv.URL, "http") + Path
	now := time.Now()
	sign := func(s *auth.Signer, c auth.Claims) string {
		tok, err := s.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	own := auth.NewSigner(testSecret)
	other := auth.NewSigner([]byte("another-installation-secret-32-bytes!!"))
	for name, tok := range map[string]string{
		"none":        "",
		"participant": sign(own, auth.Claims{Room: "cascade:b", Subject: "a", Role: auth.RoleLeader, ExpiresAt: now.Add(time.Minute)}),
		"other node":  sign(own, auth.Claims{Room: "cascade:c", Subject: "a", Role: auth.RoleNode, ExpiresAt: now.Add(time.Minute)}),
		"itself":      sign(own, auth.Claims{Room: "cascade:b", Subject: "b", Role: auth.RoleNode, ExpiresAt: now.Add(time.Minute)}),
		"foreign":     sign(other, auth.Claims{Room: "cascade:b", Subject: "a", Role: auth.RoleNode, ExpiresAt: now.Add(time.Minute)}),
	} {
		conn, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + tok}})
		if err == nil {
			_ = conn.Close()
			t.Fatalf("%s: link accepted", name)
		}
		if resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: %v, want 401", name, err)
		}
		_ = resp.Body.Close()
	}
}

// crossed is how many packets of track id n's relay of room with peer sent (or received).
func crossed(n *testNode, room, peer, id string, sent bool) uint64 {
	st := n.hub.RelayStats(room)[peer]
	streams := st.Received
	if sent {
		streams = st.Sent
	}
	var total uint64
	for _, s := range streams {
		if s.TrackID == id {
			total += s.Packets
		}
	}
	return total
}

// TestRelayCarriesEachStreamOnce: a participant on a receives a hall whose media b holds, over
// the room's one relay; with five on a, the relay carries the same one copy.
func TestRelayCarriesEachStreamOnce(t *testing.T) {
	nodes := newTestNodes(t, "a", "b")
	a, b := nodes["a"], nodes["b"]
	hall := remotePeer(t, a, "b", "room", "hall", nil)
	id := hall.publish()
	var leaders []*testPeer
	for i := range 5 {
		p := localPeer(t, a, "room", fmt.Sprintf("leader%d", i))
		waitUntil(t, "the relay announced the hall's track", func() bool { return p.m.Subscribe(id) == nil })
		leaders = append(leaders, p)
		if i == 0 {
			waitUntil(t, "the first receives the hall over the relay", func() bool { return p.packets(id) > 50 })
		}
	}
	for _, p := range leaders {
		waitUntil(t, "each receives the hall", func() bool { return p.packets(id) > 50 })
	}
	// Over the same stretch, what each receiver got and what crossed the relay: one copy.
	from, before := crossed(b, "room", "a", id, true), leaders[4].packets(id)
	waitUntil(t, "another 100 packets", func() bool { return leaders[4].packets(id) >= before+100 })
	sent, got := crossed(b, "room", "a", id, true)-from, uint64(leaders[4].packets(id)-before)
	if sent < got*9/10 || sent > got*11/10 {
		t.Fatalf("the relay carried %d packets while each of 5 receivers got %d: not one copy", sent, got)
	}
}

// TestEventsRoundTrip: every SFU event the owner uses crosses a link as it was.
func TestEventsRoundTrip(t *testing.T) {
	cand := webrtc.ICECandidateInit{Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host"}
	for _, e := range []sfu.Event{
		sfu.EventICECandidate{Target: sfu.TargetSubscriber, Candidate: &cand},
		sfu.EventSubscriberOffer{SDP: "v=0"},
		sfu.EventTrackPublished{Track: sfu.TrackInfo{ID: "TR_1", ParticipantID: "hall", Kind: sfu.KindVideo, Simulcast: true}},
		sfu.EventTrackUnpublished{Track: sfu.TrackInfo{ID: "TR_1"}},
		sfu.EventSubscriptionEnded{TrackID: "TR_2"},
		sfu.EventConnectionState{Target: sfu.TargetPublisher, State: "failed"},
		sfu.EventActiveSpeaker{ParticipantID: "leader"},
		sfu.EventLayersPaused{TrackID: "TR_1", RIDs: []string{"f"}},
		sfu.EventQuality{Uplink: sfu.LinkQuality{Level: sfu.QualityPoor, Loss: 0.12, RTT: 80 * time.Millisecond}},
		sfu.EventClosed{Reason: "leave"},
	} {
		op, data, ok := encodeEvent(e)
		if !ok {
			t.Fatalf("%T not encoded", e)
		}
		got, err := decodeEvent(op, data)
		if err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("%T: %+v %v, want %+v", e, got, err, e)
		}
	}
	if _, err := decodeEvent("EventNothing", nil); err == nil {
		t.Fatal("an unknown event decoded")
	}
}
