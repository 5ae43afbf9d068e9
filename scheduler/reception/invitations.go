package reception

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"sanji/scheduler/org"
)

// Multi-site hearings (会商, 联合接访): a session links rooms and units; each invited unit (or
// hall) answers whether it takes part, and a decline says why. Staff see every answer on the
// session; each unit sees its own invitations.

// InvitationStatus is where an invitation stands.
type InvitationStatus string

// Invitation states.
const (
	InvInvited  InvitationStatus = "invited"
	InvAccepted InvitationStatus = "accepted"
	InvDeclined InvitationStatus = "declined"
)

// What an invitation names.
const (
	InviteUnit = "unit" // a unit whose representatives join (责任单位, 会商单位)
	InviteHall = "hall" // a room that joins
)

// Invitation asks a unit, or a hall, to take part in a session.
type Invitation struct {
	ID        int64
	SessionID int64
	Kind      string // InviteUnit or InviteHall
	TargetID  int64  // the unit's or the hall's id
	// UnitID is the unit whose members answer: the invited unit, or the hall's unit.
	UnitID     int64
	Note       string // what the hearing is about, for the invited
	Status     InvitationStatus
	Reason     string // why it was declined
	InvitedBy  int64
	InvitedAt  time.Time
	AnsweredBy int64 // 0 until answered
	AnsweredAt time.Time
}

// InvitationQuery selects invitations; zero fields do not filter.
type InvitationQuery struct {
	SessionID int64
	UnderPath string // invitations whose answering unit lies in this subtree
	Status    InvitationStatus
	// From, when set, keeps invitations to sessions that end after it.
	From  time.Time
	Limit int // default and maximum 500
}

// InvitationStore is the part of SessionStore for invitations.
type InvitationStore interface {
	// InviteToSession invites units and halls to a scheduled session at now. Those not on the
	// session's roster are added to it first, with the same locked overlap check as
	// UpdateReceptionSession (a clash is a *ConflictError naming the other session). An
	// invitation that exists is kept as it is, except a declined one, which is asked again.
	// It returns the invitations it created or renewed.
	InviteToSession(ctx context.Context, sessionID int64, units, halls []int64, note string, by int64, now time.Time) ([]Invitation, error)
	GetInvitation(ctx context.Context, id int64) (Invitation, error)
	// ListInvitations returns invitations by session start, then id.
	ListInvitations(ctx context.Context, q InvitationQuery) ([]Invitation, error)
	// AnswerInvitation records a unit's answer at now (see ValidateAnswer). An answer may be
	// changed until the session ends; a cancelled session takes none. Under the session's lock,
	// a decline takes the unit or hall off the roster, freeing its time (a hall with petitioners
	// booked there stays on until staff move them; so does the last room of a session without
	// leader or studio); the declined invitation stays for staff to see. Accepting after a
	// decline puts it back on the roster under the overlap check (a clash is a *ConflictError,
	// and the decline stands).
	AnswerInvitation(ctx context.Context, id int64, accept bool, reason string, by int64, now time.Time) (Invitation, error)
}

// ValidateInvitationNote checks the note sent with invitations.
func ValidateInvitationNote(note string) error { return validText("note", note, 1000) }

// ValidateAnswer checks an answer: a decline needs a reason.
func ValidateAnswer(accept bool, reason string) error {
	if !accept && strings.TrimSpace(reason) == "" {
		return org.Invalid("reason", "reception.answer.reason_required")
	}
	if !utf8.ValidString(reason) || utf8.RuneCountInString(reason) > 500 {
		return org.Invalid("reason", "reception.answer.reason_length")
	}
	return nil
}

// CheckAnswerable refuses an answer to a session that is cancelled or over.
func CheckAnswerable(s ReceptionSession, now time.Time) error {
	if s.Status != SessionScheduled {
		return org.Invalid("session_id", "reception.answer.session_cancelled")
	}
	if !now.Before(s.End) {
		return org.Invalid("session_id", "reception.answer.session_over")
	}
	return nil
}

// OnRoster reports whether the invitation's unit or hall is on the session's roster.
func (inv Invitation) OnRoster(s ReceptionSession) bool {
	list := s.UnitIDs
	if inv.Kind == InviteHall {
		list = s.HallIDs
	}
	for _, id := range list {
		if id == inv.TargetID {
			return true
		}
	}
	return false
}

// WithIDs returns list with the ids of more it lacks appended, and whether it grew.
func WithIDs(list, more []int64) ([]int64, bool) {
	out := append([]int64{}, list...)
	for _, id := range more {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, len(out) != len(list)
}
