package reception

import (
	"context"
	"regexp"
	"strings"
	"time"

	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// AppointmentStatus is where a booked petitioner is on the day.
type AppointmentStatus string

// Appointment states.
const (
	ApptBooked    AppointmentStatus = "booked"
	ApptCheckedIn AppointmentStatus = "checked_in"
	ApptNoShow    AppointmentStatus = "no_show"
	ApptCancelled AppointmentStatus = "cancelled"
	ApptDone      AppointmentStatus = "done"
)

// Appointment is a petitioner booked into a session at a hall (or added on the day as a walk-in).
// Name, IDNumber and Phone are sensitive personal information: views mask them unless the role
// may see them, and every unmasked view is audited.
type Appointment struct {
	ID        int64
	SessionID int64
	HallID    int64
	Name      string
	IDNumber  string
	Phone     string
	Matter    string // the matter in a few lines
	// People is everyone the visit concerns (涉及人数), ≥ 1; Representatives are the named
	// speakers of a collective visit, at most five.
	People          int
	Representatives []string
	Guidance        string // the guidance the operator gave (level checks), recorded
	WalkIn          bool
	QueueNo         int // per session and hall, from 1, assigned by the store
	Position        int // order across halls for the leader; walk-ins after appointments
	Status          AppointmentStatus
	OverrideReason  string       // set when lead time or capacity was overridden by staff
	Checks          CheckSummary // what the booking checks found (checks.go), kept for the leader
	BookedBy        int64
	CreatedAt       time.Time

	// Set when the appointment is heard on a reception call: the case the matter is registered
	// as, when the hearing started and ended, and what came of it.
	CaseID      int64
	HeardAt     time.Time
	EndedAt     time.Time
	Outcome     string // one of the Outcome* values
	OutcomeNote string
}

// Outcomes of a hearing (how the leader disposed of the matter on the call).
const (
	OutcomeAssigned   = "assigned"   // 交办
	OutcomeSupervised = "supervised" // 督办
	OutcomeConsulted  = "consulted"  // 会商
	OutcomeAnswered   = "answered"   // 当场答复
	OutcomeReferred   = "referred"   // 转送
)

// ValidOutcome reports whether o is one of the Outcome* values.
func ValidOutcome(o string) bool {
	switch o {
	case OutcomeAssigned, OutcomeSupervised, OutcomeConsulted, OutcomeAnswered, OutcomeReferred:
		return true
	}
	return false
}

// AppointmentStore is the part of scheduler.Store for appointments and the hall queue.
type AppointmentStore interface {
	// CreateAppointment books a into its session at now. Under the session's lock it refuses,
	// unless a.OverrideReason is set, a booking after the lead time closed or beyond capacity
	// (walk-ins ignore the lead time); the hall must be the studio's or on the roster and the
	// session scheduled. It assigns QueueNo and Position.
	CreateAppointment(ctx context.Context, a *Appointment, now time.Time) error
	GetAppointment(ctx context.Context, id int64) (Appointment, error)
	// ListAppointments returns a session's appointments in queue order: booked ones by
	// position, then walk-ins by position.
	ListAppointments(ctx context.Context, sessionID int64) ([]Appointment, error)
	// AppointmentsByIDNumber returns earlier appointments of the same ID number, newest first
	// (同人同事 candidates).
	AppointmentsByIDNumber(ctx context.Context, idNumber string, limit int) ([]Appointment, error)
	SetAppointmentStatus(ctx context.Context, id int64, st AppointmentStatus) error
	// StartHearing marks a booked or checked-in appointment as being heard from at, linked to
	// its case; anything else is ErrConflict.
	StartHearing(ctx context.Context, id, caseID int64, at time.Time) error
	// EndHearing records a started hearing's outcome (ValidOutcome) and end, and marks the
	// appointment done; a hearing not started, or ended already, is ErrConflict.
	EndHearing(ctx context.Context, id int64, outcome, note string, at time.Time) error
	// MoveAppointment puts an appointment at index to (0-based) of its group (booked or
	// walk-in) in its session's queue, renumbering positions.
	MoveAppointment(ctx context.Context, id int64, to int) error
}

var (
	idNumberPattern = regexp.MustCompile(`^[1-9][0-9]{16}[0-9X]$`)
	phonePattern    = regexp.MustCompile(`^[0-9+\-]{5,20}$`)
)

// ValidIDNumber checks a resident ID number (GB 11643: 18 characters with the ISO 7064 check).
func ValidIDNumber(s string) bool {
	if !idNumberPattern.MatchString(s) {
		return false
	}
	return WithCheckDigit(s[:17]) == s
}

// ValidateAppointment checks an appointment's own fields.
func ValidateAppointment(a Appointment) error {
	if a.SessionID == 0 {
		return org.Invalid("session_id", "reception.appointment.session_required")
	}
	if a.HallID == 0 {
		return org.Invalid("hall_id", "reception.appointment.hall_required")
	}
	if err := org.ValidName("name", a.Name); err != nil {
		return err
	}
	if a.IDNumber = strings.ToUpper(a.IDNumber); !ValidIDNumber(a.IDNumber) {
		return org.Invalid("id_number", "reception.appointment.id_number")
	}
	if a.Phone != "" && !phonePattern.MatchString(a.Phone) {
		return org.Invalid("phone", "reception.appointment.phone")
	}
	if strings.TrimSpace(a.Matter) == "" {
		return org.Invalid("matter", "reception.appointment.matter_required")
	}
	if err := validText("matter", a.Matter, 1000); err != nil {
		return err
	}
	if len(a.Representatives) > casework.MaxRepresentatives {
		return org.Invalid("representatives", "reception.appointment.representatives_max")
	}
	for _, r := range a.Representatives {
		if err := org.ValidName("representatives", r); err != nil {
			return err
		}
	}
	if a.People < 1 || a.People < len(a.Representatives) || a.People > 10000 {
		return org.Invalid("people", "reception.appointment.people")
	}
	if err := validText("guidance", a.Guidance, 1000); err != nil {
		return err
	}
	return validText("override_reason", a.OverrideReason, 500)
}

// Masked returns a with its sensitive fields masked.
func (a Appointment) Masked() Appointment {
	a.Name, a.IDNumber, a.Phone = casework.MaskName(a.Name), casework.MaskIDNumber(a.IDNumber), casework.MaskPhone(a.Phone)
	reps := make([]string, len(a.Representatives))
	for i, r := range a.Representatives {
		reps[i] = casework.MaskName(r)
	}
	a.Representatives = reps
	return a
}

// WithCheckDigit completes 17 digits of a resident ID number with its GB 11643 check character.
func WithCheckDigit(d17 string) string {
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(d17[i]-'0') * w[i]
	}
	return d17 + string("10X98765432"[sum%11])
}
