package sqlstore

import (
	"context"
	"fmt"

	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// Review by the higher body, outcomes and final matters in the store (casework/review.go).

// reviewAndOutcome checks a transition against the case as stored and returns what it sets
// besides the status: the review body of a review or re-review (the parent of the unit whose
// handling it examines, recorded in ev.ResponsibleUnitID too), the outcome of not accepting or
// closing (the default one when ev names none), and the final mark of a close after re-review.
func (s *Store) reviewAndOutcome(ctx context.Context, ev *casework.CaseEvent) (string, []any, error) {
	c, err := s.GetCase(ctx, ev.CaseID)
	if err != nil {
		return "", nil, err
	}
	if c.FinalOfID != 0 {
		final, err := s.GetCase(ctx, c.FinalOfID)
		if err != nil {
			return "", nil, err
		}
		if ev.To == casework.StNotAccepted && ev.Outcome == "" {
			ev.Outcome = casework.OutcomeNoLongerAccepted
		}
		if err := casework.CheckFinal(c, *ev, final.Number); err != nil {
			return "", nil, err
		}
	}
	switch ev.To {
	case casework.StForwarded:
		if ev.From != casework.StForwarded {
			return "", nil, nil
		}
		from, err := s.GetUnit(ctx, c.ResponsibleUnitID)
		if err != nil {
			return "", nil, err
		}
		to, err := s.GetUnit(ctx, ev.ResponsibleUnitID)
		if err != nil {
			return "", nil, err
		}
		return "", nil, casework.CheckOnwardForward(from.Path, to.Path)
	case casework.StReview, casework.StReReview:
		handler := casework.ReviewHandler(c, ev.To)
		if handler == 0 {
			return "", nil, org.Invalid("to", "casework.review.no_higher_body")
		}
		u, err := s.GetUnit(ctx, handler)
		if err != nil {
			return "", nil, err
		}
		parent := org.Unit{}
		if u.ParentID != 0 {
			if parent, err = s.GetUnit(ctx, u.ParentID); err != nil {
				return "", nil, err
			}
		}
		// The root holds the tree; it is no body: the one above a city is outside this system.
		if parent.ID == 0 || parent.Kind == org.KindRoot {
			return "", nil, org.Invalid("to", "casework.review.no_higher_body")
		}
		ev.ResponsibleUnitID, ev.CoUnitIDs = u.ParentID, nil
		return `, review_unit_id = ?`, []any{u.ParentID}, nil
	case casework.StNotAccepted, casework.StClosed:
		if ev.Outcome == "" {
			ev.Outcome = casework.DefaultOutcome(c, *ev)
		}
		set, args := `, outcome = ?, channel = ?`, []any{string(ev.Outcome), ev.Channel}
		if ev.From == casework.StReReview {
			set += `, is_final = 1`
		}
		return set, args, nil
	}
	return "", nil, nil
}

// markFinal sets c.FinalOfID and c.FinalWhy when c, about to be registered, is the same person and
// matter as a final one (closed after re-review): 不再受理.
func (s *Store) markFinal(ctx context.Context, c *casework.Case) error {
	others, err := casework.PersonsCases(ctx, s, *c, casework.PersonLookback)
	if err != nil {
		return fmt.Errorf("sqlstore: final matters: %w", err)
	}
	if f, m, ok := casework.FindFinal(*c, others); ok {
		c.FinalOfID, c.FinalWhy = f.ID, m.Explain()
	}
	return nil
}
