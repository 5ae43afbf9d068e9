package sfu

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// RelayMessage is one message between the two ends of a relay. The carrier (the control plane's
// link between the nodes) moves it as it is, in order; what it says is the relay's business.
type RelayMessage struct {
	Kind string          `json:"kind"`
	Data json.RawMessage `json:"data,omitempty"`
}

// The relay's messages.
const (
	relayAnnounce   = "announce"   // a track of the sender's room (relayAnnouncement)
	relayUnannounce = "unannounce" // that track ended (relayTrackRef)
	relayDemand     = "demand"     // what the sender's room receives of the peer's tracks (relayDemandSet)
	relayOffer      = "offer"      // the sender's sending connection offers (relaySDP)
	relayAnswer     = "answer"     // the answer to the peer's offer (relaySDP)
	relayCandidate  = "candidate"  // an ICE candidate (relayICE)
)

type relayAnnouncement struct {
	Track TrackInfo                 `json:"track"`
	Codec webrtc.RTPCodecParameters `json:"codec"`
	RIDs  []string                  `json:"rids"` // the layers ("" for a track without simulcast)
	// Sizes are the layers' frame sizes (width, height; 0 = not known yet), in the order of RIDs,
	// so that subscribers' allocators there can match tiles to layers that have not crossed yet.
	Sizes [][2]int `json:"sizes,omitempty"`
}

type relayTrackRef struct {
	ID string `json:"id"`
}

// relayDemandSet is the whole of what the far side wants: it replaces the previous one.
type relayDemandSet struct {
	Tracks []relayDemandTrack `json:"tracks"`
}

type relayDemandTrack struct {
	ID          string   `json:"id"`
	RIDs        []string `json:"rids"`
	Subscribers []string `json:"subscribers"`
	// Recording: the far node records the track (the owner's own recorder, which its own policy
	// and the call already decided on).
	Recording bool `json:"recording,omitempty"`
}

type relaySDP struct {
	SDP string `json:"sdp"`
}

type relayICE struct {
	// Sending: the candidate belongs to the sender's sending connection (so to the peer's
	// receiving one); otherwise to its receiving connection.
	Sending   bool                    `json:"sending"`
	Candidate webrtc.ICECandidateInit `json:"candidate"`
}

// relayAudioLevelID is the audio level extension's id on a relay link: registered first on the
// relay's media engine, it is 1 on both ends, so the far side knows it before any negotiation.
const relayAudioLevelID = 1

// Relay is one end of the media link between this node and another for one room. Each end
// offers the connection it sends on (so neither ever waits on the other's offer: no glare) and
// answers the other's. Tracks of the room that did not come over this relay are announced to the
// peer; the peer's tracks appear in the room as published tracks with their original TrackInfo.
// Nothing crosses until the peer demands it for subscribers its policy check here allows.
type Relay struct {
	sfu     *SFU
	room    *Room
	peer    string
	send    func(RelayMessage)
	onEvent func(Event)
	policy  Policy // from RelayPolicy, nil = leave the room's as it is
	log     *zap.Logger

	out, in *webrtc.PeerConnection // out: we offer and send; in: the peer offers, we receive
	bwe     bandwidth              // the link's estimate, from the peer's TWCC feedback

	sentPackets, sentBytes, recvPackets, recvBytes prometheus.Counter

	mu        sync.Mutex
	closed    bool
	state     string                      // the sending connection's
	inState   string                      // the receiving connection's
	announced map[string]string           // track id → the RIDs last announced, comma-joined
	demand    map[string]relayDemandTrack // the peer's last demand, by track
	sends     map[string]*relaySend       // what we send, by track id/rid
	remote    map[string]*relayedTrack    // the peer's tracks in our room, by track id
	lastAsked string                      // the last demand we sent, as JSON
	// Sending connection's negotiation: one offer outstanding, changes meanwhile set pending.
	negotiating, pending, restart bool
	starting                      bool                               // an answer is applied, the link is not up yet: offers wait
	early                         map[bool][]webrtc.ICECandidateInit // candidates before their description
	offerMu                       sync.Mutex

	wg sync.WaitGroup // RTCP readers of what we send, read loops of what we receive
}

// relaySend is one layer of one track we send to the peer.
type relaySend struct {
	down   *DownTrack
	sender *webrtc.RTPSender
	stats  relayCounters
}

// relayedTrack is a track of the peer's room, published in ours.
type relayedTrack struct {
	t     *publishedTrack
	ssrcs map[int]uint32            // layer quality → the SSRC it arrives on (under Relay.mu)
	stats map[string]*relayCounters // by RID
}

type relayCounters struct {
	packets, bytes, nacks, plis atomic.Uint64
}

// RelayStats is what crossed a relay, for tests, the bench and operators.
type RelayStats struct {
	Peer string
	// State is the sending connection's state ("connected", "failed", ...), ReceiveState the
	// receiving one's.
	State, ReceiveState string
	// Estimate is the link's bandwidth estimate in bits/s (0 = none yet).
	Estimate int64
	Sent     []RelayStreamStats // the layers this node sends to the peer
	Received []RelayStreamStats // the layers it receives from the peer
}

// RelayStreamStats counts one layer of one track over a relay. NACKs and PLIs are those the
// receiving end sent for it (counted where they arrive on the sending side, and where they are
// sent on the receiving side).
type RelayStreamStats struct {
	TrackID, RID   string
	Packets, Bytes uint64
	NACKs, PLIs    uint64
	Subscribers    []string // on the sending side: the far subscribers it is carried for
}

// EventRelayState reports the relay's receiving link: while it is not "connected" (say
// "disconnected" or "failed"), the tracks that came over it are interrupted but stay published;
// the peer's next offer restarts the link, and a relay closed for good unpublishes them.
type EventRelayState struct {
	Peer, State string
}

func (EventRelayState) isEvent() {}

// RelayOption refines OpenRelay.
type RelayOption func(*Relay)

// RelayPolicy makes the relay's room be governed by pol from the start, as JoinWithPolicy does
// (a room a relay creates would otherwise start with AllowAll): nothing is ever carried under a
// wider policy than the call's.
func RelayPolicy(pol Policy) RelayOption { return func(r *Relay) { r.policy = pol } }

// RelayTrackEvents makes the relay report the peer's tracks appearing in and leaving the room
// (EventTrackPublished, EventTrackUnpublished), so that the node can tell its participants: no
// participant of this node publishes them; and its receiving link's state (EventRelayState).
// f must not block.
func RelayTrackEvents(f func(Event)) RelayOption { return func(r *Relay) { r.onEvent = f } }

// OpenRelay starts this node's end of the relay to peerNode for a room (created if needed; it
// lives as long as it has participants or relays). send carries messages to the peer's end
// (Deliver there); it must not block. Both nodes open their end; neither needs a role.
func (s *SFU) OpenRelay(roomID, peerNode string, send func(RelayMessage), opts ...RelayOption) (*Relay, error) {
	r := &Relay{sfu: s, peer: peerNode, send: send, onEvent: func(Event) {},
		log:       s.log.With(zap.String("room", roomID), zap.String("relay_peer", peerNode)),
		announced: map[string]string{}, demand: map[string]relayDemandTrack{}, sends: map[string]*relaySend{},
		remote: map[string]*relayedTrack{}, early: map[bool][]webrtc.ICECandidateInit{}, state: "new", inState: "new"}
	for _, o := range opts {
		o(r)
	}
	r.sentPackets = s.metrics.relayPackets.WithLabelValues(peerNode, "sent")
	r.sentBytes = s.metrics.relayBytes.WithLabelValues(peerNode, "sent")
	r.recvPackets = s.metrics.relayPackets.WithLabelValues(peerNode, "received")
	r.recvBytes = s.metrics.relayBytes.WithLabelValues(peerNode, "received")
	var err error
	r.bwe.twcc = &twccLog{}
	if r.out, err = s.newRelayPeerConnection(false, r.bwe.twcc); err != nil {
		return nil, err
	}
	if r.in, err = s.newRelayPeerConnection(true, nil); err != nil {
		_ = r.out.Close()
		return nil, err
	}
	for sending, pc := range map[bool]*webrtc.PeerConnection{true: r.out, false: r.in} {
		pc.OnICECandidate(func(c *webrtc.ICECandidate) {
			if c != nil {
				r.post(relayCandidate, relayICE{Sending: sending, Candidate: c.ToJSON()})
			}
		})
	}
	r.out.OnConnectionStateChange(r.sendingState)
	r.in.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		r.mu.Lock()
		r.inState = st.String()
		closed := r.closed
		r.mu.Unlock()
		if !closed {
			r.onEvent(EventRelayState{Peer: r.peer, State: st.String()})
		}
	})
	r.in.OnTrack(r.onTrack)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		r.closePCs()
		return nil, ErrClosed
	}
	room := s.roomLocked(roomID)
	room.mu.Lock()
	if r.policy != nil {
		room.policy = r.policy
	}
	if room.relays[peerNode] != nil {
		room.mu.Unlock()
		s.mu.Unlock()
		r.closePCs()
		return nil, fmt.Errorf("%w: a relay to %s in room %s", ErrDuplicate, peerNode, roomID)
	}
	r.room = room
	room.relays[peerNode] = r
	tracks := make([]*publishedTrack, 0, len(room.tracks))
	for _, t := range room.tracks {
		tracks = append(tracks, t)
	}
	room.mu.Unlock()
	s.mu.Unlock()
	for _, t := range tracks {
		r.announce(t)
	}
	return r, nil
}

// newRelayPeerConnection is newPeerConnection on the relay's media engine: our codecs, and only
// the audio level (first, so its id is known) and transport-wide congestion control extensions.
func (s *SFU) newRelayPeerConnection(receiving bool, tw *twccLog) (*webrtc.PeerConnection, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("relay: register audio level: %w", err)
	}
	if err := registerCodecs(m); err != nil {
		return nil, err
	}
	return s.newPeerConnectionWith(m, &s.relaySetting, receiving, tw)
}

// post sends one message to the peer.
func (r *Relay) post(kind string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		r.log.Error("relay message", zap.String("kind", kind), zap.Error(err))
		return
	}
	r.send(RelayMessage{Kind: kind, Data: data})
}

// Deliver handles a message from the peer's end.
func (r *Relay) Deliver(m RelayMessage) error {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return ErrClosed
	}
	var err error
	switch m.Kind {
	case relayAnnounce:
		var a relayAnnouncement
		if err = json.Unmarshal(m.Data, &a); err == nil {
			r.onAnnounce(a)
		}
	case relayUnannounce:
		var ref relayTrackRef
		if err = json.Unmarshal(m.Data, &ref); err == nil {
			r.onUnannounce(ref.ID)
		}
	case relayDemand:
		var d relayDemandSet
		if err = json.Unmarshal(m.Data, &d); err == nil {
			r.onDemand(d)
		}
	case relayOffer:
		var o relaySDP
		if err = json.Unmarshal(m.Data, &o); err == nil {
			err = r.onOffer(o.SDP)
		}
	case relayAnswer:
		var a relaySDP
		if err = json.Unmarshal(m.Data, &a); err == nil {
			err = r.onAnswer(a.SDP)
		}
	case relayCandidate:
		var c relayICE
		if err = json.Unmarshal(m.Data, &c); err == nil {
			err = r.addCandidate(!c.Sending, c.Candidate) // the peer's sending side is our receiving one
		}
	default:
		return fmt.Errorf("sfu: relay message %q: %w", m.Kind, ErrBadSDP)
	}
	if err != nil {
		r.mu.Lock()
		closed := r.closed
		r.mu.Unlock()
		if closed { // closed while it was handled: its connections refuse
			return ErrClosed
		}
		return fmt.Errorf("sfu: relay message %q from %s: %w", m.Kind, r.peer, err)
	}
	return nil
}

// ---- Announcing our room's tracks ----

// announce tells the peer about a track of our room, unless it came from the peer.
func (r *Relay) announce(t *publishedTrack) {
	rids := make([]string, 0, 3)
	sizes := make([][2]int, 0, 3)
	for _, l := range *t.layers.Load() {
		rids = append(rids, l.rid)
		sizes = append(sizes, [2]int{int(l.width.Load()), int(l.height.Load())})
	}
	key := fmt.Sprint(rids, sizes, t.muted.Load()) // a mute after the announcement is announced again
	r.mu.Lock()
	if r.closed || r.remote[t.info.ID] != nil || (len(rids) == 0 && t.info.Simulcast) {
		r.mu.Unlock()
		return
	}
	if last, ok := r.announced[t.info.ID]; ok && last == key {
		r.mu.Unlock()
		return
	}
	r.announced[t.info.ID] = key
	r.mu.Unlock()
	if len(rids) == 0 {
		rids, sizes = []string{""}, nil
	}
	r.post(relayAnnounce, relayAnnouncement{Track: t.Info(), Codec: t.codec, RIDs: rids, Sizes: sizes})
}

// unannounce tells the peer a track of our room ended, and stops sending it.
func (r *Relay) unannounce(t *publishedTrack) {
	r.mu.Lock()
	_, ok := r.announced[t.info.ID]
	delete(r.announced, t.info.ID)
	delete(r.demand, t.info.ID)
	r.mu.Unlock()
	if !ok {
		return
	}
	r.reconcile()
	r.post(relayUnannounce, relayTrackRef{ID: t.info.ID})
}

// onDemand takes the peer's new demand and sends what it allows.
func (r *Relay) onDemand(d relayDemandSet) {
	r.mu.Lock()
	r.demand = make(map[string]relayDemandTrack, len(d.Tracks))
	for _, t := range d.Tracks {
		r.demand[t.ID] = t
	}
	r.mu.Unlock()
	r.reconcile()
}

// permitted is the part of a demand our room's policy allows: the subscribers that may receive
// the track. A relay carries only what some participant on the far node may receive.
func (r *Relay) permitted(d relayDemandTrack, t *publishedTrack, pol Policy) []string {
	var ok []string
	info := t.Info()
	for _, sub := range d.Subscribers {
		if sub != info.ParticipantID && pol.Allow(sub, info) {
			ok = append(ok, sub)
		}
	}
	return ok
}

// reconcile makes what we send match the peer's demand under our room's current policy.
func (r *Relay) reconcile() {
	room := r.room
	room.mu.Lock()
	pol := room.policy
	room.mu.Unlock()
	type want struct {
		t    *publishedTrack
		rid  string
		subs []string
	}
	wanted := map[string]want{}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	for id, d := range r.demand {
		if _, ok := r.announced[id]; !ok {
			continue
		}
		t := room.track(id)
		if t == nil {
			continue
		}
		subs := r.permitted(d, t, pol)
		if len(subs) == 0 && !d.Recording {
			continue
		}
		for _, rid := range d.RIDs {
			wanted[id+"/"+rid] = want{t: t, rid: rid, subs: subs}
		}
	}
	var drop []*relaySend
	for key, s := range r.sends {
		if w, ok := wanted[key]; !ok || w.t != s.down.source {
			drop = append(drop, s)
			delete(r.sends, key)
		}
	}
	var add []want
	for key, w := range wanted {
		if s := r.sends[key]; s != nil {
			s.down.relaySubs.Store(&w.subs)
			continue
		}
		add = append(add, w)
	}
	r.mu.Unlock()
	for _, s := range drop {
		s.down.source.removeDown(s.down)
		if err := r.out.RemoveTrack(s.sender); err != nil {
			r.log.Debug("relay remove track", zap.String("track", s.down.source.info.ID), zap.Error(err))
		}
	}
	added := 0
	for _, w := range add {
		if err := r.startSending(w.t, w.rid, w.subs); err != nil {
			r.log.Warn("relay send", zap.String("track", w.t.info.ID), zap.String("rid", w.rid), zap.Error(err))
			continue
		}
		added++
	}
	if len(drop) > 0 || added > 0 {
		r.negotiate(false)
	}
}

// startSending adds one layer of a track to the sending connection: a down track pinned to that
// layer, whose NACKs are served from our buffer and whose PLIs go to the publisher (throttled).
func (r *Relay) startSending(t *publishedTrack, rid string, subs []string) error {
	q := -1
	for _, l := range *t.layers.Load() {
		if l.rid == rid {
			q = l.quality
		}
	}
	if q < 0 {
		q = ridQuality(rid, 0)
	}
	s := &relaySend{}
	d := newDownTrack(t, nil, r.sfu.metrics)
	d.id, d.streamID = t.info.ID+"/"+rid, t.info.ParticipantID
	d.pinned = true
	d.target.Store(int32(q))
	d.wanted.Store(int32(q))
	d.relaySubs.Store(&subs)
	if t.audioLevel != 0 {
		d.levelExt = relayAudioLevelID
	}
	rt := &relayTrack{DownTrack: d, stats: &s.stats, r: r}
	tr, err := r.out.AddTransceiverFromTrack(rt, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fmt.Errorf("add transceiver: %w", err)
	}
	if prefs := localCodec(t.codec); prefs != nil {
		if err := tr.SetCodecPreferences(prefs); err != nil {
			r.log.Debug("relay codec preferences", zap.Error(err))
		}
	}
	s.down, s.sender = d, tr.Sender()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.sends[d.id] = s
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		for {
			pkts, _, err := s.sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				switch p := p.(type) {
				case *rtcp.TransportLayerNack:
					s.stats.nacks.Add(uint64(len(p.Nacks)))
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					s.stats.plis.Add(1)
				}
			}
			d.handleRTCP(pkts)
		}
	}()
	t.addDown(d)
	return nil
}

// relayTrack is a down track on a relay: it counts what it writes.
type relayTrack struct {
	*DownTrack
	stats *relayCounters
	r     *Relay
}

// Bind wraps the connection's writer in a counter.
func (rt *relayTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	return rt.DownTrack.Bind(countingContext{TrackLocalContext: ctx, w: &countingWriter{TrackLocalWriter: ctx.WriteStream(), rt: rt}})
}

type countingContext struct {
	webrtc.TrackLocalContext
	w *countingWriter
}

func (c countingContext) WriteStream() webrtc.TrackLocalWriter { return c.w }

type countingWriter struct {
	webrtc.TrackLocalWriter
	rt *relayTrack
}

// WriteRTP writes one packet and counts it (header and payload as written): the relay's hot path, which
// allocates nothing.
func (w *countingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	n, err := w.TrackLocalWriter.WriteRTP(h, payload)
	if n > 0 { // 0: the link's SRTP is not up yet, nothing went out
		w.rt.stats.packets.Add(1)
		w.rt.stats.bytes.Add(uint64(n))
		w.rt.r.sentPackets.Inc()
		w.rt.r.sentBytes.Add(float64(n))
	}
	return n, err
}

// carryLevel puts the source packet's audio level on the outgoing header (relays only), so that
// the far node's speaker detection hears this node's speakers.
func (d *DownTrack) carryLevel(p *packet) {
	level, ok := audioLevel(p.raw, d.source.audioLevel)
	if !ok {
		return
	}
	d.levelBuf[0] = level
	_ = d.hdr.SetExtension(d.levelExt, d.levelBuf[:])
}

// ---- The peer's tracks in our room ----

// onAnnounce publishes (or updates the layers of) one of the peer's tracks in our room.
func (r *Relay) onAnnounce(a relayAnnouncement) {
	room := r.room
	r.mu.Lock()
	if rt := r.remote[a.Track.ID]; rt != nil {
		r.mu.Unlock()
		addRelayLayers(rt.t, a.RIDs, a.Sizes)
		rt.t.setMuted(a.Track.Muted)
		r.askDemand()
		return
	}
	r.mu.Unlock()
	kind := webrtc.NewRTPCodecType(string(a.Track.Kind))
	info := a.Track
	info.Muted = false
	t := &publishedTrack{info: info, remoteKind: kind, codec: a.Codec, bufferSize: bufferSlots(kind, r.sfu.cfg.PacketBufferSize),
		metrics: r.sfu.metrics, room: room.metrics, log: r.log, pliInterval: r.sfu.cfg.PLIThrottle}
	t.pc = relayKeyframes{r: r, trackID: info.ID}
	t.muted.Store(a.Track.Muted)
	switch strings.ToLower(a.Codec.MimeType) {
	case strings.ToLower(webrtc.MimeTypeVP8):
		t.keyframe, t.frameSize = isVP8Keyframe, vp8FrameSize
	case strings.ToLower(webrtc.MimeTypeH264):
		t.keyframe = isH264Keyframe
	}
	if kind == webrtc.RTPCodecTypeAudio {
		t.audioLevel = relayAudioLevelID
	}
	empty := []*DownTrack{}
	t.downs.Store(&empty)
	noLayers := []*layer{}
	t.layers.Store(&noLayers)
	addRelayLayers(t, a.RIDs, a.Sizes)

	room.mu.Lock()
	if room.tracks[info.ID] != nil {
		// Known already (over another relay, in a topology with a loop): the first path wins.
		room.mu.Unlock()
		return
	}
	room.tracks[info.ID] = t
	room.mu.Unlock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		room.dropTrack(t)
		return
	}
	r.remote[info.ID] = &relayedTrack{t: t, ssrcs: map[int]uint32{}, stats: map[string]*relayCounters{}}
	r.mu.Unlock()
	r.sfu.metrics.tracks.Inc()
	r.log.Info("relayed track published", zap.String("track", info.ID), zap.String("codec", info.Codec))
	room.published(t)
	r.onEvent(EventTrackPublished{Track: t.Info()})
}

// addRelayLayers gives a relayed track a layer for each RID it does not have yet. The layers
// exist before anything arrives on them, so that the allocator of each subscriber here can want
// one (and the relay demand it) before it is sent.
func addRelayLayers(t *publishedTrack, rids []string, sizes [][2]int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.layers.Load()
	next := slices.Clone(old)
	for i, rid := range rids {
		j := slices.IndexFunc(next, func(l *layer) bool { return l.rid == rid })
		if j < 0 {
			q := ridQuality(rid, len(next))
			// The SSRC is the layer's quality: relayKeyframes maps it to the stream's real SSRC.
			next = append(next, &layer{quality: q, rid: rid, ssrc: uint32(q), buffer: newPacketBuffer(t.bufferSize)})
			j = len(next) - 1
		}
		if i < len(sizes) && sizes[i][0] > 0 && next[j].lastKeyframe.Load() == 0 {
			next[j].width.Store(int32(sizes[i][0]))
			next[j].height.Store(int32(sizes[i][1]))
		}
	}
	slices.SortFunc(next, func(a, b *layer) int { return a.quality - b.quality })
	t.layers.Store(&next)
}

// onUnannounce ends one of the peer's tracks in our room.
func (r *Relay) onUnannounce(id string) {
	r.mu.Lock()
	rt := r.remote[id]
	delete(r.remote, id)
	r.mu.Unlock()
	if rt != nil {
		r.endRemote(rt)
	}
}

func (r *Relay) endRemote(rt *relayedTrack) {
	if r.room.dropTrack(rt.t) {
		r.sfu.metrics.tracks.Dec()
		r.onEvent(EventTrackUnpublished{Track: rt.t.Info()})
	}
}

// relayKeyframes sends a relayed track's keyframe requests (already throttled per layer by
// publishedTrack.requestKeyframe) over the relay, to the layer's stream.
type relayKeyframes struct {
	r       *Relay
	trackID string
}

func (k relayKeyframes) WriteRTCP(pkts []rtcp.Packet) error {
	for _, p := range pkts {
		pli, ok := p.(*rtcp.PictureLossIndication)
		if !ok {
			continue
		}
		k.r.mu.Lock()
		rt := k.r.remote[k.trackID]
		var ssrc uint32
		var c *relayCounters
		if rt != nil {
			ssrc = rt.ssrcs[int(pli.MediaSSRC)]
			for _, l := range *rt.t.layers.Load() {
				if uint32(l.quality) == pli.MediaSSRC {
					c = rt.stats[l.rid]
				}
			}
		}
		k.r.mu.Unlock()
		if ssrc == 0 {
			continue // not arriving yet: the sending side asks for a keyframe when it starts
		}
		if c != nil {
			c.plis.Add(1)
		}
		if err := k.r.in.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
			return fmt.Errorf("relay PLI: %w", err)
		}
	}
	return nil
}

// onTrack runs when one layer of one of the peer's tracks starts arriving.
func (r *Relay) onTrack(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	id, rid, _ := strings.Cut(remote.ID(), "/")
	r.mu.Lock()
	rt := r.remote[id]
	var l *layer
	if rt != nil {
		for _, x := range *rt.t.layers.Load() {
			if x.rid == rid {
				l = x
			}
		}
	}
	if r.closed {
		r.mu.Unlock()
		return // its connection is closing: the stream ends with it
	}
	if l == nil { // unannounced meanwhile: read and drop until the stream goes
		r.wg.Add(1)
		r.mu.Unlock()
		go func() { defer r.wg.Done(); drain(remote) }()
		return
	}
	rt.ssrcs[l.quality] = uint32(remote.SSRC())
	c := rt.stats[rid]
	if c == nil {
		c = &relayCounters{}
		rt.stats[rid] = c
	}
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		r.receive(rt.t, l, remote, c)
	}()
}

// receive is the read loop of one relayed layer: what the publishing node forwarded enters our
// room's forwarding path as if its publisher were here.
func (r *Relay) receive(t *publishedTrack, l *layer, remote *webrtc.TrackRemote, c *relayCounters) {
	var buf [maxPacketSize]byte
	var p packet
	for {
		n, _, err := remote.Read(buf[:])
		if err != nil {
			return
		}
		c.packets.Add(1)
		c.bytes.Add(uint64(n))
		r.recvPackets.Inc()
		r.recvBytes.Add(float64(n))
		t.receive(l, buf[:n], &p, now())
	}
}

// demandChanged runs when a subscription to one of the peer's tracks starts or ends.
func (r *Relay) demandChanged(t *publishedTrack) {
	if t == nil {
		r.askDemand()
		return
	}
	r.mu.Lock()
	rt := r.remote[t.info.ID]
	r.mu.Unlock()
	if rt != nil && rt.t == t {
		r.askDemand()
	}
}

// askDemand tells the peer what our room receives of its tracks, when that changed: for each
// track, the layers our down tracks forward, wait for or would take (the allocator's wish), and
// who receives it.
func (r *Relay) askDemand() {
	r.mu.Lock()
	tracks := make([]*relayedTrack, 0, len(r.remote))
	for _, rt := range r.remote {
		tracks = append(tracks, rt)
	}
	r.mu.Unlock()
	set := relayDemandSet{Tracks: []relayDemandTrack{}}
	for _, rt := range tracks {
		d := relayDemandTrack{ID: rt.t.info.ID}
		layers := *rt.t.layers.Load()
		if len(layers) == 0 {
			continue
		}
		ridOf := func(q int32) {
			for _, l := range layers {
				if int32(l.quality) == q && !slices.Contains(d.RIDs, l.rid) {
					d.RIDs = append(d.RIDs, l.rid)
				}
			}
		}
		for _, down := range *rt.t.downs.Load() {
			if down.sub == nil {
				d.Recording = true
			} else if !slices.Contains(d.Subscribers, down.sub.id) {
				d.Subscribers = append(d.Subscribers, down.sub.id)
			}
			if down.paused.Load() {
				// Paused for its receiver's link: the lowest layer still comes (as a publisher
				// always sends it), so that the allocator sees it and can resume.
				ridOf(int32(layers[0].quality))
				continue
			}
			ridOf(down.cur.Load())
			ridOf(down.target.Load())
			ridOf(down.wanted.Load())
		}
		if len(d.RIDs) == 0 {
			continue
		}
		slices.Sort(d.RIDs)
		slices.Sort(d.Subscribers)
		set.Tracks = append(set.Tracks, d)
	}
	slices.SortFunc(set.Tracks, func(a, b relayDemandTrack) int { return strings.Compare(a.ID, b.ID) })
	data, err := json.Marshal(set)
	if err != nil {
		return
	}
	r.mu.Lock()
	same := string(data) == r.lastAsked
	r.lastAsked = string(data)
	closed := r.closed
	r.mu.Unlock()
	if !same && !closed {
		r.send(RelayMessage{Kind: relayDemand, Data: data})
	}
}

// tick is the relay's share of housekeeping: layers that appeared since a track was announced,
// the demand as the allocators' wishes move, the link's estimate.
func (r *Relay) tick(at int64) {
	r.room.mu.Lock()
	tracks := make([]*publishedTrack, 0, len(r.room.tracks))
	for _, t := range r.room.tracks {
		tracks = append(tracks, t)
	}
	r.room.mu.Unlock()
	for _, t := range tracks {
		r.mu.Lock()
		_, known := r.announced[t.info.ID]
		r.mu.Unlock()
		if known || t.info.Simulcast {
			r.announce(t) // sends only when its layers changed
		}
	}
	r.askDemand()
	var sending int64
	r.mu.Lock()
	for _, s := range r.sends {
		if l := s.down.source.layer(int(s.down.target.Load())); l != nil {
			sending += l.bitrate.Load()
		}
	}
	r.mu.Unlock()
	r.bwe.update(at, sending)
}

// recordRelayed is Room.Record for a track that came over a relay: the relay owns the
// recording's goroutine (Close waits for it), and the recorder's down track makes the relay
// demand the track (a recording of the owner node, which the call decided on).
func (room *Room) recordRelayed(t *publishedTrack, sink RecordSink) (*Recording, error) {
	for _, r := range room.relayList() {
		r.mu.Lock()
		rt := r.remote[t.info.ID]
		if r.closed || rt == nil || rt.t != t {
			r.mu.Unlock()
			continue
		}
		rec := newRecording(t, sink, r.sfu.metrics, r.log)
		r.wg.Add(1)
		t.addRecording(rec)
		r.mu.Unlock()
		rec.start(r.wg.Done)
		r.askDemand()
		return rec, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrTrackNotFound, t.info.ID)
}

// ---- Transport ----

// negotiate offers the sending connection again (after a change, or with iceRestart after it
// failed); one offer is outstanding at a time.
func (r *Relay) negotiate(iceRestart bool) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	if r.negotiating || r.starting && !iceRestart {
		r.pending = true
		r.restart = r.restart || iceRestart
		r.mu.Unlock()
		return
	}
	r.negotiating = true
	r.mu.Unlock()
	r.offerMu.Lock()
	defer r.offerMu.Unlock()
	var opt *webrtc.OfferOptions
	if iceRestart {
		opt = &webrtc.OfferOptions{ICERestart: true}
	}
	offer, err := r.out.CreateOffer(opt)
	if err == nil {
		err = r.out.SetLocalDescription(offer)
	}
	if err != nil {
		r.log.Warn("relay offer", zap.Error(err))
		r.mu.Lock()
		r.negotiating = false
		r.mu.Unlock()
		return
	}
	r.post(relayOffer, relaySDP{SDP: offer.SDP}) // its candidates trickle
}

func (r *Relay) onAnswer(sdp string) error {
	r.mu.Lock()
	if !r.negotiating {
		r.mu.Unlock()
		return fmt.Errorf("%w: no relay offer is outstanding", ErrWrongState)
	}
	r.mu.Unlock()
	if err := r.out.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	r.flushEarly(true)
	r.mu.Lock()
	r.negotiating = false
	if r.state != webrtc.PeerConnectionStateConnected.String() {
		// pion starts the answering side's ICE after its answer, on a goroutine: a new offer
		// before that would look like an ICE restart to it. The next offer waits for the link.
		r.starting = true
		r.mu.Unlock()
		return nil
	}
	again, restart := r.pending, r.restart
	r.pending, r.restart = false, false
	r.mu.Unlock()
	if again {
		r.negotiate(restart)
	}
	return nil
}

// sdpError is a failed negotiation step: ErrClosed when the relay's connection closed meanwhile
// (an offer that meets a closing relay), else a bad description.
func (r *Relay) sdpError(step string, err error) error {
	if r.in.ConnectionState() == webrtc.PeerConnectionStateClosed || errors.Is(err, webrtc.ErrConnectionClosed) {
		return fmt.Errorf("%w: %s%v", ErrClosed, step, err)
	}
	return fmt.Errorf("%w: %s%v", ErrBadSDP, step, err)
}

// onOffer answers the peer's sending connection's offer; an offer with new ICE credentials
// restarts the link.
func (r *Relay) onOffer(sdp string) error {
	if err := r.in.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return r.sdpError("", err)
	}
	answer, err := r.in.CreateAnswer(nil)
	if err == nil {
		err = r.in.SetLocalDescription(answer)
	}
	if err != nil {
		return r.sdpError("answer: ", err)
	}
	r.flushEarly(false) // pion's ICE agent of an answering connection exists from here on
	r.post(relayAnswer, relaySDP{SDP: answer.SDP})
	return nil
}

func (r *Relay) pcOf(sending bool) *webrtc.PeerConnection {
	if sending {
		return r.out
	}
	return r.in
}

func (r *Relay) addCandidate(sending bool, c webrtc.ICECandidateInit) error {
	pc := r.pcOf(sending)
	r.mu.Lock()
	if pc.RemoteDescription() == nil || pc.LocalDescription() == nil {
		r.early[sending] = append(r.early[sending], c)
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	return pc.AddICECandidate(c)
}

func (r *Relay) flushEarly(sending bool) {
	r.mu.Lock()
	cands := r.early[sending]
	delete(r.early, sending)
	r.mu.Unlock()
	for _, c := range cands {
		if err := r.pcOf(sending).AddICECandidate(c); err != nil {
			r.log.Warn("relay early candidate", zap.Error(err))
		}
	}
}

// sendingState follows the sending connection: when it fails, an ICE restart is offered (the
// peer's tracks here stay published meanwhile; the peer sees the same on its side).
func (r *Relay) sendingState(s webrtc.PeerConnectionState) {
	r.mu.Lock()
	r.state = s.String()
	waited := r.starting && s == webrtc.PeerConnectionStateConnected
	if waited {
		r.starting = false
	}
	again, restart := waited && r.pending, r.restart
	if again {
		r.pending, r.restart = false, false
	}
	failed := s == webrtc.PeerConnectionStateFailed
	if r.closed {
		r.mu.Unlock()
		return
	}
	if failed || again {
		r.wg.Add(1) // under mu, before Close can wait
	}
	r.mu.Unlock()
	r.log.Info("relay link", zap.String("state", s.String()))
	switch {
	case failed:
		go func() { defer r.wg.Done(); r.negotiate(true) }()
	case again:
		go func() { defer r.wg.Done(); r.negotiate(restart) }()
	}
}

// Stats reports what crossed the relay, per track and layer.
func (r *Relay) Stats() RelayStats {
	st := RelayStats{Peer: r.peer, Estimate: r.bwe.rate.Load()}
	r.mu.Lock()
	defer r.mu.Unlock()
	st.State, st.ReceiveState = r.state, r.inState
	for _, s := range r.sends {
		st.Sent = append(st.Sent, RelayStreamStats{TrackID: s.down.source.info.ID, RID: strings.TrimPrefix(s.down.id, s.down.source.info.ID+"/"),
			Packets: s.stats.packets.Load(), Bytes: s.stats.bytes.Load(), NACKs: s.stats.nacks.Load(), PLIs: s.stats.plis.Load(),
			Subscribers: slices.Clone(*s.down.relaySubs.Load())})
	}
	for id, rt := range r.remote {
		for rid, c := range rt.stats {
			st.Received = append(st.Received, RelayStreamStats{TrackID: id, RID: rid, Packets: c.packets.Load(),
				Bytes: c.bytes.Load(), NACKs: c.nacks.Load(), PLIs: c.plis.Load()})
		}
	}
	return st
}

// Close ends the relay: the link's connections close, and the peer's tracks leave the room.
func (r *Relay) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	sends := make([]*relaySend, 0, len(r.sends))
	for _, s := range r.sends {
		sends = append(sends, s)
	}
	remote := make([]*relayedTrack, 0, len(r.remote))
	for _, rt := range r.remote {
		remote = append(remote, rt)
	}
	r.sends, r.remote = map[string]*relaySend{}, map[string]*relayedTrack{}
	r.mu.Unlock()
	for _, s := range sends {
		s.down.source.removeDown(s.down)
	}
	for _, rt := range remote {
		r.endRemote(rt)
	}
	r.closePCs()
	r.wg.Wait()
	r.room.dropRelay(r)
}

func (r *Relay) closePCs() {
	for _, pc := range []*webrtc.PeerConnection{r.out, r.in} {
		if pc != nil {
			if err := pc.Close(); err != nil {
				r.log.Debug("close relay connection", zap.Error(err))
			}
		}
	}
}

// ---- The room's side ----

// published tells the room's relays about a new track.
func (room *Room) published(t *publishedTrack) {
	for _, r := range room.relayList() {
		r.announce(t)
	}
}

// unpublished tells the room's relays that a track ended.
func (room *Room) unpublished(t *publishedTrack) {
	for _, r := range room.relayList() {
		r.unannounce(t)
	}
}

// demandChanged tells the relay a track came over that its subscriptions here changed (nil:
// some track, every relay looks).
func (room *Room) demandChanged(t *publishedTrack) {
	for _, r := range room.relayList() {
		r.demandChanged(t)
	}
}

// policyChanged makes every relay stop sending what the new policy no longer allows.
func (room *Room) policyChanged() {
	for _, r := range room.relayList() {
		r.reconcile()
	}
}

func (room *Room) relayList() []*Relay {
	room.mu.Lock()
	defer room.mu.Unlock()
	out := make([]*Relay, 0, len(room.relays))
	for _, r := range room.relays {
		out = append(out, r)
	}
	return out
}

// dropRelay removes a closed relay, and the room when nothing is left in it.
func (room *Room) dropRelay(r *Relay) {
	s := room.sfu
	s.mu.Lock()
	room.mu.Lock()
	if room.relays[r.peer] == r {
		delete(room.relays, r.peer)
	}
	room.mu.Unlock()
	s.mu.Unlock()
	room.dropIfEmpty()
}
