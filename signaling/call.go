package signaling

import (
	"errors"
	"time"

	"sanji/auth"
	"sanji/call"
	"sanji/sfu"
)

// The reception call (docs/protocol.md, "The reception call"): a room `call-<session id>` whose
// rules — the queue across halls, who is on stage, who may speak — are package reception's. Here
// is the transport's side: a session is a call.Participant, whose call messages
// (call_state, case_panel, call_notice) are the call's State, Panel and Notice on the wire; the
// handlers of call_handlers.go turn messages into the call's commands; the Server enforces each
// new policy in the SFU (call.Sink). Clients only ask; the call decides.

// newCalls sets up the reception calls of srv; nil when the server runs none.
func newCalls(srv *Server) *call.Calls {
	if srv.cfg.Calls == nil {
		return nil
	}
	cfg := call.Config{Backend: srv.cfg.Calls, Sink: callSink{srv}, Logger: srv.log,
		Room: func(name string) call.Room {
			if r := srv.cfg.SFU.Room(name); r != nil {
				return r
			}
			return nil
		}}
	if srv.cfg.Recorder != nil {
		cfg.Recorder = srv.cfg.Recorder
	}
	if srv.cfg.Shared != nil {
		cfg.Keeper = callKeeper{srv.cfg.Shared}
	}
	return call.New(cfg)
}

// enterCall seats a joining session in its call.
func (s *session) enterCall(c auth.Claims) *Error {
	switch c.Seat {
	case auth.SeatStudio, auth.SeatObserver:
	case auth.SeatHall:
		if c.HallID == 0 {
			return errToken(errors.New("hall seat without a hall"))
		}
	case auth.SeatUnit:
		if c.UnitID == 0 {
			return errToken(errors.New("unit seat without a unit"))
		}
	default:
		return errToken(errors.New("call token without a seat"))
	}
	if c.UserID == 0 {
		return errToken(errors.New("call token without a user"))
	}
	if s.srv.calls == nil {
		return errNoCalls()
	}
	if c.Room != call.RoomName(c.SessionID) {
		return errToken(errors.New("call token for another room"))
	}
	s.seat, s.userID = call.Seat{Kind: c.Seat, Hall: c.HallID, Unit: c.UnitID}, c.UserID
	k, err := s.srv.calls.Enter(c.SessionID, c.UserID, s)
	if err != nil {
		return callError(err)
	}
	s.call = k
	return nil
}

// A session is a participant of its call (call.Participant).

// Member implements call.Participant.
func (s *session) Member() call.Member {
	return call.Member{ID: s.id, Role: s.role, Seat: s.seat, UserID: s.userID}
}

// CallState implements call.Participant: call_state.
func (s *session) CallState(st call.State) { s.emit(TypeCallState, callStateData(st)) }

// CasePanel implements call.Participant: case_panel.
func (s *session) CasePanel(p call.Panel) {
	s.emit(TypeCasePanel, CasePanelData{CaseID: p.CaseID, Panel: p.Panel})
}

// CallNotice implements call.Participant: call_notice.
func (s *session) CallNotice(n call.Notice) {
	s.emit(TypeCallNotice, CallNoticeData{Kind: n.Kind, MessageZH: n.MessageZH, MessageEN: n.MessageEN})
}

// Defer implements call.Participant: fn runs on the session's writer.
func (s *session) Defer(fn func()) { s.push(outFrame{work: fn}) }

// callSink enforces a call's policy in the SFU (call.Sink).
type callSink struct{ srv *Server }

// Enforce cuts at once in the SFU what the call no longer allows, and subscribes the
// auto-subscribing members to what they may now receive.
func (c callSink) Enforce(k *call.Call, members []call.Participant) {
	srv := c.srv
	if room := srv.cfg.SFU.Room(k.Room()); room != nil {
		room.SetPolicy(k.Policy())
	}
	snap := k.Policy().Snapshot()
	if srv.cfg.Cascade != nil {
		srv.cfg.Cascade.Enforce(k.Room(), snap)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for _, m := range members {
		s, ok := m.(*session)
		if !ok || !s.autoSubscribe {
			continue
		}
		for _, om := range members {
			o, ok := om.(*session)
			if !ok {
				continue
			}
			for _, t := range o.tracks {
				if snap.Allow(s.id, o.id, sfu.Kind(t.Kind)) {
					s.autoSubscribeTo(t.ID)
				}
			}
		}
	}
}

// callStateData is a call's state on the wire.
func callStateData(st call.State) CallState {
	d := CallState{SessionID: st.SessionID, Title: st.Title, Leader: st.Leader, Studio: st.Studio, Seat: st.Seat,
		Phase: st.Phase, Broadcast: st.Broadcast, Queue: make([]QueueItem, 0, len(st.Queue)), Me: MeView(st.Me),
		Hands: st.Hands, Held: st.Held}
	for _, q := range st.Queue {
		d.Queue = append(d.Queue, QueueItem(q))
	}
	for _, u := range st.Units {
		d.Units = append(d.Units, StageUnit(u))
	}
	d.Tiles = make([]Tile, 0, len(st.Tiles))
	for _, t := range st.Tiles {
		d.Tiles = append(d.Tiles, Tile(t))
	}
	if g := st.Stage; g != nil {
		v := &StageView{AppointmentID: g.AppointmentID, HallID: g.HallID, HallName: g.HallName, Units: make([]StageUnit, 0, len(g.Units)),
			CaseID: g.CaseID, CaseNumber: g.CaseNumber, CalledAt: g.CalledAt, RecordingAcknowledged: g.RecordingAcknowledged,
			StartedAt: g.StartedAt, Petitioner: g.Petitioner, People: g.People, Representatives: g.Representatives,
			Speakers: g.Speakers, Record: g.Record, RecordConfirmed: g.RecordConfirmed}
		for _, u := range g.Units {
			v.Units = append(v.Units, StageUnit(u))
		}
		d.Stage = v
	}
	return d
}

// The scheduler API's CallHooks (api.CallHooks), passed on to the live calls.

// HearingOffset implements the scheduler API's CallHooks.
func (srv *Server) HearingOffset(sessionID int64) (time.Duration, bool) {
	if srv.calls == nil {
		return 0, false
	}
	return srv.calls.HearingOffset(sessionID)
}

// CaseChanged implements the scheduler API's CallHooks: the panels of the hearing go out again.
func (srv *Server) CaseChanged(sessionID, caseID int64) {
	if srv.calls != nil {
		srv.calls.CaseChanged(sessionID, caseID)
	}
}

// QueueChanged implements the scheduler API's CallHooks.
func (srv *Server) QueueChanged(sessionID int64) {
	if srv.calls != nil {
		srv.calls.QueueChanged(sessionID)
	}
}

// SlipCreated implements the scheduler API's CallHooks: a slip made on the call is marked in
// the recording's manifest, and the panels go out again.
func (srv *Server) SlipCreated(sessionID, caseID int64, kind string, slipID int64) {
	if srv.calls != nil {
		srv.calls.SlipCreated(sessionID, caseID, kind, slipID)
	}
}

// trackKind is the kind of one of s's tracks ("" when unknown).
func (s *session) trackKind(trackID string) string {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	for _, t := range s.tracks {
		if t.ID == trackID {
			return t.Kind
		}
	}
	return ""
}

var _ call.Room = (*sfu.Room)(nil)
