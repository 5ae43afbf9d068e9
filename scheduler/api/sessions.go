package api

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"sanji/i18n"
	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// Reception sessions, schedules and the public feed (五公开).

// SessionView is a reception session for staff.
type SessionView struct {
	ID                   int64     `json:"id"`
	ScheduleID           int64     `json:"schedule_id,omitempty"`
	UnitID               int64     `json:"unit_id"`
	Title                string    `json:"title"`
	LeaderID             int64     `json:"leader_id,omitempty"`
	LeaderName           string    `json:"leader_name"`
	LeaderPost           string    `json:"leader_post"`
	StudioID             int64     `json:"studio_id,omitempty"`
	Start                time.Time `json:"start"`
	End                  time.Time `json:"end"`
	HallIDs              []int64   `json:"hall_ids"`
	UnitIDs              []int64   `json:"unit_ids"`
	LeadDays             int       `json:"lead_days"`
	MinutesPerPetitioner int       `json:"minutes_per_petitioner"`
	MaxPetitioners       int       `json:"max_petitioners"`
	Portfolio            string    `json:"portfolio"`
	Holiday              string    `json:"holiday,omitempty"`
	// Backfill: the record of a reception that took place, entered afterwards (补录).
	Backfill     bool   `json:"backfill"`
	Status       string `json:"status"`
	CancelReason string `json:"cancel_reason,omitempty"`
}

func sessionView(s reception.ReceptionSession) SessionView {
	ids := func(v []int64) []int64 {
		if v == nil {
			return []int64{}
		}
		return v
	}
	return SessionView{ID: s.ID, ScheduleID: s.ScheduleID, UnitID: s.UnitID, Title: s.Title, LeaderID: s.LeaderID,
		LeaderName: s.LeaderName, LeaderPost: s.LeaderPost, StudioID: s.StudioID, Start: s.Start.In(calendar.Shanghai),
		End: s.End.In(calendar.Shanghai), HallIDs: ids(s.HallIDs), UnitIDs: ids(s.UnitIDs), LeadDays: s.LeadDays,
		MinutesPerPetitioner: s.MinutesPerPetitioner, MaxPetitioners: s.MaxPetitioners, Portfolio: s.Portfolio,
		Holiday: s.Holiday, Backfill: s.Backfill, Status: string(s.Status), CancelReason: s.CancelReason}
}

// sessionErr turns a resource clash into a 409 that names the other session.
func sessionErr(err error) error {
	var ce *reception.ConflictError
	if errors.As(err, &ce) {
		zh, en, _ := strings.Cut(ce.Error(), " / ")
		e := textErr(http.StatusConflict, CodeSessionConflict, i18n.Text{ZH: zh, EN: en})
		e.field = map[string]string{"leader": "leader_id", "studio": "studio_id", "hall": "hall_ids", "unit": "unit_ids"}[ce.Resource]
		return e
	}
	return err
}

// CodeSessionConflict: a leader, studio, hall or unit is already in an overlapping session.
const CodeSessionConflict = "session_conflict"

func (s *Server) unitOf(ctx context.Context, id int64, field string) (org.Unit, error) {
	u, err := s.st.GetUnit(ctx, id)
	if errors.Is(err, org.ErrNotFound) {
		return u, invalidField(field, "api.unit.not_found")
	}
	return u, err
}

// ---- public feed (五公开) ----

// PublicSessionView is what the public sees of a session: time, place, leader's name, post and
// portfolio. It carries no personal data of petitioners and no internal ids beyond the session's.
type PublicSessionView struct {
	ID         int64     `json:"id"`
	Title      string    `json:"title"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Place      string    `json:"place"`
	Halls      []string  `json:"halls"`
	LeaderName string    `json:"leader_name"`
	LeaderPost string    `json:"leader_post"`
	Portfolio  string    `json:"portfolio"`
	Holiday    string    `json:"holiday,omitempty"`
}

// publicDays is how far ahead the public feed looks.
const publicDays = 60

func (s *Server) publicSessions(w http.ResponseWriter, r *http.Request, _ *reqCtx) error {
	ctx := r.Context()
	now := s.now()
	list, err := s.st.ListReceptionSessions(ctx, reception.SessionQuery{From: now, To: now.AddDate(0, 0, publicDays)})
	if err != nil {
		return err
	}
	halls := map[int64]string{}
	hallName := func(id int64) string {
		if n, ok := halls[id]; ok {
			return n
		}
		h, err := s.st.GetHall(ctx, id)
		if err == nil {
			halls[id] = h.Name
		}
		return halls[id]
	}
	out := []PublicSessionView{}
	for _, x := range list {
		if x.LeaderID == 0 {
			continue // hearings without a leader are internal
		}
		v := PublicSessionView{ID: x.ID, Title: x.Title, Start: x.Start.In(calendar.Shanghai), End: x.End.In(calendar.Shanghai),
			LeaderName: x.LeaderName, LeaderPost: x.LeaderPost, Portfolio: x.Portfolio, Holiday: x.Holiday, Halls: []string{}}
		if x.StudioID != 0 {
			v.Place = hallName(x.StudioID)
		}
		for _, h := range x.HallIDs {
			v.Halls = append(v.Halls, hallName(h))
		}
		out = append(out, v)
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
	return nil
}

// ---- staff: sessions and schedules ----

func parseTimeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", v, calendar.Shanghai); err == nil {
		return t, nil
	}
	return time.Time{}, invalidField(name, "api.session.bad_time")
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	now := s.now()
	from, err := parseTimeParam(r, "from", now.AddDate(0, 0, -7))
	if err != nil {
		return err
	}
	to, err := parseTimeParam(r, "to", from.AddDate(0, 0, 42))
	if err != nil {
		return err
	}
	roots := rc.roots()
	if len(roots) == 0 {
		return errForbidden
	}
	// The caller sees the sessions owned in their subtrees and those with a studio, hall or unit
	// of their subtrees on the roster (a district operator sees the city leader's reception their
	// hall is on, a unit's handler the one their unit is invited to).
	ctx := r.Context()
	cancelled := r.URL.Query().Get("cancelled") == "1"
	seen := map[int64]bool{}
	out := []SessionView{}
	for _, root := range roots {
		list, err := s.st.ListReceptionSessions(ctx, reception.SessionQuery{Involving: root, From: from, To: to, IncludeCancelled: cancelled})
		if err != nil {
			return err
		}
		for _, x := range list {
			if !seen[x.ID] {
				seen[x.ID] = true
				out = append(out, sessionView(x))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].ID < out[j].ID
	})
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
	return nil
}

// LeaderView is a leader's account that a session or schedule can name.
type LeaderView struct {
	ID          int64  `json:"id"`
	DisplayName string `json:"display_name"`
	UnitID      int64  `json:"unit_id"`
}

// listLeaders lists the enabled people holding the leader role in the caller's subtrees, for
// the session form's leader picker (the user list itself is the administrator's).
func (s *Server) listLeaders(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	roots := rc.roots()
	if len(roots) == 0 {
		return errForbidden
	}
	ctx := r.Context()
	out := []LeaderView{}
	for _, root := range roots {
		users, err := s.st.ListUsers(ctx, org.UserFilter{UnderPath: root, Kind: org.UserPerson})
		if err != nil {
			return err
		}
		for _, u := range users {
			if u.Disabled {
				continue
			}
			gs, err := s.st.ListGrants(ctx, u.ID)
			if err != nil {
				return err
			}
			for _, g := range gs {
				if g.Role == org.RoleLeader {
					out = append(out, LeaderView{ID: u.ID, DisplayName: u.DisplayName, UnitID: u.UnitID})
					break
				}
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"leaders": out})
	return nil
}

type createSessionRequest struct {
	UnitID               int64     `json:"unit_id"`
	Title                string    `json:"title"`
	LeaderID             int64     `json:"leader_id"`
	LeaderName           string    `json:"leader_name"`
	LeaderPost           string    `json:"leader_post"`
	StudioID             int64     `json:"studio_id"`
	Start                time.Time `json:"start"`
	End                  time.Time `json:"end"`
	HallIDs              []int64   `json:"hall_ids"`
	UnitIDs              []int64   `json:"unit_ids"`
	LeadDays             int       `json:"lead_days"`
	MinutesPerPetitioner int       `json:"minutes_per_petitioner"`
	MaxPetitioners       int       `json:"max_petitioners"`
	Portfolio            string    `json:"portfolio"`
	Backfill             bool      `json:"backfill"`
}

// checkStart refuses a session that starts in the past unless it is a backfilled record, which
// needs session.backfill at the owning unit besides the route's session.write.
func (s *Server) checkStart(rc *reqCtx, x reception.ReceptionSession, u org.Unit) error {
	if x.Backfill && !rc.p.Can(org.ActSessionBackfill, u.Path) {
		return newErr(http.StatusForbidden, CodeForbidden, "api.backfill.forbidden")
	}
	if err := reception.ValidateSession(x); err != nil {
		return err
	}
	return reception.CheckStart(x, s.now())
}

// createSession creates an ad hoc session (a single reception or a multi-site hearing).
func (s *Server) createSession(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req createSessionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	u, err := s.unitOf(ctx, req.UnitID, "unit_id")
	if err != nil {
		return err
	}
	if err := rc.require(u.Path); err != nil {
		return err
	}
	x := reception.ReceptionSession{UnitID: u.ID, Title: strings.TrimSpace(req.Title), LeaderID: req.LeaderID,
		LeaderName: strings.TrimSpace(req.LeaderName), LeaderPost: strings.TrimSpace(req.LeaderPost), StudioID: req.StudioID,
		Start: req.Start, End: req.End, HallIDs: req.HallIDs, UnitIDs: req.UnitIDs, LeadDays: req.LeadDays,
		MinutesPerPetitioner: req.MinutesPerPetitioner, MaxPetitioners: req.MaxPetitioners, Portfolio: req.Portfolio,
		Backfill: req.Backfill}
	if err := s.checkStart(rc, x, u); err != nil {
		return err
	}
	if err := s.st.CreateReceptionSession(ctx, &x); err != nil {
		return sessionErr(err)
	}
	if err := rc.audit("session.create", "session:"+strconv.FormatInt(x.ID, 10), u, nil, sessionView(x)); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, sessionView(x))
	return nil
}

// updateSessionRequest changes a session; absent fields keep their value.
type updateSessionRequest struct {
	Title                *string    `json:"title"`
	LeaderID             *int64     `json:"leader_id"`
	LeaderName           *string    `json:"leader_name"`
	LeaderPost           *string    `json:"leader_post"`
	StudioID             *int64     `json:"studio_id"`
	Start                *time.Time `json:"start"`
	End                  *time.Time `json:"end"`
	HallIDs              *[]int64   `json:"hall_ids"`
	UnitIDs              *[]int64   `json:"unit_ids"`
	LeadDays             *int       `json:"lead_days"`
	MinutesPerPetitioner *int       `json:"minutes_per_petitioner"`
	MaxPetitioners       *int       `json:"max_petitioners"`
	Portfolio            *string    `json:"portfolio"`
}

func setIfGiven[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// sessionInScope loads the session named by the path's {id}, after decoding the body into req
// (unless nil), and checks the caller's scope at the session's unit.
func (s *Server) sessionInScope(r *http.Request, rc *reqCtx, req any) (reception.ReceptionSession, org.Unit, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return reception.ReceptionSession{}, org.Unit{}, err
	}
	if req != nil {
		if err := decode(r, req); err != nil {
			return reception.ReceptionSession{}, org.Unit{}, err
		}
	}
	x, err := s.st.GetReceptionSession(r.Context(), id)
	if err != nil {
		return x, org.Unit{}, err
	}
	u, err := s.unitInScope(r.Context(), rc, x.UnitID)
	return x, u, err
}

func (s *Server) updateSession(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req updateSessionRequest
	x, u, err := s.sessionInScope(r, rc, &req)
	if err != nil {
		return err
	}
	ctx, id := r.Context(), x.ID
	before, old := sessionView(x), x
	setIfGiven(&x.Title, req.Title)
	setIfGiven(&x.LeaderID, req.LeaderID)
	setIfGiven(&x.LeaderName, req.LeaderName)
	setIfGiven(&x.LeaderPost, req.LeaderPost)
	setIfGiven(&x.StudioID, req.StudioID)
	setIfGiven(&x.Start, req.Start)
	setIfGiven(&x.End, req.End)
	setIfGiven(&x.HallIDs, req.HallIDs)
	setIfGiven(&x.UnitIDs, req.UnitIDs)
	setIfGiven(&x.LeadDays, req.LeadDays)
	setIfGiven(&x.MinutesPerPetitioner, req.MinutesPerPetitioner)
	setIfGiven(&x.MaxPetitioners, req.MaxPetitioners)
	setIfGiven(&x.Portfolio, req.Portfolio)
	// A session under way may change (its end, its roster); moving one into the past may not,
	// and a record stays in the past.
	if x.Backfill || !x.Start.Equal(old.Start) {
		if err := s.checkStart(rc, x, u); err != nil {
			return err
		}
	}
	if err := s.st.UpdateReceptionSession(ctx, x); err != nil {
		return sessionErr(err)
	}
	x, err = s.st.GetReceptionSession(ctx, id)
	if err != nil {
		return err
	}
	if err := rc.audit("session.update", "session:"+strconv.FormatInt(id, 10), u, before, sessionView(x)); err != nil {
		return err
	}
	if err := s.noticeChange(ctx, old, x); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sessionView(x))
	return nil
}

type cancelSessionRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) cancelSession(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req cancelSessionRequest
	x, u, err := s.sessionInScope(r, rc, &req)
	if err != nil {
		return err
	}
	ctx, id := r.Context(), x.ID
	if err := s.st.CancelReceptionSession(ctx, id, strings.TrimSpace(req.Reason)); err != nil {
		return err
	}
	if err := rc.audit("session.cancel", "session:"+strconv.FormatInt(id, 10), u, sessionView(x), map[string]string{"reason": req.Reason}); err != nil {
		return err
	}
	appts, err := s.st.ListAppointments(ctx, id)
	if err != nil {
		return err
	}
	reason := strings.TrimSpace(req.Reason)
	msg := i18n.T("api.notice.session_cancelled", "title", x.Title, "when", sessionWhen(x), "reason", reason)
	s.notify(ctx, reception.SessionNotices(reception.NoticeSessionCancelled, x, appts, msg)...)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type createScheduleRequest struct {
	UnitID               int64     `json:"unit_id"`
	LeaderID             int64     `json:"leader_id"`
	LeaderName           string    `json:"leader_name"`
	LeaderPost           string    `json:"leader_post"`
	StudioID             int64     `json:"studio_id"`
	RRule                string    `json:"rrule"`
	ExDates              []string  `json:"exdates"`
	DTStart              time.Time `json:"dtstart"`
	Minutes              int       `json:"minutes"`
	HallIDs              []int64   `json:"hall_ids"`
	UnitIDs              []int64   `json:"unit_ids"`
	LeadDays             int       `json:"lead_days"`
	MinutesPerPetitioner int       `json:"minutes_per_petitioner"`
	MaxPetitioners       int       `json:"max_petitioners"`
	Portfolio            string    `json:"portfolio"`
	Holidays             string    `json:"holidays"`
	// Weeks is how far ahead to create the sessions now (default 8, at most 53).
	Weeks int `json:"weeks"`
}

// MaterializeView reports what a schedule's expansion did.
type MaterializeView struct {
	ScheduleID int64         `json:"schedule_id"`
	Created    []SessionView `json:"created"`
	Skipped    []time.Time   `json:"skipped_holidays"`
	Existing   int           `json:"existing"`
	Conflicts  []Error       `json:"conflicts"`
}

func (s *Server) materialize(w http.ResponseWriter, r *http.Request, rc *reqCtx, u org.Unit, id int64, weeks int, status int) error {
	if weeks <= 0 {
		weeks = 8
	}
	if weeks > 53 {
		return invalidField("weeks", "api.schedule.weeks_max")
	}
	now := s.now()
	res, err := reception.Materialize(r.Context(), s.st, id, now, now.AddDate(0, 0, 7*weeks))
	if err != nil {
		return err
	}
	v := MaterializeView{ScheduleID: id, Created: []SessionView{}, Skipped: []time.Time{}, Existing: res.Existing, Conflicts: []Error{}}
	for _, x := range res.Created {
		v.Created = append(v.Created, sessionView(x))
	}
	for _, o := range res.Skipped {
		v.Skipped = append(v.Skipped, o.Start.In(calendar.Shanghai))
	}
	for _, c := range res.Conflicts {
		var ae *apiError
		if errors.As(sessionErr(c), &ae) {
			v.Conflicts = append(v.Conflicts, Error{Code: ae.code, Message: ae.message(r), Field: ae.field})
		}
	}
	if err := rc.audit("schedule.materialize", "schedule:"+strconv.FormatInt(id, 10), u, nil,
		map[string]int{"created": len(v.Created), "skipped": len(v.Skipped), "conflicts": len(v.Conflicts)}); err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

func (s *Server) createSchedule(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req createScheduleRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	u, err := s.unitOf(ctx, req.UnitID, "unit_id")
	if err != nil {
		return err
	}
	if err := rc.require(u.Path); err != nil {
		return err
	}
	if req.Holidays == "" {
		req.Holidays = string(reception.HolidaySkip)
	}
	rs := reception.ReceptionSchedule{UnitID: u.ID, LeaderID: req.LeaderID, LeaderName: strings.TrimSpace(req.LeaderName),
		LeaderPost: strings.TrimSpace(req.LeaderPost), StudioID: req.StudioID, RRule: req.RRule, ExDates: req.ExDates,
		DTStart: req.DTStart, Minutes: req.Minutes, HallIDs: req.HallIDs, UnitIDs: req.UnitIDs, LeadDays: req.LeadDays,
		MinutesPerPetitioner: req.MinutesPerPetitioner, MaxPetitioners: req.MaxPetitioners, Portfolio: req.Portfolio,
		Holidays: reception.HolidayPolicy(req.Holidays)}
	if err := s.st.CreateReceptionSchedule(ctx, &rs); err != nil {
		return err
	}
	if err := rc.audit("schedule.create", "schedule:"+strconv.FormatInt(rs.ID, 10), u, nil, req); err != nil {
		return err
	}
	return s.materialize(w, r, rc, u, rs.ID, req.Weeks, http.StatusCreated)
}

type materializeRequest struct {
	Weeks int `json:"weeks"`
}

func (s *Server) materializeSchedule(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req materializeRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	rs, err := s.st.GetReceptionSchedule(ctx, id)
	if err != nil {
		return err
	}
	u, err := s.unitInScope(ctx, rc, rs.UnitID)
	if err != nil {
		return err
	}
	return s.materialize(w, r, rc, u, id, req.Weeks, http.StatusOK)
}
