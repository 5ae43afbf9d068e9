package call

import (
	"encoding/json"
	"slices"
	"time"

	"sanji/auth"
	"sanji/i18n"
	"sanji/scheduler/casework"
	"sanji/scheduler/reception"
)

// What a call tells its participants. The transport puts these on the wire (signaling: the
// messages call_state, case_panel and call_notice of docs/protocol.md).

// State is the call as one participant may see it.
type State struct {
	SessionID int64
	Title     string
	Leader    string
	Studio    string
	Seat      string
	// Phase is "idle" (nobody on stage), "called" (a petitioner is on stage, the recording
	// notice not yet acknowledged at the hall) or "hearing" (acknowledged: recorded from then).
	Phase     string
	Broadcast bool
	Stage     *StageView // the stage, its hall and units, and observers only
	// Queue is every hall's for the studio, the hall's own for a hall, empty for others.
	Queue []QueueItem
	Me    MeView
	Hands []string // studio only: participants with a raised hand
	Held  []string // studio only: participants whose audio is taken
	// Units is the studio's list of units to bring on stage by name (the roster's and the
	// accepted invited ones); nil for the other seats.
	Units []StageUnit
}

// StageView is the hearing under way.
type StageView struct {
	AppointmentID         int64
	HallID                int64
	HallName              string
	Units                 []StageUnit
	CaseID                int64
	CaseNumber            string
	CalledAt              time.Time
	RecordingAcknowledged bool
	StartedAt             *time.Time
	Petitioner            string // masked name
	People                int
	Representatives       int
	Speakers              []string // masked names of the representatives speaking
	Record                string   // the hearing record (笔录) so far
	RecordConfirmed       bool
}

// StageUnit is a unit on stage.
type StageUnit struct {
	ID   int64
	Name string
}

// QueueItem is one booking in the queue.
type QueueItem struct {
	AppointmentID int64
	HallID        int64
	HallName      string
	QueueNo       int
	Position      int
	WalkIn        bool
	Status        string // booked, checked_in, on_stage, done, no_show, cancelled
	Name          string // masked
	People        int
	ETA           *time.Time
}

// MeView is the participant's own place in the call.
type MeView struct {
	OnStage  bool
	Floor    bool // false: the moderator took the participant's audio
	Hand     bool
	Position int        // a hall: its next petitioner's place across halls (1 = next)
	ETA      *time.Time // a hall: when its next petitioner is expected
	Waiting  int        // a hall: its petitioners still waiting
}

// Panel is the case panel of the hearing as one participant may see it; CaseID 0 clears it.
type Panel struct {
	CaseID int64
	Panel  json.RawMessage // rendered by the scheduler (Backend.CasePanel)
}

// Notice is something one participant should be told.
type Notice struct {
	Kind      string // "unmute_request", "floor_taken", "query_code", "recording_error"
	MessageZH string
	MessageEN string
	QueryCode string // kind query_code: the petitioner's query code, to the hall of the hearing only
}

// newNotice is the Notice of kind with the catalog's text k, filled with args.
func newNotice(kind string, k i18n.Key, args ...any) Notice {
	t := i18n.T(k, args...)
	return Notice{Kind: kind, MessageZH: t.ZH, MessageEN: t.EN}
}

// stateFor renders the call for one member. k.mu must be held.
func (k *Call) stateFor(p Participant) State {
	m := p.Member()
	st := State{SessionID: k.sessionID, Title: k.roster.Session.Title, Leader: k.roster.Session.LeaderName,
		Studio: k.roster.StudioName, Seat: m.Seat.Kind, Phase: "idle", Broadcast: k.broadcast, Queue: []QueueItem{}}
	studio := m.Seat.Kind == auth.SeatStudio
	onStage := studio
	if k.stage != nil {
		st.Phase = "called"
		if !k.stage.ackAt.IsZero() {
			st.Phase = "hearing"
		}
		onStage = studio || (m.Seat.Kind == auth.SeatHall && m.Seat.Hall == k.stage.appt.HallID) ||
			(m.Seat.Kind == auth.SeatUnit && slices.Contains(k.stage.units, m.Seat.Unit))
		if onStage || m.Seat.Kind == auth.SeatObserver {
			st.Stage = k.stageView(m.Seat.Kind != auth.SeatObserver)
		}
	}
	st.Me = MeView{OnStage: onStage, Floor: !k.held[m.ID], Hand: k.hands[m.ID]}
	// The queue: the studio sees every hall's, a hall its own; ETAs count the petitioners ahead
	// across halls at the session's minutes per petitioner.
	base := k.now()
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
		mine := m.Seat.Kind == auth.SeatHall && a.HallID == m.Seat.Hall
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
		st.Units = []StageUnit{}
		for _, id := range k.roster.Units {
			st.Units = append(st.Units, StageUnit{ID: id, Name: k.unitNames[id]})
		}
	}
	return st
}

// stageView is the hearing as the stage sees it; observers get no petitioner at all. k.mu must
// be held.
func (k *Call) stageView(withPetitioner bool) *StageView {
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
