package api

import (
	"context"
	"net/http"

	"sanji/scheduler/casework"
	"sanji/scheduler/reception"
)

// 督办 escalated to an office: the list an office works from, and the notice it gets.

// notifyEscalation tells the office an item climbed to.
func (s *Server) notifyEscalation(ctx context.Context, e casework.Escalation) {
	if e.Supervision.EscalatedUnitID == 0 {
		return
	}
	text := e.Notice()
	s.notify(ctx, reception.Notice{Kind: reception.NoticeSupervisionEscalated, UnitID: e.Supervision.EscalatedUnitID, ZH: text.ZH, EN: text.EN})
}

// listEscalatedSupervisions: the open items escalated to an office the caller supervises from,
// oldest first, with their cases' numbers.
func (s *Server) listEscalatedSupervisions(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	type item struct {
		SupervisionView
		CaseNumber string `json:"case_number"`
	}
	roots := rc.roots()
	if len(roots) == 0 {
		return errForbidden // no office to supervise from
	}
	out := []item{}
	seen := map[int64]bool{}
	for _, root := range roots {
		var after int64
		for {
			svs, err := s.st.ListSupervisionsWhere(r.Context(), casework.SupervisionFilter{OpenOnly: true, OfficeUnder: root, AfterID: after})
			if err != nil {
				return err
			}
			if len(svs) == 0 {
				break
			}
			after = svs[len(svs)-1].ID
			for _, sv := range svs {
				if seen[sv.ID] {
					continue
				}
				seen[sv.ID] = true
				c, err := s.st.GetCase(r.Context(), sv.CaseID)
				if err != nil {
					return err
				}
				out = append(out, item{SupervisionView: supervisionView(sv), CaseNumber: c.Number})
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"supervisions": out})
	return nil
}
