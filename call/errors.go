package call

import "errors"

// The errors of the call's commands. Errors of the scheduler (Backend) are returned as they
// come, wrapped or not: org.ErrNotFound, ErrConflict, *FieldError, a context's error.
var (
	ErrNotModerator      = errors.New("reception: only the studio runs the call")
	ErrQueueEmpty        = errors.New("reception: nobody is waiting in the queue")
	ErrHearingUnderWay   = errors.New("reception: a hearing is under way")
	ErrNoHearing         = errors.New("reception: no hearing is under way")
	ErrNotStageHall      = errors.New("reception: only the hall of the current hearing can do this")
	ErrObserver          = errors.New("reception: observers do not speak")
	ErrNoParticipant     = errors.New("reception: no such participant in the call")
	ErrTooManySpeakers   = errors.New("reception: too many speakers for one hearing")
	ErrNotRepresentative = errors.New("reception: a speaker is not named in the booking")
	ErrRecordConfirmed   = errors.New("reception: the hearing record is confirmed already")
	ErrNoRecord          = errors.New("reception: the hearing record is empty")
	// ErrClosed: the call kept closing while the participant was seated (Calls.Enter).
	ErrClosed = errors.New("reception: the call closed while joining")
)
