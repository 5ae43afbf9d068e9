package api

import (
	"context"
	"net/http"

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
