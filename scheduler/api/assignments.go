package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
)

// Assignment slips (交办) and objections to them.

type assignRequest struct {
	AssignerUnitID    int64   `json:"assigner_unit_id"`
	ResponsibleUnitID int64   `json:"responsible_unit_id"`
	CoUnitIDs         []int64 `json:"co_unit_ids"`
	Requirements      string  `json:"requirements"`
	Instruction       string  `json:"instruction"`
	Method            string  `json:"method"`
	SessionID         string  `json:"session_id"`
	RecordingOffsetMS int64   `json:"recording_offset_ms"`
	FeedbackDue       string  `json:"feedback_due"` // YYYY-MM-DD; default: the registration rule's 15 days
}

// AssignmentView is a 交办单.
type AssignmentView struct {
	ID                int64     `json:"id"`
	CaseID            int64     `json:"case_id"`
	AssignerUnitID    int64     `json:"assigner_unit_id"`
	ResponsibleUnitID int64     `json:"responsible_unit_id"`
	CoUnitIDs         []int64   `json:"co_unit_ids"`
	Requirements      string    `json:"requirements,omitempty"`
	Instruction       string    `json:"instruction,omitempty"`
	Method            string    `json:"method"`
	SessionID         string    `json:"session_id,omitempty"`
	RecordingOffsetMS int64     `json:"recording_offset_ms,omitempty"`
	AssignedAt        time.Time `json:"assigned_at"`
	FeedbackDue       string    `json:"feedback_due"`
	ObjectionDue      string    `json:"objection_due,omitempty"`
	Status            string    `json:"status"`
	ObjectionReason   string    `json:"objection_reason,omitempty"`
}

func assignmentView(a casework.Assignment, cal *calendar.Calendar) AssignmentView {
	v := AssignmentView{ID: a.ID, CaseID: a.CaseID, AssignerUnitID: a.AssignerUnitID, ResponsibleUnitID: a.ResponsibleUnitID,
		CoUnitIDs: append([]int64{}, a.CoUnitIDs...), Requirements: a.Requirements, Instruction: a.Instruction, Method: a.Method,
		SessionID: a.SessionID, RecordingOffsetMS: a.RecordingOffset.Milliseconds(), AssignedAt: a.AssignedAt,
		FeedbackDue: a.FeedbackDue.Format("2006-01-02"), Status: a.Status, ObjectionReason: a.ObjectionReason}
	if d, err := cal.Compute(casework.DefaultRules()[casework.RuleObjection], a.AssignedAt); err == nil {
		v.ObjectionDue = d.Due.Format("2006-01-02")
	}
	return v
}

func calendarErr(err error) error {
	if errors.Is(err, calendar.ErrCalendarYear) {
		return newErr(http.StatusServiceUnavailable, CodeCalendarMissing, "api.calendar.year_missing")
	}
	return err
}

func (s *Server) assignCase(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req assignRequest
	c, _, err := s.caseRequest(r, rc, &req)
	if err != nil {
		return err
	}
	ctx := r.Context()
	assigner, err := s.unitField(ctx, "assigner_unit_id", req.AssignerUnitID)
	if err != nil {
		return err
	}
	// The assigning body is a unit the caller acts for.
	if err := rc.require(assigner.Path); err != nil {
		return err
	}
	now := s.now()
	cal, err := s.calendar(ctx)
	if err != nil {
		return err
	}
	var due time.Time
	if req.FeedbackDue != "" {
		d, err := time.Parse("2006-01-02", req.FeedbackDue)
		if err != nil {
			return invalidField("feedback_due", "api.assignment.bad_feedback_due")
		}
		due = d
	} else {
		d, err := cal.Compute(casework.DefaultRules()[casework.RuleRegistration], now)
		if err != nil {
			return err
		}
		due = d.Due
	}
	if req.Method == casework.AssignOnVideoCall {
		req.RecordingOffsetMS = s.callOffset(req.SessionID, req.RecordingOffsetMS)
	}
	a := casework.Assignment{CaseID: c.ID, AssignerUnitID: assigner.ID, AssignerID: rc.p.User.ID, ResponsibleUnitID: req.ResponsibleUnitID,
		CoUnitIDs: req.CoUnitIDs, Requirements: req.Requirements, Instruction: req.Instruction, Method: req.Method, SessionID: req.SessionID,
		RecordingOffset: time.Duration(req.RecordingOffsetMS) * time.Millisecond, AssignedAt: now, FeedbackDue: due}
	if err := s.st.CreateAssignment(ctx, &a, casework.CaseEvent{ActorID: rc.p.User.ID, Actor: rc.p.User.Username, UnitID: assigner.ID}); err != nil {
		return err
	}
	if err := rc.audit("case.assign", "case:"+strconv.FormatInt(c.ID, 10), assigner, nil, map[string]int64{"assignment": a.ID, "responsible_unit_id": a.ResponsibleUnitID}); err != nil {
		return err
	}
	s.notifyCall(a.SessionID, c.ID, "assignment", a.ID)
	writeJSON(w, http.StatusCreated, assignmentView(a, cal))
	return nil
}

func (s *Server) listAssignments(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, _, err := s.loadCase(r, rc)
	if err != nil {
		return err
	}
	as, err := s.st.ListAssignments(r.Context(), c.ID)
	if err != nil {
		return err
	}
	cal, err := s.calendar(r.Context())
	if err != nil {
		return err
	}
	out := []AssignmentView{}
	for _, a := range as {
		out = append(out, assignmentView(a, cal))
	}
	writeJSON(w, http.StatusOK, map[string]any{"assignments": out})
	return nil
}

type objectionRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) objectAssignment(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	a, err := s.st.GetAssignment(ctx, id)
	if err != nil {
		return err
	}
	if err := s.refuseCopy(ctx, a.CaseID); err != nil {
		return err
	}
	resp, err := s.st.GetUnit(ctx, a.ResponsibleUnitID)
	if err != nil {
		return err
	}
	// Only the receiving unit objects.
	if err := rc.require(resp.Path); err != nil {
		return err
	}
	var req objectionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	now := s.now()
	cal, err := s.calendar(ctx)
	if err != nil {
		return err
	}
	if err := casework.CheckObjection(cal, casework.DefaultRules(), a, req.Reason, now); err != nil {
		return err
	}
	if err := s.st.ObjectAssignment(ctx, a.ID, strings.TrimSpace(req.Reason),
		casework.CaseEvent{ActorID: rc.p.User.ID, Actor: rc.p.User.Username, UnitID: resp.ID, At: now}); err != nil {
		return err
	}
	if err := rc.audit("case.object", "assignment:"+strconv.FormatInt(a.ID, 10), resp, nil, nil); err != nil {
		return err
	}
	a, err = s.st.GetAssignment(ctx, a.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, assignmentView(a, cal))
	return nil
}
