package call

import (
	"encoding/json"
	"slices"
	"strings"
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
	Tiles []Tile   // every member's caption, as this participant may read it
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
	// Pace is the hearings' pace the ETAs count with (the mean of this session's finished
	// hearings, the booked minutes per petitioner before the first ends), in whole seconds: the
	// waiting screen moves its time on with it while the hearing on stage runs over.
	Pace int
}

// Tile names one participant's picture: the place (the studio, the hall, the unit) and, for the
// hall on stage, its petitioner masked — never the person logged in at the seat.
type Tile struct {
	ParticipantID string
	Place         string
	Person        string
}

// Panel is the case panel of the hearing as one participant may see it; CaseID 0 clears it.
type Panel struct {
	CaseID int64
	Panel  json.RawMessage // rendered by the scheduler (Backend.CasePanel)
}

// Notice is something one participant should be told.
type Notice struct {
	Kind      string // "unmute_request", "floor_taken", "recording_error"
	MessageZH string
	MessageEN string
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
	// across halls at the pace of the hearings so far, after what the hearing on stage is
	// expected to take still.
	now := k.now()
	base := now
	if start := k.roster.Session.Start; start.After(base) {
		base = start
	}
	per := k.pace()
	if k.stage != nil {
		base = base.Add(max(per-now.Sub(k.stage.calledAt), 0))
	}
	st.Me.Pace = int(per / time.Second)
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
	st.Tiles = k.tilesFor(st.Stage)
	if studio {
		st.Hands, st.Held = setKeys(k.hands), setKeys(k.held)
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

// pace is how long a hearing takes in this session: the mean of the hearings that ended (from
// the call to the end, as the queue lives it), or the booked minutes per petitioner until one
// has. No-shows take no turn and do not count. k.mu must be held.
func (k *Call) pace() time.Duration {
	var sum time.Duration
	n := 0
	for _, a := range k.queue {
		if !a.HeardAt.IsZero() && !a.EndedAt.IsZero() && a.EndedAt.After(a.HeardAt) {
			sum += a.EndedAt.Sub(a.HeardAt)
			n++
		}
	}
	if n == 0 {
		return time.Duration(max(k.roster.Session.MinutesPerPetitioner, 1)) * time.Minute
	}
	return max((sum / time.Duration(n)).Round(time.Second), time.Minute)
}

// tilesFor captions every member's picture for a participant who sees stage (nil: no hearing,
// or not one this participant may follow). The person is the petitioner, masked, and only for
// those shown the petitioner on stage; the studio's is the leader, who is named in public. k.mu
// must be held.
func (k *Call) tilesFor(stage *StageView) []Tile {
	out := make([]Tile, 0, len(k.members))
	for id, p := range k.members {
		seat := p.Member().Seat
		t := Tile{ParticipantID: id}
		switch seat.Kind {
		case auth.SeatStudio:
			t.Place, t.Person = k.roster.StudioName, k.roster.Session.LeaderName
		case auth.SeatHall:
			t.Place = k.roster.HallNames[seat.Hall]
			if stage != nil && stage.HallID == seat.Hall {
				t.Person = stage.Petitioner
			}
		case auth.SeatUnit:
			t.Place = k.unitNames[seat.Unit]
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Tile) int { return strings.Compare(a.ParticipantID, b.ParticipantID) })
	return out
}
