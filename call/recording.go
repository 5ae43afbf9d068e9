package call

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"

	"sanji/auth"
	"sanji/i18n"
	"sanji/recording"
)

// The hearing's recording (同步录音录像): it starts when the hall acknowledges the recording
// notice, follows the stage (its tracks, units coming and going, mutes, slips), and ends with
// the hearing, sealed, its chain head written on the case's timeline. Calls into the recorder
// write files: they are made from commands and from what the transport defers to its own
// goroutines (RecordStage), never from the SFU's goroutines.

// recordingState is the stage's recording. Guarded by the call's mu.
type recordingState struct {
	h         *recording.Hearing
	recorded  map[string]bool // track ids being recorded
	lastStage string          // the stage last noted in the manifest
}

// startRecording opens the recording of the hearing on stage (after the notice was
// acknowledged) and records the stage's tracks. The caller holds k.op.
func (k *Call) startRecording() {
	rec := k.calls.cfg.Recorder
	if rec == nil {
		return
	}
	k.mu.Lock()
	g := k.stage
	if g == nil || g.ackAt.IsZero() || g.rec != nil {
		k.mu.Unlock()
		return
	}
	info := recording.HearingInfo{ID: fmt.Sprintf("s%d-a%d-%d", k.sessionID, g.appt.ID, g.ackAt.Unix()), Start: g.ackAt,
		SessionID: k.sessionID, CaseID: g.caseID, Room: k.room, OnError: k.recordingFailed,
		// A call rebuilt from another node's snapshot goes on with the same hearing's recording.
		Continue: k.restored}
	for _, p := range k.members {
		if m := p.Member(); k.pol.Snapshot().OnStage(m.Seat) {
			info.Participants = append(info.Participants, recordingParticipant(m))
		}
	}
	k.mu.Unlock()
	h, err := rec.StartHearing(info)
	if err != nil {
		k.recordingFailed(fmt.Errorf("start the recording: %w", err))
		return
	}
	k.mu.Lock()
	if k.stage != g {
		k.mu.Unlock()
		k.sealRecording(context.Background(), &recordingState{h: h}, g.caseID)
		return
	}
	g.rec = &recordingState{h: h, recorded: map[string]bool{}}
	k.mu.Unlock()
	k.recordStage()
}

func recordingParticipant(m Member) recording.Participant {
	return recording.Participant{ID: m.ID, Role: m.Seat.Kind + ":" + m.Role, UnitID: m.Seat.Unit}
}

// RecordStage records every stage track not yet recorded and stops those that left the stage,
// noting the stage in the manifest. Commands do it themselves; the transport calls it when a
// track is published (on a goroutine of its own, not the SFU's).
func (k *Call) RecordStage() { k.recordStage() }

func (k *Call) recordStage() {
	var room Room
	if f := k.calls.cfg.Room; f != nil {
		room = f(k.room)
	}
	if room == nil {
		return
	}
	snap := k.pol.Snapshot()
	k.mu.Lock()
	g := k.stage
	if g == nil || g.rec == nil {
		k.mu.Unlock()
		return
	}
	r := g.rec
	var onStage []string
	var people []recording.Participant
	for id, p := range k.members {
		if m := p.Member(); snap.OnStage(m.Seat) {
			onStage = append(onStage, id)
			people = append(people, recordingParticipant(m))
		}
	}
	k.mu.Unlock()
	slices.Sort(onStage)
	for _, p := range people {
		if err := r.h.AddParticipant(p); err != nil {
			k.log().Warn("recording participant", zap.Error(err))
		}
	}
	live := map[string]bool{}
	for _, t := range room.Tracks() {
		if !slices.Contains(onStage, t.ParticipantID) {
			continue
		}
		live[t.ID] = true
		k.mu.Lock()
		done := r.recorded[t.ID]
		r.recorded[t.ID] = true
		k.mu.Unlock()
		if !done {
			if err := r.h.Record(room, t); err != nil {
				k.log().Warn("record track", zap.String("track", t.ID), zap.Error(err))
			}
		}
	}
	k.mu.Lock()
	var gone []string
	for id := range r.recorded {
		if !live[id] {
			gone = append(gone, id)
			delete(r.recorded, id)
		}
	}
	k.mu.Unlock()
	for _, id := range gone {
		r.h.StopTrack(id)
	}
	k.mu.Lock()
	key := strings.Join(onStage, ",")
	changed := key != r.lastStage
	r.lastStage = key
	k.mu.Unlock()
	if changed {
		if err := r.h.StageChanged(k.now(), onStage); err != nil {
			k.log().Warn("recording stage change", zap.Error(err))
		}
	}
}

// sealRecording closes a hearing's recording and writes its seal on the case's timeline.
func (k *Call) sealRecording(ctx context.Context, r *recordingState, caseID int64) {
	if r == nil {
		return
	}
	seal, err := r.h.Close()
	if err != nil {
		k.log().Error("recording ended with an error", zap.String("hearing", r.h.ID()), zap.Error(err))
	}
	reason := i18n.T("call.recording.sealed", "algorithm", seal.Algorithm, "head", seal.Head).String()
	if err != nil {
		reason = i18n.T("call.recording.sealed_with_error", "algorithm", seal.Algorithm, "head", seal.Head, "error", err).String()
	}
	if nerr := k.calls.cfg.Backend.CaseNote(ctx, caseID, "recording", "recording:"+seal.Hearing, reason); nerr != nil {
		k.log().Error("record the recording's seal on the case", zap.Int64("case", caseID), zap.Error(nerr))
	}
}

// recordingFailed is the recorder's OnError: a track's recording stopped (a full disk, a write
// error). The call goes on; the studio is told, the case gets a note, the log an error. It must
// not block: the note is written later, deferred to a studio member (Participant.Defer).
func (k *Call) recordingFailed(err error) {
	k.log().Error("recording failed; the call goes on", zap.String("room", k.room), zap.Error(err))
	k.mu.Lock()
	var caseID int64
	if k.stage != nil {
		caseID = k.stage.caseID
	}
	var writer Participant
	for _, p := range k.members {
		if p.Member().Seat.Kind == auth.SeatStudio {
			p.CallNotice(newNotice("recording_error", "call.notice.recording_error", "error", err.Error()))
			writer = p
		}
	}
	k.mu.Unlock()
	if writer == nil || caseID == 0 {
		return
	}
	writer.Defer(func() {
		ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
		defer cancel()
		if nerr := k.calls.cfg.Backend.CaseNote(ctx, caseID, "recording_error", "", i18n.T("call.recording.failed", "error", err).String()); nerr != nil {
			k.log().Error("note the recording error on the case", zap.Error(nerr))
		}
	})
}

// noteOnRecording runs fn on the recording of the hearing under way, if any.
func (k *Call) noteOnRecording(fn func(h *recording.Hearing) error) {
	k.mu.Lock()
	var h *recording.Hearing
	if k.stage != nil && k.stage.rec != nil {
		h = k.stage.rec.h
	}
	k.mu.Unlock()
	if h != nil {
		if err := fn(h); err != nil {
			k.log().Warn("recording event", zap.Error(err))
		}
	}
}

// SlipCreated marks a slip made on a session's call in the hearing's recording; the panels go
// out again.
func (c *Calls) SlipCreated(sessionID, caseID int64, kind string, slipID int64) {
	if k := c.Live(sessionID); k != nil {
		k.noteOnRecording(func(h *recording.Hearing) error {
			_, err := h.SlipCreated(k.now(), slipID, fmt.Sprintf("%s:%d", kind, slipID), kind)
			return err
		})
	}
	c.CaseChanged(sessionID, caseID)
}
