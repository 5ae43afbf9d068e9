package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler/casework"
)

// 会商 quorum: absences recorded by the competent unit, and the refusal to sign that names the
// units still missing.

// AbsenceView is a participating unit recorded absent.
type AbsenceView struct {
	UnitID int64     `json:"unit_id"`
	Reason string    `json:"reason"`
	By     int64     `json:"by"` // who recorded it
	At     time.Time `json:"at"`
}

func absenceViews(as []casework.Absence) []AbsenceView {
	out := []AbsenceView{}
	for _, a := range as {
		out = append(out, AbsenceView(a))
	}
	return out
}

// checkQuorum refuses signing k while units are missing, naming them.
func (s *Server) checkQuorum(ctx context.Context, k casework.Consultation) error {
	return k.CheckQuorum(func(id int64) string {
		if u, err := s.st.GetUnit(ctx, id); err == nil {
			return u.Name
		}
		return strconv.FormatInt(id, 10)
	})
}

type absenceRequest struct {
	UnitID int64  `json:"unit_id"`
	Reason string `json:"reason"`
}

// recordAbsence: a member of the competent unit records a participating unit absent, with the reason.
func (s *Server) recordAbsence(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req absenceRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	k, u, err := s.consultationFor(r, rc, 0)
	if err != nil {
		return err
	}
	ctx := r.Context()
	a := casework.Absence{UnitID: req.UnitID, Reason: strings.TrimSpace(req.Reason)}
	if err := s.st.RecordConsultationAbsence(ctx, k.ID, a, rc.actor(s.now())); err != nil {
		return err
	}
	if err := rc.audit("case.consult.absence", "consultation:"+strconv.FormatInt(k.ID, 10), u, nil, map[string]int64{"unit": req.UnitID}); err != nil {
		return err
	}
	return s.writeConsultation(w, r, k.ID)
}
