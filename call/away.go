package call

import (
	"context"

	"go.uber.org/zap"

	"sanji/auth"
	"sanji/i18n"
	"sanji/recording"
)

// A hall whose link stayed down past its grace period loses its seat (the transport releases
// it). If it was on stage, the hearing cannot go on without the petitioner: the stage is cleared
// without an outcome (the appointment stays heard and not ended, so it waits at the head of the
// queue), the recording is sealed with the release noted, and the studio is told. When the hall
// joins again it comes back as a waiting hall, not on stage: whether to call the petitioner again
// is the leader's decision (call_appointment, or call_next, which takes the same booking first),
// and the studio is told that the hall is back.

// OnStage reports whether a member is on the stage now (the grace it is kept for depends on it).
func (k *Call) OnStage(participantID string) bool {
	k.mu.Lock()
	p := k.members[participantID]
	k.mu.Unlock()
	return p != nil && k.pol.Snapshot().OnStage(p.Member().Seat)
}

// Released takes out a member whose seat was released after its grace period (instead of
// Leave). A hall on stage takes the stage with it; see above.
func (k *Call) Released(p Participant) {
	m := p.Member()
	wasOnStage := m.Seat.Kind == auth.SeatHall && k.pol.Snapshot().OnStage(m.Seat)
	if wasOnStage {
		// The gap's end, before the recording is sealed.
		k.noteOnRecording(func(h *recording.Hearing) error { return h.AddNote(k.now(), "released", m.ID) })
	}
	k.Leave(p)
	if !wasOnStage {
		return
	}
	k.op.Lock()
	defer k.op.Unlock()
	k.mu.Lock()
	pause := !k.closed && k.stage != nil && k.stage.appt.HallID == m.Seat.Hall
	for _, o := range k.members {
		if s := o.Member().Seat; s.Kind == auth.SeatHall && s.Hall == m.Seat.Hall {
			pause = false // another terminal of the hall is still there: the hearing goes on
		}
	}
	if pause {
		if k.away == nil {
			k.away = map[int64]bool{}
		}
		k.away[m.Seat.Hall] = true
	}
	k.mu.Unlock()
	if !pause {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
	defer cancel()
	if err := k.clearStage(ctx); err != nil {
		k.log().Warn("clear the stage of a released hall", zap.String("room", k.room), zap.Error(err))
	}
	k.log().Info("hall on stage released after its grace period; stage cleared", zap.String("room", k.room),
		zap.String("participant", m.ID), zap.Int64("hall", m.Seat.Hall))
	k.apply(true)
	k.tellStudio("hall_released", "call.away.released", m.Seat.Hall)
}

// rejoined tells the studio that a hall taken off the stage by its release is back in the call.
func (k *Call) rejoined(p Participant) {
	s := p.Member().Seat
	if s.Kind != auth.SeatHall {
		return
	}
	k.mu.Lock()
	back := k.away[s.Hall]
	delete(k.away, s.Hall)
	k.mu.Unlock()
	if back {
		k.tellStudio("hall_back", "call.away.back", s.Hall)
	}
}

// tellStudio sends the studio's members a notice naming a hall.
func (k *Call) tellStudio(kind string, key i18n.Key, hall int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	name := k.roster.HallNames[hall]
	for _, p := range k.members {
		if p.Member().Seat.Kind == auth.SeatStudio {
			p.CallNotice(newNotice(kind, key, "hall", name))
		}
	}
}
