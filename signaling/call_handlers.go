package signaling

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"sanji/auth"
	"sanji/recording"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// Handlers of the reception call's messages. Each checks the sender's seat, changes the call
// under its operation lock, then applies the result (policy, subscriptions, states, panels).

func init() {
	for typ, h := range map[string]handler{
		TypeCallNext:          (*session).onCallNext,
		TypeCallAppointment:   (*session).onCallAppointment,
		TypeEndHearing:        (*session).onEndHearing,
		TypeNoShow:            (*session).onNoShow,
		TypeStageUnit:         (*session).onStageUnit,
		TypeBroadcast:         (*session).onBroadcast,
		TypeAckRecording:      (*session).onAckRecording,
		TypeRaiseHand:         (*session).onRaiseHand,
		TypeSetFloor:          (*session).onSetFloor,
		TypeSetSpeakers:       (*session).onSetSpeakers,
		TypeRemoveParticipant: (*session).onRemoveParticipant,
		TypeHearingRecord:     (*session).onHearingRecord,
		TypeConfirmRecord:     (*session).onConfirmRecord,
	} {
		handlers[typ] = h
	}
}

// callOp runs fn as one operation of the sender's call; moderator limits it to the studio.
// fn returns whether the case panels must go out again.
func (s *session) callOp(id string, moderator bool, fn func(ctx context.Context, k *call) (panels bool, e *Error)) *Error {
	k := s.call
	if k == nil {
		return errNotInCall()
	}
	if moderator && s.seat.kind != auth.SeatStudio {
		return errNotModerator()
	}
	k.op.Lock()
	defer k.op.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
	defer cancel()
	panels, e := fn(ctx, k)
	if e != nil {
		return e
	}
	k.apply(panels)
	k.recordStage()
	s.send(TypeOK, id, struct{}{})
	return nil
}

func (s *session) onCallNext(id string, _ json.RawMessage) *Error {
	return s.callOp(id, true, func(ctx context.Context, k *call) (bool, *Error) {
		if err := k.reloadQueue(ctx); err != nil {
			return false, backendError(err)
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
			return false, errQueueEmpty()
		}
		return s.startHearing(ctx, k, next)
	})
}

func (s *session) onCallAppointment(id string, data json.RawMessage) *Error {
	var d AppointmentData
	if e := decode(data, &d); e != nil {
		return e
	}
	if d.AppointmentID <= 0 {
		return errInvalid("appointment_id", wantPositive)
	}
	return s.callOp(id, true, func(ctx context.Context, k *call) (bool, *Error) {
		return s.startHearing(ctx, k, d.AppointmentID)
	})
}

// startHearing brings an appointment on stage. The caller holds k.op.
func (s *session) startHearing(ctx context.Context, k *call, apptID int64) (bool, *Error) {
	k.mu.Lock()
	busy := k.stage != nil
	k.mu.Unlock()
	if busy {
		return false, errHearingUnderWay()
	}
	h, err := k.srv.cfg.Calls.StartHearing(ctx, k.sessionID, apptID, s.userID)
	if err != nil {
		return false, backendError(err)
	}
	if err := k.reloadQueue(ctx); err != nil {
		return false, backendError(err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, a := range k.queue {
		if a.ID == apptID {
			k.setStage(a, h)
		}
	}
	if k.stage == nil {
		return false, backendError(org.ErrNotFound)
	}
	k.stage.calledAt = time.Now()
	k.publish()
	if h.QueryCode != "" {
		// Shown once, at the petitioner's hall: the case keeps only its hash.
		for _, m := range k.members {
			if m.seat.kind == auth.SeatHall && m.seat.hall == k.stage.appt.HallID {
				m.emit(TypeCallNotice, CallNoticeData{Kind: "query_code", QueryCode: h.QueryCode,
					MessageZH: "已登记为信访事项，请将查询码交给信访人妥善保管：" + h.QueryCode,
					MessageEN: "the matter is registered; give the petitioner this query code to keep: " + h.QueryCode})
			}
		}
	}
	s.logger().Info("hearing called", zap.Int64("appointment", apptID), zap.Int64("case", h.CaseID))
	return true, nil
}

func (s *session) onEndHearing(id string, data json.RawMessage) *Error {
	var d EndHearingData
	if e := decode(data, &d); e != nil {
		return e
	}
	if !reception.ValidOutcome(d.Outcome) {
		return errInvalid("outcome", wantOutcome)
	}
	if utf8.RuneCountInString(d.Note) > 2000 {
		return errInvalid("note", wantNote)
	}
	return s.callOp(id, true, func(ctx context.Context, k *call) (bool, *Error) {
		k.mu.Lock()
		g := k.stage
		k.mu.Unlock()
		if g == nil {
			return false, errNoHearing()
		}
		if err := k.srv.cfg.Calls.EndHearing(ctx, g.appt.ID, d.Outcome, strings.TrimSpace(d.Note), s.userID); err != nil {
			return false, backendError(err)
		}
		return true, k.clearStage(ctx)
	})
}

// clearStage ends the stage in the call. The caller holds k.op.
func (k *call) clearStage(ctx context.Context) *Error {
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
	if err := k.reloadQueue(ctx); err != nil {
		return backendError(err)
	}
	return nil
}

func (s *session) onNoShow(id string, data json.RawMessage) *Error {
	var d AppointmentData
	if e := decode(data, &d); e != nil {
		return e
	}
	if d.AppointmentID <= 0 {
		return errInvalid("appointment_id", wantPositive)
	}
	return s.callOp(id, true, func(ctx context.Context, k *call) (bool, *Error) {
		if err := k.srv.cfg.Calls.NoShow(ctx, d.AppointmentID, s.userID); err != nil {
			return false, backendError(err)
		}
		k.mu.Lock()
		onStage := k.stage != nil && k.stage.appt.ID == d.AppointmentID
		k.mu.Unlock()
		if onStage {
			return true, k.clearStage(ctx)
		}
		return false, backendErrorOrNil(k.reloadQueue(ctx))
	})
}

func (s *session) onStageUnit(id string, data json.RawMessage) *Error {
	var d StageUnitData
	if e := decode(data, &d); e != nil {
		return e
	}
	if d.UnitID <= 0 {
		return errInvalid("unit_id", wantPositive)
	}
	return s.callOp(id, true, func(ctx context.Context, k *call) (bool, *Error) {
		k.mu.Lock()
		hearing := k.stage != nil
		_, named := k.unitNames[d.UnitID]
		k.mu.Unlock()
		if !hearing {
			return false, errNoHearing()
		}
		if d.On && !named {
			name, err := k.srv.cfg.Calls.UnitName(ctx, d.UnitID)
			if err != nil {
				return false, backendError(err)
			}
			k.mu.Lock()
			k.unitNames[d.UnitID] = name
			k.mu.Unlock()
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.stage == nil {
			return false, errNoHearing()
		}
		i := slices.Index(k.stage.units, d.UnitID)
		switch {
		case d.On && i < 0:
			k.stage.units = append(k.stage.units, d.UnitID)
		case !d.On && i >= 0:
			k.stage.units = slices.Delete(k.stage.units, i, i+1)
		}
		k.publish()
		return true, nil
	})
}

func (s *session) onBroadcast(id string, data json.RawMessage) *Error {
	on, e := decodeOn(data)
	if e != nil {
		return e
	}
	return s.callOp(id, true, func(ctx context.Context, k *call) (bool, *Error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		if on && k.stage != nil {
			// Waiting halls must never hear a hearing that is not theirs.
			return false, errHearingUnderWay()
		}
		k.broadcast = on
		k.publish()
		return false, nil
	})
}

func (s *session) onAckRecording(id string, _ json.RawMessage) *Error {
	return s.callOp(id, false, func(ctx context.Context, k *call) (bool, *Error) {
		if e := s.acknowledge(k); e != nil {
			return false, e
		}
		k.startRecording()
		return false, nil
	})
}

// acknowledge starts the hearing's clock at the hall's acknowledgement of the recording notice.
func (s *session) acknowledge(k *call) *Error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stage == nil {
		return errNoHearing()
	}
	if s.seat.kind != auth.SeatHall || s.seat.hall != k.stage.appt.HallID {
		return errNotStageHall()
	}
	if k.stage.ackAt.IsZero() {
		k.stage.ackAt = time.Now()
		s.logger().Info("recording notice acknowledged", zap.Int64("appointment", k.stage.appt.ID))
	}
	return nil
}

func (s *session) onRaiseHand(id string, data json.RawMessage) *Error {
	on, e := decodeOn(data)
	if e != nil {
		return e
	}
	return s.callOp(id, false, func(ctx context.Context, k *call) (bool, *Error) {
		if s.seat.kind == auth.SeatObserver {
			return false, errObserver()
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		k.hands[s.id] = on
		return false, nil
	})
}

func (s *session) onSetFloor(id string, data json.RawMessage) *Error {
	var d FloorData
	if e := decode(data, &d); e != nil {
		return e
	}
	if d.ParticipantID == "" {
		return errInvalid("participant_id", wantNonEmpty)
	}
	return s.callOp(id, true, func(ctx context.Context, k *call) (bool, *Error) {
		k.mu.Lock()
		target := k.members[d.ParticipantID]
		if target == nil {
			k.mu.Unlock()
			return false, errNoParticipant()
		}
		if d.Allow {
			delete(k.held, d.ParticipantID)
			k.hands[d.ParticipantID] = false
		} else {
			k.held[d.ParticipantID] = true
		}
		k.publish()
		k.mu.Unlock()
		k.noteOnRecording(func(h *recording.Hearing) error {
			return h.MuteChanged(time.Now(), d.ParticipantID, "", "audio", !d.Allow)
		})
		if d.Allow {
			target.emit(TypeCallNotice, CallNoticeData{Kind: "unmute_request",
				MessageZH: "主持人请您发言，请打开麦克风", MessageEN: "the moderator asks you to speak; unmute your microphone"})
		} else {
			target.emit(TypeCallNotice, CallNoticeData{Kind: "floor_taken",
				MessageZH: "主持人已关闭您的声音，如需发言请举手", MessageEN: "the moderator has muted you; raise your hand to speak"})
		}
		return false, nil
	})
}

func (s *session) onSetSpeakers(id string, data json.RawMessage) *Error {
	var d SpeakersData
	if e := decode(data, &d); e != nil {
		return e
	}
	if len(d.Names) > casework.MaxRepresentatives {
		return errTooManySpeakers()
	}
	for _, n := range d.Names {
		if strings.TrimSpace(n) == "" || utf8.RuneCountInString(n) > 50 {
			return errInvalid("names", wantNames)
		}
	}
	return s.callOp(id, false, func(ctx context.Context, k *call) (bool, *Error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.stage == nil {
			return false, errNoHearing()
		}
		if s.seat.kind != auth.SeatStudio && (s.seat.kind != auth.SeatHall || s.seat.hall != k.stage.appt.HallID) {
			return false, errNotStageHall()
		}
		a := k.stage.appt
		for _, n := range d.Names {
			if n != a.Name && !slices.Contains(a.Representatives, n) {
				return false, errNotRepresentative()
			}
		}
		k.stage.speakers = slices.Clone(d.Names)
		return false, nil
	})
}

func (s *session) onRemoveParticipant(id string, data json.RawMessage) *Error {
	var d ParticipantData
	if e := decode(data, &d); e != nil {
		return e
	}
	if d.ParticipantID == "" || d.ParticipantID == s.id {
		return errInvalid("participant_id", wantOther)
	}
	k := s.call
	if k == nil {
		return errNotInCall()
	}
	if s.seat.kind != auth.SeatStudio {
		return errNotModerator()
	}
	k.mu.Lock()
	target := k.members[d.ParticipantID]
	k.mu.Unlock()
	if target == nil {
		return errNoParticipant()
	}
	s.logger().Info("participant removed by the moderator", zap.String("removed", d.ParticipantID))
	target.end("removed", websocket.CloseNormalClosure, nil) // its leave updates the call
	s.send(TypeOK, id, struct{}{})
	return nil
}

// maxRecordRunes bounds a hearing record; maxSignatureBytes a signature PNG (a few strokes on a
// small canvas are far less; the message limit bounds it anyway).
const (
	maxRecordRunes    = 20000
	maxSignatureBytes = 48 << 10
)

func (s *session) onHearingRecord(id string, data json.RawMessage) *Error {
	var d HearingRecordData
	if e := decode(data, &d); e != nil {
		return e
	}
	if utf8.RuneCountInString(d.Text) > maxRecordRunes {
		return errInvalid("text", wantRecord)
	}
	return s.callOp(id, false, func(ctx context.Context, k *call) (bool, *Error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		if e := s.stageHallOnly(k); e != nil {
			return false, e
		}
		if !k.stage.confirmed.IsZero() {
			return false, errRecordConfirmed()
		}
		k.stage.record = d.Text
		return false, nil
	})
}

func (s *session) onConfirmRecord(id string, data json.RawMessage) *Error {
	var d ConfirmRecordData
	if e := decode(data, &d); e != nil {
		return e
	}
	name := strings.TrimSpace(d.ConfirmedBy)
	if name == "" || utf8.RuneCountInString(name) > 50 {
		return errInvalid("confirmed_by", wantNames)
	}
	var png []byte
	if d.Signature != "" {
		b64, ok := strings.CutPrefix(d.Signature, "data:image/png;base64,")
		raw, err := base64.StdEncoding.DecodeString(b64)
		if !ok || err != nil || len(raw) > maxSignatureBytes || !bytes.HasPrefix(raw, []byte("\x89PNG\r\n\x1a\n")) {
			return errInvalid("signature", wantSignature)
		}
		png = raw
	}
	return s.callOp(id, false, func(ctx context.Context, k *call) (bool, *Error) {
		k.mu.Lock()
		if e := s.stageHallOnly(k); e != nil {
			k.mu.Unlock()
			return false, e
		}
		g := k.stage
		if strings.TrimSpace(g.record) == "" {
			k.mu.Unlock()
			return false, errNoRecord()
		}
		if !g.confirmed.IsZero() {
			k.mu.Unlock()
			return false, errRecordConfirmed()
		}
		rec := reception.HearingRecord{SessionID: k.sessionID, AppointmentID: g.appt.ID, CaseID: g.caseID, Text: g.record,
			ConfirmedBy: name, Signature: png, Started: g.ackAt, Confirmed: time.Now()}
		k.mu.Unlock()
		if _, err := k.srv.cfg.Calls.SaveHearingRecord(ctx, rec, s.userID); err != nil {
			return false, backendError(err)
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
func (s *session) stageHallOnly(k *call) *Error {
	if k.stage == nil || k.stage.ackAt.IsZero() {
		return errNoHearing()
	}
	if s.seat.kind != auth.SeatHall || s.seat.hall != k.stage.appt.HallID {
		return errNotStageHall()
	}
	return nil
}

func decodeOn(data json.RawMessage) (bool, *Error) {
	var d struct {
		On *bool `json:"on"`
	}
	if e := decode(data, &d); e != nil {
		return false, e
	}
	if d.On == nil {
		return false, errInvalid("on", wantBool)
	}
	return *d.On, nil
}

// backendError maps a scheduler error to what the client is told.
func backendError(err error) *Error {
	var fe *org.FieldError
	switch {
	case errors.As(err, &fe):
		return newError(CodeInvalid, fe.ZH, fe.EN)
	case errors.Is(err, org.ErrNotFound):
		return newError(CodeNotFound, "找不到该会次、预约或事项，请刷新后重试", "no such session, appointment or case; refresh and try again")
	case errors.Is(err, org.ErrConflict):
		return newError(CodeWrongState, "该预约已接访、已取消或未到场，不能再次操作；请刷新队列", "the appointment was heard, cancelled or marked absent already; refresh the queue")
	case errors.Is(err, context.DeadlineExceeded):
		return newError(CodeInternal, "后台处理超时，请稍后重试", "the scheduler did not answer in time; try again shortly")
	}
	return errInternal()
}

func backendErrorOrNil(err error) *Error {
	if err == nil {
		return nil
	}
	return backendError(err)
}
