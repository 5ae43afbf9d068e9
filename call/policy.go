package call

import (
	"sync/atomic"

	"sanji/auth"
	"sanji/sfu"
)

// Seat is where a participant sits in a call, from its join token.
type Seat struct {
	Kind string // auth.Seat*
	Hall int64  // a hall seat's hall
	Unit int64  // a unit seat's unit
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
