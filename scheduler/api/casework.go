package api

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// Case work beyond the status machine: the list of cases in scope, 包案 (a leader owns a case)
// and the owner's list with clocks, and the clock notes of review (hearing pauses, the review
// answer).

// CaseListItem is a case in a list, with its running period.
type CaseListItem struct {
	Case     CaseView      `json:"case"`
	Deadline *DeadlineView `json:"deadline"`
}

// listItems renders cases for p, each redacted for p, with their clocks.
func (s *Server) listItems(r *http.Request, rc *reqCtx, cs []casework.Case) ([]CaseListItem, error) {
	ctx := r.Context()
	cal, err := s.calendar(ctx)
	if err != nil {
		return nil, err
	}
	out := []CaseListItem{}
	for _, c := range cs {
		ch, err := s.caseChain(ctx, c)
		if err != nil {
			return nil, err
		}
		d, err := s.caseDeadlineView(ctx, cal, c)
		if err != nil {
			return nil, err
		}
		out = append(out, CaseListItem{Case: caseView(c, min(casework.CaseViewLevel(rc.p, ch), casework.ViewMasked)), Deadline: d})
	}
	return out, nil
}

// listCases lists the cases registered in, or routed to a unit of, the caller's subtrees, newest
// first (limit 100, before_id to page).
func (s *Server) listCases(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	roots := rc.roots()
	if len(roots) == 0 {
		return errForbidden
	}
	q := r.URL.Query()
	var before int64
	if b := q.Get("before_id"); b != "" {
		v, err := strconv.ParseInt(b, 10, 64)
		if err != nil || v <= 0 {
			return invalidField("before_id", "api.case.bad_before_id")
		}
		before = v
	}
	status := casework.CaseStatus(q.Get("status"))
	if status != "" && !slices.Contains(casework.CaseStatuses, status) {
		return invalidField("status", "api.case.unknown_status")
	}
	const limit = 100
	seen := map[int64]bool{}
	var cs []casework.Case
	for _, root := range roots {
		for _, f := range []casework.CaseFilter{{UnderPath: root}, {ResponsibleUnder: root}} {
			f.Status, f.BeforeID, f.Limit = status, before, limit
			got, err := s.st.ListCases(r.Context(), f)
			if err != nil {
				return err
			}
			for _, c := range got {
				if !seen[c.ID] {
					seen[c.ID] = true
					cs = append(cs, c)
				}
			}
		}
	}
	// Newest first across the roots, then the page.
	slices.SortFunc(cs, func(a, b casework.Case) int { return cmp.Compare(b.ID, a.ID) })
	if len(cs) > limit {
		cs = cs[:limit]
	}
	items, err := s.listItems(r, rc, cs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"cases": items})
	return nil
}

type ownerRequest struct {
	Release bool   `json:"release"` // give the case up (only its owner does)
	Reason  string `json:"reason"`
	// SessionID names the reception session when the leader takes the case on its call.
	SessionID string `json:"session_id"`
}

// setOwner: a leader in scope takes personal ownership of a case (包案), or gives it up.
func (s *Server) setOwner(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req ownerRequest
	c, ch, err := s.caseRequest(r, rc, &req)
	if err != nil {
		return err
	}
	ctx := r.Context()
	me := rc.p.User.ID
	leader := me
	actor := rc.actor(s.now())
	actor.Reason = strings.TrimSpace(req.Reason)
	if req.Release {
		if c.OwnerLeaderID != me {
			return newErr(http.StatusForbidden, CodeForbidden, "api.case.release_by_owner")
		}
		leader = 0
	}
	if err := s.st.SetCaseOwner(ctx, c.ID, leader, actor); err != nil {
		if errors.Is(err, org.ErrConflict) {
			return newErr(http.StatusConflict, CodeConflict, "api.case.owned_by_other")
		}
		return err
	}
	if err := s.auditCase(ctx, rc, c, "case.own", "", nil, map[string]int64{"owner_leader_id": leader}); err != nil {
		return err
	}
	c, err = s.st.GetCase(ctx, c.ID)
	if err != nil {
		return err
	}
	s.notifyCall(req.SessionID, c.ID, "owner", leader)
	writeJSON(w, http.StatusOK, caseView(c, min(casework.CaseViewLevel(rc.p, ch), casework.ViewMasked)))
	return nil
}

// ownedCases lists the caller's owned cases with their clocks; cases the caller can no longer
// read (a grant was removed) are left out.
func (s *Server) ownedCases(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	var mine []casework.Case
	var before int64
	for {
		cs, err := s.st.ListCases(ctx, casework.CaseFilter{OwnerLeaderID: rc.p.User.ID, BeforeID: before, Limit: 500})
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			break
		}
		before = cs[len(cs)-1].ID
		for _, c := range cs {
			ch, err := s.caseChain(ctx, c)
			if err != nil {
				return err
			}
			for _, p := range append([]string{ch.CasePath, ch.ResponsiblePath}, ch.CoPaths...) {
				if p != "" && rc.p.Can(org.ActCaseRead, p) {
					mine = append(mine, c)
					break
				}
			}
		}
	}
	items, err := s.listItems(r, rc, mine)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"cases": items})
	return nil
}

type clockEventRequest struct {
	Kind   string `json:"kind"` // clock_paused, clock_resumed or review_answered
	Reason string `json:"reason"`
}

// addClockEvent records a hearing's start or end, or the review answer, on a case in review.
func (s *Server) addClockEvent(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req clockEventRequest
	c, _, err := s.caseRequest(r, rc, &req)
	if err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return invalidField("reason", "api.case.reason_required")
	}
	ctx := r.Context()
	ev := rc.actor(s.now())
	ev.CaseID, ev.Kind, ev.Reason = c.ID, req.Kind, strings.TrimSpace(req.Reason)
	if err := s.requireDocument(ctx, c, ev); err != nil { // the review answer: its 复查意见书
		return err
	}
	if err := s.st.AddClockEvent(ctx, &ev); err != nil {
		return err
	}
	if err := s.auditCase(ctx, rc, c, "case.clock", "", nil, map[string]string{"kind": ev.Kind}); err != nil {
		return err
	}
	cal, err := s.calendar(ctx)
	if err != nil {
		return err
	}
	c, err = s.st.GetCase(ctx, c.ID)
	if err != nil {
		return err
	}
	d, err := s.caseDeadlineView(ctx, cal, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"deadline": d})
	return nil
}

// routingUnits lists the units the caller may route a case to (交办, 转送): the whole tier —
// city, district or township — of each unit where they handle cases; a department's tier is the
// one it belongs to. The assigning body routes within its territory (属地管理).
func (s *Server) routingUnits(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	var tiers []string
	for _, g := range rc.p.Grants {
		if !org.RoleMay(g.Role, org.ActCaseHandle) || !rc.p.Can(org.ActCaseHandle, g.UnitPath) {
			continue
		}
		u, err := s.st.GetUnit(ctx, g.UnitID)
		if err != nil {
			return err
		}
		if u.Kind == org.KindDepartment {
			if u, err = s.st.GetUnit(ctx, u.ParentID); err != nil {
				return err
			}
		}
		tiers = append(tiers, u.Path)
	}
	if len(tiers) == 0 {
		return errForbidden
	}
	slices.Sort(tiers) // a tier sorts before the tiers inside it
	out := []UnitView{}
	for i, path := range tiers {
		if i > 0 && strings.HasPrefix(path, tiers[i-1]) {
			tiers[i] = tiers[i-1] // listed with the tier it lies in
			continue
		}
		us, err := s.st.ListUnits(ctx, path)
		if err != nil {
			return err
		}
		for _, u := range us {
			out = append(out, unitView(u))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"units": out})
	return nil
}
