package reception

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"sanji/i18n"
	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
)

// HolidayPolicy says what a schedule does with an occurrence on a public holiday.
type HolidayPolicy string

// Holiday policies.
const (
	HolidaySkip HolidayPolicy = "skip"
	HolidayKeep HolidayPolicy = "keep"
)

// ReceptionSchedule is a leader's recurring reception (领导视频接访): who, where, when, who joins,
// and the booking rules. Its occurrences become ReceptionSessions when materialised.
type ReceptionSchedule struct {
	ID       int64
	UnitID   int64 // the unit that owns the schedule: staff of its subtree manage it
	LeaderID int64 // the leader's user account
	// LeaderName and LeaderPost are published (五公开) as entered, e.g. "张三", "副市长".
	LeaderName string
	LeaderPost string
	StudioID   int64 // a hall of kind studio
	RRule      string
	ExDates    []string  // YYYY-MM-DD
	DTStart    time.Time // first possible occurrence; its clock time is every occurrence's
	Minutes    int       // length of one session
	HallIDs    []int64   // the roster of halls that join
	UnitIDs    []int64   // the roster of units whose representatives join
	LeadDays   int       // bookings close this many days before the start
	// MinutesPerPetitioner and MaxPetitioners bound the bookings of one session.
	MinutesPerPetitioner int
	MaxPetitioners       int
	Portfolio            string // the topics this leader takes, published
	Holidays             HolidayPolicy
	CreatedAt            time.Time
}

// SessionStatus is the state of one reception session.
type SessionStatus string

// Session states.
const (
	SessionScheduled SessionStatus = "scheduled"
	SessionCancelled SessionStatus = "cancelled"
)

// ReceptionSession is one dated reception: an occurrence of a schedule, or an ad hoc session
// (ScheduleID 0) such as a multi-site hearing. Resources (leader, studio, halls, units) cannot
// be in two overlapping scheduled sessions.
type ReceptionSession struct {
	ID                   int64
	ScheduleID           int64
	UnitID               int64
	Title                string
	LeaderID             int64
	LeaderName           string
	LeaderPost           string
	StudioID             int64
	Start, End           time.Time
	HallIDs              []int64
	UnitIDs              []int64
	LeadDays             int
	MinutesPerPetitioner int
	MaxPetitioners       int
	Portfolio            string
	Holiday              string // the public holiday it falls on, "" when none (kept by policy)
	// Backfill marks the record of a reception that took place and was entered afterwards (补录):
	// it holds no leader, studio, hall or unit (Keys is empty), so it never clashes with a
	// booking, and it takes no bookings, invitations or calls.
	Backfill     bool
	Status       SessionStatus
	CancelReason string
	CreatedAt    time.Time
	// Revision counts the changes since creation (time, roster, cancellation…), and UpdatedAt is
	// the last one's time: a calendar feed's SEQUENCE and DTSTAMP, so subscribed clients replace
	// what they hold.
	Revision  int
	UpdatedAt time.Time
}

// SessionQuery selects sessions; zero fields do not filter.
type SessionQuery struct {
	UnderPath string // sessions whose owning unit lies in this subtree
	From, To  time.Time
	LeaderID  int64
	HallID    int64 // studio or roster hall
	UnitID    int64 // owned by this unit, or with it on the roster
	// Involving: sessions owned in this subtree, or with a studio, hall or unit of it on the
	// roster — what the people of a subtree take part in (a district unit invited to the city
	// leader's reception finds it).
	Involving        string
	IncludeCancelled bool
	Limit            int // default and maximum 1000
}

// ConflictError refuses a session that would put a resource in two overlapping sessions. It
// names the other session so staff can go and look.
type ConflictError struct {
	Resource string // "leader", "studio", "hall", "unit"
	ID       int64  // the resource's id
	Other    ReceptionSession
}

func (e *ConflictError) Error() string {
	var resource any = i18n.Text{EN: e.Resource} // a kind resourceNames lacks: its code, in English only
	if k, ok := resourceNames[e.Resource]; ok {
		resource = k
	}
	return i18n.T("reception.session.conflict", "resource", resource, "id", e.ID, "session", e.Other.ID, "title", e.Other.Title,
		"start", e.Other.Start.In(calendar.Shanghai).Format("2006-01-02 15:04"), "end", e.Other.End.In(calendar.Shanghai).Format("15:04")).String()
}

// resourceNames name a ConflictError's resource in a sentence.
var resourceNames = map[string]i18n.Key{
	"leader": "reception.resource.leader",
	"studio": "reception.resource.studio",
	"hall":   "reception.resource.hall",
	"unit":   "reception.resource.unit",
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == org.ErrConflict }

// SessionStore is the part of scheduler.Store for receptions, sessions, holidays and appointments.
type SessionStore interface {
	calendar.HolidayStore // the working-day calendar, clock.go

	CreateReceptionSchedule(ctx context.Context, rs *ReceptionSchedule) error
	GetReceptionSchedule(ctx context.Context, id int64) (ReceptionSchedule, error)

	// CreateReceptionSession stores a session after checking, under a lock on each of its
	// resources, that none of them is in an overlapping scheduled session: two concurrent
	// creations that overlap never both succeed. A clash is a *ConflictError.
	CreateReceptionSession(ctx context.Context, s *ReceptionSession) error
	// UpdateReceptionSession changes a scheduled session's time, roster, leader, studio and
	// booking rules, with the same locked overlap check as creation (the session itself does
	// not count); a clash is a *ConflictError naming the other session.
	UpdateReceptionSession(ctx context.Context, s ReceptionSession) error
	GetReceptionSession(ctx context.Context, id int64) (ReceptionSession, error)
	ListReceptionSessions(ctx context.Context, q SessionQuery) ([]ReceptionSession, error)
	// CancelReceptionSession marks one session cancelled (a single cancellation); its resources
	// are free again.
	CancelReceptionSession(ctx context.Context, id int64, reason string) error
	// MarkReminded records that session id's reminder went out at at; it reports false when it
	// had gone out already (so exactly one caller sends it).
	MarkReminded(ctx context.Context, id int64, at time.Time) (bool, error)

	AppointmentStore
	InvitationStore   // invitations.go
	BookingCheckStore // checks.go
	FeedStore         // feeds.go
}

func validText(field string, s string, max int) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return org.Invalid(field, "reception.text.max_length", "max", max)
	}
	return nil
}

// MaxSessionMinutes bounds a session's length (twelve hours); the overlap check relies on it.
const MaxSessionMinutes = 12 * 60

// ValidateSchedule checks a schedule's own fields (references are checked by the store).
func ValidateSchedule(rs ReceptionSchedule) error {
	if rs.UnitID == 0 {
		return org.Invalid("unit_id", "org.unit_required")
	}
	if rs.LeaderID == 0 {
		return org.Invalid("leader_id", "reception.schedule.leader_required")
	}
	if err := org.ValidName("leader_name", rs.LeaderName); err != nil {
		return err
	}
	if err := org.ValidName("leader_post", rs.LeaderPost); err != nil {
		return err
	}
	if rs.StudioID == 0 {
		return org.Invalid("studio_id", "reception.schedule.studio_required")
	}
	r, err := calendar.ParseRRule(rs.RRule)
	if err != nil {
		return err
	}
	r.ExDates = rs.ExDates
	if err := r.Validate(); err != nil {
		return err
	}
	if rs.DTStart.IsZero() {
		return org.Invalid("dtstart", "reception.schedule.dtstart_required")
	}
	if rs.Holidays != HolidaySkip && rs.Holidays != HolidayKeep {
		return org.Invalid("holidays", "reception.schedule.holidays")
	}
	return validBooking(rs.Minutes, rs.LeadDays, rs.MinutesPerPetitioner, rs.MaxPetitioners, rs.Portfolio)
}

func validBooking(minutes, lead, per, max int, portfolio string) error {
	if minutes < 10 || minutes > MaxSessionMinutes {
		return org.Invalid("minutes", "reception.booking.minutes")
	}
	if lead < 0 || lead > 60 {
		return org.Invalid("lead_days", "reception.booking.lead_days")
	}
	if per < 1 || per > minutes {
		return org.Invalid("minutes_per_petitioner", "reception.booking.minutes_per_petitioner")
	}
	if max < 1 || max > 500 {
		return org.Invalid("max_petitioners", "reception.booking.max_petitioners")
	}
	if per*max > minutes {
		return org.Invalid("max_petitioners", "reception.booking.over_length", "total", per*max, "minutes", minutes)
	}
	return validText("portfolio", portfolio, 2000)
}

// ValidateSession checks a session's own fields.
func ValidateSession(s ReceptionSession) error {
	if s.UnitID == 0 {
		return org.Invalid("unit_id", "org.unit_required")
	}
	if err := org.ValidName("title", s.Title); err != nil {
		return err
	}
	if s.LeaderID == 0 && s.StudioID == 0 && len(s.HallIDs) == 0 {
		return org.Invalid("leader_id", "reception.session.no_resource")
	}
	if s.LeaderID != 0 {
		if err := org.ValidName("leader_name", s.LeaderName); err != nil {
			return err
		}
		if err := validText("leader_post", s.LeaderPost, 100); err != nil {
			return err
		}
	}
	if s.Start.IsZero() || !s.End.After(s.Start) {
		return org.Invalid("end", "reception.session.end_before_start")
	}
	return validBooking(int(s.End.Sub(s.Start)/time.Minute), s.LeadDays, s.MinutesPerPetitioner, s.MaxPetitioners, s.Portfolio)
}

// PastGrace is how long after its start a session may still be booked as an ordinary one: staff
// entering an ad hoc hearing that has just begun, a form filled in over a few minutes, a clock a
// little off. Anything older is the record of a reception that took place (Backfill).
const PastGrace = 15 * time.Minute

// CheckStart refuses a session that starts more than PastGrace before now, unless it is a
// backfilled record, and a backfilled record that is not over yet (a reception still under way
// is booked as one, so it holds its resources and can be called).
func CheckStart(s ReceptionSession, now time.Time) error {
	if s.Backfill {
		if s.End.After(now) {
			return org.Invalid("end", "reception.past.backfill_not_over", "now", now.In(calendar.Shanghai).Format("2006-01-02 15:04"))
		}
		return nil
	}
	if s.Start.Before(now.Add(-PastGrace)) {
		return org.Invalid("start", "reception.past.start", "start", s.Start.In(calendar.Shanghai).Format("2006-01-02 15:04"),
			"minutes", int(PastGrace/time.Minute))
	}
	return nil
}

// Occurrences expands a schedule between from and to with the holiday calendar.
func (rs ReceptionSchedule) Occurrences(from, to time.Time, hol calendar.Holidays) ([]calendar.Occurrence, error) {
	r, err := calendar.ParseRRule(rs.RRule)
	if err != nil {
		return nil, err
	}
	r.ExDates = rs.ExDates
	return calendar.Expand(r, rs.DTStart, time.Duration(rs.Minutes)*time.Minute, from, to, hol, rs.Holidays == HolidaySkip)
}

// SessionFor is the session of one occurrence.
func (rs ReceptionSchedule) SessionFor(o calendar.Occurrence) ReceptionSession {
	return ReceptionSession{ScheduleID: rs.ID, UnitID: rs.UnitID, Title: rs.LeaderPost + rs.LeaderName + "视频接访",
		LeaderID: rs.LeaderID, LeaderName: rs.LeaderName, LeaderPost: rs.LeaderPost, StudioID: rs.StudioID,
		Start: o.Start, End: o.End, HallIDs: rs.HallIDs, UnitIDs: rs.UnitIDs, LeadDays: rs.LeadDays,
		MinutesPerPetitioner: rs.MinutesPerPetitioner, MaxPetitioners: rs.MaxPetitioners, Portfolio: rs.Portfolio,
		Holiday: o.Holiday, Status: SessionScheduled}
}

// MaterializeResult reports what Materialize did with each occurrence.
type MaterializeResult struct {
	Created   []ReceptionSession
	Skipped   []calendar.Occurrence // holidays skipped by policy
	Existing  int                   // occurrences already materialised
	Conflicts []error               // *ConflictError per occurrence that clashes; the others are still created
}

// Materialize creates the sessions of schedule id's occurrences in [from, to) that do not exist
// yet. Each occurrence is created on its own, so one clash does not block the others; every
// clash is reported.
func Materialize(ctx context.Context, st SessionStore, id int64, from, to time.Time) (MaterializeResult, error) {
	var res MaterializeResult
	rs, err := st.GetReceptionSchedule(ctx, id)
	if err != nil {
		return res, err
	}
	hl, err := st.ListHolidays(ctx, calendar.FormatDate(from), calendar.FormatDate(to))
	if err != nil {
		return res, err
	}
	hol := calendar.Holidays{}
	for _, h := range hl {
		hol[h.Date] = h
	}
	occ, err := rs.Occurrences(from, to, hol)
	if err != nil {
		return res, err
	}
	have, err := st.ListReceptionSessions(ctx, SessionQuery{From: from, To: to.Add(time.Duration(rs.Minutes) * time.Minute), IncludeCancelled: true, LeaderID: rs.LeaderID})
	if err != nil {
		return res, err
	}
	exists := map[int64]bool{}
	for _, s := range have {
		if s.ScheduleID == rs.ID {
			exists[s.Start.Unix()] = true
		}
	}
	for _, o := range occ {
		if o.Skipped {
			res.Skipped = append(res.Skipped, o)
			continue
		}
		if exists[o.Start.Unix()] {
			res.Existing++
			continue
		}
		s := rs.SessionFor(o)
		err := st.CreateReceptionSession(ctx, &s)
		var ce *ConflictError
		switch {
		case errors.As(err, &ce):
			res.Conflicts = append(res.Conflicts, err)
		case err != nil:
			return res, err
		default:
			res.Created = append(res.Created, s)
		}
	}
	return res, nil
}

// Keys are the lock keys of a session's resources, sorted so that every writer takes them in
// the same order (no deadlock between two writers). A backfilled record has none: the time it
// names is over, and holding it would only block corrections of other records.
func (s ReceptionSession) Keys() []string {
	if s.Backfill {
		return nil
	}
	var ks []string
	if s.LeaderID != 0 {
		ks = append(ks, fmt.Sprintf("leader:%d", s.LeaderID))
	}
	if s.StudioID != 0 {
		ks = append(ks, fmt.Sprintf("hall:%d", s.StudioID))
	}
	for _, h := range s.HallIDs {
		ks = append(ks, fmt.Sprintf("hall:%d", h))
	}
	for _, u := range s.UnitIDs {
		ks = append(ks, fmt.Sprintf("unit:%d", u))
	}
	return SortedUnique(ks)
}

// SortedUnique returns the distinct keys in order: the one order every writer locks them in.
func SortedUnique(ks []string) []string {
	out := make([]string, 0, len(ks))
	seen := map[string]bool{}
	for _, k := range ks {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	// Insertion sort: a handful of keys.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && strings.Compare(out[j-1], out[j]) > 0; j-- {
			out[j-1], out[j] = out[j], out[j-1]
		}
	}
	return out
}
