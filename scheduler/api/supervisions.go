package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// Supervision slips (督办): opening, escalating, closing, the reports and extension decisions.

type superviseRequest struct {
	UnitID int64  `json:"unit_id"` // the supervised unit; default the responsible unit
	Basis  string `json:"basis"`
	Level  string `json:"level"`
	Method string `json:"method"`
	Notes  string `json:"notes"`
	// SessionID names the reception session when the item is opened on its call.
	SessionID string `json:"session_id"`
}

// SupervisionView is a 督办单.
type SupervisionView struct {
	ID         int64     `json:"id"`
	CaseID     int64     `json:"case_id"`
	UnitID     int64     `json:"unit_id"`
	Automatic  bool      `json:"automatic"`
	Basis      string    `json:"basis"`
	Level      string    `json:"level"`
	Method     string    `json:"method"`
	Escalation string    `json:"escalation"`
	Deadline   string    `json:"deadline"`
	OpenedAt   time.Time `json:"opened_at"`
	// EscalatedUnitID: the office the item has climbed to (0: none yet); Overdue: the feedback
	// dates it missed.
	EscalatedUnitID int64 `json:"escalated_unit_id"`
	Overdue         int   `json:"overdue"`
}

func (s *Server) superviseCase(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req superviseRequest
	c, _, err := s.caseRequest(r, rc, &req)
	if err != nil {
		return err
	}
	unit := req.UnitID
	if unit == 0 {
		unit = c.ResponsibleUnitID
	}
	if unit == 0 {
		unit = c.UnitID
	}
	now := s.now()
	cal, err := s.calendar(r.Context())
	if err != nil {
		return err
	}
	d, err := cal.Compute(casework.DefaultRules()[casework.RuleSupervisionAnswer], now)
	if err != nil {
		return err
	}
	sv := casework.Supervision{CaseID: c.ID, UnitID: unit, OpenedBy: rc.p.User.ID, Basis: strings.TrimSpace(req.Basis), Level: req.Level,
		Method: req.Method, Notes: req.Notes, Deadline: d.Due, OpenedAt: now}
	if err := s.st.OpenSupervision(r.Context(), &sv); err != nil {
		if errors.Is(err, org.ErrConflict) {
			return newErr(http.StatusConflict, CodeConflict, "api.supervision.open_exists")
		}
		return err
	}
	if err := s.auditCase(r.Context(), rc, c, "case.supervise", "", nil, map[string]int64{"supervision": sv.ID}); err != nil {
		return err
	}
	s.notifyCall(req.SessionID, c.ID, "supervision", sv.ID)
	writeJSON(w, http.StatusCreated, supervisionView(sv))
	return nil
}

func supervisionView(sv casework.Supervision) SupervisionView {
	return SupervisionView{ID: sv.ID, CaseID: sv.CaseID, UnitID: sv.UnitID, Automatic: sv.OpenedBy == 0, Basis: sv.Basis,
		Level: sv.Level, Method: sv.Method, Escalation: sv.Escalation, Deadline: sv.Deadline.Format("2006-01-02"), OpenedAt: sv.OpenedAt,
		EscalatedUnitID: sv.EscalatedUnitID, Overdue: sv.Overdue}
}

func (s *Server) escalateSupervision(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, _, err := s.loadCase(r, rc)
	if err != nil {
		return err
	}
	sv, err := s.st.OpenSupervisionFor(r.Context(), c.ID)
	if err != nil {
		return err
	}
	if err := s.st.EscalateSupervision(r.Context(), sv.ID, rc.actor(s.now())); err != nil {
		return err
	}
	if err := s.auditCase(r.Context(), rc, c, "case.supervise.escalate", "supervision:"+strconv.FormatInt(sv.ID, 10),
		map[string]string{"escalation": sv.Escalation}, nil); err != nil {
		return err
	}
	up, err := s.st.OpenSupervisionFor(r.Context(), c.ID)
	if err != nil {
		return err
	}
	s.notifyEscalation(r.Context(), casework.Escalation{Supervision: up, CaseNumber: c.Number, From: sv.Escalation, To: up.Escalation, MissedDue: sv.Deadline})
	writeJSON(w, http.StatusOK, supervisionView(up))
	return nil
}

type closeSupervisionRequest struct {
	Opinion string `json:"opinion"` // pass or return
	Notes   string `json:"notes"`   // improvement and accountability recommendations
}

func (s *Server) closeSupervision(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req closeSupervisionRequest
	c, _, err := s.caseRequest(r, rc, &req)
	if err != nil {
		return err
	}
	sv, err := s.st.OpenSupervisionFor(r.Context(), c.ID)
	if err != nil {
		return err
	}
	if err := s.st.CloseSupervision(r.Context(), sv.ID, req.Opinion, req.Notes, rc.actor(s.now())); err != nil {
		return err
	}
	if err := s.auditCase(r.Context(), rc, c, "case.supervise.close", "supervision:"+strconv.FormatInt(sv.ID, 10), nil, map[string]string{"opinion": req.Opinion}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// SupervisionReportView is a progress report or an extension request on a 督办单.
type SupervisionReportView struct {
	ID                int64      `json:"id"`
	Kind              string     `json:"kind"`
	Text              string     `json:"text"`
	UnitID            int64      `json:"unit_id"`
	By                int64      `json:"by"`
	At                time.Time  `json:"at"`
	RequestedDeadline string     `json:"requested_deadline,omitempty"`
	Decision          string     `json:"decision,omitempty"` // approved or refused; "" while pending
	DecidedBy         int64      `json:"decided_by,omitempty"`
	DecidedAt         *time.Time `json:"decided_at,omitempty"`
	DecisionNote      string     `json:"decision_note,omitempty"`
}

func supervisionReportView(r casework.SupervisionReport) SupervisionReportView {
	v := SupervisionReportView{ID: r.ID, Kind: r.Kind, Text: r.Text, UnitID: r.UnitID, By: r.By, At: r.At, Decision: r.Decision,
		DecidedBy: r.DecidedBy, DecidedAt: optTime(r.DecidedAt), DecisionNote: r.DecisionNote}
	if !r.RequestedDeadline.IsZero() {
		v.RequestedDeadline = r.RequestedDeadline.Format("2006-01-02")
	}
	return v
}

// SupervisionItemView is a 督办单 with its audit opinion and reports.
type SupervisionItemView struct {
	SupervisionView
	ClosedAt *time.Time              `json:"closed_at,omitempty"`
	Opinion  string                  `json:"opinion,omitempty"` // pass or return, once closed
	Notes    string                  `json:"notes,omitempty"`
	Reports  []SupervisionReportView `json:"reports"`
}

func (s *Server) listSupervisions(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, _, err := s.loadCase(r, rc)
	if err != nil {
		return err
	}
	svs, err := s.st.ListSupervisions(r.Context(), c.ID)
	if err != nil {
		return err
	}
	out := []SupervisionItemView{}
	for _, sv := range svs {
		rs, err := s.st.ListSupervisionReports(r.Context(), sv.ID)
		if err != nil {
			return err
		}
		v := SupervisionItemView{SupervisionView: supervisionView(sv), ClosedAt: optTime(sv.ClosedAt), Opinion: sv.Opinion, Notes: sv.Notes,
			Reports: []SupervisionReportView{}}
		for _, rp := range rs {
			v.Reports = append(v.Reports, supervisionReportView(rp))
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"supervisions": out})
	return nil
}

type supervisionReportRequest struct {
	Kind              string `json:"kind"` // progress or extension
	Text              string `json:"text"`
	RequestedDeadline string `json:"requested_deadline"` // extension: YYYY-MM-DD
}

// reportSupervision: the supervised unit reports progress on the case's open item, or asks for
// more time.
func (s *Server) reportSupervision(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req supervisionReportRequest
	c, _, err := s.caseRequest(r, rc, &req)
	if err != nil {
		return err
	}
	ctx := r.Context()
	sv, err := s.st.OpenSupervisionFor(ctx, c.ID)
	if err != nil {
		return err
	}
	// Only the supervised unit reports on its item.
	u, err := s.unitInScope(ctx, rc, sv.UnitID)
	if err != nil {
		return err
	}
	rp := casework.SupervisionReport{SupervisionID: sv.ID, Kind: req.Kind, Text: strings.TrimSpace(req.Text)}
	if req.RequestedDeadline != "" {
		d, err := time.Parse("2006-01-02", req.RequestedDeadline)
		if err != nil {
			return invalidField("requested_deadline", "api.supervision.bad_deadline")
		}
		rp.RequestedDeadline = d
	}
	if err := s.st.AddSupervisionReport(ctx, &rp, rc.actor(s.now())); err != nil {
		if errors.Is(err, org.ErrConflict) {
			return newErr(http.StatusConflict, CodeConflict, "api.supervision.extension_pending")
		}
		return err
	}
	if err := rc.audit("case.supervise.report", "supervision:"+strconv.FormatInt(sv.ID, 10), u, nil, map[string]string{"kind": rp.Kind}); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, supervisionReportView(rp))
	return nil
}

type extensionDecisionRequest struct {
	ReportID int64  `json:"report_id"`
	Approve  bool   `json:"approve"`
	Note     string `json:"note"`
}

// decideSupervisionExtension: a supervisor approves or refuses a pending extension request on the
// case's open item.
func (s *Server) decideSupervisionExtension(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req extensionDecisionRequest
	c, _, err := s.caseRequest(r, rc, &req)
	if err != nil {
		return err
	}
	ctx := r.Context()
	sv, err := s.st.OpenSupervisionFor(ctx, c.ID)
	if err != nil {
		return err
	}
	rs, err := s.st.ListSupervisionReports(ctx, sv.ID)
	if err != nil {
		return err
	}
	found := false
	for _, rp := range rs {
		found = found || rp.ID == req.ReportID
	}
	if !found {
		return invalidField("report_id", "api.supervision.no_request")
	}
	if err := s.st.DecideSupervisionExtension(ctx, req.ReportID, req.Approve, strings.TrimSpace(req.Note), rc.actor(s.now())); err != nil {
		if errors.Is(err, org.ErrConflict) {
			return newErr(http.StatusConflict, CodeConflict, "api.supervision.already_decided")
		}
		return err
	}
	if err := s.auditCase(ctx, rc, c, "case.supervise.extension", "", nil, map[string]any{"report": req.ReportID, "approve": req.Approve}); err != nil {
		return err
	}
	sv, err = s.st.OpenSupervisionFor(ctx, c.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, supervisionView(sv))
	return nil
}
