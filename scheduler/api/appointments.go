package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// Appointments and the hall queue.

// AppointmentView is an appointment; Name, IDNumber, Phone and Representatives are masked
// unless the caller may see them and asked with a purpose.
type AppointmentView struct {
	ID              int64     `json:"id"`
	SessionID       int64     `json:"session_id"`
	HallID          int64     `json:"hall_id"`
	Name            string    `json:"name"`
	IDNumber        string    `json:"id_number"`
	Phone           string    `json:"phone"`
	Matter          string    `json:"matter"`
	People          int       `json:"people"`
	Representatives []string  `json:"representatives"`
	Guidance        string    `json:"guidance,omitempty"`
	WalkIn          bool      `json:"walk_in"`
	QueueNo         int       `json:"queue_no"`
	Position        int       `json:"position"`
	Status          string    `json:"status"`
	OverrideReason  string    `json:"override_reason,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	Masked          bool      `json:"masked"`
	// HeardAt and EndedAt are set once the petitioner is heard on the reception call.
	HeardAt *time.Time `json:"heard_at,omitempty"`
	EndedAt *time.Time `json:"ended_at,omitempty"`
	// Checks says what the booking checks found, as counts and flags (the leader's queue shows
	// them); absent when they found nothing.
	Checks *CheckFlags `json:"checks,omitempty"`
}

// CheckFlags is an appointment's booking checks in brief.
type CheckFlags struct {
	SamePerson   int  `json:"same_person"`
	Similar      int  `json:"similar"`
	PendingLower bool `json:"pending_lower"`
	PastReReview bool `json:"past_rereview"`
}

func apptView(a reception.Appointment, unmasked bool) AppointmentView {
	if !unmasked {
		a = a.Masked()
	}
	reps := a.Representatives
	if reps == nil {
		reps = []string{}
	}
	v := AppointmentView{ID: a.ID, SessionID: a.SessionID, HallID: a.HallID, Name: a.Name, IDNumber: a.IDNumber, Phone: a.Phone,
		Matter: a.Matter, People: a.People, Representatives: reps, Guidance: a.Guidance, WalkIn: a.WalkIn, QueueNo: a.QueueNo,
		Position: a.Position, Status: string(a.Status), OverrideReason: a.OverrideReason, CreatedAt: a.CreatedAt, Masked: !unmasked}
	if !a.HeardAt.IsZero() {
		t := a.HeardAt.UTC()
		v.HeardAt = &t
	}
	if !a.EndedAt.IsZero() {
		t := a.EndedAt.UTC()
		v.EndedAt = &t
	}
	if c := a.Checks; !c.Empty() {
		v.Checks = &CheckFlags{SamePerson: len(c.SamePerson), Similar: len(c.Similar), PendingLower: len(c.PendingLower) > 0,
			PastReReview: len(c.PastReReview) > 0}
	}
	return v
}

// hallUnit returns a hall and its unit.
func (s *Server) hallUnit(ctx context.Context, id int64) (org.Hall, org.Unit, error) {
	h, err := s.st.GetHall(ctx, id)
	if errors.Is(err, org.ErrNotFound) {
		return h, org.Unit{}, invalidField("hall_id", "api.hall.not_found")
	}
	if err != nil {
		return h, org.Unit{}, err
	}
	u, err := s.st.GetUnit(ctx, h.UnitID)
	return h, u, err
}

type bookRequest struct {
	HallID          int64    `json:"hall_id"`
	Name            string   `json:"name"`
	IDNumber        string   `json:"id_number"`
	Phone           string   `json:"phone"`
	Matter          string   `json:"matter"`
	People          int      `json:"people"`
	Representatives []string `json:"representatives"`
	Guidance        string   `json:"guidance"`
	WalkIn          bool     `json:"walk_in"`
	OverrideReason  string   `json:"override_reason"`
}

// BookingView is a new appointment and what the rules want known at booking (bookingchecks.go:
// 同人同事 candidates by ID number and by similar text, the level checks), filtered and masked
// for the caller. They inform; they never refuse. SamePerson repeats Checks.SamePerson.
type BookingView struct {
	Appointment AppointmentView   `json:"appointment"`
	SamePerson  []AppointmentView `json:"same_person"`
	Checks      BookingChecksView `json:"checks"`
}

func (s *Server) book(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req bookRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if req.HallID == 0 {
		return invalidField("hall_id", "api.appointment.hall_required")
	}
	_, u, err := s.hallUnit(ctx, req.HallID)
	if err != nil {
		return err
	}
	// The operator books into a hall of their own subtree.
	if err := rc.require(u.Path); err != nil {
		return err
	}
	if req.People == 0 {
		req.People = max(1, len(req.Representatives))
	}
	a := reception.Appointment{SessionID: id, HallID: req.HallID, Name: strings.TrimSpace(req.Name), IDNumber: strings.TrimSpace(req.IDNumber),
		Phone: strings.TrimSpace(req.Phone), Matter: strings.TrimSpace(req.Matter), People: req.People, Representatives: req.Representatives,
		Guidance: strings.TrimSpace(req.Guidance), WalkIn: req.WalkIn, OverrideReason: strings.TrimSpace(req.OverrideReason), BookedBy: rc.p.User.ID}
	if err := reception.ValidateAppointment(a); err != nil {
		return err
	}
	// The checks run before the booking, so they never find the booking itself.
	checks, err := s.runChecks(ctx, id, u, a.IDNumber, a.Matter)
	if err != nil {
		return err
	}
	a.Checks = checks.Summary()
	if err := s.st.CreateAppointment(ctx, &a, s.now()); err != nil {
		return err
	}
	target := "appointment:" + strconv.FormatInt(a.ID, 10)
	// The audit keeps the masked view: the log must not become a second copy of identities.
	if err := rc.audit("appointment.create", target, u, nil, apptView(a, false)); err != nil {
		return err
	}
	if a.OverrideReason != "" {
		if err := rc.audit("appointment.override", target, u, nil, map[string]string{"reason": a.OverrideReason}); err != nil {
			return err
		}
	}
	cv, hidden, err := s.checksView(ctx, rc, r, checks)
	if err != nil {
		return err
	}
	if !a.Checks.Empty() {
		if err := rc.audit("appointment.checks", target, u, nil,
			map[string]any{"found": a.Checks, "hidden_from_caller": hidden, "guidance": a.Guidance}); err != nil {
			return err
		}
	}
	s.queueChanged(id)
	writeJSON(w, http.StatusCreated, BookingView{Appointment: apptView(a, false), SamePerson: cv.SamePerson, Checks: cv})
	return nil
}

// queueChanged tells a session's live call that its bookings changed.
func (s *Server) queueChanged(sessionID int64) {
	if h := s.callHooks(); h != nil {
		h.QueueChanged(sessionID)
	}
}

// queue lists a session's queue: one hall's (hall_id, scope: that hall's unit) or the whole
// session across halls (scope: the session's unit, for the leader's side). ?purpose=… asks
// for identities unmasked, which needs pii.view and is audited.
func (s *Server) queue(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	x, err := s.st.GetReceptionSession(ctx, id)
	if err != nil {
		return err
	}
	var hallID int64
	var scope org.Unit
	if hv := r.URL.Query().Get("hall_id"); hv != "" {
		hallID, err = strconv.ParseInt(hv, 10, 64)
		if err != nil {
			return invalidField("hall_id", "api.hall.bad_id")
		}
		if _, scope, err = s.hallUnit(ctx, hallID); err != nil {
			return err
		}
	} else if scope, err = s.st.GetUnit(ctx, x.UnitID); err != nil {
		return err
	}
	if err := rc.require(scope.Path); err != nil {
		return err
	}
	purpose := strings.TrimSpace(r.URL.Query().Get("purpose"))
	unmask := false
	if purpose != "" {
		if err := rc.requireAction(org.ActPIIView, scope.Path); err != nil {
			return err
		}
		unmask = true
	}
	list, err := s.st.ListAppointments(ctx, id)
	if err != nil {
		return err
	}
	out := []AppointmentView{}
	var shown []int64
	for _, a := range list {
		if hallID != 0 && a.HallID != hallID {
			continue
		}
		out = append(out, apptView(a, unmask))
		shown = append(shown, a.ID)
	}
	if unmask && len(shown) > 0 {
		e := org.AuditEntry{Action: "pii.view", Target: "session:" + strconv.FormatInt(id, 10) + "/queue", UnitID: scope.ID,
			UnitPath: scope.Path, Purpose: purpose, IP: rc.ip, RequestID: rc.requestID, At: s.now(), ActorID: rc.p.User.ID, Actor: rc.p.User.Username}
		if err := s.st.AppendAudit(ctx, &e); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"session": sessionView(x), "queue": out})
	return nil
}

// received reports whether an appointment's petitioner was received: heard on the call (under
// way or ended), done, no-show or cancelled.
func received(a reception.Appointment) bool {
	return !a.HeardAt.IsZero() || (a.Status != reception.ApptBooked && a.Status != reception.ApptCheckedIn)
}

type updateAppointmentRequest struct {
	Status   string `json:"status"`
	Position *int   `json:"position"` // 1-based place in its group (booked or walk-in)
}

func (s *Server) updateAppointment(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req updateAppointmentRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	a, err := s.st.GetAppointment(ctx, id)
	if err != nil {
		return err
	}
	_, u, err := s.hallUnit(ctx, a.HallID)
	if err != nil {
		return err
	}
	if err := rc.require(u.Path); err != nil {
		return err
	}
	if req.Status == "" && req.Position == nil {
		return invalidField("status", "api.appointment.status_or_position")
	}
	if req.Status != "" {
		// A petitioner received (heard on the call, done, no-show, cancelled) stays so: the queue
		// page offers nothing for the row, and a stale page or a second operator is told why.
		if received(a) {
			return newErr(http.StatusConflict, CodeConflict, "api.queue.received", "queue_no", a.QueueNo)
		}
		if err := s.st.SetAppointmentStatus(ctx, id, reception.AppointmentStatus(req.Status)); err != nil {
			return err
		}
	}
	if req.Position != nil {
		if *req.Position < 1 {
			return invalidField("position", "api.appointment.position_from_one")
		}
		if err := s.st.MoveAppointment(ctx, id, *req.Position-1); err != nil {
			return err
		}
	}
	after, err := s.st.GetAppointment(ctx, id)
	if err != nil {
		return err
	}
	if err := rc.audit("appointment.update", "appointment:"+strconv.FormatInt(id, 10), u,
		map[string]any{"status": a.Status, "position": a.Position}, map[string]any{"status": after.Status, "position": after.Position}); err != nil {
		return err
	}
	s.queueChanged(after.SessionID)
	writeJSON(w, http.StatusOK, apptView(after, false))
	return nil
}
