package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"sanji/auth"
	"sanji/scheduler/casework"
	"sanji/scheduler/reception"
	"sanji/sfu"
)

// The reception call (docs/protocol.md, "The reception call"): a room `call-<session id>` whose
// state — the queue across halls, who is on stage, who may speak — lives here, and from which
// the subscription policy the SFU enforces is derived. Clients only ask; the server decides.

// CallBackend is the scheduler as the reception call needs it (scheduler/api.CallBridge).
type CallBackend interface {
	Roster(ctx context.Context, sessionID int64) (reception.CallRoster, error)
	Queue(ctx context.Context, sessionID int64) ([]reception.Appointment, error)
	UnitName(ctx context.Context, unitID int64) (string, error)
	// StartHearing registers the matter as a case if needed and marks the appointment heard;
	// for a hearing under way it returns the same case (a restarted call resumes).
	StartHearing(ctx context.Context, sessionID, apptID, userID int64) (reception.HearingCase, error)
	EndHearing(ctx context.Context, apptID int64, outcome, note string, userID int64) error
	NoShow(ctx context.Context, apptID, userID int64) error
	// CasePanel renders a case for the user viewerID, redacted to that user's rights.
	CasePanel(ctx context.Context, sessionID, caseID, viewerID int64) (json.RawMessage, error)
	// SaveHearingRecord attaches the confirmed hearing record to the case.
	SaveHearingRecord(ctx context.Context, rec reception.HearingRecord, userID int64) ([]int64, error)
	// CaseNote writes a note on a case's timeline (a recording sealed, a recording error).
	CaseNote(ctx context.Context, caseID int64, kind, ref, reason string) error
}

// backendTimeout bounds one call to the scheduler from a message handler.
const backendTimeout = 10 * time.Second

// seat is where a participant sits, from its join token.
type seat struct {
	kind       string // auth.Seat*
	hall, unit int64
}

// policySnap is one immutable state of who may receive whom.
type policySnap struct {
	seats      map[string]seat
	stageHall  int64 // the hall of the hearing under way, 0 when none
	stageUnits map[int64]bool
	broadcast  bool            // waiting halls receive the studio (never during a hearing)
	held       map[string]bool // participants whose audio the moderator took away
}

func (p *policySnap) onStage(x seat) bool {
	switch x.kind {
	case auth.SeatStudio:
		return true
	case auth.SeatHall:
		return p.stageHall != 0 && x.hall == p.stageHall
	case auth.SeatUnit:
		return p.stageUnits[x.unit]
	}
	return false
}

func (p *policySnap) allow(sub, pub string, kind sfu.Kind) bool {
	a, okA := p.seats[sub]
	b, okB := p.seats[pub]
	switch {
	case !okA || !okB || sub == pub:
		return false
	case kind == sfu.KindAudio && p.held[pub]:
		return false
	case b.kind == auth.SeatObserver:
		return false // observers are neither seen nor heard
	case p.onStage(a) && p.onStage(b):
		return true
	case a.kind == auth.SeatObserver && p.onStage(b) && b.kind != auth.SeatHall:
		// Observers follow the call but not the petitioner: face and voice are personal data.
		return true
	case p.broadcast && b.kind == auth.SeatStudio:
		return true
	}
	return false
}

// callPolicy is the sfu.Policy of a call room. The object stays the same for the room's life;
// each change of the call stores a new snapshot and asks the room to enforce it.
type callPolicy struct{ snap atomic.Pointer[policySnap] }

// Allow implements sfu.Policy.
func (c *callPolicy) Allow(subscriberID string, t sfu.TrackInfo) bool {
	return c.snap.Load().allow(subscriberID, t.ParticipantID, t.Kind)
}

// stage is the hearing under way.
type stage struct {
	appt       reception.Appointment
	caseID     int64
	caseNumber string
	units      []int64
	calledAt   time.Time
	ackAt      time.Time // the hall acknowledged the recording notice: the hearing's clock starts
	speakers   []string
	record     string    // the hearing record (笔录) as the hall keeps it
	confirmed  time.Time // when the petitioner confirmed the record; it is then attached
	rec        *recordingState
}

// call is the live state of one reception session.
type call struct {
	srv       *Server
	room      string
	sessionID int64
	pol       *callPolicy

	// op serialises the operations of the call (they call the scheduler); mu guards the state
	// and is never held across a call to the scheduler or the SFU.
	op     sync.Mutex
	sendMu sync.Mutex // orders the states that apply sends: a newer one never goes out first
	mu     sync.Mutex
	closed bool
	roster reception.CallRoster
	queue  []reception.Appointment
	// members are the joined sessions by participant id.
	members   map[string]*session
	stage     *stage
	broadcast bool
	hands     map[string]bool
	held      map[string]bool
	unitNames map[int64]string
}

// callFor returns the live call of a session, loading it from the scheduler on first use. A
// hearing that was under way when the call last emptied is resumed.
func (srv *Server) callFor(c auth.Claims) (*call, *Error) {
	if srv.cfg.Calls == nil {
		return nil, errNoCalls()
	}
	room := "call-" + strconv.FormatInt(c.SessionID, 10)
	if c.Room != room {
		return nil, errToken(errors.New("call token for another room"))
	}
	srv.mu.Lock()
	existing := srv.calls[room]
	srv.mu.Unlock()
	if existing != nil {
		return existing, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
	defer cancel()
	roster, err := srv.cfg.Calls.Roster(ctx, c.SessionID)
	if err != nil {
		srv.log.Warn("load call", zap.Int64("session", c.SessionID), zap.Error(err))
		return nil, backendError(err)
	}
	queue, err := srv.cfg.Calls.Queue(ctx, c.SessionID)
	if err != nil {
		return nil, backendError(err)
	}
	k := &call{srv: srv, room: room, sessionID: c.SessionID, pol: &callPolicy{}, roster: roster, queue: queue,
		members: map[string]*session{}, hands: map[string]bool{}, held: map[string]bool{}, unitNames: map[int64]string{}}
	for id, name := range roster.UnitNames {
		k.unitNames[id] = name
	}
	for _, a := range queue {
		if !a.HeardAt.IsZero() && a.EndedAt.IsZero() && a.Status == reception.ApptCheckedIn {
			if h, err := srv.cfg.Calls.StartHearing(ctx, c.SessionID, a.ID, c.UserID); err == nil {
				k.setStage(a, h)
			} else {
				srv.log.Warn("resume hearing", zap.Int64("appointment", a.ID), zap.Error(err))
			}
			break
		}
	}
	k.publish()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if other := srv.calls[room]; other != nil {
		return other, nil
	}
	srv.calls[room] = k
	return k, nil
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
	// A call that closes between lookup and seating is loaded again.
	for range 3 {
		k, e := s.srv.callFor(c)
		if e != nil {
			return e
		}
		s.call, s.seat, s.userID = k, seat{kind: c.Seat, hall: c.HallID, unit: c.UnitID}, c.UserID
		if k.add(s) {
			return nil
		}
	}
	s.call = nil
	return errInternal()
}

// caseID is the case of the hearing under way, 0 when none.
func (k *call) caseID() int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stage == nil {
		return 0
	}
	return k.stage.caseID
}

func (k *call) setStage(a reception.Appointment, h reception.HearingCase) {
	k.stage = &stage{appt: a, caseID: h.CaseID, caseNumber: h.Number, units: h.UnitIDs, calledAt: h.Started}
	for id, name := range h.UnitNames {
		k.unitNames[id] = name
	}
	k.broadcast = false
}

// publish stores the policy snapshot of the current state. k.mu must be held (or k unshared).
func (k *call) publish() {
	p := &policySnap{seats: map[string]seat{}, stageUnits: map[int64]bool{}, broadcast: k.broadcast, held: map[string]bool{}}
	for id, s := range k.members {
		p.seats[id] = s.seat
	}
	if k.stage != nil {
		p.stageHall = k.stage.appt.HallID
		for _, u := range k.stage.units {
			p.stageUnits[u] = true
		}
	}
	for id, h := range k.held {
		p.held[id] = h
	}
	k.pol.snap.Store(p)
}

// add seats a session that is joining; false when the call closed meanwhile (join again).
func (k *call) add(s *session) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return false
	}
	k.members[s.id] = s
	k.publish()
	return true
}

// remove takes a leaving session out; the last one out closes the call (its state is in the
// scheduler: the next join resumes it).
func (k *call) remove(s *session) {
	k.mu.Lock()
	if k.members[s.id] != s {
		k.mu.Unlock()
		return
	}
	delete(k.members, s.id)
	delete(k.hands, s.id)
	empty := len(k.members) == 0
	var rec *recordingState
	var caseID int64
	if empty {
		k.closed = true
		if k.stage != nil {
			// Nobody is left to be recorded: the recording ends here; a resumed hearing starts a
			// new one when its notice is acknowledged again.
			rec, caseID, k.stage.rec = k.stage.rec, k.stage.caseID, nil
		}
	}
	k.publish()
	k.mu.Unlock()
	if empty {
		k.srv.mu.Lock()
		if k.srv.calls[k.room] == k {
			delete(k.srv.calls, k.room)
		}
		k.srv.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
		defer cancel()
		k.sealRecording(ctx, rec, caseID)
		return
	}
	k.apply(false)
	k.recordStage()
}

// apply makes the SFU enforce the current state, subscribes auto-subscribing members to what
// they may now receive, and sends everyone their call_state (and, with panels, the case panel).
func (k *call) apply(panels bool) {
	if room := k.srv.cfg.SFU.Room(k.room); room != nil {
		room.SetPolicy(k.pol) // cuts at once what is no longer allowed
	}
	k.sendMu.Lock()
	defer k.sendMu.Unlock()
	k.mu.Lock()
	members := make([]*session, 0, len(k.members))
	for _, s := range k.members {
		members = append(members, s)
	}
	states := make(map[*session]CallState, len(members))
	for _, s := range members {
		states[s] = k.stateFor(s)
	}
	var caseID int64
	if k.stage != nil {
		caseID = k.stage.caseID
	}
	k.mu.Unlock()

	snap := k.pol.snap.Load()
	k.srv.mu.Lock()
	for _, s := range members {
		if !s.autoSubscribe {
			continue
		}
		for _, o := range members {
			for _, t := range o.tracks {
				if snap.allow(s.id, o.id, sfu.Kind(t.Kind)) {
					s.autoSubscribeTo(t.ID)
				}
			}
		}
	}
	k.srv.mu.Unlock()
	for _, s := range members {
		s.emit(TypeCallState, states[s])
	}
	if panels {
		k.sendPanels(members, caseID)
	}
}

// sendPanels renders the case panel for each member that may see it, each redacted to that
// member's rights; the others get an empty panel (their screen clears).
func (k *call) sendPanels(members []*session, caseID int64) {
	snap := k.pol.snap.Load()
	ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
	defer cancel()
	for _, s := range members {
		d := CasePanelData{}
		if caseID != 0 && (snap.onStage(s.seat) || s.seat.kind == auth.SeatObserver) {
			raw, err := k.srv.cfg.Calls.CasePanel(ctx, k.sessionID, caseID, s.userID)
			if err != nil {
				s.logger().Warn("case panel", zap.Int64("case", caseID), zap.Error(err))
				continue
			}
			d = CasePanelData{CaseID: caseID, Panel: raw}
		}
		s.emit(TypeCasePanel, d)
	}
}

// stateFor renders the call for one member. k.mu must be held.
func (k *call) stateFor(s *session) CallState {
	st := CallState{SessionID: k.sessionID, Title: k.roster.Session.Title, Leader: k.roster.Session.LeaderName,
		Studio: k.roster.StudioName, Seat: s.seat.kind, Phase: "idle", Broadcast: k.broadcast, Queue: []QueueItem{}}
	studio := s.seat.kind == auth.SeatStudio
	onStage := studio
	if k.stage != nil {
		st.Phase = "called"
		if !k.stage.ackAt.IsZero() {
			st.Phase = "hearing"
		}
		onStage = studio || (s.seat.kind == auth.SeatHall && s.seat.hall == k.stage.appt.HallID) ||
			(s.seat.kind == auth.SeatUnit && slices.Contains(k.stage.units, s.seat.unit))
		if onStage || s.seat.kind == auth.SeatObserver {
			st.Stage = k.stageView(s.seat.kind != auth.SeatObserver)
		}
	}
	st.Me = MeView{OnStage: onStage, Floor: !k.held[s.id], Hand: k.hands[s.id]}
	// The queue: the studio sees every hall's, a hall its own; ETAs count the petitioners ahead
	// across halls at the session's minutes per petitioner.
	base := time.Now()
	if start := k.roster.Session.Start; start.After(base) {
		base = start
	}
	per := time.Duration(max(k.roster.Session.MinutesPerPetitioner, 1)) * time.Minute
	ahead := 0
	for _, a := range k.queue {
		pending := (a.Status == reception.ApptBooked || a.Status == reception.ApptCheckedIn) && a.EndedAt.IsZero() &&
			(k.stage == nil || k.stage.appt.ID != a.ID)
		item := QueueItem{AppointmentID: a.ID, HallID: a.HallID, HallName: k.roster.HallNames[a.HallID], QueueNo: a.QueueNo,
			Position: a.Position, WalkIn: a.WalkIn, Status: string(a.Status), Name: casework.MaskName(a.Name), People: a.People}
		if pending {
			eta := base.Add(time.Duration(ahead) * per)
			item.ETA = &eta
			ahead++
		}
		if k.stage != nil && k.stage.appt.ID == a.ID {
			item.Status = "on_stage"
		}
		mine := s.seat.kind == auth.SeatHall && a.HallID == s.seat.hall
		if mine && pending && st.Me.Position == 0 {
			st.Me.Position, st.Me.ETA = ahead, item.ETA
		}
		if mine && pending {
			st.Me.Waiting++
		}
		if studio || mine {
			st.Queue = append(st.Queue, item)
		}
	}
	if studio {
		st.Hands, st.Held = []string{}, []string{}
		for id, up := range k.hands {
			if up {
				st.Hands = append(st.Hands, id)
			}
		}
		for id, h := range k.held {
			if h {
				st.Held = append(st.Held, id)
			}
		}
		slices.Sort(st.Hands)
		slices.Sort(st.Held)
	}
	return st
}

// stageView is the hearing as the stage sees it; observers get no petitioner at all.
func (k *call) stageView(withPetitioner bool) *StageView {
	g := k.stage
	v := &StageView{AppointmentID: g.appt.ID, HallID: g.appt.HallID, HallName: k.roster.HallNames[g.appt.HallID],
		CaseID: g.caseID, CaseNumber: g.caseNumber, CalledAt: g.calledAt, RecordingAcknowledged: !g.ackAt.IsZero(),
		Units: []StageUnit{}, Speakers: []string{}}
	if !g.ackAt.IsZero() {
		t := g.ackAt
		v.StartedAt = &t
	}
	for _, u := range g.units {
		v.Units = append(v.Units, StageUnit{ID: u, Name: k.unitNames[u]})
	}
	v.RecordConfirmed = !g.confirmed.IsZero()
	if withPetitioner {
		v.Record = g.record
		v.Petitioner, v.People = casework.MaskName(g.appt.Name), g.appt.People
		for _, sp := range g.speakers {
			v.Speakers = append(v.Speakers, casework.MaskName(sp))
		}
		v.Representatives = len(g.appt.Representatives)
	}
	return v
}

// reloadQueue reads the session's bookings again (after a hearing, a walk-in, a no-show).
func (k *call) reloadQueue(ctx context.Context) error {
	q, err := k.srv.cfg.Calls.Queue(ctx, k.sessionID)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.queue = q
	if k.stage != nil {
		for _, a := range q {
			if a.ID == k.stage.appt.ID {
				k.stage.appt = a
			}
		}
	}
	k.mu.Unlock()
	return nil
}

// hearingOffset is how far the recorded hearing has run.
func (k *call) hearingOffset() (time.Duration, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stage == nil || k.stage.ackAt.IsZero() {
		return 0, false
	}
	return time.Since(k.stage.ackAt), true
}

func (srv *Server) liveCall(sessionID int64) *call {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.calls["call-"+strconv.FormatInt(sessionID, 10)]
}

// HearingOffset implements the scheduler API's CallHooks.
func (srv *Server) HearingOffset(sessionID int64) (time.Duration, bool) {
	if k := srv.liveCall(sessionID); k != nil {
		return k.hearingOffset()
	}
	return 0, false
}

// CaseChanged implements the scheduler API's CallHooks: the panels of the hearing go out again.
func (srv *Server) CaseChanged(sessionID, caseID int64) {
	k := srv.liveCall(sessionID)
	if k == nil {
		return
	}
	k.op.Lock()
	defer k.op.Unlock()
	k.mu.Lock()
	current := k.stage != nil && k.stage.caseID == caseID
	k.mu.Unlock()
	if current {
		k.apply(true)
	}
}

// QueueChanged implements the scheduler API's CallHooks.
func (srv *Server) QueueChanged(sessionID int64) {
	k := srv.liveCall(sessionID)
	if k == nil {
		return
	}
	k.op.Lock()
	defer k.op.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
	defer cancel()
	if err := k.reloadQueue(ctx); err != nil {
		srv.log.Warn("reload queue", zap.Int64("session", sessionID), zap.Error(err))
		return
	}
	k.apply(false)
}
