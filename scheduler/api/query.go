package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// The petitioner's query page: a case's milestones by its query code, and the evaluation.

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
		return casework.Case{}, newErr(http.StatusTooManyRequests, CodeRateLimited, "api.query.too_many")
	}
	if err := decode(r, req); err != nil {
		return casework.Case{}, err
	}
	c, err := s.st.GetCaseByQueryHash(r.Context(), casework.QueryCodeHash(req.Code))
	if errors.Is(err, org.ErrNotFound) || strings.TrimSpace(req.Code) == "" {
		return c, newErr(http.StatusNotFound, CodeNotFound, "api.query.bad_code")
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
	// The stages the petitioner may rate now, with the last day of each.
	open := map[string]string{}
	days := s.ratingWindow()
	for _, st := range casework.PendingRatings(c, evs, es, days, s.now()) {
		start, _ := casework.RatingStart(c, evs, st)
		open[st] = casework.RatingDue(start, days).Format("2006-01-02")
	}
	writeJSON(w, http.StatusOK, map[string]any{"number": c.Number, "status": c.Status, "milestones": ms,
		"can_evaluate": !casework.EvaluationExcluded(c), "rated": rated, "open": open})
	return nil
}

func (s *Server) publicEvaluate(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req queryRequest
	c, err := s.queryCase(w, r, rc, &req)
	if err != nil {
		return err
	}
	via := casework.ViaQueryPage
	if req.Via == casework.ViaTerminal {
		// The hall terminal after a hearing, when the office turns it on.
		if !s.cases.TerminalRating {
			return invalidField("via", "api.documents.terminal_rating_off")
		}
		via = casework.ViaTerminal
	}
	e := casework.Evaluation{CaseID: c.ID, Stage: req.Stage, Score: req.Score, Via: via, At: s.now()}
	if err := s.addEvaluation(r.Context(), c, &e); err != nil {
		if errors.Is(err, org.ErrConflict) {
			return newErr(http.StatusConflict, CodeConflict, "api.query.already_rated")
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
