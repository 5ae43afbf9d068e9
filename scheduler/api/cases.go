package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// Case endpoints (信访事项). The view of a case is decided on the server per viewer
// (casework.CaseViewLevel); the full view with petitioner identity needs a stated purpose and is
// written to the audit log as pii.view.

// PetitionerView is a petitioner as the viewer may see them.
type PetitionerView struct {
	Name           string `json:"name,omitempty"`
	IDNumber       string `json:"id_number,omitempty"`
	Phone          string `json:"phone,omitempty"`
	Address        string `json:"address,omitempty"`
	Role           string `json:"role"`
	Anonymous      bool   `json:"anonymous"`
	AgreesToPublic bool   `json:"agrees_to_public"`
}

// CaseView is a case as the viewer may see it.
type CaseView struct {
	ID                int64            `json:"id"`
	Number            string           `json:"number"`
	ExternalID        string           `json:"external_id,omitempty"`
	UnitID            int64            `json:"unit_id"`
	Territory         string           `json:"territory"`
	Form              string           `json:"form"`
	Type              string           `json:"type"`
	CategoryID        int64            `json:"category_id"`
	Title             string           `json:"title"`
	Content           string           `json:"content,omitempty"`
	ComplainedUnitID  int64            `json:"complained_unit_id,omitempty"`
	ComplainedParty   string           `json:"complained_party,omitempty"`
	ResponsibleUnitID int64            `json:"responsible_unit_id,omitempty"`
	CoUnitIDs         []int64          `json:"co_unit_ids"`
	Petitioners       []PetitionerView `json:"petitioners"`
	InvolvedCount     int              `json:"involved_count"`
	FastTrack         bool             `json:"fast_track"`
	Result            string           `json:"result,omitempty"`
	Status            string           `json:"status"`
	Supervised        bool             `json:"supervised"`
	OwnerLeaderID     int64            `json:"owner_leader_id,omitempty"`
	RegisteredAt      time.Time        `json:"registered_at"`
	AcceptedAt        *time.Time       `json:"accepted_at,omitempty"`
	ClosedAt          *time.Time       `json:"closed_at,omitempty"`
	View              string           `json:"view"` // full, masked or redacted
	QueryCode         string           `json:"query_code,omitempty"`
	// What intake marked as 涉及检举控告 (casework.Privacy): the passages only at the full view.
	AccusationMarked   bool     `json:"accusation_marked"`
	AccusationPassages []string `json:"accusation_passages,omitempty"`
	UnitSummary        string   `json:"unit_summary,omitempty"`
	// The review body, the outcome and the final mark (casework/review.go).
	ReviewUnitID int64  `json:"review_unit_id,omitempty"`
	Outcome      string `json:"outcome,omitempty"`
	Channel      string `json:"channel,omitempty"`
	Final        bool   `json:"final,omitempty"`
	FinalOfID    int64  `json:"final_of_id,omitempty"`
	FinalWhy     string `json:"final_why,omitempty"`
	// RepeatOf is the same person's earlier case of the same matter (重复信访) and why it was
	// judged so; only on the single case's view, and not in the redacted one.
	RepeatOf *RepeatView `json:"repeat_of,omitempty"`
}

// CodeCalendarMissing: a deadline needs a year the working-day calendar does not have.
const CodeCalendarMissing = "calendar_year_missing"

// calendar is the working-day calendar as the store holds it now (an operator's entry counts at
// once, on every node), counting the years it lacks provisionally: deadlines people watch say
// they are provisional rather than failing.
func (s *Server) calendar(ctx context.Context) (*calendar.Calendar, error) {
	cal, err := calendar.LoadCalendar(ctx, s.st)
	if err != nil {
		return nil, err
	}
	return cal.WithProvisional(true), nil
}

var viewNames = map[casework.ViewLevel]string{casework.ViewFull: "full", casework.ViewMasked: "masked", casework.ViewRedacted: "redacted"}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func caseView(c casework.Case, level casework.ViewLevel) CaseView {
	marked := c.Privacy.Whole || len(c.Privacy.Passages) > 0 // that it is marked is no secret; what is, is
	c = casework.RedactCase(c, level)
	v := CaseView{ID: c.ID, Number: c.Number, ExternalID: c.ExternalID, UnitID: c.UnitID, Territory: c.Territory,
		Form: string(c.Form), Type: string(c.Type), CategoryID: c.CategoryID, Title: c.Title, Content: c.Content,
		ComplainedUnitID: c.ComplainedUnitID, ComplainedParty: c.ComplainedParty, ResponsibleUnitID: c.ResponsibleUnitID,
		CoUnitIDs: append([]int64{}, c.CoUnitIDs...), Petitioners: []PetitionerView{}, InvolvedCount: c.InvolvedCount,
		FastTrack: c.FastTrack, Result: string(c.Result), Status: string(c.Status), Supervised: c.Supervised,
		OwnerLeaderID: c.OwnerLeaderID, RegisteredAt: c.RegisteredAt, AcceptedAt: optTime(c.AcceptedAt),
		ClosedAt: optTime(c.ClosedAt), View: viewNames[level],
		AccusationMarked: marked, AccusationPassages: c.Privacy.Passages, UnitSummary: c.Privacy.UnitSummary,
		ReviewUnitID: c.ReviewUnitID, Outcome: string(c.Outcome),
		Channel: c.Channel, Final: c.Final, FinalOfID: c.FinalOfID, FinalWhy: c.FinalWhy}
	if level == casework.ViewRedacted {
		v.ComplainedUnitID = 0
	}
	for _, p := range c.Petitioners {
		v.Petitioners = append(v.Petitioners, PetitionerView(p))
	}
	return v
}

type createCaseRequest struct {
	UnitID           int64            `json:"unit_id"`
	Territory        string           `json:"territory"`
	Form             string           `json:"form"`
	Type             string           `json:"type"`
	CategoryID       int64            `json:"category_id"`
	Title            string           `json:"title"`
	Content          string           `json:"content"`
	ComplainedUnitID int64            `json:"complained_unit_id"`
	ComplainedParty  string           `json:"complained_party"`
	Petitioners      []PetitionerView `json:"petitioners"`
	InvolvedCount    int              `json:"involved_count"`
	FastTrack        bool             `json:"fast_track"`
	ExternalID       string           `json:"external_id"`
	privacyRequest
}

func (s *Server) createCase(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req createCaseRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	u, err := s.unitFieldInScope(ctx, rc, "unit_id", req.UnitID)
	if err != nil {
		return err
	}
	code, hash, err := casework.NewQueryCode()
	if err != nil {
		return err
	}
	c := casework.Case{UnitID: u.ID, Territory: strings.TrimSpace(req.Territory), Form: casework.CaseForm(req.Form),
		Type: casework.CaseType(req.Type), CategoryID: req.CategoryID, Title: strings.TrimSpace(req.Title), Content: req.Content,
		ComplainedUnitID: req.ComplainedUnitID, ComplainedParty: req.ComplainedParty, InvolvedCount: req.InvolvedCount,
		FastTrack: req.FastTrack, ExternalID: req.ExternalID, QueryCodeHash: hash, RegisteredAt: s.now(), Privacy: req.privacy()}
	for _, p := range req.Petitioners {
		c.Petitioners = append(c.Petitioners, casework.Petitioner(p))
	}
	if err := s.st.CreateCase(ctx, &c, casework.CaseEvent{ActorID: rc.p.User.ID, Actor: rc.p.User.Username, UnitID: u.ID, Reason: "登记"}); err != nil {
		return err
	}
	// The audit entry names the case, never the petitioner.
	if err := rc.audit("case.register", "case:"+strconv.FormatInt(c.ID, 10), u, nil, map[string]string{"number": c.Number}); err != nil {
		return err
	}
	v := caseView(c, casework.ViewMasked)
	v.QueryCode = code // shown once, to hand to the petitioner
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// auditCase writes an audit entry about a case at its registering unit; target defaults to the
// case.
func (s *Server) auditCase(ctx context.Context, rc *reqCtx, c casework.Case, action, target string, before, after any) error {
	u, err := s.st.GetUnit(ctx, c.UnitID)
	if err != nil {
		return err
	}
	if target == "" {
		target = "case:" + strconv.FormatInt(c.ID, 10)
	}
	return rc.audit(action, target, u, before, after)
}

// caseChain loads the paths the view decision and the access check need.
func (s *Server) caseChain(ctx context.Context, c casework.Case) (casework.CaseChain, error) {
	path := func(id int64) (string, error) {
		if id == 0 {
			return "", nil
		}
		u, err := s.st.GetUnit(ctx, id)
		return u.Path, err
	}
	var ch casework.CaseChain
	var err error
	if ch.CasePath, err = path(c.UnitID); err != nil {
		return ch, err
	}
	if ch.ResponsiblePath, err = path(c.ResponsibleUnitID); err != nil {
		return ch, err
	}
	if ch.ComplainedPath, err = path(c.ComplainedUnitID); err != nil {
		return ch, err
	}
	if ch.ReviewPath, err = path(c.ReviewUnitID); err != nil {
		return ch, err
	}
	for _, id := range c.CoUnitIDs {
		p, err := path(id)
		if err != nil {
			return ch, err
		}
		ch.CoPaths = append(ch.CoPaths, p)
	}
	return ch, nil
}

// loadCase loads the case of the path and checks the route's action at the registering,
// responsible or a co-handling unit. A case the caller may not act on is 403, as for units.
func (s *Server) loadCase(r *http.Request, rc *reqCtx) (casework.Case, casework.CaseChain, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return casework.Case{}, casework.CaseChain{}, err
	}
	return s.caseInScope(r.Context(), rc, id)
}

// caseInScope is loadCase for a case named elsewhere than in the path.
func (s *Server) caseInScope(ctx context.Context, rc *reqCtx, id int64) (casework.Case, casework.CaseChain, error) {
	c, err := s.st.GetCase(ctx, id)
	if err != nil {
		return c, casework.CaseChain{}, err
	}
	ch, err := s.caseChain(ctx, c)
	if err != nil {
		return c, ch, err
	}
	for _, p := range append([]string{ch.CasePath, ch.ResponsiblePath}, ch.CoPaths...) {
		if p != "" && rc.p.Can(rc.rt.access, p) {
			if c.ExternalSource != "" && rc.r.Method != http.MethodGet {
				return c, ch, errReadOnlyCopy
			}
			if rc.r.Method != http.MethodGet {
				if err := s.reviewGuard(ctx, rc, c); err != nil {
					return c, ch, err
				}
			}
			return c, ch, nil
		}
	}
	return c, ch, errForbidden
}

// caseRequest is loadCase for a request with a JSON body, decoded into req.
func (s *Server) caseRequest(r *http.Request, rc *reqCtx, req any) (casework.Case, casework.CaseChain, error) {
	c, ch, err := s.loadCase(r, rc)
	if err != nil {
		return c, ch, err
	}
	return c, ch, decode(r, req)
}

func (s *Server) getCase(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, ch, err := s.loadCase(r, rc)
	if err != nil {
		return err
	}
	level := casework.CaseViewLevel(rc.p, ch)
	purpose := strings.TrimSpace(r.URL.Query().Get("purpose"))
	if level == casework.ViewFull {
		if purpose == "" {
			// Identity in full only with a purpose on record; without one, the masked view.
			level = casework.ViewMasked
		} else {
			u, err := s.st.GetUnit(r.Context(), c.UnitID)
			if err != nil {
				return err
			}
			e := org.AuditEntry{Action: "pii.view", Target: "case:" + strconv.FormatInt(c.ID, 10), UnitID: u.ID, UnitPath: u.Path,
				Purpose: purpose, IP: rc.ip, RequestID: rc.requestID, At: s.now(), ActorID: rc.p.User.ID, Actor: rc.p.User.Username}
			if err := s.st.AppendAudit(r.Context(), &e); err != nil {
				return err
			}
		}
	}
	v := caseView(c, level)
	if level != casework.ViewRedacted {
		if v.RepeatOf, err = s.repeatOf(r.Context(), rc, c); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// CaseEventView is one step of a timeline: a status change (kind "status") or a note.
type CaseEventView struct {
	ID                int64     `json:"id"`
	At                time.Time `json:"at"`
	Kind              string    `json:"kind"`
	Actor             string    `json:"actor"`
	UnitID            int64     `json:"unit_id"`
	From              string    `json:"from,omitempty"`
	To                string    `json:"to,omitempty"`
	Reason            string    `json:"reason,omitempty"`
	ResponsibleUnitID int64     `json:"responsible_unit_id,omitempty"`
	CoUnitIDs         []int64   `json:"co_unit_ids,omitempty"`
	Result            string    `json:"result,omitempty"`
	Ref               string    `json:"ref,omitempty"`
	Days              int       `json:"days,omitempty"`
	ApprovedBy        int64     `json:"approved_by,omitempty"`
	Notice            string    `json:"notice,omitempty"`
	Outcome           string    `json:"outcome,omitempty"`
	Channel           string    `json:"channel,omitempty"`
}

func (s *Server) caseTimeline(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, ch, err := s.loadCase(r, rc)
	if err != nil {
		return err
	}
	evs, err := s.st.ListCaseEvents(r.Context(), c.ID)
	if err != nil {
		return err
	}
	// The notice to the petitioner is addressed to them by name: not for the redacted view.
	redacted := casework.CaseViewLevel(rc.p, ch) == casework.ViewRedacted
	out := []CaseEventView{}
	for _, e := range evs {
		v := CaseEventView{ID: e.ID, At: e.At, Kind: e.Kind, Actor: e.Actor, UnitID: e.UnitID, From: string(e.From), To: string(e.To),
			Reason: e.Reason, ResponsibleUnitID: e.ResponsibleUnitID, CoUnitIDs: e.CoUnitIDs, Result: string(e.Result), Ref: e.Ref,
			Days: e.Days, ApprovedBy: e.ApprovedBy, Notice: e.Notice, Outcome: string(e.Outcome), Channel: e.Channel}
		if redacted {
			v.Notice = ""
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
	return nil
}

type transitionRequest struct {
	From              string  `json:"from"`
	To                string  `json:"to"`
	Reason            string  `json:"reason"`
	ResponsibleUnitID int64   `json:"responsible_unit_id"`
	CoUnitIDs         []int64 `json:"co_unit_ids"`
	Result            string  `json:"result"`
	UnitID            int64   `json:"unit_id"` // the tier the caller acts at; default their own unit
	Days              int     `json:"days"`    // extended: the days granted
	Notice            string  `json:"notice"`  // extended: the written notice to the petitioner
	Outcome           string  `json:"outcome"` // not accepted, closed: how (casework.Outcomes)
	Channel           string  `json:"channel"` // outcome legal_channel: which
}

func (s *Server) transitionCase(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req transitionRequest
	c, ch, err := s.caseRequest(r, rc, &req)
	if err != nil {
		return err
	}
	unit := req.UnitID
	if unit == 0 {
		unit = rc.p.User.UnitID
	}
	ev := casework.CaseEvent{CaseID: c.ID, ActorID: rc.p.User.ID, Actor: rc.p.User.Username, UnitID: unit,
		From: casework.CaseStatus(req.From), To: casework.CaseStatus(req.To), Reason: strings.TrimSpace(req.Reason),
		ResponsibleUnitID: req.ResponsibleUnitID, CoUnitIDs: req.CoUnitIDs, Result: casework.CaseResult(req.Result), At: s.now(),
		Outcome: casework.CaseOutcome(strings.TrimSpace(req.Outcome)), Channel: strings.TrimSpace(req.Channel)}
	if ev.From == "" {
		ev.From = c.Status
	}
	switch ev.To {
	case casework.StExtended:
		// The unit head of the responsible unit approves an extension; making the transition is
		// the approval, so only they make it.
		handling := ch.ResponsiblePath
		if handling == "" {
			handling = ch.CasePath // accepted where it was registered
		}
		if !slices.Contains(rc.p.RolesFor(org.ActCaseHandle, handling), org.RoleUnitHead) {
			return newErr(http.StatusForbidden, CodeForbidden, "api.case.extension_by_head")
		}
		ev.Days, ev.ApprovedBy, ev.Notice = req.Days, rc.p.User.ID, strings.TrimSpace(req.Notice)
	case casework.StReview, casework.StReReview:
		evs, err := s.st.ListCaseEvents(r.Context(), c.ID)
		if err != nil {
			return err
		}
		cal, err := s.calendar(r.Context())
		if err != nil {
			return err
		}
		if ev.From == c.Status {
			if err := casework.CheckReviewRequest(c, evs, ev.To, cal, casework.DefaultRules(), ev.At); err != nil {
				return err
			}
		}
	}
	if ev.From == c.Status { // else the store reports the conflict
		if err := s.requireDocument(r.Context(), c, ev); err != nil {
			return err
		}
	}
	if err := s.st.TransitionCase(r.Context(), &ev); err != nil {
		return err
	}
	if err := s.auditCase(r.Context(), rc, c, "case.transition", "",
		map[string]string{"status": string(ev.From)}, map[string]string{"status": string(ev.To)}); err != nil {
		return err
	}
	c, err = s.st.GetCase(r.Context(), c.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, caseView(c, casework.CaseViewLevel(rc.p, ch)))
	return nil
}

// DeadlineView is the running legal period of a case, with its explanation.
type DeadlineView struct {
	Rule        string    `json:"rule"`
	Name        string    `json:"name"`  // the rule's Chinese name
	Party       string    `json:"party"` // unit: a unit must act; petitioner: the petitioner's time to ask
	Start       string    `json:"start"`
	Due         string    `json:"due"`
	DueAt       time.Time `json:"due_at"`
	Percent     int       `json:"percent"` // share of the period used, 0–100
	Warning     int       `json:"warning"` // 0, 50, 80 or 100 (overdue)
	PausedDays  int       `json:"paused_days,omitempty"`
	Paused      bool      `json:"paused,omitempty"` // a hearing is under way
	Extended    int       `json:"extended_days,omitempty"`
	Provisional bool      `json:"provisional"`
	Note        string    `json:"note,omitempty"` // why it is provisional, 中文 / English
	Explanation string    `json:"explanation"`
}

func deadlineView(d calendar.Deadline, now time.Time) DeadlineView {
	v := DeadlineView{Rule: d.Rule.Key, Name: d.Rule.Name, Party: "unit", Start: d.Start.Format("2006-01-02"), Due: d.Due.Format("2006-01-02"),
		DueAt: d.DueAt(), Percent: int(min(max(d.Progress(now), 0), 1) * 100), Warning: d.Warning(now), PausedDays: d.PausedDays,
		Paused: d.Paused, Extended: d.ExtendedDays, Provisional: d.Provisional(), Explanation: d.Explain()}
	if casework.PetitionerWindow(d.Rule) {
		v.Party = "petitioner"
	}
	if v.Provisional {
		v.Note = calendar.ProvisionalNote(d.ProvisionalYears)
	}
	return v
}

// caseDeadlineView is the case's running period at now, nil when none runs.
func (s *Server) caseDeadlineView(ctx context.Context, cal *calendar.Calendar, c casework.Case) (*DeadlineView, error) {
	now := s.now()
	d, ok, err := casework.CaseDeadline(ctx, s.st, cal, casework.DefaultRules(), c, now)
	if err != nil || !ok {
		return nil, err
	}
	v := deadlineView(d, now)
	return &v, nil
}

func (s *Server) caseDeadline(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, _, err := s.loadCase(r, rc)
	if err != nil {
		return err
	}
	cal, err := s.calendar(r.Context())
	if err != nil {
		return err
	}
	v, err := s.caseDeadlineView(r.Context(), cal, c)
	if err != nil {
		return err
	}
	fwd, err := s.forwardingView(r.Context(), cal, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"deadline": v, "forwarding": fwd})
	return nil
}
