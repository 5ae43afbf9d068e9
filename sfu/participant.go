package sfu

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// Participant is one client in a room with its two PeerConnections: pub, which the client offers
// and sends media on, and sub, which we offer and deliver its subscriptions on.
type Participant struct {
	id   string
	room *Room
	sfu  *SFU
	sink EventSink
	log  *zap.Logger

	pub, sub *webrtc.PeerConnection
	bwe      bandwidth // the subscriber link's estimate
	rtx      *retransmitBudget
	uplink   LinkQuality // the last quality round's uplink (housekeeping only)
	// started: pub and sub are set; until then the room's housekeeping passes the participant by.
	started atomic.Bool

	mu        sync.Mutex
	closing   bool // Close has begun: no new tracks or subscriptions
	closed    bool
	published map[string]*publishedTrack
	simulcast map[*webrtc.RTPReceiver]*publishedTrack // tracks by receiver, to group their RIDs
	subs      map[string]*subscription
	// Subscriber negotiation: one offer outstanding at a time; changes meanwhile set pending.
	negotiating, pending bool
	pendingRestart       bool       // an ICE restart waits for the outstanding offer's answer
	offerMu              sync.Mutex // held while an offer is made (never with mu)
	// Candidates that arrived before the remote description they belong to.
	early map[Target][]webrtc.ICECandidateInit

	// While a subscriber offer is being made, its candidates wait in held, so that the client
	// never receives a candidate before the offer it belongs to.
	holdCandidates bool
	held           []EventICECandidate

	wg sync.WaitGroup // the participant's read loops
}

type subscription struct {
	down   *DownTrack
	sender *webrtc.RTPSender
}

// ID is the participant id given to Join.
func (p *Participant) ID() string { return p.id }

func (p *Participant) start() error {
	var err error
	if p.pub, err = p.sfu.newPeerConnection(true, nil); err != nil {
		return err
	}
	p.bwe.twcc = &twccLog{}
	if p.sub, err = p.sfu.newPeerConnection(false, p.bwe.twcc); err != nil {
		return err
	}
	for target, pc := range map[Target]*webrtc.PeerConnection{TargetPublisher: p.pub, TargetSubscriber: p.sub} {
		target := target
		pc.OnICECandidate(func(c *webrtc.ICECandidate) {
			ev := EventICECandidate{Target: target}
			if c != nil {
				init := c.ToJSON()
				ev.Candidate = &init
			}
			if target == TargetSubscriber {
				// pion gathers (even calls us) inside SetLocalDescription: hold the candidate
				// until the offer it belongs to is out.
				p.mu.Lock()
				if p.holdCandidates {
					p.held = append(p.held, ev)
					p.mu.Unlock()
					return
				}
				p.mu.Unlock()
			}
			p.emit(ev)
		})
		pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			p.emit(EventConnectionState{Target: target, State: s.String()})
		})
	}
	p.pub.OnTrack(p.onTrack)
	return nil
}

func (p *Participant) emit(e Event) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if !closed {
		p.sink.OnEvent(e)
	}
}

// Publish applies an offer for the publisher connection and returns the answer.
func (p *Participant) Publish(offerSDP string) (string, error) {
	if err := checkOffer(offerSDP); err != nil {
		return "", err
	}
	if err := p.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offerSDP}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	p.flushEarly(TargetPublisher)
	preferRED(p.pub)
	answer, err := p.pub.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: create answer: %v", ErrBadSDP, err)
	}
	if err := p.pub.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("%w: set answer: %v", ErrBadSDP, err)
	}
	return p.pub.LocalDescription().SDP, nil
}

// SetSubscriberAnswer applies the answer to the last EventSubscriberOffer.
func (p *Participant) SetSubscriberAnswer(sdp string) error {
	p.mu.Lock()
	if !p.negotiating {
		p.mu.Unlock()
		return fmt.Errorf("%w: no subscriber offer is outstanding", ErrWrongState)
	}
	p.mu.Unlock()
	if err := p.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	p.flushEarly(TargetSubscriber)
	p.mu.Lock()
	p.negotiating = false
	again, restart := p.pending, p.pendingRestart
	p.pending, p.pendingRestart = false, false
	p.mu.Unlock()
	if again || restart {
		p.offer(restart)
	}
	return nil
}

// AddICECandidate adds a remote candidate to one of the connections.
func (p *Participant) AddICECandidate(t Target, c webrtc.ICECandidateInit) error {
	pc := p.pc(t)
	if pc == nil {
		return fmt.Errorf("sfu: unknown target %q", t)
	}
	p.mu.Lock()
	if pc.RemoteDescription() == nil {
		if p.early == nil {
			p.early = map[Target][]webrtc.ICECandidateInit{}
		}
		p.early[t] = append(p.early[t], c)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	if err := pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("sfu: add %s candidate: %w", t, err)
	}
	return nil
}

func (p *Participant) pc(t Target) *webrtc.PeerConnection {
	switch t {
	case TargetPublisher:
		return p.pub
	case TargetSubscriber:
		return p.sub
	}
	return nil
}

func (p *Participant) flushEarly(t Target) {
	p.mu.Lock()
	cands := p.early[t]
	delete(p.early, t)
	p.mu.Unlock()
	for _, c := range cands {
		if err := p.pc(t).AddICECandidate(c); err != nil {
			p.log.Debug("early candidate", zap.String("target", string(t)), zap.Error(err))
		}
	}
}

// onTrack runs when a publisher's track (or one simulcast layer of it) starts: the first one
// becomes a published track of the room, the other layers join it.
func (p *Participant) onTrack(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		_ = receiver.Stop()
		return
	}
	if t := p.simulcast[receiver]; t != nil && remote.RID() != "" {
		l := t.addLayer(remote)
		if l == nil {
			p.wg.Add(1)
			p.mu.Unlock()
			p.log.Warn("a second stream with a known simulcast RID is dropped", zap.String("track", t.info.ID),
				zap.String("rid", remote.RID()), zap.Uint32("ssrc", uint32(remote.SSRC())))
			go func() { defer p.wg.Done(); drain(remote) }()
			return
		}
		p.wg.Add(2)
		p.mu.Unlock()
		p.log.Debug("simulcast layer", zap.String("track", t.info.ID), zap.String("rid", l.rid))
		go func() { defer p.wg.Done(); t.readRTCP(l) }()
		go func() { defer p.wg.Done(); t.forward(l); p.endTrack(t) }()
		return
	}
	id := newTrackID()
	t := newPublishedTrack(id, p.id, remote, receiver, p.pub, &p.sfu.cfg, p.sfu.metrics, p.log)
	t.room = p.room.metrics
	l := t.addLayer(remote)
	p.published[id] = t
	if remote.RID() != "" {
		if p.simulcast == nil {
			p.simulcast = map[*webrtc.RTPReceiver]*publishedTrack{}
		}
		p.simulcast[receiver] = t
	}
	p.wg.Add(2)
	p.mu.Unlock()

	r := p.room
	r.mu.Lock()
	r.tracks[id] = t
	r.mu.Unlock()
	p.sfu.metrics.tracks.Inc()
	p.log.Info("track published", zap.String("track", id), zap.String("codec", t.info.Codec),
		zap.Bool("simulcast", t.info.Simulcast))

	go func() { defer p.wg.Done(); t.readRTCP(l) }()
	go func() {
		defer p.wg.Done()
		t.forward(l)
		p.endTrack(t) // the publisher stopped sending it (renegotiated away, or left)
	}()
	p.emit(EventTrackPublished{Track: t.Info()})
	r.published(t)
}

// drain reads and drops a remote stream until it ends (the connection closes), so pion's
// receive buffers never fill for it.
func drain(remote *webrtc.TrackRemote) {
	for {
		if _, _, err := remote.ReadRTP(); err != nil {
			return
		}
	}
}

// endTrack removes a published track from the room and from every subscriber.
func (p *Participant) endTrack(t *publishedTrack) {
	p.mu.Lock()
	_, ok := p.published[t.info.ID]
	delete(p.published, t.info.ID)
	delete(p.simulcast, t.receiver)
	p.mu.Unlock()
	if !ok {
		return
	}
	p.room.dropTrack(t)
	p.sfu.metrics.tracks.Dec()
	p.emit(EventTrackUnpublished{Track: t.Info()})
}

// Subscribe starts forwarding tracks to this participant.
func (p *Participant) Subscribe(trackIDs ...string) error {
	changed := false
	var errs []error
	for _, id := range trackIDs {
		ok, err := p.subscribe(id)
		changed = changed || ok
		if err != nil {
			errs = append(errs, err)
		}
	}
	if changed {
		p.room.demandChanged(nil) // tracks from other nodes are asked for (outside p.mu)
		p.negotiate()
	}
	return errors.Join(errs...)
}

func (p *Participant) subscribe(id string) (bool, error) {
	t := p.room.track(id)
	if t == nil {
		return false, fmt.Errorf("%w: %s", ErrTrackNotFound, id)
	}
	if t.info.ParticipantID == p.id {
		return false, fmt.Errorf("%w: %s is the participant's own track", ErrForbidden, id)
	}
	if !p.room.allowed(p.id, t) {
		return false, fmt.Errorf("%w: %s", ErrForbidden, id)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false, ErrClosed
	}
	if p.subs[id] != nil {
		return false, nil
	}
	d := newDownTrack(t, p, p.sfu.metrics)
	tr, err := p.sub.AddTransceiverFromTrack(d, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return false, fmt.Errorf("sfu: add track %s: %w", id, err)
	}
	if prefs := localCodec(t.codec); prefs != nil {
		if err := tr.SetCodecPreferences(prefs); err != nil {
			p.log.Debug("codec preferences", zap.Error(err))
		}
	}
	sender := tr.Sender()
	p.subs[id] = &subscription{down: d, sender: sender}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			d.handleRTCP(pkts)
		}
	}()
	t.addDown(d)
	return true, nil
}

// Unsubscribe stops forwarding tracks to this participant.
func (p *Participant) Unsubscribe(trackIDs ...string) error {
	var errs []error
	changed := false
	for _, id := range trackIDs {
		p.mu.Lock()
		known := p.subs[id] != nil
		p.mu.Unlock()
		if !known {
			errs = append(errs, fmt.Errorf("%w: not subscribed to %s", ErrTrackNotFound, id))
			continue
		}
		changed = p.unsubscribe(id, false) || changed
	}
	if changed {
		p.negotiate()
	}
	return errors.Join(errs...)
}

// unsubscribe stops forwarding at once and removes the track from the subscriber connection.
// With renegotiate it also sends the new offer and tells the participant the subscription ended.
func (p *Participant) unsubscribe(id string, notify bool) bool {
	p.mu.Lock()
	s := p.subs[id]
	delete(p.subs, id)
	closed := p.closed
	p.mu.Unlock()
	if s == nil {
		return false
	}
	s.down.source.removeDown(s.down)
	p.room.demandChanged(s.down.source)
	if closed {
		return true
	}
	if err := p.sub.RemoveTrack(s.sender); err != nil {
		p.log.Debug("remove track", zap.String("track", id), zap.Error(err))
	}
	if notify {
		p.emit(EventSubscriptionEnded{TrackID: id})
		p.negotiate()
	}
	return true
}

func (p *Participant) enforcePolicy(pol Policy) {
	p.mu.Lock()
	var drop []string
	for id, s := range p.subs {
		if !pol.Allow(p.id, s.down.source.Info()) {
			drop = append(drop, id)
		}
	}
	p.mu.Unlock()
	for _, id := range drop {
		p.unsubscribe(id, true)
	}
}

// negotiate sends a new subscriber offer, or marks one pending while another is outstanding.
func (p *Participant) negotiate() { p.offer(false) }

// RestartICE sends a subscriber offer with fresh ICE credentials: an ICE restart, which keeps
// every track and subscription as it is. While an offer is outstanding the restart waits for its
// answer (an answer must meet the offer it answers). Before the first offer there is nothing to
// restart: it returns false; it returns true when the restart is sent or waits.
func (p *Participant) RestartICE() bool { return p.offer(true) }

// ResendOffer sends the outstanding subscriber offer again, for a client that may have lost it
// with its socket (a resume); it reports whether there was one. The offer is sent again rather
// than replaced: pion cannot roll back a local offer, and the answer must meet the offer.
func (p *Participant) ResendOffer() bool {
	p.offerMu.Lock() // not while an offer is being made
	defer p.offerMu.Unlock()
	p.mu.Lock()
	outstanding := p.negotiating && !p.closing
	p.mu.Unlock()
	if !outstanding {
		return false
	}
	d := p.sub.PendingLocalDescription() // with the candidates gathered since
	if d == nil {
		return false
	}
	p.emit(EventSubscriberOffer{SDP: d.SDP})
	return true
}

func (p *Participant) offer(iceRestart bool) bool {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return false
	}
	if iceRestart && p.sub.LocalDescription() == nil {
		p.mu.Unlock()
		return false
	}
	if p.negotiating {
		if iceRestart {
			p.pendingRestart = true
		} else {
			p.pending = true
		}
		p.mu.Unlock()
		return iceRestart
	}
	p.negotiating = true
	p.mu.Unlock()
	// One offer is made at a time, and none while ResendOffer sends the outstanding one.
	p.offerMu.Lock()
	defer p.offerMu.Unlock()
	p.mu.Lock()
	p.holdCandidates = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		held := p.held
		p.held, p.holdCandidates = nil, false
		p.mu.Unlock()
		for _, ev := range held {
			p.emit(ev)
		}
	}()

	var opt *webrtc.OfferOptions
	if iceRestart {
		opt = &webrtc.OfferOptions{ICERestart: true}
	}
	offer, err := p.sub.CreateOffer(opt)
	if err == nil {
		err = p.sub.SetLocalDescription(offer)
	}
	if err != nil {
		p.log.Warn("subscriber offer", zap.Bool("ice_restart", iceRestart), zap.Error(err))
		p.mu.Lock()
		p.negotiating = false
		p.mu.Unlock()
		return false
	}
	p.emit(EventSubscriberOffer{SDP: p.sub.LocalDescription().SDP})
	return true
}

// SetTrackSettings records how the participant shows a track it receives (size, priority); the
// allocator applies it on its next round.
func (p *Participant) SetTrackSettings(trackID string, s TrackSettings) error {
	p.mu.Lock()
	sub := p.subs[trackID]
	p.mu.Unlock()
	if sub == nil {
		return fmt.Errorf("%w: not subscribed to %s", ErrTrackNotFound, trackID)
	}
	d := sub.down
	d.maxWidth.Store(int32(max(s.Width, 0)))
	d.maxHeight.Store(int32(max(s.Height, 0)))
	d.priority.Store(int32(s.Priority))
	d.allocate(p.bwe.estimate(), p.bwe.mayPause(s.Priority > 0), now()) // a resized tile should not wait for the next round
	return nil
}

// SetMuted mutes or unmutes one of the participant's own tracks.
func (p *Participant) SetMuted(trackID string, muted bool) error {
	p.mu.Lock()
	t := p.published[trackID]
	p.mu.Unlock()
	if t == nil {
		return fmt.Errorf("%w: %s is not a track of this participant", ErrTrackNotFound, trackID)
	}
	t.setMuted(muted)
	return nil
}

// Unpublish ends one of the participant's own tracks.
func (p *Participant) Unpublish(trackID string) error {
	p.mu.Lock()
	t := p.published[trackID]
	p.mu.Unlock()
	if t == nil {
		return fmt.Errorf("%w: %s is not a track of this participant", ErrTrackNotFound, trackID)
	}
	p.endTrack(t)
	return nil
}

// Close removes the participant from its room: its tracks end for every subscriber, its
// connections close, and its goroutines have ended when Close returns.
func (p *Participant) Close(reason string) {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return
	}
	p.closing = true
	published := make([]*publishedTrack, 0, len(p.published))
	for _, t := range p.published {
		published = append(published, t)
	}
	subs := make([]string, 0, len(p.subs))
	for id := range p.subs {
		subs = append(subs, id)
	}
	p.mu.Unlock()

	for _, t := range published {
		p.endTrack(t)
	}
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for _, id := range subs {
		p.unsubscribe(id, false)
	}
	p.room.leave(p)
	for _, pc := range []*webrtc.PeerConnection{p.pub, p.sub} {
		if pc != nil {
			if err := pc.Close(); err != nil {
				p.log.Debug("close peer connection", zap.Error(err))
			}
		}
	}
	p.wg.Wait()
	p.sink.OnEvent(EventClosed{Reason: reason})
}

func newTrackID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "TR_" + hex.EncodeToString(b[:])
}
