package signaling

import (
	"context"
	"errors"
	"strconv"

	"sanji/auth"
	"sanji/call"
	"sanji/i18n"
	"sanji/scheduler/org"
	"sanji/sfu"
)

// The errors a client can get. Each says, Chinese first, what went wrong and what to do; the texts
// are in the catalog (i18n/catalog/server/signaling.json).

func errBadJSON(detail string) *Error {
	return newError(CodeBadJSON, "signaling.protocol.bad_json", "detail", detail)
}

func errTooLarge(limit int) *Error {
	return newError(CodeTooLarge, "signaling.protocol.too_large", "limit", limit)
}

func errBadVersion() *Error {
	return newError(CodeBadVersion, "signaling.protocol.bad_version")
}

func errUnknownType(typ string) *Error {
	return newError(CodeUnknownType, "signaling.protocol.unknown_type", "type", strconv.Quote(typ))
}

// errInvalid is the error of a field that is missing or out of range; want describes what it
// should be, filled with args.
func errInvalid(field string, want i18n.Key, args ...any) *Error {
	return newError(CodeInvalid, "signaling.protocol.invalid", "field", field, "want", i18n.T(want, args...))
}

// What a field should be, as errInvalid says it.
const (
	wantNonEmpty         i18n.Key = "signaling.want.non_empty"
	wantShortID          i18n.Key = "signaling.want.short_id"
	wantTarget           i18n.Key = "signaling.want.target"
	wantBool             i18n.Key = "signaling.want.bool"
	wantTrackList        i18n.Key = "signaling.want.track_list" // {max}: maxTrackIDs
	wantCandidate        i18n.Key = "signaling.want.candidate"
	wantPixels           i18n.Key = "signaling.want.pixels"
	wantPriority         i18n.Key = "signaling.want.priority"
	wantPositive         i18n.Key = "signaling.want.positive"
	wantOutcome          i18n.Key = "signaling.want.outcome"
	wantNote             i18n.Key = "signaling.want.note"
	wantNames            i18n.Key = "signaling.want.names"
	wantOther            i18n.Key = "signaling.want.other"
	wantRecord           i18n.Key = "signaling.want.record"
	wantSignature        i18n.Key = "signaling.want.signature"
	wantSubscriberTarget i18n.Key = "signaling.resume.want_subscriber"
)

func errNotJoined() *Error {
	return newError(CodeNotJoined, "signaling.protocol.not_joined")
}

func errAlreadyJoined() *Error {
	return newError(CodeAlreadyJoined, "signaling.protocol.already_joined")
}

func errToken(err error) *Error {
	if errors.Is(err, auth.ErrExpired) {
		return newError(CodeTokenExpired, "signaling.token.expired")
	}
	return newError(CodeBadToken, "signaling.token.invalid")
}

func errTooManyJoins(perSecond int) *Error {
	return newError(CodeRateLimited, "signaling.seat.too_many_joins", "limit", perSecond)
}

func errTokenUsed() *Error {
	return newError(CodeTokenUsed, "signaling.seat.token_used")
}

func errResumeRefused() *Error {
	return newError(CodeResumeRefused, "signaling.resume.refused")
}

func errRateLimited(limit int) *Error {
	return newError(CodeRateLimited, "signaling.protocol.rate_limited", "limit", limit)
}

func errInternal() *Error {
	return newError(CodeInternal, "signaling.protocol.internal")
}

// sfuError maps an error of the SFU to what the client is told.
func sfuError(err error) *Error {
	switch {
	case errors.Is(err, sfu.ErrBadSDP):
		return newError(CodeBadSDP, "signaling.media.bad_sdp")
	case errors.Is(err, sfu.ErrUnsupportedCodec):
		return newError(CodeUnsupportedCodec, "signaling.media.unsupported_codec")
	case errors.Is(err, sfu.ErrTrackNotFound):
		return newError(CodeNotFound, "signaling.media.track_not_found")
	case errors.Is(err, sfu.ErrForbidden):
		return newError(CodeForbidden, "signaling.media.forbidden")
	case errors.Is(err, sfu.ErrWrongState):
		return newError(CodeWrongState, "signaling.media.wrong_state")
	case errors.Is(err, sfu.ErrClosed):
		return newError(CodeInternal, "signaling.media.closed")
	}
	return errInternal()
}

// Errors of the reception call.

func errNoCalls() *Error {
	return newError(CodeForbidden, "signaling.call.no_calls")
}

func errNotInCall() *Error {
	return newError(CodeWrongState, "signaling.call.not_in_call")
}

func errNotModerator() *Error {
	return newError(CodeForbidden, "signaling.call.not_moderator")
}

func errQueueEmpty() *Error {
	return newError(CodeNotFound, "signaling.call.queue_empty")
}

func errHearingUnderWay() *Error {
	return newError(CodeWrongState, "signaling.call.hearing_under_way")
}

func errNoHearing() *Error {
	return newError(CodeWrongState, "signaling.call.no_hearing")
}

func errNotStageHall() *Error {
	return newError(CodeForbidden, "signaling.call.not_stage_hall")
}

func errObserver() *Error {
	return newError(CodeForbidden, "signaling.call.observer")
}

func errNoParticipant() *Error {
	return newError(CodeNotFound, "signaling.call.no_participant")
}

func errTooManySpeakers() *Error {
	return newError(CodeInvalid, "signaling.call.too_many_speakers")
}

func errNotRepresentative() *Error {
	return newError(CodeInvalid, "signaling.call.not_representative")
}

func errRecordConfirmed() *Error {
	return newError(CodeWrongState, "signaling.call.record_confirmed")
}

func errNoRecord() *Error {
	return newError(CodeInvalid, "signaling.call.no_record")
}

// callError maps an error of a reception call's command to what the client is told.
func callError(err error) *Error {
	switch {
	case errors.Is(err, call.ErrNotModerator):
		return errNotModerator()
	case errors.Is(err, call.ErrQueueEmpty):
		return errQueueEmpty()
	case errors.Is(err, call.ErrHearingUnderWay):
		return errHearingUnderWay()
	case errors.Is(err, call.ErrNoHearing):
		return errNoHearing()
	case errors.Is(err, call.ErrNotStageHall):
		return errNotStageHall()
	case errors.Is(err, call.ErrObserver):
		return errObserver()
	case errors.Is(err, call.ErrNoParticipant):
		return errNoParticipant()
	case errors.Is(err, call.ErrTooManySpeakers):
		return errTooManySpeakers()
	case errors.Is(err, call.ErrNotRepresentative):
		return errNotRepresentative()
	case errors.Is(err, call.ErrRecordConfirmed):
		return errRecordConfirmed()
	case errors.Is(err, call.ErrNoRecord):
		return errNoRecord()
	}
	return backendError(err)
}

// backendError maps a scheduler error to what the client is told.
func backendError(err error) *Error {
	var fe *org.FieldError
	switch {
	case errors.As(err, &fe):
		return textError(CodeInvalid, i18n.Text{ZH: fe.ZH, EN: fe.EN})
	case errors.Is(err, org.ErrNotFound):
		return newError(CodeNotFound, "signaling.backend.not_found")
	case errors.Is(err, org.ErrConflict):
		return newError(CodeWrongState, "signaling.backend.conflict")
	case errors.Is(err, context.DeadlineExceeded):
		return newError(CodeInternal, "signaling.backend.timeout")
	}
	return errInternal()
}
