package signaling

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"sanji/call"
	"sanji/scheduler/casework"
	"sanji/scheduler/reception"
)

// Handlers of the reception call's messages (in the table of handlers.go). Each checks the
// message's form, runs the command of the sender's call (package reception: it checks the seat,
// changes the call and sends everyone their new state), and answers `ok` or the error.

// callDo runs a command of the sender's call and answers it.
func (s *session) callDo(id string, cmd func(ctx context.Context, k *call.Call) error) *Error {
	k := s.call
	if k == nil {
		return errNotInCall()
	}
	if err := cmd(context.Background(), k); err != nil {
		return callError(err)
	}
	s.send(TypeOK, id, struct{}{})
	return nil
}

func (s *session) onCallNext(id string, _ json.RawMessage) *Error {
	return s.callDo(id, func(ctx context.Context, k *call.Call) error { return k.CallNext(ctx, s) })
}

func (s *session) onCallAppointment(id string, data json.RawMessage) *Error {
	var d AppointmentData
	if e := decode(data, &d); e != nil {
		return e
	}
	if d.AppointmentID <= 0 {
		return errInvalid("appointment_id", wantPositive)
	}
	return s.callDo(id, func(ctx context.Context, k *call.Call) error { return k.CallAppointment(ctx, s, d.AppointmentID) })
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
	return s.callDo(id, func(ctx context.Context, k *call.Call) error { return k.EndHearing(ctx, s, d.Outcome, d.Note) })
}

func (s *session) onNoShow(id string, data json.RawMessage) *Error {
	var d AppointmentData
	if e := decode(data, &d); e != nil {
		return e
	}
	if d.AppointmentID <= 0 {
		return errInvalid("appointment_id", wantPositive)
	}
	return s.callDo(id, func(ctx context.Context, k *call.Call) error { return k.NoShow(ctx, s, d.AppointmentID) })
}

func (s *session) onStageUnit(id string, data json.RawMessage) *Error {
	var d StageUnitData
	if e := decode(data, &d); e != nil {
		return e
	}
	if d.UnitID <= 0 {
		return errInvalid("unit_id", wantPositive)
	}
	return s.callDo(id, func(ctx context.Context, k *call.Call) error { return k.StageUnit(ctx, s, d.UnitID, d.On) })
}

func (s *session) onBroadcast(id string, data json.RawMessage) *Error {
	on, e := decodeOn(data)
	if e != nil {
		return e
	}
	return s.callDo(id, func(ctx context.Context, k *call.Call) error { return k.Broadcast(ctx, s, on) })
}

func (s *session) onAckRecording(id string, _ json.RawMessage) *Error {
	return s.callDo(id, func(ctx context.Context, k *call.Call) error { return k.AckRecording(ctx, s) })
}

func (s *session) onRaiseHand(id string, data json.RawMessage) *Error {
	on, e := decodeOn(data)
	if e != nil {
		return e
	}
	return s.callDo(id, func(ctx context.Context, k *call.Call) error { return k.RaiseHand(ctx, s, on) })
}

func (s *session) onSetFloor(id string, data json.RawMessage) *Error {
	var d FloorData
	if e := decode(data, &d); e != nil {
		return e
	}
	if d.ParticipantID == "" {
		return errInvalid("participant_id", wantNonEmpty)
	}
	return s.callDo(id, func(ctx context.Context, k *call.Call) error {
		return k.SetFloor(ctx, s, d.ParticipantID, d.Allow)
	})
}

func (s *session) onSetSpeakers(id string, data json.RawMessage) *Error {
	var d SpeakersData
	if e := decode(data, &d); e != nil {
		return e
	}
	if len(d.Names) > casework.MaxRepresentatives {
		return callError(call.ErrTooManySpeakers)
	}
	for _, n := range d.Names {
		if strings.TrimSpace(n) == "" || utf8.RuneCountInString(n) > 50 {
			return errInvalid("names", wantNames)
		}
	}
	return s.callDo(id, func(ctx context.Context, k *call.Call) error { return k.SetSpeakers(ctx, s, d.Names) })
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
	target, err := k.RemoveParticipant(s, d.ParticipantID)
	if err != nil {
		return callError(err)
	}
	if t, ok := target.(*session); ok {
		t.end("removed", websocket.CloseNormalClosure, nil) // its leave updates the call
	}
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
	return s.callDo(id, func(ctx context.Context, k *call.Call) error { return k.HearingRecord(ctx, s, d.Text) })
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
	return s.callDo(id, func(ctx context.Context, k *call.Call) error { return k.ConfirmRecord(ctx, s, name, png) })
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
