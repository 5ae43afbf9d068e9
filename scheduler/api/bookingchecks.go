package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// The booking checks (同人同事, level checks) the booking form asks for before saving.

// NoteView is one finding of the checks in the request's language.
type NoteView struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// CaseCheckView is an earlier case of the same person as the caller may see it: never its
// content or petitioners; its title only when the caller may see the case.
type CaseCheckView struct {
	ID           int64     `json:"id"`
	Number       string    `json:"number"`
	Status       string    `json:"status"`
	Title        string    `json:"title,omitempty"`
	HoldingUnit  string    `json:"holding_unit"`
	RegisteredAt time.Time `json:"registered_at"`
	PendingLower bool      `json:"pending_lower"`
	PastReReview bool      `json:"past_rereview"`
	// SameMatter: the booking's matter is this case's (同人同事), and why (casework.MatterMatch).
	SameMatter    bool   `json:"same_matter"`
	SameMatterWhy string `json:"same_matter_why,omitempty"`
}

// SimilarView is an earlier matter of another ID number whose text is like the new one.
type SimilarView struct {
	Kind   string  `json:"kind"`
	ID     int64   `json:"id"`
	Score  float64 `json:"score"`
	Number string  `json:"number,omitempty"` // a case's
	Title  string  `json:"title,omitempty"`  // a case's, when the caller may see it
	Matter string  `json:"matter,omitempty"` // an appointment's, when the caller may see its hall's queue
	Status string  `json:"status"`
	// Name is the petitioner's name masked (an appointment's), for telling candidates apart.
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created"`
}

// BookingChecksView is what the checks found, filtered and masked for the caller.
type BookingChecksView struct {
	Notes        []NoteView        `json:"notes"`
	SamePerson   []AppointmentView `json:"same_person"`
	Cases        []CaseCheckView   `json:"cases"`
	Similar      []SimilarView     `json:"similar"`
	PendingLower bool              `json:"pending_lower"`
	PastReReview bool              `json:"past_rereview"`
}

// checksView filters b for the caller: a case about the caller's own unit is left out entirely
// (it is in the audit entry, for the leader and the supervisors); titles and matters show only
// where the caller may see them; identities are masked. hidden are the ids left out.
func (s *Server) checksView(ctx context.Context, rc *reqCtx, r *http.Request, b reception.BookingChecks) (BookingChecksView, []int64, error) {
	v := BookingChecksView{Notes: []NoteView{}, SamePerson: []AppointmentView{}, Cases: []CaseCheckView{}, Similar: []SimilarView{}}
	var hidden []int64
	visible := func(c casework.Case) (show, title bool, err error) {
		ch, err := s.caseChain(ctx, c)
		if err != nil {
			return false, false, err
		}
		if reception.IsComplainedAbout(rc.p, ch) {
			return false, false, nil
		}
		return true, casework.CaseViewLevel(rc.p, ch) >= casework.ViewMasked, nil
	}
	kept := b
	kept.Cases, kept.Similar = nil, nil
	for _, c := range b.Cases {
		show, title, err := visible(c.Case)
		if err != nil {
			return v, nil, err
		}
		if !show {
			hidden = append(hidden, c.Case.ID)
			continue
		}
		kept.Cases = append(kept.Cases, c)
		cv := CaseCheckView{ID: c.Case.ID, Number: c.Case.Number, Status: string(c.Case.Status), HoldingUnit: c.Holding.Name,
			RegisteredAt: c.Case.RegisteredAt, PendingLower: c.PendingLower, PastReReview: c.PastReReview}
		if c.SameMatter || c.PastReReview {
			cv.SameMatter, cv.SameMatterWhy = c.SameMatter, c.Match.Explain()
		}
		if title {
			cv.Title = c.Case.Title
		}
		v.Cases = append(v.Cases, cv)
		v.PendingLower = v.PendingLower || c.PendingLower
		v.PastReReview = v.PastReReview || c.PastReReview
	}
	for _, a := range b.SamePerson {
		v.SamePerson = append(v.SamePerson, apptView(a, false))
	}
	n := s.names(ctx)
	for _, m := range b.Similar {
		sv := SimilarView{Kind: m.Kind, ID: m.ID, Score: m.Score}
		if m.Kind == reception.CheckCase {
			show, title, err := visible(m.Case)
			if err != nil {
				return v, nil, err
			}
			if !show {
				hidden = append(hidden, m.ID)
				continue
			}
			sv.Number, sv.Status, sv.Created = m.Case.Number, string(m.Case.Status), m.Case.RegisteredAt
			if title {
				sv.Title = m.Case.Title
			}
		} else {
			a := m.Appointment
			sv.Status, sv.Created, sv.Name = string(a.Status), a.CreatedAt, casework.MaskName(a.Name)
			h, err := s.st.GetHall(ctx, a.HallID)
			if err != nil {
				return v, nil, err
			}
			hu, err := n.unit(h.UnitID)
			if err != nil {
				return v, nil, err
			}
			if rc.p.Can(org.ActApptRead, hu.Path) {
				sv.Matter = a.Matter
			}
		}
		kept.Similar = append(kept.Similar, m)
		v.Similar = append(v.Similar, sv)
	}
	for _, note := range kept.Notes() {
		msg := note.ZH
		if lang(r) == "en" {
			msg = note.EN
		}
		v.Notes = append(v.Notes, NoteView{Code: note.Code, Message: msg})
	}
	return v, hidden, nil
}

// runChecks runs the booking checks for a booking into session id at a hall of hallUnit.
func (s *Server) runChecks(ctx context.Context, id int64, hallUnit org.Unit, idNumber, matter string) (reception.BookingChecks, error) {
	x, err := s.st.GetReceptionSession(ctx, id)
	if err != nil {
		return reception.BookingChecks{}, err
	}
	return reception.CheckBooking(ctx, s.st, x, hallUnit, idNumber, matter)
}

type precheckRequest struct {
	HallID   int64  `json:"hall_id"`
	IDNumber string `json:"id_number"`
	Matter   string `json:"matter"`
}

// precheck runs the booking checks before the booking is saved, so the operator can give (and
// then record) guidance. It is audited like the checks at booking.
func (s *Server) precheck(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req precheckRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.HallID == 0 {
		return invalidField("hall_id", "api.appointment.hall_required")
	}
	idn := strings.ToUpper(strings.TrimSpace(req.IDNumber))
	if idn != "" && !reception.ValidIDNumber(idn) {
		return invalidField("id_number", "api.booking.bad_id_number")
	}
	ctx := r.Context()
	_, u, err := s.hallUnit(ctx, req.HallID)
	if err != nil {
		return err
	}
	if err := rc.require(u.Path); err != nil {
		return err
	}
	b, err := s.runChecks(ctx, id, u, idn, req.Matter)
	if err != nil {
		return err
	}
	v, hidden, err := s.checksView(ctx, rc, r, b)
	if err != nil {
		return err
	}
	if sum := b.Summary(); !sum.Empty() {
		if err := rc.audit("appointment.precheck", "session:"+strconv.FormatInt(id, 10), u, nil,
			map[string]any{"found": sum, "hidden_from_caller": hidden}); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
