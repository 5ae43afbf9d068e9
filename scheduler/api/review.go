package api

import (
	"context"
	"net/http"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
)

// Review by the higher body (casework/review.go): while a review body holds a case, only that
// body, or those above it, change it; the unit whose handling is reviewed still reads it.

// reviewGuard refuses a change to a case under review by anyone not placed at its review body or
// above.
func (s *Server) reviewGuard(ctx context.Context, rc *reqCtx, c casework.Case) error {
	if !casework.InReview(c) {
		return nil
	}
	u, err := s.st.GetUnit(ctx, c.ReviewUnitID)
	if err != nil {
		return err
	}
	if !casework.CanActOnReview(rc.p, rc.rt.access, u.Path) {
		return newErr(http.StatusForbidden, CodeForbidden, "api.review.body_only", "unit", u.Name)
	}
	return nil
}

// forwardingView is the per-level forwarding period of a forwarded case at now (beside its
// acceptance period), nil when the case is not forwarded.
func (s *Server) forwardingView(ctx context.Context, cal *calendar.Calendar, c casework.Case) (*DeadlineView, error) {
	if c.Status != casework.StForwarded {
		return nil, nil
	}
	evs, err := s.st.ListCaseEvents(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	d, ok, err := casework.ForwardClock(c, evs, cal, s.forward, now)
	if err != nil || !ok {
		return nil, err
	}
	v := deadlineView(d, now)
	return &v, nil
}

// RepeatView names the earlier case a case repeats and why.
type RepeatView struct {
	ID     int64  `json:"id"`
	Number string `json:"number"`
	Why    string `json:"why"` // 中文 / English
}

// repeatOf is the earlier case of the same person and matter that makes c a repeat, nil when none
// or when the caller would see only the redacted view of that case (it may complain about them).
func (s *Server) repeatOf(ctx context.Context, rc *reqCtx, c casework.Case) (*RepeatView, error) {
	others, err := casework.PersonsCases(ctx, s.st, c, casework.PersonLookback)
	if err != nil {
		return nil, err
	}
	o, m, ok := casework.RepeatOf(c, others)
	if !ok {
		return nil, nil
	}
	ch, err := s.caseChain(ctx, o)
	if err != nil || casework.CaseViewLevel(rc.p, ch) == casework.ViewRedacted {
		return nil, err
	}
	return &RepeatView{ID: o.ID, Number: o.Number, Why: m.Explain()}, nil
}
