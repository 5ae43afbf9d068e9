package reception

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sanji/i18n"
	"sanji/scheduler/calendar"
)

// Notice kinds.
const (
	NoticeInvitation       = "invitation"        // a unit or hall is invited to a session
	NoticeInvitationAnswer = "invitation_answer" // an invited unit accepted or declined
	NoticeSessionChanged   = "session_changed"   // a session's time or roster changed
	NoticeSessionCancelled = "session_cancelled" // a session was cancelled
	NoticeReminder         = "reminder"          // a session starts within a day
	// NoticeSupervisionEscalated: a 督办 item past its feedback date climbed to the addressee
	// office (no session).
	NoticeSupervisionEscalated = "supervision_escalated"
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

// SessionNotices are the notices of one event of session s: one to each unit and hall on its
// roster, and a text to each petitioner still booked (their phone is the address; the text names
// no one).
func SessionNotices(kind string, s ReceptionSession, appts []Appointment, text i18n.Text) []Notice {
	zh, en := text.ZH, text.EN
	var out []Notice
	for _, u := range s.UnitIDs {
		out = append(out, Notice{Kind: kind, SessionID: s.ID, UnitID: u, ZH: zh, EN: en})
	}
	halls := s.HallIDs
	if s.StudioID != 0 {
		halls = append([]int64{s.StudioID}, halls...)
	}
	for _, h := range halls {
		out = append(out, Notice{Kind: kind, SessionID: s.ID, HallID: h, ZH: zh, EN: en})
	}
	for _, a := range appts {
		if a.Phone != "" && (a.Status == ApptBooked || a.Status == ApptCheckedIn) {
			out = append(out, Notice{Kind: kind, SessionID: s.ID, HallID: a.HallID, Phone: a.Phone, ZH: zh, EN: en})
		}
	}
	return out
}

// Deliver hands every notice to n at now; it goes on after a failure and returns them all.
func Deliver(ctx context.Context, n Notifier, notices []Notice, now time.Time) error {
	var errs []error
	for _, x := range notices {
		x.At = now
		if err := n.Notify(ctx, x); err != nil {
			errs = append(errs, fmt.Errorf("notice %s of session %d: %w", x.Kind, x.SessionID, err))
		}
	}
	return errors.Join(errs...)
}

// ReminderLead is how long before a session its reminder goes out ("the day before").
const ReminderLead = 24 * time.Hour

// SendReminders reminds the roster and the booked petitioners of every scheduled session that
// starts within ReminderLead of now, once per session: the store marks the session first, so
// several nodes (or a restart) never send one twice; a delivery that fails is reported, not
// retried. It returns how many sessions it reminded.
func SendReminders(ctx context.Context, st SessionStore, n Notifier, now time.Time) (int, error) {
	list, err := st.ListReceptionSessions(ctx, SessionQuery{From: now, To: now.Add(ReminderLead)})
	if err != nil {
		return 0, fmt.Errorf("reminders: %w", err)
	}
	sent := 0
	var errs []error
	for _, s := range list {
		if !s.Start.After(now) {
			continue // under way already
		}
		first, err := st.MarkReminded(ctx, s.ID, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !first {
			continue
		}
		appts, err := st.ListAppointments(ctx, s.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		when := s.Start.In(calendar.Shanghai).Format("2006-01-02 15:04")
		t := i18n.T("reception.notice.reminder", "when", when, "title", s.Title)
		if err := Deliver(ctx, n, SessionNotices(NoticeReminder, s, appts, t), now); err != nil {
			errs = append(errs, err)
		}
		sent++
	}
	return sent, errors.Join(errs...)
}

// RunReminderJob runs SendReminders at every tick until ctx ends. The caller owns the goroutine
// and the ticker; report hears each run's outcome and must not block.
func RunReminderJob(ctx context.Context, st SessionStore, n Notifier, tick <-chan time.Time, report func(sent int, err error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick:
			sent, err := SendReminders(ctx, st, n, now)
			if report != nil {
				report(sent, err)
			}
		}
	}
}
