package api

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/rates"
)

// Slips (交办, 督办), rates, and the petitioner's query page.

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
		return newErr(http.StatusServiceUnavailable, CodeCalendarMissing, "工作日历缺少所需年份，无法计算期限，请联系运维人员补充节假日数据",
			"the working-day calendar lacks a year this deadline needs; ask an operator to add the holiday data")
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
			return invalidField("feedback_due", "反馈期限应为 YYYY-MM-DD 日期", "feedback_due is a YYYY-MM-DD date")
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
			return newErr(http.StatusConflict, CodeConflict, "该事项已有未办结的督办单（一事一项），请在原督办单上升级或跟进", "the case already has an open supervision item (one per matter); escalate or follow up that one")
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
		Level: sv.Level, Method: sv.Method, Escalation: sv.Escalation, Deadline: sv.Deadline.Format("2006-01-02"), OpenedAt: sv.OpenedAt}
}

// notifyCall tells the live call of a session that a slip of kind was made on it for a case:
// the hearing's recording marks it and the panels on stage show it at once.
func (s *Server) notifyCall(session string, caseID int64, kind string, slipID int64) {
	if id, ok := callSessionID(session); ok {
		if h := s.callHooks(); h != nil {
			h.SlipCreated(id, caseID, kind, slipID)
		}
	}
}

// RateView is one rate with its parts.
type RateView struct {
	Num   int     `json:"num"`
	Den   int     `json:"den"`
	Value float64 `json:"value"`
}

func rateView(r rates.Rate) RateView { return RateView{r.Num, r.Den, r.Value()} }

// OverdueView is one unit's overdue cases, by clock.
type OverdueView struct {
	UnitID     int64 `json:"unit_id"`
	Acceptance int   `json:"acceptance"`
	Handling   int   `json:"handling"`
	Total      int   `json:"total"`
}

// CountView is one cell of the case counts.
type CountView struct {
	CategoryID int64  `json:"category_id"`
	Territory  string `json:"territory"`
	Month      string `json:"month"` // YYYY-MM
	Count      int    `json:"count"`
}

// RatesView is the statistics of a scope and period, every figure with its parts.
type RatesView struct {
	UnitID             int64          `json:"unit_id,omitempty"` // the subtree chosen; absent: the caller's whole scope
	From               string         `json:"from,omitempty"`
	To                 string         `json:"to,omitempty"`
	Cases              int            `json:"cases"`
	TimelyAcceptance   RateView       `json:"timely_acceptance"`
	OnTimeClosure      RateView       `json:"on_time_closure"`
	Satisfaction       RateView       `json:"satisfaction"`
	SatisfactionScores map[string]int `json:"satisfaction_scores"`
	Repeat             RateView       `json:"repeat"`
	Repetitioned       RateView       `json:"repetitioned"`
	RepetitionDays     int            `json:"repetition_days"`
	OverdueByUnit      map[string]int `json:"overdue_by_unit"`
	Overdue            []OverdueView  `json:"overdue"`
	Counts             []CountView    `json:"counts"`
	Uncounted          int            `json:"uncounted"`
}

// queryDay parses an optional YYYY-MM-DD query parameter.
func queryDay(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	d, err := time.Parse("2006-01-02", v)
	if err != nil {
		return d, invalidField(name, name+" 应为 YYYY-MM-DD 日期", name+" is a YYYY-MM-DD date")
	}
	return d, nil
}

// rates computes the statistics of the caller's scope (or of one unit's subtree in it) over the
// cases registered in a period, at the time of the request.
func (s *Server) rates(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	roots := rc.roots()
	if len(roots) == 0 {
		return errForbidden
	}
	ctx, q := r.Context(), r.URL.Query()
	rq := rates.RatesQuery{UnderPaths: roots}
	var out RatesView
	if v := q.Get("unit_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return invalidField("unit_id", "unit_id 应为正整数", "unit_id is a positive integer")
		}
		u, err := s.unitFieldInScope(ctx, rc, "unit_id", id)
		if err != nil {
			return err
		}
		rq.UnderPaths, out.UnitID = []string{u.Path}, u.ID
	}
	var err error
	if rq.From, err = queryDay(q, "from"); err != nil {
		return err
	}
	if rq.To, err = queryDay(q, "to"); err != nil {
		return err
	}
	if !rq.From.IsZero() && !rq.To.IsZero() && rq.To.Before(rq.From) {
		return invalidField("to", "结束日期不能早于开始日期", "to cannot be before from")
	}
	if v := q.Get("repetition_days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 365 {
			return invalidField("repetition_days", "repetition_days 应为 1 到 365 的整数", "repetition_days is a whole number from 1 to 365")
		}
		rq.RepetitionDays = n
	}
	// The rates count against units: they wait for a year's real calendar (cases whose outcome
	// needs one are "uncounted") instead of counting provisionally.
	cal, err := calendar.LoadCalendar(ctx, s.st)
	if err != nil {
		return err
	}
	rt, err := rates.RatesFor(ctx, s.st, rq, cal, casework.DefaultRules(), s.now())
	if err != nil {
		return calendarErr(err)
	}
	out.From, out.To = q.Get("from"), q.Get("to")
	out.Cases, out.Uncounted, out.RepetitionDays = rt.Cases, rt.Uncounted, rt.RepetitionDays
	out.TimelyAcceptance, out.OnTimeClosure, out.Satisfaction = rateView(rt.TimelyAcceptance), rateView(rt.OnTimeClosure), rateView(rt.Satisfaction)
	out.Repeat, out.Repetitioned = rateView(rt.Repeat), rateView(rt.Repetitioned)
	out.SatisfactionScores = map[string]int{casework.ScoreSatisfied: 0, casework.ScoreBasically: 0, casework.ScoreUnsatisfied: 0}
	for k, n := range rt.Scores {
		out.SatisfactionScores[k] = n
	}
	out.OverdueByUnit, out.Overdue, out.Counts = map[string]int{}, []OverdueView{}, []CountView{}
	for u, o := range rt.Overdue {
		v := OverdueView{UnitID: u, Acceptance: o.Acceptance, Handling: o.Handling, Total: o.Acceptance + o.Handling}
		out.Overdue = append(out.Overdue, v)
		out.OverdueByUnit[strconv.FormatInt(u, 10)] = v.Total
	}
	slices.SortFunc(out.Overdue, func(a, b OverdueView) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), cmp.Compare(a.UnitID, b.UnitID))
	})
	for k, n := range rt.Counts {
		out.Counts = append(out.Counts, CountView{CategoryID: k.CategoryID, Territory: k.Territory, Month: k.Month, Count: n})
	}
	slices.SortFunc(out.Counts, func(a, b CountView) int {
		return cmp.Or(cmp.Compare(a.Month, b.Month), cmp.Compare(a.CategoryID, b.CategoryID), cmp.Compare(a.Territory, b.Territory))
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

type queryRequest struct {
	Code  string `json:"code"`
	Stage string `json:"stage"` // evaluation only
	Score string `json:"score"` // evaluation only
	Via   string `json:"via"`
}

// queryCase finds the case of a query code, rate-limited per address: a code is not guessable,
// and the limit keeps it so.
func (s *Server) queryCase(w http.ResponseWriter, r *http.Request, rc *reqCtx, req *queryRequest) (casework.Case, error) {
	if ok, wait := s.loginLim.allow("query:"+rc.ip, s.now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		return casework.Case{}, newErr(http.StatusTooManyRequests, CodeRateLimited, "查询过于频繁，请稍后再试", "too many queries; wait a little and try again")
	}
	if err := decode(r, req); err != nil {
		return casework.Case{}, err
	}
	c, err := s.st.GetCaseByQueryHash(r.Context(), casework.QueryCodeHash(req.Code))
	if errors.Is(err, org.ErrNotFound) || strings.TrimSpace(req.Code) == "" {
		return c, newErr(http.StatusNotFound, CodeNotFound, "查询码不正确，请核对后重试", "no case has this query code; check it and try again")
	}
	return c, err
}

// Milestone is a public step of a case: a status and its date, nothing identifying.
type Milestone struct {
	Status string `json:"status"`
	Date   string `json:"date"`
}

func (s *Server) publicQuery(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req queryRequest
	c, err := s.queryCase(w, r, rc, &req)
	if err != nil {
		return err
	}
	evs, err := s.st.ListCaseEvents(r.Context(), c.ID)
	if err != nil {
		return err
	}
	ms := []Milestone{}
	for _, e := range evs {
		if e.Kind == "status" {
			ms = append(ms, Milestone{Status: string(e.To), Date: calendar.DayOf(e.At).Format("2006-01-02")})
		}
	}
	es, err := s.st.ListEvaluations(r.Context(), c.ID)
	if err != nil {
		return err
	}
	rated := []string{}
	for _, e := range es {
		rated = append(rated, e.Stage)
	}
	writeJSON(w, http.StatusOK, map[string]any{"number": c.Number, "status": c.Status, "milestones": ms,
		"can_evaluate": !casework.EvaluationExcluded(c), "rated": rated})
	return nil
}

func (s *Server) publicEvaluate(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req queryRequest
	c, err := s.queryCase(w, r, rc, &req)
	if err != nil {
		return err
	}
	via := req.Via
	if via != "terminal" {
		via = "query_page"
	}
	e := casework.Evaluation{CaseID: c.ID, Stage: req.Stage, Score: req.Score, Via: via, At: s.now()}
	if err := s.st.AddEvaluation(r.Context(), &e); err != nil {
		if errors.Is(err, org.ErrConflict) {
			return newErr(http.StatusConflict, CodeConflict, "该环节已评价过，每个环节只能评价一次", "this stage was already rated; each stage is rated once")
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
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
	sv, err = s.st.OpenSupervisionFor(r.Context(), c.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, supervisionView(sv))
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
			return invalidField("requested_deadline", "申请的期限应为 YYYY-MM-DD 日期", "requested_deadline is a YYYY-MM-DD date")
		}
		rp.RequestedDeadline = d
	}
	if err := s.st.AddSupervisionReport(ctx, &rp, rc.actor(s.now())); err != nil {
		if errors.Is(err, org.ErrConflict) {
			return newErr(http.StatusConflict, CodeConflict, "已有待审批的延期申请，请等待督办人员答复", "an extension request is already waiting for a decision")
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
		return invalidField("report_id", "该督办单没有这份申请", "this supervision item has no such request")
	}
	if err := s.st.DecideSupervisionExtension(ctx, req.ReportID, req.Approve, strings.TrimSpace(req.Note), rc.actor(s.now())); err != nil {
		if errors.Is(err, org.ErrConflict) {
			return newErr(http.StatusConflict, CodeConflict, "该申请已审批过", "this request was already decided")
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
