package scheduler

import (
	"context"
	"time"
)

// Notice kinds.
const (
	NoticeInvitation       = "invitation"        // a unit or hall is invited to a session
	NoticeInvitationAnswer = "invitation_answer" // an invited unit accepted or declined
)

// Notice tells the people of a unit (or a hall) about a session. It carries no petitioner's
// identity: a notice leaves the system (webhook, SMS), so it says only what the addressee
// needs to act.
type Notice struct {
	Kind      string
	SessionID int64
	UnitID    int64 // the addressee unit, 0 when none
	HallID    int64 // the addressee hall, 0 when none
	// Phone, when set, is a person to text (SMS only); notifiers that leave the system by
	// other ways never pass it on, and no log shows it unmasked.
	Phone  string
	ZH, EN string // the text, Chinese first
	At     time.Time
}

// Notifier delivers notices. Implementations live outside the domain (scheduler/notify: a
// webhook, an SMS gateway whose default writes to the log, a fan-out); a delivery failure is
// the caller's to log, never a reason to undo the change that caused the notice.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}
