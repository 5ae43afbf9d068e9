// Package reception holds the rules of the reception call (docs/protocol.md, "The reception
// call"): the live state of one reception session's call — the queue across halls, the stage
// (the booking heard, its hall, its case, the units brought on), the broadcast, hands, held
// floors, the hearing record and its confirmation, the hearing's recording — the commands that
// change it, and the subscription policy the SFU enforces, derived from it.
//
// It is a package of its own, beside signaling rather than inside it, because it is not
// transport: signaling decodes messages into the commands of a Call, maps their errors to
// protocol codes and puts what the call tells its participants on the wire; this package knows
// nothing of WebSockets or messages (the service/transport split of go-kit, or LiveKit's
// pkg/rtc beside pkg/service). So it can be driven and tested with a store and a clock alone.
//
// A Call is reached through Calls, which loads it from the scheduler (Backend) on the first
// join and drops it when the last participant leaves: the call keeps no state the store does
// not have, and the next join resumes a hearing that was under way. Participants are the
// transport's own objects (Participant); each change of the call stores a new Snapshot in the
// call's Policy, asks the Sink to enforce it, then gives every participant its own State.
package call

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"sanji/auth"
	"sanji/recording"
	"sanji/scheduler/reception"
	"sanji/sfu"
)

// Backend is the scheduler as the reception call needs it (scheduler/api.CallBridge).
type Backend interface {
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
	// ObserverPanel renders what the observers' seat sees of the case being heard: its title only.
	ObserverPanel(ctx context.Context, sessionID, caseID int64) (json.RawMessage, error)
	// SaveHearingRecord attaches the confirmed hearing record to the case.
	SaveHearingRecord(ctx context.Context, rec reception.HearingRecord, userID int64) ([]int64, error)
	// CaseNote writes a note on a case's timeline (a recording sealed, a recording error).
	CaseNote(ctx context.Context, caseID int64, kind, ref, reason string) error
}

// Recorder records hearings (*recording.Recorder).
type Recorder interface {
	StartHearing(info recording.HearingInfo) (*recording.Hearing, error)
}

// Room is a call's SFU room as the recording needs it (*sfu.Room).
type Room interface {
	Tracks() []sfu.TrackInfo
	recording.Source
}

// Member is who a participant is: fixed for its life in the call.
type Member struct {
	ID     string // participant id, unique in the room
	Role   string // the token's role, for the recording's manifest
	Seat   Seat
	UserID int64 // the user account acting
}

// Participant is a member of a call as the transport holds it, and the call's sink for what it
// tells that member. Its methods must not block nor call back into the call.
type Participant interface {
	Member() Member
	CallState(State)
	CasePanel(Panel)
	CallNotice(Notice)
	// Defer runs fn later, off the caller's goroutine (signaling: on the member's writer).
	Defer(fn func())
}

// Sink is the transport's side of a call's changes.
type Sink interface {
	// Enforce makes the SFU enforce k.Policy() in the call's room (its snapshot just changed)
	// and subscribes the members that subscribe by themselves to what they may now receive.
	// It is called once per change, one at a time per call, before the members get their states.
	Enforce(k *Call, members []Participant)
}

// Config is what calls run on. Zero optional fields run without: no recording, no room, no
// enforcement, the wall clock, no logs.
type Config struct {
	Backend  Backend
	Recorder Recorder               // nil records nothing
	Room     func(name string) Room // the call's SFU room, nil when none
	Sink     Sink
	// Keeper keeps the call's live snapshot where another node finds it (live.go); nil on a
	// single node.
	Keeper Keeper
	Now    func() time.Time
	Logger *zap.Logger
}

// backendTimeout bounds one command's calls to the scheduler.
const backendTimeout = 10 * time.Second

// Calls are the live calls of a server, by reception session.
type Calls struct {
	cfg Config
	log *zap.Logger

	mu   sync.Mutex
	live map[int64]*Call
}

// New returns an empty set of calls on cfg.
func New(cfg Config) *Calls {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Calls{cfg: cfg, log: cfg.Logger, live: map[int64]*Call{}}
}

// RoomName is the SFU room of a reception session's call.
func RoomName(sessionID int64) string { return "call-" + strconv.FormatInt(sessionID, 10) }

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

// Call is the live state of one reception session.
type Call struct {
	calls     *Calls
	room      string
	sessionID int64
	pol       *Policy

	// op serialises the commands of the call (they call the scheduler); mu guards the state
	// and is never held across a call to the scheduler, the SFU or the sink.
	op     sync.Mutex
	sendMu sync.Mutex // orders the states that apply sends: a newer one never goes out first
	mu     sync.Mutex
	closed bool
	roster reception.CallRoster
	queue  []reception.Appointment
	// members are the seated participants by participant id.
	members   map[string]Participant
	stage     *stage
	broadcast bool
	hands     map[string]bool
	held      map[string]bool
	unitNames map[int64]string
	away      map[int64]bool // halls taken off the stage when their seat was released (away.go)
	// kept is the snapshot last written to the Keeper (under sendMu); restored says the call
	// was rebuilt with a snapshot another node kept (its recording resumes, live.go).
	kept     []byte
	restored bool
}

// Enter seats p in the call of a session, loading the call on first use (userID acts for a
// hearing it resumes). The transport joins p to the SFU room with the call's Policy after this,
// and then calls Joined.
func (c *Calls) Enter(sessionID, userID int64, p Participant) (*Call, error) {
	// A call that closes between lookup and seating is loaded again.
	for range 3 {
		k, err := c.get(sessionID, userID)
		if err != nil {
			return nil, err
		}
		if k.add(p) {
			return k, nil
		}
	}
	return nil, ErrClosed
}

// get returns the live call of a session, loading it from the scheduler on first use. A hearing
// that was under way when the call last emptied is resumed.
func (c *Calls) get(sessionID, userID int64) (*Call, error) {
	if k := c.Live(sessionID); k != nil {
		return k, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
	defer cancel()
	roster, err := c.cfg.Backend.Roster(ctx, sessionID)
	if err != nil {
		c.log.Warn("load call", zap.Int64("session", sessionID), zap.Error(err))
		return nil, err
	}
	queue, err := c.cfg.Backend.Queue(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	k := &Call{calls: c, room: RoomName(sessionID), sessionID: sessionID, pol: &Policy{}, roster: roster, queue: queue,
		members: map[string]Participant{}, hands: map[string]bool{}, held: map[string]bool{}, unitNames: map[int64]string{}}
	for id, name := range roster.UnitNames {
		k.unitNames[id] = name
	}
	for _, a := range queue {
		if !a.HeardAt.IsZero() && a.EndedAt.IsZero() && a.Status == reception.ApptCheckedIn {
			if h, err := c.cfg.Backend.StartHearing(ctx, sessionID, a.ID, userID); err == nil {
				k.setStage(a, h)
			} else {
				c.log.Warn("resume hearing", zap.Int64("appointment", a.ID), zap.Error(err))
			}
			break
		}
	}
	k.restore(ctx)
	k.publish()
	c.mu.Lock()
	defer c.mu.Unlock()
	if other := c.live[sessionID]; other != nil {
		return other, nil
	}
	c.live[sessionID] = k
	return k, nil
}

// Live is the live call of a session, nil when nobody is in it.
func (c *Calls) Live(sessionID int64) *Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live[sessionID]
}

// Room is the call's SFU room name.
func (k *Call) Room() string { return k.room }

// SessionID is the reception session of the call.
func (k *Call) SessionID() int64 { return k.sessionID }

// Policy is the sfu.Policy of the call's room, the same object for the call's life.
func (k *Call) Policy() *Policy { return k.pol }

// State is the call as p sees it now.
func (k *Call) State(p Participant) State {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.stateFor(p)
}

func (k *Call) now() time.Time { return k.calls.cfg.Now() }

func (k *Call) log() *zap.Logger { return k.calls.log }

// caseID is the case of the hearing under way, 0 when none.
func (k *Call) caseID() int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stage == nil {
		return 0
	}
	return k.stage.caseID
}

func (k *Call) setStage(a reception.Appointment, h reception.HearingCase) {
	k.stage = &stage{appt: a, caseID: h.CaseID, caseNumber: h.Number, units: h.UnitIDs, calledAt: h.Started}
	for id, name := range h.UnitNames {
		k.unitNames[id] = name
	}
	k.broadcast = false
}

// publish stores the policy snapshot of the current state. k.mu must be held (or k unshared).
func (k *Call) publish() {
	p := &Snapshot{seats: map[string]Seat{}, stageUnits: map[int64]bool{}, broadcast: k.broadcast, held: map[string]bool{}}
	for id, m := range k.members {
		p.seats[id] = m.Member().Seat
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

// add seats a participant that is joining; false when the call closed meanwhile (enter again).
func (k *Call) add(p Participant) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return false
	}
	k.members[p.Member().ID] = p
	k.publish()
	return true
}

// Joined tells the call that p, seated by Enter, is in the SFU room: the call's policy decides
// what p receives and who receives p; p gets its state and the case panel.
func (k *Call) Joined(p Participant) {
	k.apply(false)
	k.sendPanels([]Participant{p}, k.caseID())
	k.rejoined(p)
	k.continueRecording()
}

// Leave takes a leaving participant out; the last one out closes the call (its state is in the
// scheduler: the next Enter resumes it).
func (k *Call) Leave(p Participant) {
	id := p.Member().ID
	k.mu.Lock()
	if k.members[id] != p {
		k.mu.Unlock()
		return
	}
	delete(k.members, id)
	delete(k.hands, id)
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
		c := k.calls
		c.mu.Lock()
		if c.live[k.sessionID] == k {
			delete(c.live, k.sessionID)
		}
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
		defer cancel()
		k.forget()
		k.sealRecording(ctx, rec, caseID)
		return
	}
	k.apply(false)
	k.recordStage()
}

// Rebind puts p in the place of old, the same member on a new connection (a resume): the seat,
// the stage, hands and floor stay as they are, and nobody is told anything changed.
func (k *Call) Rebind(old, p Participant) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if id := p.Member().ID; k.members[id] == old {
		k.members[id] = p
	}
}

// LinkChanged says a member's link went down (its socket lost, a media connection down) or came
// back, while it keeps its seat. When it is on stage, the hearing's recording notes the gap.
func (k *Call) LinkChanged(participantID string, down bool) {
	k.mu.Lock()
	p := k.members[participantID]
	k.mu.Unlock()
	if p == nil || !k.pol.Snapshot().OnStage(p.Member().Seat) {
		return
	}
	kind := "link_restored"
	if down {
		kind = "link_lost"
	}
	k.noteOnRecording(func(h *recording.Hearing) error { return h.AddNote(k.now(), kind, participantID) })
}

// apply has the sink enforce the current state, then sends everyone their state (and, with
// panels, the case panel).
func (k *Call) apply(panels bool) {
	k.sendMu.Lock()
	defer k.sendMu.Unlock()
	k.mu.Lock()
	members := make([]Participant, 0, len(k.members))
	for _, p := range k.members {
		members = append(members, p)
	}
	states := make([]State, len(members))
	for i, p := range members {
		states[i] = k.stateFor(p)
	}
	var caseID int64
	if k.stage != nil {
		caseID = k.stage.caseID
	}
	var live []byte
	if k.calls.cfg.Keeper != nil && !k.closed {
		live = k.liveLocked()
	}
	k.mu.Unlock()
	if live != nil {
		k.keep(live)
	}

	if sink := k.calls.cfg.Sink; sink != nil {
		sink.Enforce(k, members)
	}
	for i, p := range members {
		p.CallState(states[i])
	}
	if panels {
		k.sendPanels(members, caseID)
	}
}

// sendPanels renders the case panel for each member that may see it, each redacted to that
// member's rights; the others get an empty panel (their screen clears).
func (k *Call) sendPanels(members []Participant, caseID int64) {
	snap := k.pol.Snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
	defer cancel()
	for _, p := range members {
		m := p.Member()
		d := Panel{}
		if caseID != 0 && (snap.OnStage(m.Seat) || m.Seat.Kind == auth.SeatObserver) {
			var raw json.RawMessage
			var err error
			if m.Seat.Kind == auth.SeatObserver {
				// Whoever sits with the observers sees what an observer may, whatever else they hold.
				raw, err = k.calls.cfg.Backend.ObserverPanel(ctx, k.sessionID, caseID)
			} else {
				raw, err = k.calls.cfg.Backend.CasePanel(ctx, k.sessionID, caseID, m.UserID)
			}
			if err != nil {
				k.log().Warn("case panel", zap.String("participant", m.ID), zap.Int64("case", caseID), zap.Error(err))
				continue
			}
			d = Panel{CaseID: caseID, Panel: raw}
		}
		p.CasePanel(d)
	}
}

// reloadQueue reads the session's bookings again (after a hearing, a walk-in, a no-show).
func (k *Call) reloadQueue(ctx context.Context) error {
	q, err := k.calls.cfg.Backend.Queue(ctx, k.sessionID)
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

// HearingOffset is how far the recorded hearing of a session has run (false when none).
func (c *Calls) HearingOffset(sessionID int64) (time.Duration, bool) {
	k := c.Live(sessionID)
	if k == nil {
		return 0, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stage == nil || k.stage.ackAt.IsZero() {
		return 0, false
	}
	return k.now().Sub(k.stage.ackAt), true
}

// CaseChanged says a case heard in a session changed: the panels of the hearing go out again.
func (c *Calls) CaseChanged(sessionID, caseID int64) {
	k := c.Live(sessionID)
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

// QueueChanged says a session's bookings changed: the queue is read again.
func (c *Calls) QueueChanged(sessionID int64) {
	k := c.Live(sessionID)
	if k == nil {
		return
	}
	k.op.Lock()
	defer k.op.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
	defer cancel()
	if err := k.reloadQueue(ctx); err != nil {
		c.log.Warn("reload queue", zap.Int64("session", sessionID), zap.Error(err))
		return
	}
	k.apply(false)
}
