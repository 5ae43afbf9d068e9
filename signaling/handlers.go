package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"sanji/auth"
	"sanji/sfu"
)

const (
	maxIDLen    = 64
	maxTrackIDs = 100
)

// handler handles one client message; a non-nil *Error is sent back with `re` set to id.
type handler func(s *session, id string, data json.RawMessage) *Error

// handlers is the one table of the client's messages (protocol.go's client-to-server types;
// TestHandlersCoverProtocol holds it to them).
var handlers = map[string]handler{
	TypeJoin:            (*session).onJoin,
	TypePublishOffer:    (*session).onPublishOffer,
	TypeSubscribeAnswer: (*session).onSubscribeAnswer,
	TypeTrickle:         (*session).onTrickle,
	TypeSubscribe:       (*session).onSubscribe,
	TypeUnsubscribe:     (*session).onUnsubscribe,
	TypeMute:            (*session).onMute,
	TypeTrackSettings:   (*session).onTrackSettings,
	TypeUnpublish:       (*session).onUnpublish,
	TypeLeave:           (*session).onLeave,
	TypePing:            (*session).onPing,
	TypeResume:          (*session).onResume,
	TypeICERestart:      (*session).onICERestart,

	// The reception call (call_handlers.go).
	TypeCallNext:          (*session).onCallNext,
	TypeCallAppointment:   (*session).onCallAppointment,
	TypeEndHearing:        (*session).onEndHearing,
	TypeNoShow:            (*session).onNoShow,
	TypeStageUnit:         (*session).onStageUnit,
	TypeBroadcast:         (*session).onBroadcast,
	TypeAckRecording:      (*session).onAckRecording,
	TypeRaiseHand:         (*session).onRaiseHand,
	TypeSetFloor:          (*session).onSetFloor,
	TypeSetSpeakers:       (*session).onSetSpeakers,
	TypeRemoveParticipant: (*session).onRemoveParticipant,
	TypeHearingRecord:     (*session).onHearingRecord,
	TypeConfirmRecord:     (*session).onConfirmRecord,
}

type envelope struct {
	V    *int            `json:"v"`
	Type string          `json:"type"`
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

// handleFrame validates one frame's envelope and state, then dispatches it. A panic here ends
// only this session.
func (s *session) handleFrame(frame []byte) {
	defer func() {
		if r := recover(); r != nil {
			s.logger().Error("panic while handling a message; closing the session", zap.Any("panic", r), zap.Stack("stack"))
			s.end("internal", websocket.CloseInternalServerErr, errInternal())
		}
	}()
	trimmed := bytes.TrimLeft(frame, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		s.countIn("invalid")
		s.sendError("", errBadJSON("not a JSON object"))
		return
	}
	var env envelope
	if err := json.Unmarshal(frame, &env); err != nil {
		s.countIn("invalid")
		s.sendError("", errBadJSON(describe(err)))
		return
	}
	h, known := handlers[env.Type]
	if known {
		s.countIn(env.Type)
	} else {
		s.countIn("unknown")
	}
	if len(env.ID) > maxIDLen {
		s.sendError("", errInvalid("id", wantShortID))
		return
	}
	if env.V == nil || *env.V != Version {
		s.sendError(env.ID, errBadVersion())
		return
	}
	if !known {
		s.sendError(env.ID, errUnknownType(truncate(env.Type, maxIDLen)))
		return
	}
	if d := bytes.TrimSpace(env.Data); len(d) > 0 && d[0] != '{' && !bytes.Equal(d, []byte("null")) {
		s.sendError(env.ID, errBadJSON("data is not an object"))
		return
	}
	joined := s.isJoined()
	switch {
	case !joined && env.Type != TypeJoin && env.Type != TypeResume && env.Type != TypePing:
		s.sendError(env.ID, errNotJoined())
		return
	case joined && (env.Type == TypeJoin || env.Type == TypeResume):
		s.sendError(env.ID, errAlreadyJoined())
		return
	}
	if e := h(s, env.ID, env.Data); e != nil {
		s.sendError(env.ID, e)
	}
}

func (s *session) countIn(typ string) { s.srv.metrics.messages.WithLabelValues("in", typ).Inc() }

func (s *session) onJoin(id string, data json.RawMessage) *Error {
	var d struct {
		Token         *string `json:"token"`
		AutoSubscribe *bool   `json:"auto_subscribe"`
		Rejoin        bool    `json:"rejoin"`
	}
	if e := decode(data, &d); e != nil {
		return e
	}
	if d.Token == nil || *d.Token == "" {
		return errInvalid("token", wantNonEmpty)
	}
	now := time.Now()
	if !s.srv.joins.allow(s.conn.RemoteAddr(), now) {
		return errTooManyJoins(s.srv.cfg.JoinRate)
	}
	c, err := s.srv.cfg.Tokens.Verify(*d.Token, now)
	if err == nil && c.Role == auth.RoleNode {
		err = fmt.Errorf("%w: a node's token is no seat", auth.ErrBadToken)
	}
	if err != nil {
		s.logger().Info("join refused", zap.Error(err))
		return errToken(err)
	}
	if c.SessionID != 0 {
		if e := s.useSeatToken(*d.Token, c.ExpiresAt, now); e != nil {
			if e.Code == CodeTokenUsed {
				s.logger().Warn("join refused: seat token already used", zap.String("room", c.Room),
					zap.String("participant", c.Subject), zap.String("seat", c.Seat))
			}
			return e
		}
	}
	s.identify(c)
	if e := s.place(c.Room, c.SessionID); e != nil {
		if c.SessionID != 0 {
			// Not seated here: the client takes its token to the owner, and may come back
			// with it should the room move here.
			s.giveBackSeatToken(*d.Token)
		}
		return e
	}
	if e := s.enter(id, c, d.AutoSubscribe == nil || *d.AutoSubscribe, d.Rejoin); e != nil {
		if c.SessionID != 0 {
			s.giveBackSeatToken(*d.Token)
		}
		return e
	}
	return nil
}

// identify names s after the participant of c (its log fields too).
func (s *session) identify(c auth.Claims) {
	s.id, s.name, s.role, s.room = c.Subject, c.Name, c.Role, c.Room
	s.log.Store(s.srv.log.With(s.srv.remoteField(s.conn),
		zap.String("room", c.Room), zap.String("participant", c.Subject)))
}

// enter seats s, identified and placed here, in its room and (for a reception call) its call,
// and answers request id: `joined`, or `resumed` for a resume from another node (failover.go).
func (s *session) enter(id string, c auth.Claims, autoSubscribe, rejoin bool) *Error {
	s.autoSubscribe = autoSubscribe
	if c.SessionID != 0 {
		if e := s.enterCall(c); e != nil {
			return e
		}
	}

	p, err := s.srv.join(s, c)
	if err != nil {
		s.logger().Warn("sfu join failed", zap.Error(err))
		if s.call != nil {
			s.call.Leave(s)
		}
		return sfuError(err)
	}
	s.mu.Lock()
	if s.closing { // the server shut down while we joined
		s.mu.Unlock()
		p.Close("shutdown")
		return nil
	}
	s.part = p
	s.mu.Unlock()

	existing := s.srv.enterRoster(s, id)
	s.srv.shareResume(s)
	s.logger().Info("joined", zap.String("role", c.Role), zap.String("seat", c.Seat), zap.Bool("rejoin", rejoin),
		zap.Bool("from_another_node", s.renewMedia))
	if rejoin {
		s.srv.metrics.rejoins.Inc()
	}
	if s.call != nil {
		// The call's policy decides what the newcomer receives, and who receives it.
		s.call.Joined(s)
		return nil
	}
	if s.autoSubscribe {
		for _, t := range existing {
			if err := p.Subscribe(t); err != nil {
				s.logger().Debug("auto-subscribe failed", zap.String("track", t), zap.Error(err))
			}
		}
	}
	return nil
}

func (s *session) onPublishOffer(id string, data json.RawMessage) *Error {
	sdp, e := decodeSDP(data)
	if e != nil {
		return e
	}
	p := s.livePart()
	if p == nil {
		return nil
	}
	// Every answer's candidates follow it, not only the first's: an ICE restart's new ones,
	// gathered inside Publish and sent ahead of the answer, reached a client that applied them
	// to the old credentials and dropped them, and the restarted connection could stay down.
	s.mu.Lock()
	s.sdpSent[TargetPublisher] = false
	s.mu.Unlock()
	answer, err := p.Publish(sdp)
	if err != nil {
		s.mu.Lock()
		s.sdpSentLocked(TargetPublisher)
		s.mu.Unlock()
		s.logger().Debug("publish offer refused", zap.Error(err))
		return sfuError(err)
	}
	s.mu.Lock()
	s.send(TypePublishAnswer, id, SDPData{SDP: answer})
	s.sdpSentLocked(TargetPublisher)
	s.mu.Unlock()
	return nil
}

func (s *session) onSubscribeAnswer(_ string, data json.RawMessage) *Error {
	sdp, e := decodeSDP(data)
	if e != nil {
		return e
	}
	if p := s.livePart(); p != nil {
		if err := p.SetSubscriberAnswer(sdp); err != nil {
			s.logger().Debug("subscribe answer refused", zap.Error(err))
			return sfuError(err)
		}
	}
	return nil
}

func (s *session) onTrickle(_ string, data json.RawMessage) *Error {
	var d TrickleData
	if e := decode(data, &d); e != nil {
		return e
	}
	if d.Target != TargetPublisher && d.Target != TargetSubscriber {
		return errInvalid("target", wantTarget)
	}
	var c webrtc.ICECandidateInit // empty = end of candidates
	if d.Candidate != nil {
		c = *d.Candidate
	}
	if p := s.livePart(); p != nil {
		if err := p.AddICECandidate(sfu.Target(d.Target), c); err != nil {
			s.logger().Debug("candidate refused", zap.Error(err))
			if errors.Is(err, sfu.ErrWrongState) || errors.Is(err, sfu.ErrClosed) {
				return sfuError(err)
			}
			return errInvalid("candidate", wantCandidate)
		}
	}
	return nil
}

func (s *session) onSubscribe(id string, data json.RawMessage) *Error {
	ids, e := decodeTrackIDs(data)
	if e != nil {
		return e
	}
	if p := s.livePart(); p != nil {
		if err := p.Subscribe(ids...); err != nil {
			return sfuError(err)
		}
		s.send(TypeSubscribed, id, TrackIDsData{TrackIDs: ids})
	}
	return nil
}

func (s *session) onUnsubscribe(id string, data json.RawMessage) *Error {
	ids, e := decodeTrackIDs(data)
	if e != nil {
		return e
	}
	if p := s.livePart(); p != nil {
		if err := p.Unsubscribe(ids...); err != nil {
			return sfuError(err)
		}
		s.send(TypeUnsubscribed, id, TrackIDsData{TrackIDs: ids})
	}
	return nil
}

func (s *session) onMute(id string, data json.RawMessage) *Error {
	var d struct {
		TrackID string `json:"track_id"`
		Muted   *bool  `json:"muted"`
	}
	if e := decode(data, &d); e != nil {
		return e
	}
	if d.TrackID == "" {
		return errInvalid("track_id", wantNonEmpty)
	}
	if d.Muted == nil {
		return errInvalid("muted", wantBool)
	}
	if p := s.livePart(); p != nil {
		if err := p.SetMuted(d.TrackID, *d.Muted); err != nil {
			return sfuError(err)
		}
		s.send(TypeMuted, id, MuteData{TrackID: d.TrackID, Muted: *d.Muted})
		s.srv.trackMuted(s, d.TrackID, *d.Muted)
		if k := s.call; k != nil {
			k.Muted(s.id, d.TrackID, s.trackKind(d.TrackID), *d.Muted)
		}
	}
	return nil
}

// maxRenderPixels bounds the width and height a client may report for a tile (8K).
const maxRenderPixels = 7680

func (s *session) onTrackSettings(id string, data json.RawMessage) *Error {
	var d TrackSettingsData
	if e := decode(data, &d); e != nil {
		return e
	}
	switch {
	case d.TrackID == "":
		return errInvalid("track_id", wantNonEmpty)
	case d.Width < 0 || d.Width > maxRenderPixels:
		return errInvalid("width", wantPixels)
	case d.Height < 0 || d.Height > maxRenderPixels:
		return errInvalid("height", wantPixels)
	case d.Priority < 0 || d.Priority > 10:
		return errInvalid("priority", wantPriority)
	}
	if p := s.livePart(); p != nil {
		err := p.SetTrackSettings(d.TrackID, sfu.TrackSettings{Width: d.Width, Height: d.Height, Priority: d.Priority})
		if err != nil {
			return sfuError(err)
		}
		s.send(TypeTrackSettingsOK, id, TrackIDData{TrackID: d.TrackID})
	}
	return nil
}

func (s *session) onUnpublish(id string, data json.RawMessage) *Error {
	var d TrackIDData
	if e := decode(data, &d); e != nil {
		return e
	}
	if d.TrackID == "" {
		return errInvalid("track_id", wantNonEmpty)
	}
	if p := s.livePart(); p != nil {
		if err := p.Unpublish(d.TrackID); err != nil {
			return sfuError(err)
		}
		s.send(TypeUnpublished, id, TrackIDData{TrackID: d.TrackID})
		s.srv.trackUnpublished(s, d.TrackID)
	}
	return nil
}

func (s *session) onLeave(string, json.RawMessage) *Error {
	s.end("leave", websocket.CloseNormalClosure, nil)
	return nil
}

func (s *session) onPing(id string, _ json.RawMessage) *Error {
	s.send(TypePong, id, struct{}{})
	return nil
}

// decode unmarshals a message's data; absent or null data leaves v as it is.
func decode(data json.RawMessage, v any) *Error {
	if len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return errBadJSON(describe(err))
	}
	return nil
}

func decodeSDP(data json.RawMessage) (string, *Error) {
	var d SDPData
	if e := decode(data, &d); e != nil {
		return "", e
	}
	if d.SDP == "" {
		return "", errInvalid("sdp", wantNonEmpty)
	}
	return d.SDP, nil
}

func decodeTrackIDs(data json.RawMessage) ([]string, *Error) {
	var d TrackIDsData
	if e := decode(data, &d); e != nil {
		return nil, e
	}
	if len(d.TrackIDs) == 0 || len(d.TrackIDs) > maxTrackIDs {
		return nil, errInvalid("track_ids", wantTrackList, "max", maxTrackIDs)
	}
	for _, id := range d.TrackIDs {
		if id == "" {
			return nil, errInvalid("track_ids", wantTrackList, "max", maxTrackIDs)
		}
	}
	return d.TrackIDs, nil
}

// describe says which field of a message is wrong, without echoing the input.
func describe(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return fmt.Sprintf("field %s should be %s", te.Field, te.Type)
	case errors.As(err, &te):
		return fmt.Sprintf("should be %s", te.Type)
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	return "invalid JSON"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
