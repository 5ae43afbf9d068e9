package signaling

import (
	"encoding/json"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"sanji/call"
	"sanji/sfu"
)

// outFrame is one item of a session's outgoing queue, handled in order by the writer.
type outFrame struct {
	typ  string // message type, for metrics
	data []byte // a text frame to write, or
	// closeCode > 0: write a close frame, wait for the client's answer (or closeGrace), stop.
	closeCode int
	closeText string
	// work runs on the writer goroutine: SFU calls that a callback of the SFU asked for, which
	// must not run on the SFU's goroutine (it may hold its locks) nor block it.
	work func()
}

// session is one WebSocket connection. Its reader is the ServeHTTP goroutine, its writer is
// writeLoop; finish ends both.
type session struct {
	srv  *Server
	conn *websocket.Conn
	host string                     // the request's Host, for the TURN URLs in `joined`
	log  atomic.Pointer[zap.Logger] // gains room and participant at join; read from every goroutine

	out        chan outFrame
	done       chan struct{} // closed by finish: the writer stops
	writerDone chan struct{}
	killOnce   sync.Once

	window rateWindow // reader only

	// Set by the join handler before the SFU or the roster can call back, then read-only.
	id, name, role, room string
	autoSubscribe        bool
	// In a reception call: the call, the seat and the user account from the join token.
	call   *call.Call
	seat   call.Seat
	userID int64

	tracks []Track // guarded by srv.mu
	// Set at join or resume, then read-only: what of the participant outlives this socket.
	pres *presence
	// Guarded by srv.mu: the key of the session's resume token, and when its socket was lost
	// (zero while it has one).
	resumeKey string
	// shared is the resume record to write to the cluster once srv.mu is released; renewMedia
	// says s came back from a node that died (failover.go): it is answered `resumed`, with
	// fresh connections.
	shared     []byte
	renewMedia bool
	detachedAt time.Time
	grace      time.Duration // how long a detached session is kept (resume.go)

	mu         sync.Mutex
	part       Media
	partClosed bool // the SFU has closed the participant, or we have
	closing    bool // end or finish has begun; no more messages are handled
	joinedSent bool
	pending    []pendingMsg                          // events that came before `joined` was queued
	sdpSent    map[string]bool                       // target -> its first SDP went to the client
	held       map[string][]*webrtc.ICECandidateInit // candidates waiting for their target's first SDP
	quality    qualityGate
}

type pendingMsg struct {
	typ  string
	data any
}

func newSession(srv *Server, conn *websocket.Conn) *session {
	s := &session{
		srv:        srv,
		conn:       conn,
		out:        make(chan outFrame, outQueueLen),
		done:       make(chan struct{}),
		writerDone: make(chan struct{}),
		sdpSent:    map[string]bool{},
		held:       map[string][]*webrtc.ICECandidateInit{},
	}
	s.log.Store(srv.log.With(srv.remoteField(conn)))
	return s
}

// remoteField is the client's address as a log field, or nothing unless LogClientIP is set.
func (srv *Server) remoteField(conn interface{ RemoteAddr() net.Addr }) zap.Field {
	if !srv.cfg.LogClientIP {
		return zap.Skip()
	}
	return zap.String("remote", conn.RemoteAddr().String())
}

func (s *session) logger() *zap.Logger { return s.log.Load() }

// participant is s as the roster shows it. srv.mu must be held.
func (s *session) participant() Participant {
	return Participant{ID: s.id, Name: s.name, Role: s.role, Tracks: append([]Track{}, s.tracks...),
		Reconnecting: s.reconnecting()}
}

// livePart returns the SFU participant, nil before join or once the session is ending.
func (s *session) livePart() Media {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil
	}
	return s.part
}

func (s *session) isJoined() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.joinedSent
}

func (s *session) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// send queues a message. It never blocks: a client whose queue is full is disconnected.
func (s *session) send(typ, re string, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		s.logger().Error("encode message", zap.String("type", typ), zap.Error(err))
		return
	}
	b, err := json.Marshal(Message{V: Version, Type: typ, Re: re, Data: raw})
	if err != nil {
		s.logger().Error("encode envelope", zap.String("type", typ), zap.Error(err))
		return
	}
	s.push(outFrame{typ: typ, data: b})
}

func (s *session) sendError(re string, e *Error) {
	s.srv.metrics.errors.WithLabelValues(e.Code).Inc()
	s.send(TypeError, re, e)
}

func (s *session) push(f outFrame) {
	select {
	case <-s.done:
		return
	default:
	}
	select {
	case s.out <- f:
		if f.typ != "" {
			s.srv.metrics.messages.WithLabelValues("out", f.typ).Inc()
		}
	default:
		s.logger().Warn("client does not keep up with its messages, disconnecting", zap.Int("queue", outQueueLen))
		s.kill()
	}
}

// kill cuts the socket; the reader and writer then end with errors.
func (s *session) kill() {
	s.killOnce.Do(func() { _ = s.conn.Close() })
}

// emitLocked sends an event-born message, holding it back until `joined` is queued so the
// client always sees `joined` first. s.mu must be held.
func (s *session) emitLocked(typ string, data any) {
	if !s.joinedSent {
		s.pending = append(s.pending, pendingMsg{typ, data})
		return
	}
	s.send(typ, "", data)
}

// emit sends an event-born message after `joined` (held back until then).
func (s *session) emit(typ string, data any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emitLocked(typ, data)
}

// joined queues the `joined` reply and what was held back for it. srv.mu must be held.
func (s *session) joined(re string, d JoinedData) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.send(TypeJoined, re, d)
	s.joinedSent = true
	for _, m := range s.pending {
		s.send(m.typ, "", m.data)
	}
	s.pending = nil
}

// sdpSentLocked marks that target's first SDP went out and releases the candidates held for it:
// a browser rejects a candidate that arrives before the description it belongs to. s.mu must be held.
func (s *session) sdpSentLocked(target string) {
	s.sdpSent[target] = true
	for _, c := range s.held[target] {
		s.emitLocked(TypeTrickle, TrickleData{Target: target, Candidate: c})
	}
	delete(s.held, target)
}

// onEvent is the SFU's EventSink. It runs on SFU goroutines: it only updates state and queues.
func (s *session) onEvent(e sfu.Event) {
	switch e := e.(type) {
	case sfu.EventICECandidate:
		t := string(e.Target)
		s.mu.Lock()
		if s.sdpSent[t] {
			s.emitLocked(TypeTrickle, TrickleData{Target: t, Candidate: e.Candidate})
		} else {
			s.held[t] = append(s.held[t], e.Candidate)
		}
		s.mu.Unlock()
	case sfu.EventSubscriberOffer:
		s.mu.Lock()
		s.emitLocked(TypeSubscribeOffer, SDPData{SDP: e.SDP})
		s.sdpSentLocked(TargetSubscriber)
		s.mu.Unlock()
	case sfu.EventTrackPublished:
		s.srv.trackPublished(s, e.Track)
	case sfu.EventTrackUnpublished:
		s.srv.trackUnpublished(s, e.Track.ID)
	case sfu.EventSubscriptionEnded:
		// The track is gone for this client (unpublished, publisher left, or no longer allowed
		// by the room's policy): an unsolicited `unsubscribed` says so.
		s.send(TypeUnsubscribed, "", TrackIDsData{TrackIDs: []string{e.TrackID}})
	case sfu.EventLayersPaused:
		s.send(TypeLayers, "", LayersData{TrackID: e.TrackID, Paused: e.RIDs})
	case sfu.EventActiveSpeaker:
		id := e.ParticipantID
		if s.call != nil && id != "" && id != s.id && !s.call.Policy().Snapshot().Allow(s.id, id, sfu.KindAudio) {
			id = "" // who speaks in a hearing this participant may not hear is not theirs to know
		}
		s.send(TypeActiveSpeaker, "", ActiveSpeakerData{ParticipantID: id})
	case sfu.EventQuality:
		s.onQuality(e)
	case sfu.EventConnectionState:
		s.mu.Lock()
		s.emitLocked(TypeConnectionState, ConnectionStateData{Target: string(e.Target), State: e.State})
		s.mu.Unlock()
		s.onConnectionState(string(e.Target), e.State)
	case sfu.EventClosed:
		s.mu.Lock()
		s.partClosed = true
		s.mu.Unlock()
		s.end(e.Reason, websocket.CloseGoingAway, nil)
	}
}

// autoSubscribeTo subscribes s to a track on its writer goroutine (see outFrame.work).
func (s *session) autoSubscribeTo(trackID string) {
	s.push(outFrame{work: func() {
		p := s.livePart()
		if p == nil {
			return
		}
		if err := p.Subscribe(trackID); err != nil {
			s.logger().Debug("auto-subscribe failed", zap.String("track", trackID), zap.Error(err))
		}
	}})
}

// leave takes s out of the roster and the SFU, once. It reports whether this call did it.
func (s *session) leave(reason string) bool {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return false
	}
	s.closing = true
	p, closed := s.part, s.partClosed
	s.partClosed = true
	s.mu.Unlock()

	s.srv.leaveRoster(s)
	s.srv.unshareResume(s)
	if p != nil && !closed {
		p.Close(reason)
	}
	if s.call != nil {
		if reason == "resume_timeout" {
			s.call.Released(s) // a hall on stage takes the stage with it
		} else {
			s.call.Leave(s)
		}
	}
	return true
}

// end closes the session from the server's side: it leaves, then tells the client why (e, or
// `bye {reason}`) and sends a close frame. The reader goes on discarding frames until the
// client answers the close or the writer gives up waiting.
func (s *session) end(reason string, code int, e *Error) {
	if !s.leave(reason) {
		return
	}
	if e != nil {
		s.sendError("", e)
	} else {
		s.send(TypeBye, "", ByeData{Reason: reason})
	}
	s.push(outFrame{closeCode: code, closeText: reason})
}

// finish runs when the reader has stopped: it leaves (if end did not) and stops the writer.
func (s *session) finish() {
	s.leave("disconnected")
	close(s.done)
	s.kill()
	<-s.writerDone
}

func (s *session) writeLoop() {
	defer close(s.writerDone)
	ping := time.NewTicker(s.srv.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-ping.C:
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				s.kill()
				return
			}
		case f := <-s.out:
			switch {
			case f.work != nil:
				f.work()
			case f.closeCode > 0:
				msg := websocket.FormatCloseMessage(f.closeCode, f.closeText)
				_ = s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeWait))
				select {
				case <-s.done:
				case <-time.After(closeGrace):
					s.kill()
				}
				return
			default:
				_ = s.conn.SetWriteDeadline(time.Now().Add(writeWait))
				if err := s.conn.WriteMessage(websocket.TextMessage, f.data); err != nil {
					s.logger().Debug("write failed", zap.Error(err))
					s.kill()
					return
				}
			}
		}
	}
}

func (s *session) readLoop() {
	cfg := &s.srv.cfg
	extend := func() { _ = s.conn.SetReadDeadline(time.Now().Add(cfg.PongTimeout)) }
	extend()
	s.conn.SetPongHandler(func(string) error { extend(); return nil })
	for {
		typ, r, err := s.conn.NextReader()
		if err != nil {
			s.logger().Debug("read ended", zap.Error(err))
			return
		}
		extend()
		// Read one byte past the limit to tell "at the limit" from "over it" without buffering more.
		data, err := io.ReadAll(io.LimitReader(r, int64(cfg.MaxMessageBytes)+1))
		if err != nil {
			s.logger().Debug("read ended", zap.Error(err))
			return
		}
		if s.isClosing() {
			continue // waiting for the client to answer our close frame
		}
		if len(data) > cfg.MaxMessageBytes {
			s.end("too_large", websocket.CloseMessageTooBig, errTooLarge(cfg.MaxMessageBytes))
			continue
		}
		if !s.window.allow(time.Now(), cfg.RateLimit) {
			if s.window.shouldWarn() {
				s.sendError("", errRateLimited(cfg.RateLimit))
			}
			continue
		}
		if typ != websocket.TextMessage {
			s.sendError("", errBadJSON("binary frame"))
			continue
		}
		s.handleFrame(data)
	}
}

// rateWindow counts messages in one-second windows.
type rateWindow struct {
	start  time.Time
	n      int
	warned bool
}

func (w *rateWindow) allow(now time.Time, limit int) bool {
	if now.Sub(w.start) >= time.Second {
		*w = rateWindow{start: now}
	}
	w.n++
	return w.n <= limit
}

// shouldWarn is true for the first dropped message of a window: the error goes out once a second.
func (w *rateWindow) shouldWarn() bool {
	if w.warned {
		return false
	}
	w.warned = true
	return true
}
