package api

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"sanji/scheduler/calendar"
)

// The query code (查询码) of a case registered on a reception call. The case keeps only the
// code's hash, so the code lives here, in memory, from the moment the hearing registers the
// case until the hearing ends: the hall's operator reads it on the queue page beside the
// petitioner and prints the slip, and the hall's room screen, which everyone in the hall sees,
// never shows it. A server restarted during the hearing loses it, as a page closed too early
// did before: the case's number is on the slip either way and the intake office can issue a
// new code.

// hearingCodeTTL bounds how long a code waits for its hearing to end (a call abandoned
// without ending it): the longest a call stays open after its session's end.
const hearingCodeTTL = CallClosesAfter + 12*time.Hour

type hearingCode struct {
	sessionID, hallID, appointmentID int64
	caseNumber, code                 string
	at                               time.Time
}

// hearingCodes holds the codes of the hearings under way, by appointment.
type hearingCodes struct {
	mu    sync.Mutex
	byApp map[int64]hearingCode
}

func (h *hearingCodes) put(c hearingCode) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byApp == nil {
		h.byApp = map[int64]hearingCode{}
	}
	h.byApp[c.appointmentID] = c
}

func (h *hearingCodes) drop(appointmentID int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.byApp, appointmentID)
}

// of returns the codes of a session's hearings under way in a hall, forgetting expired ones.
func (h *hearingCodes) of(sessionID, hallID int64, now time.Time) []hearingCode {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hearingCode
	for id, c := range h.byApp {
		if now.Sub(c.at) > hearingCodeTTL {
			delete(h.byApp, id)
			continue
		}
		if c.sessionID == sessionID && c.hallID == hallID {
			out = append(out, c)
		}
	}
	return out
}

// HearingCodeView is the query code of a hearing under way, for the operator's screen and the
// printed slip.
type HearingCodeView struct {
	AppointmentID int64     `json:"appointment_id"`
	CaseNumber    string    `json:"case_number"`
	QueryCode     string    `json:"query_code"`
	IssuedAt      time.Time `json:"issued_at"`
}

// hearingCodesOf lists the query codes of a session's hearings under way in one hall (hall_id,
// required; scope: the hall's unit, appointment.write — the operators who run the hall).
func (s *Server) hearingCodesOf(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	if _, err := s.st.GetReceptionSession(ctx, id); err != nil {
		return err
	}
	hv := r.URL.Query().Get("hall_id")
	if hv == "" {
		return invalidField("hall_id", "api.queue.codes_hall_required")
	}
	hallID, err := strconv.ParseInt(hv, 10, 64)
	if err != nil {
		return invalidField("hall_id", "api.hall.bad_id")
	}
	_, scope, err := s.hallUnit(ctx, hallID)
	if err != nil {
		return err
	}
	if err := rc.require(scope.Path); err != nil {
		return err
	}
	out := []HearingCodeView{}
	for _, c := range s.codes.of(id, hallID, s.now()) {
		out = append(out, HearingCodeView{AppointmentID: c.appointmentID, CaseNumber: c.caseNumber, QueryCode: c.code,
			IssuedAt: c.at.In(calendar.Shanghai)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"codes": out})
	return nil
}
