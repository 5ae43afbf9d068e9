package signaling

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"sanji/sfu"
)

// Resume (docs/protocol.md, "Resume"): a participant outlives its socket. When the server loses
// a joined session's socket it keeps the participant — its SFU connections, tracks,
// subscriptions and seat — for Config.ResumeGrace; a client that comes back on a new socket with
// its resume token (`resume`) takes its place again, and the old session hands everything over
// to the new one. The token is random, kept only as its SHA-256, single-use (each `resumed`
// brings the next), bound to its participant, and void once the grace has run out.

// presence is what of a participant outlives one socket: the SFU's sink (which follows the
// session that holds the participant now) and the state of its links.
type presence struct {
	cur atomic.Pointer[session]

	mu         sync.Mutex
	pc         map[string]string // target -> the server's view of a connection that has been up
	socketDown bool
	downSince  time.Time            // when the link went down; zero while it is up
	reported   bool                 // the room was told the participant is reconnecting
	asked      map[string]time.Time // target -> when the server last restarted or asked to restart its ICE
}

func newPresence(s *session) *presence {
	pr := &presence{pc: map[string]string{}, asked: map[string]time.Time{}}
	pr.cur.Store(s)
	return pr
}

// OnEvent implements sfu.EventSink: the event goes to the session holding the participant now.
func (pr *presence) OnEvent(e sfu.Event) {
	if s := pr.cur.Load(); s != nil {
		s.onEvent(e)
	}
}

// downLocked: the socket is gone, or a media connection that was up is not up now.
func (pr *presence) downLocked() bool {
	if pr.socketDown {
		return true
	}
	for _, st := range pr.pc {
		if st != "connected" {
			return true
		}
	}
	return false
}

// connectionState notes the server's view of one of the participant's connections and reports
// whether the server should restart that connection's ICE now: it has lost consent (disconnected)
// or failed, and was not restarted in the last iceRestartEvery.
func (pr *presence) connectionState(target, state string, now time.Time) (restart bool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if _, seen := pr.pc[target]; seen || state == "connected" {
		pr.pc[target] = state
	}
	if (state == "disconnected" || state == "failed") && now.Sub(pr.asked[target]) >= iceRestartEvery {
		pr.asked[target] = now
		return true
	}
	return false
}

// iceRestartEvery spaces the server's ICE restarts of one connection: a restart needs some
// seconds of checks to succeed.
const iceRestartEvery = 5 * time.Second

// newResumeToken returns a token and the key it is kept under.
func newResumeToken() (token, key string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, resumeKey(token)
}

func resumeKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// issueResumeLocked gives s a new resume token, voiding its previous one. srv.mu must be held.
func (srv *Server) issueResumeLocked(s *session) string {
	if srv.cfg.ResumeGrace <= 0 {
		return ""
	}
	delete(srv.resume, s.resumeKey)
	token, key := newResumeToken()
	s.resumeKey = key
	srv.resume[key] = s
	s.shared = srv.resumeRecord(s)
	return token
}

// linkChanged tells the room, the call and the metrics when a participant's link went down or
// came back. It runs on the session's reader, or on the goroutine pion starts for each
// connection state change, never on a packet path.
func (srv *Server) linkChanged(s *session) {
	pr := s.pres
	now := time.Now()
	pr.mu.Lock()
	down := pr.downLocked()
	if down == pr.reported {
		pr.mu.Unlock()
		return
	}
	pr.reported = down
	since := pr.downSince
	if down {
		pr.downSince = now
	} else {
		pr.downSince = time.Time{}
	}
	pr.mu.Unlock()

	if !down && !since.IsZero() {
		srv.metrics.reconnectSeconds.Observe(now.Sub(since).Seconds())
	}
	s.logger().Info("link changed", zap.Bool("reconnecting", down))
	srv.mu.Lock()
	if cur := srv.rooms[s.room][s.id]; cur != nil {
		srv.broadcast(cur, TypeParticipantReconnecting, ParticipantReconnectingData{ParticipantID: s.id, Reconnecting: down})
	}
	srv.mu.Unlock()
	if k := s.call; k != nil {
		k.LinkChanged(s.id, down)
	}
}

// reconnecting reports whether s's link is down, for the roster.
func (s *session) reconnecting() bool {
	if s.pres == nil {
		return false
	}
	s.pres.mu.Lock()
	defer s.pres.mu.Unlock()
	return s.pres.reported
}

// detach keeps a joined session's participant after its socket ended, for the grace period. It
// reports false when there is nothing to keep (not joined, leaving, or resume is off): the
// caller finishes the session then.
func (s *session) detach() bool {
	srv := s.srv
	grace := srv.cfg.ResumeGrace
	if grace <= 0 {
		return false
	}
	onStage := s.call != nil && s.call.OnStage(s.id)
	if onStage {
		grace = max(grace, srv.cfg.ResumeGraceOnStage)
	}
	s.mu.Lock()
	ok := !s.closing && s.joinedSent && s.part != nil
	s.mu.Unlock()
	if !ok {
		return false
	}
	close(s.done)
	s.kill()
	<-s.writerDone

	srv.mu.Lock()
	if srv.closing {
		srv.mu.Unlock()
		s.leave("shutdown")
		return true
	}
	s.detachedAt, s.grace = time.Now(), grace
	srv.graceWG.Add(1)
	srv.detached[s] = time.AfterFunc(grace, func() {
		defer srv.graceWG.Done()
		srv.mu.Lock()
		_, kept := srv.detached[s]
		delete(srv.detached, s)
		srv.mu.Unlock()
		if kept && s.leave("resume_timeout") {
			srv.metrics.resumes.WithLabelValues("expired").Inc()
			s.logger().Info("not resumed within the grace period; participant released")
		}
	})
	srv.mu.Unlock()

	s.pres.mu.Lock()
	s.pres.socketDown = true
	s.pres.mu.Unlock()
	s.logger().Info("socket lost; participant kept for resume", zap.Duration("grace", grace), zap.Bool("on_stage", onStage))
	srv.linkChanged(s)
	return true
}

// stopGraceLocked ends the grace timer of a detached session. srv.mu must be held.
func (srv *Server) stopGraceLocked(s *session) {
	t := srv.detached[s]
	delete(srv.detached, s)
	if t != nil && t.Stop() {
		srv.graceWG.Done()
	}
}

// claimResume finds the session a resume token belongs to and uses the token up. A token
// shown for another participant is refused and stays valid for its own.
func (srv *Server) claimResume(d ResumeData) *session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	key := resumeKey(d.Token)
	old := srv.resume[key]
	if old == nil || old.id != d.ParticipantID {
		return nil
	}
	delete(srv.resume, key)
	if !old.detachedAt.IsZero() && time.Since(old.detachedAt) > old.grace {
		return nil // the timer is about to release it
	}
	return old
}

func (s *session) onResume(id string, data json.RawMessage) *Error {
	var d ResumeData
	if e := decode(data, &d); e != nil {
		return e
	}
	if d.Token == "" {
		return errInvalid("token", wantNonEmpty)
	}
	if d.ParticipantID == "" {
		return errInvalid("participant_id", wantNonEmpty)
	}
	srv := s.srv
	if !srv.joins.allow(s.conn.RemoteAddr(), time.Now()) { // a guesser of resume tokens, too
		return errTooManyJoins(srv.cfg.JoinRate)
	}
	old := srv.claimResume(d)
	if old == nil && srv.cfg.Shared != nil && d.Room != "" {
		// Not kept here: the participant may come from a node that died (failover.go).
		return s.resumeElsewhere(id, d)
	}
	if old == nil || !s.takeOver(old, id) {
		srv.metrics.resumes.WithLabelValues("refused").Inc()
		s.logger().Info("resume refused")
		return errResumeRefused()
	}
	srv.metrics.resumes.WithLabelValues("ok").Inc()
	s.logger().Info("resumed")

	s.pres.mu.Lock()
	s.pres.socketDown = false
	s.pres.mu.Unlock()
	srv.linkChanged(s)

	p := s.livePart()
	if p == nil {
		return nil
	}
	if s.call != nil {
		// The state and the panel the client may have missed; subscriptions the call allows.
		s.call.Joined(s)
	} else if s.autoSubscribe {
		srv.mu.Lock()
		var tracks []string
		for _, o := range srv.rooms[s.room] {
			if o != s {
				for _, t := range o.tracks {
					tracks = append(tracks, t.ID)
				}
			}
		}
		srv.mu.Unlock()
		for _, t := range tracks {
			if err := p.Subscribe(t); err != nil {
				s.logger().Debug("auto-subscribe after resume failed", zap.String("track", t), zap.Error(err))
			}
		}
	}
	// An offer outstanding may have gone out on the lost socket (often the server's own ICE
	// restart, made when it saw the link go): it goes out again.
	p.ResendOffer()
	return nil
}

// takeOver moves the participant of old to s, which has just come with old's resume token,
// and answers `resumed` (to request re). Nobody in the room is told anyone left.
func (s *session) takeOver(old *session, re string) bool {
	srv := s.srv
	old.mu.Lock()
	if old.closing || old.part == nil {
		old.mu.Unlock()
		return false
	}
	// old handles no more messages and never closes the participant: s owns it now.
	old.closing, old.partClosed = true, true
	p := old.part
	sdpSent := maps.Clone(old.sdpSent)
	old.mu.Unlock()

	s.id, s.name, s.role, s.room = old.id, old.name, old.role, old.room
	s.autoSubscribe = old.autoSubscribe
	s.call, s.seat, s.userID = old.call, old.seat, old.userID
	s.pres = old.pres
	s.log.Store(srv.log.With(srv.remoteField(s.conn),
		zap.String("room", s.room), zap.String("participant", s.id)))
	s.mu.Lock()
	s.part = p
	s.sdpSent = sdpSent
	s.mu.Unlock()
	s.pres.cur.Store(s) // the SFU's events come to s now; held back until `resumed` is queued
	if s.call != nil {
		s.call.Rebind(old, s)
	}

	srv.mu.Lock()
	srv.stopGraceLocked(old)
	s.tracks = append([]Track{}, old.tracks...)
	if members := srv.rooms[s.room]; members[s.id] == old {
		members[s.id] = s
	}
	others := []Participant{}
	for _, o := range srv.rooms[s.room] {
		if o != s {
			others = append(others, o.participant())
		}
	}
	d := JoinedData{Room: s.room, Participant: s.participant(), Participants: others, ICEServers: srv.iceServers(s),
		ResumeToken: srv.issueResumeLocked(s), ResumeGraceMS: srv.cfg.ResumeGrace.Milliseconds()}
	s.resumed(re, d)
	srv.mu.Unlock()
	srv.shareResume(s)

	old.kill() // a socket the server had not yet found dead ends now
	return true
}

// resumed queues the `resumed` reply and what was held back for it. srv.mu must be held.
func (s *session) resumed(re string, d JoinedData) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.send(TypeResumed, re, d)
	s.joinedSent = true
	for _, m := range s.pending {
		s.send(m.typ, "", m.data)
	}
	s.pending = nil
}

func (s *session) onICERestart(_ string, data json.RawMessage) *Error {
	var d ICERestartData
	if e := decode(data, &d); e != nil {
		return e
	}
	if d.Target != TargetSubscriber {
		return errInvalid("target", wantSubscriberTarget)
	}
	if p := s.livePart(); p != nil && p.RestartICE() {
		s.srv.metrics.iceRestarts.WithLabelValues(TargetSubscriber, "client").Inc()
	}
	return nil
}

// onConnectionState follows the server's view of one of the participant's connections: the
// room learns when its link is down, and a connection that lost consent or failed is restarted
// (the subscriber, which the server offers) or the client is asked to restart it (the publisher).
func (s *session) onConnectionState(target, state string) {
	if s.pres == nil {
		return
	}
	restart := s.pres.connectionState(target, state, time.Now())
	s.srv.linkChanged(s)
	if !restart {
		return
	}
	switch target {
	case TargetPublisher:
		s.srv.metrics.iceRestarts.WithLabelValues(TargetPublisher, "server").Inc()
		s.emit(TypeICERestart, ICERestartData{Target: TargetPublisher})
	case TargetSubscriber:
		s.push(outFrame{work: func() {
			if p := s.livePart(); p != nil && p.RestartICE() {
				s.srv.metrics.iceRestarts.WithLabelValues(TargetSubscriber, "server").Inc()
			}
		}})
	}
}
