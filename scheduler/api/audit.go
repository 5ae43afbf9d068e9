package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler/org"
)

// The audit log's search.

func (s *Server) searchAudit(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	roots := rc.roots()
	if len(roots) == 0 {
		return errForbidden
	}
	q := r.URL.Query()
	aq := org.AuditQuery{Action: q.Get("action"), Target: q.Get("target"), Limit: 100}
	var err error
	intParam := func(name string, dst *int64) {
		if v := q.Get(name); v != "" && err == nil {
			n, e := strconv.ParseInt(v, 10, 64)
			if e != nil || n < 0 {
				err = invalidField(name, "api.audit.non_negative", "name", name)
			}
			*dst = n
		}
	}
	timeParam := func(name string, dst *time.Time) {
		if v := q.Get(name); v != "" && err == nil {
			t, e := time.Parse(time.RFC3339, v)
			if e != nil {
				err = invalidField(name, "api.audit.bad_time", "name", name)
			}
			*dst = t
		}
	}
	intParam("actor_id", &aq.ActorID)
	intParam("before_id", &aq.BeforeID)
	timeParam("from", &aq.From)
	timeParam("to", &aq.To)
	if err != nil {
		return err
	}
	if v := q.Get("limit"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n <= 0 || n > 500 {
			return invalidField("limit", "api.audit.limit_range")
		}
		aq.Limit = n
	}
	out := []AuditView{}
	// An auditor at the root sees everything, including entries without a tier (logins of
	// unknown names); one lower down sees their subtree.
	for _, root := range roots {
		sub := aq
		if strings.Count(root, "/") > 2 {
			sub.UnderPath = root
		}
		es, err := s.st.SearchAudit(r.Context(), sub)
		if err != nil {
			return err
		}
		for _, e := range es {
			out = append(out, auditView(e))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out})
	return nil
}
