package call

import (
	"encoding/json"
	"fmt"
	"sync/atomic"

	"sanji/auth"
	"sanji/sfu"
)

// Seat is where a participant sits in a call, from its join token.
type Seat struct {
	Kind string `json:"kind"`           // auth.Seat*
	Hall int64  `json:"hall,omitempty"` // a hall seat's hall
	Unit int64  `json:"unit,omitempty"` // a unit seat's unit
}

// Snapshot is one immutable state of who may receive whom in a call.
type Snapshot struct {
	seats      map[string]Seat
	stageHall  int64 // the hall of the hearing under way, 0 when none
	stageUnits map[int64]bool
	broadcast  bool            // waiting halls receive the studio (never during a hearing)
	held       map[string]bool // participants whose audio the moderator took away
}

// OnStage reports whether a seat is on the stage: the studio always, the hall and the units of
// the hearing under way.
func (p *Snapshot) OnStage(x Seat) bool {
	switch x.Kind {
	case auth.SeatStudio:
		return true
	case auth.SeatHall:
		return p.stageHall != 0 && x.Hall == p.stageHall
	case auth.SeatUnit:
		return p.stageUnits[x.Unit]
	}
	return false
}

// Allow reports whether participant sub may receive pub's tracks of kind.
func (p *Snapshot) Allow(sub, pub string, kind sfu.Kind) bool {
	a, okA := p.seats[sub]
	b, okB := p.seats[pub]
	switch {
	case !okA || !okB || sub == pub:
		return false
	case kind == sfu.KindAudio && p.held[pub]:
		return false
	case b.Kind == auth.SeatObserver:
		return false // observers are neither seen nor heard
	case p.OnStage(a) && p.OnStage(b):
		return true
	case a.Kind == auth.SeatObserver && p.OnStage(b) && b.Kind != auth.SeatHall:
		// Observers follow the call but not the petitioner: face and voice are personal data.
		return true
	case p.broadcast && b.Kind == auth.SeatStudio:
		return true
	}
	return false
}

// Policy is the sfu.Policy of a call's room. The object stays the same for the call's life; each
// change of the call stores a new Snapshot in it, and the Sink makes the room enforce it.
type Policy struct{ snap atomic.Pointer[Snapshot] }

// Allow implements sfu.Policy.
func (c *Policy) Allow(subscriberID string, t sfu.TrackInfo) bool {
	return c.snap.Load().Allow(subscriberID, t.ParticipantID, t.Kind)
}

// Snapshot is the policy now.
func (c *Policy) Snapshot() *Snapshot { return c.snap.Load() }

// snapshotWire is a Snapshot as the owner of a call sends it to the nodes that hold the media of
// some of its members (package cascade): they apply the owner's rule to their own participants.
type snapshotWire struct {
	Seats      map[string]Seat `json:"seats"`
	StageHall  int64           `json:"stage_hall,omitempty"`
	StageUnits []int64         `json:"stage_units,omitempty"`
	Broadcast  bool            `json:"broadcast,omitempty"`
	Held       []string        `json:"held,omitempty"`
}

// MarshalJSON encodes the snapshot for another node.
func (p *Snapshot) MarshalJSON() ([]byte, error) {
	w := snapshotWire{Seats: p.seats, StageHall: p.stageHall, Broadcast: p.broadcast}
	for u, on := range p.stageUnits {
		if on {
			w.StageUnits = append(w.StageUnits, u)
		}
	}
	for id, on := range p.held {
		if on {
			w.Held = append(w.Held, id)
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes a snapshot another node sent.
func (p *Snapshot) UnmarshalJSON(b []byte) error {
	var w snapshotWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("call: policy snapshot: %w", err)
	}
	*p = Snapshot{seats: w.Seats, stageHall: w.StageHall, broadcast: w.Broadcast,
		stageUnits: map[int64]bool{}, held: map[string]bool{}}
	if p.seats == nil {
		p.seats = map[string]Seat{}
	}
	for _, u := range w.StageUnits {
		p.stageUnits[u] = true
	}
	for _, id := range w.Held {
		p.held[id] = true
	}
	return nil
}

// NewPolicy is a Policy holding snap: the owner's rule, as a node that holds some of the call's
// media applies it (package cascade). Set replaces it when the owner sends a newer one.
func NewPolicy(snap *Snapshot) *Policy {
	c := &Policy{}
	c.snap.Store(snap)
	return c
}

// Set stores a newer snapshot.
func (c *Policy) Set(snap *Snapshot) { c.snap.Store(snap) }
