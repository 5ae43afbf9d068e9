package sfu

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// SFU owns the ICE sockets and all rooms. It knows nothing of signaling: commands come in as
// method calls, events go out through each participant's EventSink.
type SFU struct {
	cfg     Config
	log     *zap.Logger
	metrics *metrics
	setting webrtc.SettingEngine
	// relaySetting is setting without the ICE muxes: each relay connection has a UDP socket of its
	// own, since the mux routes by remote address and two sessions between the same two SFU sockets
	// (the two directions of a relay, or relays of two rooms) would take each other's packets.
	relaySetting webrtc.SettingEngine
	udp          net.PacketConn
	tcp          net.Listener
	udpMux       ice.UDPMux
	tcpMux       ice.TCPMux

	mu     sync.Mutex
	rooms  map[string]*Room
	closed bool

	done  chan struct{} // closed by Close: housekeeping ends
	wg    sync.WaitGroup
	quiet quietSwitch // set by Close: pion's stragglers log nothing
}

// Room is a set of participants that may exchange media, under one subscription policy.
type Room struct {
	id  string
	sfu *SFU

	mu           sync.Mutex
	participants map[string]*Participant
	tracks       map[string]*publishedTrack
	policy       Policy
	relays       map[string]*Relay // by peer node

	speakers speakerDetector // used by housekeeping only
	metrics  *roomMetrics
}

// New starts the media plane: it opens the ICE UDP socket (and the ICE-TCP listener).
func New(cfg Config) (*SFU, error) {
	if cfg.ListenIP == "" {
		cfg.ListenIP = "127.0.0.1"
	}
	if cfg.PacketBufferSize <= 0 {
		cfg.PacketBufferSize = 1024
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = DefaultMaxDelay
	}
	if cfg.PLIThrottle <= 0 {
		cfg.PLIThrottle = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	ip := net.ParseIP(cfg.ListenIP)
	if ip == nil {
		return nil, fmt.Errorf("sfu: listen IP %q is not an IP address", cfg.ListenIP)
	}
	s := &SFU{cfg: cfg, log: cfg.Logger, metrics: newMetrics(cfg.Registerer), rooms: map[string]*Room{}}
	s.setting.LoggerFactory = pionLogs{log: cfg.Logger, quiet: &s.quiet}

	var udp net.PacketConn
	var err error
	if cfg.Net != nil {
		s.setting.SetNet(cfg.Net)
		cfg.TCPPort = -1
		udp, err = cfg.Net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: cfg.UDPPort})
	} else {
		udp, err = net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: cfg.UDPPort})
	}
	if err != nil {
		return nil, fmt.Errorf("sfu: open ICE UDP port %d: %w", cfg.UDPPort, err)
	}
	s.udp = udp
	s.udpMux = webrtc.NewICEUDPMux(s.setting.LoggerFactory.NewLogger("udpmux"), udp)
	s.setting.SetICEUDPMux(s.udpMux)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if cfg.TCPPort >= 0 || (cfg.TCPListener != nil && cfg.Net == nil) {
		var tcp net.Listener = cfg.TCPListener
		if tcp == nil {
			if tcp, err = net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: cfg.TCPPort}); err != nil {
				_ = s.udpMux.Close()
				return nil, fmt.Errorf("sfu: open ICE-TCP port %d: %w", cfg.TCPPort, err)
			}
		}
		s.tcp = tcp
		s.tcpMux = webrtc.NewICETCPMux(s.setting.LoggerFactory.NewLogger("tcpmux"), tcp, 64)
		s.setting.SetICETCPMux(s.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	s.setting.SetNetworkTypes(networks)
	// mDNS would announce on the local network and hide nothing a server needs hidden.
	s.setting.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if cfg.Net == nil && (cfg.LoopbackOnly || ip.IsLoopback()) {
		s.setting.SetIncludeLoopbackCandidate(true)
		s.setting.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	if len(cfg.PublicIPs) > 0 {
		if err := s.setting.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: cfg.PublicIPs, AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			_ = s.closeSockets()
			return nil, fmt.Errorf("sfu: public addresses %v: %w", cfg.PublicIPs, err)
		}
	}
	s.setting.SetICETimeouts(5*time.Second, 20*time.Second, 2*time.Second)
	s.relaySetting = s.setting
	s.relaySetting.SetICEUDPMux(nil)
	s.relaySetting.SetICETCPMux(nil)
	s.relaySetting.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	if cfg.RelayPortMin != 0 || cfg.RelayPortMax != 0 {
		if err := s.relaySetting.SetEphemeralUDPPortRange(cfg.RelayPortMin, cfg.RelayPortMax); err != nil {
			_ = s.closeSockets()
			return nil, fmt.Errorf("sfu: relay ports %d-%d: %w", cfg.RelayPortMin, cfg.RelayPortMax, err)
		}
	}
	s.done = make(chan struct{})
	s.wg.Add(1)
	go s.housekeeping()
	return s, nil
}

// housekeepingTick paces the SFU's periodic work: speaker detection every tick, bandwidth
// allocation every second tick, layer bitrates every fourth.
const housekeepingTick = 250 * time.Millisecond

// qualityTicks is how many ticks make a QualityInterval.
const qualityTicks = int(QualityInterval / housekeepingTick)

// housekeeping is the SFU's one periodic goroutine; Close ends it.
func (s *SFU) housekeeping() {
	defer s.wg.Done()
	tick := time.NewTicker(housekeepingTick)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-s.done:
			return
		case <-tick.C:
		}
		at := now()
		var quality qualityCounts
		for _, r := range s.liveRooms() {
			parts, tracks := r.snapshot()
			if n%4 == 0 {
				var forwarded int64
				for _, t := range tracks {
					t.sampleBitrates(4 * housekeepingTick)
					t.shedLag() // before the allocation below, which applies its step-downs
					forwarded += t.forwardedBitrate()
				}
				r.metrics.forwardedBitrate.Set(float64(forwarded))
			}
			if n%2 == 0 {
				for _, p := range parts {
					p.allocate(at)
				}
				for _, t := range tracks {
					t.steerRecordings(at)
					if pub := r.participant(t.info.ParticipantID); pub != nil {
						pub.announceLayers(t)
					}
				}
			}
			if n%2 == 0 {
				for _, rl := range r.relayList() {
					rl.tick(at)
				}
			}
			r.detectSpeaker(parts, tracks)
			if n%qualityTicks == 0 {
				c := r.reportQuality(parts)
				quality.paused, quality.lowered, quality.poor = quality.paused+c.paused, quality.lowered+c.lowered, quality.poor+c.poor
			}
		}
		if n%qualityTicks == 0 {
			s.metrics.videoPaused.Set(float64(quality.paused))
			s.metrics.videoLowered.Set(float64(quality.lowered))
			s.metrics.poorLinks.Set(float64(quality.poor))
		}
	}
}

func (s *SFU) liveRooms() []*Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	return rooms
}

func (r *Room) snapshot() ([]*Participant, []*publishedTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	parts := make([]*Participant, 0, len(r.participants))
	for _, p := range r.participants {
		if p.started.Load() { // its connections exist
			parts = append(parts, p)
		}
	}
	tracks := make([]*publishedTrack, 0, len(r.tracks))
	for _, t := range r.tracks {
		tracks = append(tracks, t)
	}
	return parts, tracks
}

// detectSpeaker updates the room's active speaker from its audio tracks and tells everyone when
// it changes.
func (r *Room) detectSpeaker(parts []*Participant, tracks []*publishedTrack) {
	levels := map[string]float64{}
	for _, t := range tracks {
		if t.audioLevel == 0 {
			continue
		}
		l := t.loudness.take()
		if t.muted.Load() {
			l = 0
		}
		levels[t.info.ParticipantID] = max(levels[t.info.ParticipantID], l)
	}
	speaker, changed := r.speakers.update(levels)
	if !changed {
		return
	}
	for _, p := range parts {
		p.emit(EventActiveSpeaker{ParticipantID: speaker})
	}
}

// UDPAddr is the ICE UDP mux's address.
func (s *SFU) UDPAddr() *net.UDPAddr { return s.udp.LocalAddr().(*net.UDPAddr) }

// TCPAddr is the ICE-TCP address, nil when ICE-TCP is off.
func (s *SFU) TCPAddr() *net.TCPAddr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr().(*net.TCPAddr)
}

// Join adds a participant to a room, creating the room if needed. Its events go to sink.
func (s *SFU) Join(roomID, participantID string, sink EventSink) (*Participant, error) {
	return s.JoinWithPolicy(roomID, participantID, sink, nil)
}

// JoinWithPolicy is Join into a room governed by pol (nil: leave the policy as it is, AllowAll
// for a new room). A room created here starts with pol, so no subscription ever runs under a
// wider policy; an existing room's policy becomes pol.
func (s *SFU) JoinWithPolicy(roomID, participantID string, sink EventSink, pol Policy) (*Participant, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	r := s.roomLocked(roomID)
	r.mu.Lock()
	if pol != nil {
		r.policy = pol
	}
	if r.participants[participantID] != nil {
		r.mu.Unlock()
		s.mu.Unlock()
		return nil, ErrDuplicate
	}
	p := &Participant{id: participantID, room: r, sfu: s, sink: sink, rtx: newRetransmitBudget(),
		log:  s.log.With(zap.String("room", roomID), zap.String("participant", participantID)),
		subs: map[string]*subscription{}, published: map[string]*publishedTrack{}}
	r.participants[participantID] = p
	r.metrics.participants.Set(float64(len(r.participants)))
	r.mu.Unlock()
	s.mu.Unlock()
	s.metrics.participants.Inc()

	if err := p.start(); err != nil {
		p.Close("setup failed")
		return nil, err
	}
	p.started.Store(true)
	return p, nil
}

// roomLocked returns the room, created if needed; s.mu is held.
func (s *SFU) roomLocked(roomID string) *Room {
	r := s.rooms[roomID]
	if r == nil {
		r = &Room{id: roomID, sfu: s, participants: map[string]*Participant{}, tracks: map[string]*publishedTrack{},
			relays: map[string]*Relay{}, policy: AllowAll{}, metrics: s.metrics.forRoom(roomID)}
		s.rooms[roomID] = r
		s.metrics.rooms.Inc()
	}
	return r
}

// Room returns a live room or nil.
func (s *SFU) Room(roomID string) *Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[roomID]
}

// Close ends every participant (EventClosed{"shutdown"}) and closes the sockets.
func (s *SFU) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var all []*Participant
	var relays []*Relay
	for _, r := range s.rooms {
		r.mu.Lock()
		for _, p := range r.participants {
			all = append(all, p)
		}
		for _, rl := range r.relays {
			relays = append(relays, rl)
		}
		r.mu.Unlock()
	}
	s.mu.Unlock()
	close(s.done)
	s.wg.Wait()
	for _, rl := range relays {
		rl.Close()
	}
	for _, p := range all {
		p.Close("shutdown")
	}
	err := s.closeSockets()
	s.quiet.silence()
	return err
}

func (s *SFU) closeSockets() error {
	var errs []error
	if s.tcpMux != nil {
		errs = append(errs, s.tcpMux.Close())
	}
	errs = append(errs, s.udpMux.Close())
	return errors.Join(errs...)
}

// maxNacksPerPacket bounds how often the publisher side asks for one lost packet, as browsers do
// (libwebrtc: 10). pion's default is unlimited, every 100 ms for as long as the packet is in its
// 512-packet window: under overload, when packets are lost because a side cannot keep up, the
// repeated requests and their answers add to the load and the loss (docs/benchmarks.md).
const maxNacksPerPacket = 10

// newPeerConnection builds a connection with its own MediaEngine and interceptors. The publisher
// side generates NACKs and receiver reports towards the client; the subscriber side sends sender
// reports and leaves NACK serving to our down tracks (one shared buffer per published track).
// On the subscriber side, tw (when not nil) records what is sent and reads the receiver's TWCC
// feedback, for the link's bandwidth estimate.
func (s *SFU) newPeerConnection(publisher bool, tw *twccLog) (*webrtc.PeerConnection, error) {
	m, err := newMediaEngine()
	if err != nil {
		return nil, err
	}
	return s.newPeerConnectionWith(m, &s.setting, publisher, tw)
}

// newPeerConnectionWith is newPeerConnection on a given media engine and settings (a relay's).
func (s *SFU) newPeerConnectionWith(m *webrtc.MediaEngine, se *webrtc.SettingEngine, publisher bool, tw *twccLog) (*webrtc.PeerConnection, error) {
	ir := &interceptor.Registry{}
	if publisher {
		gen, err := nack.NewGeneratorInterceptor(nack.GeneratorMaxNacksPerPacket(maxNacksPerPacket))
		if err != nil {
			return nil, fmt.Errorf("nack generator: %w", err)
		}
		ir.Add(gen)
		rr, err := report.NewReceiverInterceptor()
		if err != nil {
			return nil, fmt.Errorf("receiver reports: %w", err)
		}
		ir.Add(rr)
		if err := webrtc.ConfigureTWCCSender(m, ir); err != nil {
			return nil, fmt.Errorf("twcc feedback: %w", err)
		}
	} else {
		sr, err := report.NewSenderInterceptor()
		if err != nil {
			return nil, fmt.Errorf("sender reports: %w", err)
		}
		ir.Add(sr)
		if tw != nil {
			// The tap goes in first so that it wraps the socket side of pion's TWCC header
			// interceptor, and sees the sequence number that interceptor writes.
			ir.Add(&twccTap{log: tw})
			if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, ir); err != nil {
				return nil, fmt.Errorf("twcc header extension: %w", err)
			}
		}
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(*se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
	})
	if err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	return pc, nil
}

// SetPolicy replaces the room's subscription policy and ends at once the subscriptions it no
// longer allows.
func (r *Room) SetPolicy(p Policy) {
	r.mu.Lock()
	r.policy = p
	parts := make([]*Participant, 0, len(r.participants))
	for _, x := range r.participants {
		parts = append(parts, x)
	}
	r.mu.Unlock()
	for _, x := range parts {
		x.enforcePolicy(p)
	}
	r.policyChanged()
}

// Tracks lists the room's published tracks.
func (r *Room) Tracks() []TrackInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]TrackInfo, 0, len(r.tracks))
	for _, t := range r.tracks {
		out = append(out, t.Info())
	}
	return out
}

func (r *Room) allowed(subscriberID string, t *publishedTrack) bool {
	r.mu.Lock()
	p := r.policy
	r.mu.Unlock()
	return p.Allow(subscriberID, t.Info())
}

func (r *Room) participant(id string) *Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.participants[id]
}

func (r *Room) track(id string) *publishedTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tracks[id]
}

// leave removes a participant and drops the room when it is empty.
func (r *Room) leave(p *Participant) {
	s := r.sfu
	s.mu.Lock()
	r.mu.Lock()
	if r.participants[p.id] == p {
		delete(r.participants, p.id)
		s.metrics.participants.Dec()
		r.metrics.participants.Set(float64(len(r.participants)))
	}
	r.mu.Unlock()
	s.mu.Unlock()
	r.dropIfEmpty()
}

// dropIfEmpty drops the room when it has neither participants nor relays.
func (r *Room) dropIfEmpty() {
	s := r.sfu
	s.mu.Lock()
	r.mu.Lock()
	if len(r.participants) == 0 && len(r.relays) == 0 && s.rooms[r.id] == r {
		delete(s.rooms, r.id)
		s.metrics.rooms.Dec()
		s.metrics.dropRoom(r.id)
	}
	r.mu.Unlock()
	s.mu.Unlock()
}

// dropTrack removes a published track from the room and from every subscriber and relay; it
// reports false when the track was not (or no longer) the room's.
func (r *Room) dropTrack(t *publishedTrack) bool {
	r.mu.Lock()
	if r.tracks[t.info.ID] != t {
		r.mu.Unlock()
		return false
	}
	delete(r.tracks, t.info.ID)
	subscribers := make([]*Participant, 0, len(r.participants))
	for _, x := range r.participants {
		subscribers = append(subscribers, x)
	}
	r.mu.Unlock()
	for _, x := range subscribers {
		x.unsubscribe(t.info.ID, true)
	}
	r.unpublished(t)
	t.endRecordings()
	t.stop()
	return true
}
