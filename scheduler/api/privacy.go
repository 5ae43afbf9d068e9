package api

import (
	"net/http"
	"strings"

	"sanji/scheduler/casework"
)

// Privacy by content: intake marks what in a matter is 涉及检举控告 and writes the summary the
// complained-about unit answers from (casework.Privacy), at registration or afterwards.

// privacyRequest is the marks as a request carries them.
type privacyRequest struct {
	AccusationWhole    bool     `json:"accusation_whole"`
	AccusationPassages []string `json:"accusation_passages"`
	UnitSummary        string   `json:"unit_summary"`
}

func (r privacyRequest) privacy() casework.Privacy {
	return casework.Privacy{Whole: r.AccusationWhole, Passages: r.AccusationPassages, UnitSummary: strings.TrimSpace(r.UnitSummary)}
}

// setCasePrivacy replaces a case's marks (PUT /cases/{id}/privacy): the registering office's.
func (s *Server) setCasePrivacy(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req privacyRequest
	c, ch, err := s.caseRequest(r, rc, &req)
	if err != nil {
		return err
	}
	if !rc.p.Can(rc.rt.access, ch.CasePath) {
		return errForbidden // marking is the registering office's, not the handler's
	}
	actor := casework.CaseEvent{ActorID: rc.p.User.ID, Actor: rc.p.User.Username, UnitID: c.UnitID, At: s.now()}
	if err := s.st.SetCasePrivacy(r.Context(), c.ID, req.privacy(), actor); err != nil {
		return err
	}
	// The audit says that the marks changed, never what they quote.
	if err := s.auditCase(r.Context(), rc, c, "case.privacy", "", nil, map[string]any{"whole": req.AccusationWhole, "passages": len(req.AccusationPassages)}); err != nil {
		return err
	}
	c, err = s.st.GetCase(r.Context(), c.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, caseView(c, min(casework.CaseViewLevel(rc.p, ch), casework.ViewMasked)))
	return nil
}
