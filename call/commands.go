package call

import (
	"context"
	"slices"
	"strings"

	"go.uber.org/zap"

	"sanji/auth"
	"sanji/recording"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// The commands of a call. Each is given the participant that asks (by), checks its seat, changes
// the call under the call's operation lock, then applies the result: the new policy snapshot
// (through the Sink), every member's State, and the case panels when the case changed. A command
// that fails changes nothing the participants are told of. Their inputs are assumed well formed
// (the transport checks the wire form); the call checks its rules.

// do runs fn as one command of the call; moderator limits it to the studio. fn returns whether
// the case panels must go out again.
func (k *Call) do(ctx context.Context, by Participant, moderator bool, fn func(ctx context.Context) (panels bool, err error)) error {
	if moderator && by.Member().Seat.Kind != auth.SeatStudio {
		return ErrNotModerator
	}
	k.op.Lock()
	defer k.op.Unlock()
	ctx, cancel := context.WithTimeout(ctx, backendTimeout)
	defer cancel()
	panels, err := fn(ctx)
	if err != nil {
		return err
	}
	k.apply(panels)
	k.recordStage()
	return nil
}

// CallNext brings the first petitioner still waiting, across halls, on stage (studio only).
func (k *Call) CallNext(ctx context.Context, by Participant) error {
	return k.do(ctx, by, true, func(ctx context.Context) (bool, error) {
		if err := k.reloadQueue(ctx); err != nil {
			return false, err
		}
		k.mu.Lock()
		var next int64
		for _, a := range k.queue {
			if (a.Status == reception.ApptBooked || a.Status == reception.ApptCheckedIn) && a.EndedAt.IsZero() {
				next = a.ID
				break
			}
		}
		k.mu.Unlock()
		if next == 0 {
			return false, ErrQueueEmpty
		}
		return k.startHearing(ctx, by, next)
	})
}

// CallAppointment brings one appointment on stage (studio only).
func (k *Call) CallAppointment(ctx context.Context, by Participant, apptID int64) error {
	return k.do(ctx, by, true, func(ctx context.Context) (bool, error) {
		return k.startHearing(ctx, by, apptID)
	})
}

// startHearing brings an appointment on stage. The caller holds k.op.
func (k *Call) startHearing(ctx context.Context, by Participant, apptID int64) (bool, error) {
	k.mu.Lock()
	busy := k.stage != nil
	k.mu.Unlock()
	if busy {
		return false, ErrHearingUnderWay
	}
	h, err := k.calls.cfg.Backend.StartHearing(ctx, k.sessionID, apptID, by.Member().UserID)
	if err != nil {
		return false, err
	}
	if err := k.reloadQueue(ctx); err != nil {
		return false, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, a := range k.queue {
		if a.ID == apptID {
			k.setStage(a, h)
		}
	}
	if k.stage == nil {
		return false, org.ErrNotFound
	}
	k.stage.calledAt = k.now()
	k.publish()
	k.log().Info("hearing called", zap.String("room", k.room), zap.String("participant", by.Member().ID),
		zap.Int64("appointment", apptID), zap.Int64("case", h.CaseID))
	return true, nil
}

// EndHearing ends the hearing under way with its outcome (scheduler.Outcome*) and a note
// (studio only).
func (k *Call) EndHearing(ctx context.Context, by Participant, outcome, note string) error {
	return k.do(ctx, by, true, func(ctx context.Context) (bool, error) {
		k.mu.Lock()
		g := k.stage
		k.mu.Unlock()
		if g == nil {
			return false, ErrNoHearing
		}
		if err := k.calls.cfg.Backend.EndHearing(ctx, g.appt.ID, outcome, strings.TrimSpace(note), by.Member().UserID); err != nil {
			return false, err
		}
		return true, k.clearStage(ctx)
	})
}

// clearStage ends the stage in the call. The caller holds k.op.
func (k *Call) clearStage(ctx context.Context) error {
	k.mu.Lock()
	var rec *recordingState
	var caseID int64
	if k.stage != nil {
		rec, caseID = k.stage.rec, k.stage.caseID
	}
	defer k.sealRecording(ctx, rec, caseID)
	k.stage = nil
	k.hands = map[string]bool{}
	k.held = map[string]bool{}
	k.publish()
	k.mu.Unlock()
	return k.reloadQueue(ctx)
}

// NoShow marks an appointment absent; on stage, that ends its hearing (studio only).
func (k *Call) NoShow(ctx context.Context, by Participant, apptID int64) error {
	return k.do(ctx, by, true, func(ctx context.Context) (bool, error) {
		if err := k.calls.cfg.Backend.NoShow(ctx, apptID, by.Member().UserID); err != nil {
			return false, err
		}
		k.mu.Lock()
		onStage := k.stage != nil && k.stage.appt.ID == apptID
		k.mu.Unlock()
		if onStage {
			return true, k.clearStage(ctx)
		}
		return false, k.reloadQueue(ctx)
	})
}

// StageUnit brings a unit on the stage of the hearing under way, or takes it off (studio only).
func (k *Call) StageUnit(ctx context.Context, by Participant, unitID int64, on bool) error {
	return k.do(ctx, by, true, func(ctx context.Context) (bool, error) {
		k.mu.Lock()
		hearing := k.stage != nil
		_, named := k.unitNames[unitID]
		k.mu.Unlock()
		if !hearing {
			return false, ErrNoHearing
		}
		if on && !named {
			name, err := k.calls.cfg.Backend.UnitName(ctx, unitID)
			if err != nil {
				return false, err
			}
			k.mu.Lock()
			k.unitNames[unitID] = name
			k.mu.Unlock()
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.stage == nil {
			return false, ErrNoHearing
		}
		i := slices.Index(k.stage.units, unitID)
		switch {
		case on && i < 0:
			k.stage.units = append(k.stage.units, unitID)
		case !on && i >= 0:
			k.stage.units = slices.Delete(k.stage.units, i, i+1)
		}
		k.publish()
		return true, nil
	})
}

// Broadcast lets the waiting halls receive the studio, between hearings only (studio only).
func (k *Call) Broadcast(ctx context.Context, by Participant, on bool) error {
	return k.do(ctx, by, true, func(ctx context.Context) (bool, error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		if on && k.stage != nil {
			// Waiting halls must never hear a hearing that is not theirs.
			return false, ErrHearingUnderWay
		}
		k.broadcast = on
		k.publish()
		return false, nil
	})
}

// AckRecording is the stage hall's acknowledgement of the recording notice: the hearing's clock
// starts, and its recording.
func (k *Call) AckRecording(ctx context.Context, by Participant) error {
	return k.do(ctx, by, false, func(ctx context.Context) (bool, error) {
		if err := k.acknowledge(by); err != nil {
			return false, err
		}
		k.startRecording()
		return false, nil
	})
}

// acknowledge starts the hearing's clock at the hall's acknowledgement of the recording notice.
func (k *Call) acknowledge(by Participant) error {
	m := by.Member()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stage == nil {
		return ErrNoHearing
	}
	if m.Seat.Kind != auth.SeatHall || m.Seat.Hall != k.stage.appt.HallID {
		return ErrNotStageHall
	}
	if k.stage.ackAt.IsZero() {
		k.stage.ackAt = k.now()
		k.log().Info("recording notice acknowledged", zap.String("room", k.room), zap.String("participant", m.ID),
			zap.Int64("appointment", k.stage.appt.ID))
	}
	return nil
}

// RaiseHand raises or lowers the participant's hand (not observers).
func (k *Call) RaiseHand(ctx context.Context, by Participant, on bool) error {
	return k.do(ctx, by, false, func(ctx context.Context) (bool, error) {
		m := by.Member()
		if m.Seat.Kind == auth.SeatObserver {
			return false, ErrObserver
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		k.hands[m.ID] = on
		return false, nil
	})
}

// SetFloor gives a participant's audio back (allow, which lowers its hand) or takes it away
// (studio only); the participant is told.
func (k *Call) SetFloor(ctx context.Context, by Participant, participantID string, allow bool) error {
	return k.do(ctx, by, true, func(ctx context.Context) (bool, error) {
		k.mu.Lock()
		target := k.members[participantID]
		if target == nil {
			k.mu.Unlock()
			return false, ErrNoParticipant
		}
		if allow {
			delete(k.held, participantID)
			k.hands[participantID] = false
		} else {
			k.held[participantID] = true
		}
		k.publish()
		k.mu.Unlock()
		k.noteOnRecording(func(h *recording.Hearing) error {
			return h.MuteChanged(k.now(), participantID, "", "audio", !allow)
		})
		if allow {
			target.CallNotice(newNotice("unmute_request", "call.notice.unmute_request"))
		} else {
			target.CallNotice(newNotice("floor_taken", "call.notice.floor_taken"))
		}
		return false, nil
	})
}

// SetSpeakers names who of a collective visit speaks: at most casework.MaxRepresentatives, each
// the petitioner or a representative of the booking (the studio or the stage hall).
func (k *Call) SetSpeakers(ctx context.Context, by Participant, names []string) error {
	if len(names) > casework.MaxRepresentatives {
		return ErrTooManySpeakers
	}
	return k.do(ctx, by, false, func(ctx context.Context) (bool, error) {
		m := by.Member()
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.stage == nil {
			return false, ErrNoHearing
		}
		if m.Seat.Kind != auth.SeatStudio && (m.Seat.Kind != auth.SeatHall || m.Seat.Hall != k.stage.appt.HallID) {
			return false, ErrNotStageHall
		}
		a := k.stage.appt
		for _, n := range names {
			if n != a.Name && !slices.Contains(a.Representatives, n) {
				return false, ErrNotRepresentative
			}
		}
		k.stage.speakers = slices.Clone(names)
		return false, nil
	})
}

// RemoveParticipant checks that by may remove participant id from the call (studio only) and
// returns it: the transport ends its connection, and its Leave updates the call.
func (k *Call) RemoveParticipant(by Participant, id string) (Participant, error) {
	if by.Member().Seat.Kind != auth.SeatStudio {
		return nil, ErrNotModerator
	}
	k.mu.Lock()
	target := k.members[id]
	k.mu.Unlock()
	if target == nil {
		return nil, ErrNoParticipant
	}
	k.log().Info("participant removed by the moderator", zap.String("room", k.room),
		zap.String("participant", by.Member().ID), zap.String("removed", id))
	return target, nil
}

// HearingRecord replaces the hearing record's text (the stage hall, during the hearing, until
// the petitioner confirmed it).
func (k *Call) HearingRecord(ctx context.Context, by Participant, text string) error {
	return k.do(ctx, by, false, func(ctx context.Context) (bool, error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		if err := k.stageHallOnly(by); err != nil {
			return false, err
		}
		if !k.stage.confirmed.IsZero() {
			return false, ErrRecordConfirmed
		}
		k.stage.record = text
		return false, nil
	})
}

// ConfirmRecord is the petitioner's confirmation of the hearing record, with the name they typed
// and optionally a drawn signature (PNG), at the stage hall: the record is attached to the case.
func (k *Call) ConfirmRecord(ctx context.Context, by Participant, confirmedBy string, signature []byte) error {
	return k.do(ctx, by, false, func(ctx context.Context) (bool, error) {
		k.mu.Lock()
		if err := k.stageHallOnly(by); err != nil {
			k.mu.Unlock()
			return false, err
		}
		g := k.stage
		if strings.TrimSpace(g.record) == "" {
			k.mu.Unlock()
			return false, ErrNoRecord
		}
		if !g.confirmed.IsZero() {
			k.mu.Unlock()
			return false, ErrRecordConfirmed
		}
		rec := reception.HearingRecord{SessionID: k.sessionID, AppointmentID: g.appt.ID, CaseID: g.caseID, Text: g.record,
			ConfirmedBy: confirmedBy, Signature: signature, Started: g.ackAt, Confirmed: k.now()}
		k.mu.Unlock()
		if _, err := k.calls.cfg.Backend.SaveHearingRecord(ctx, rec, by.Member().UserID); err != nil {
			return false, err
		}
		k.mu.Lock()
		if k.stage == g {
			g.confirmed = rec.Confirmed
		}
		k.mu.Unlock()
		return false, nil
	})
}

// stageHallOnly refuses anyone but the hall of a hearing under way. k.mu must be held.
func (k *Call) stageHallOnly(by Participant) error {
	if k.stage == nil || k.stage.ackAt.IsZero() {
		return ErrNoHearing
	}
	if m := by.Member(); m.Seat.Kind != auth.SeatHall || m.Seat.Hall != k.stage.appt.HallID {
		return ErrNotStageHall
	}
	return nil
}

// Muted notes a participant's mute or unmute of one of its tracks (kind audio or video) in the
// recording of the hearing under way.
func (k *Call) Muted(participantID, trackID, kind string, muted bool) {
	k.noteOnRecording(func(h *recording.Hearing) error {
		return h.MuteChanged(k.now(), participantID, trackID, kind, muted)
	})
}
