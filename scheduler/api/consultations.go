package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// 会商 (consultations): several units deliberate on a case; each gives its opinion (only its own
// people may), dissent is kept, and the competent unit signs the conclusion that makes it final.

// OpinionView is one unit's opinion.
type OpinionView struct {
	UnitID  int64     `json:"unit_id"`
	Text    string    `json:"text"`
	Dissent bool      `json:"dissent"`
	By      int64     `json:"by"`
	At      time.Time `json:"at"`
}

// ConsultationView is a 会商 record.
type ConsultationView struct {
	ID                int64         `json:"id"`
	CaseID            int64         `json:"case_id"`
	CompetentUnitID   int64         `json:"competent_unit_id"`
	UnitIDs           []int64       `json:"unit_ids"`
	Subject           string        `json:"subject"`
	SessionID         string        `json:"session_id,omitempty"`
	RecordingOffsetMS int64         `json:"recording_offset_ms,omitempty"`
	CreatedBy         int64         `json:"created_by"`
	CreatedAt         time.Time     `json:"created_at"`
	Opinions          []OpinionView `json:"opinions"`
	Dissents          int           `json:"dissents"`
	Conclusion        string        `json:"conclusion,omitempty"`
	SignedBy          int64         `json:"signed_by,omitempty"`
	SignedAt          *time.Time    `json:"signed_at,omitempty"`
	Final             bool          `json:"final"`
	Absences          []AbsenceView `json:"absences"`
	// MissingUnitIDs: the participating units neither heard nor recorded absent; signing waits for them.
	MissingUnitIDs []int64 `json:"missing_unit_ids"`
}

func consultationView(c casework.Consultation) ConsultationView {
	v := ConsultationView{ID: c.ID, CaseID: c.CaseID, CompetentUnitID: c.CompetentUnitID, UnitIDs: append([]int64{}, c.UnitIDs...),
		Subject: c.Subject, SessionID: c.SessionID, RecordingOffsetMS: c.RecordingOffset.Milliseconds(), CreatedBy: c.CreatedBy,
		CreatedAt: c.CreatedAt, Opinions: []OpinionView{}, Dissents: len(c.Dissent()), Conclusion: c.Conclusion, SignedBy: c.SignedBy,
		SignedAt: optTime(c.SignedAt), Final: c.Final()}
	for _, o := range c.Opinions {
		v.Opinions = append(v.Opinions, OpinionView(o))
	}
	v.Absences, v.MissingUnitIDs = absenceViews(c.Absences), append([]int64{}, c.Missing()...)
	return v
}

type createConsultationRequest struct {
	CompetentUnitID   int64   `json:"competent_unit_id"`
	UnitIDs           []int64 `json:"unit_ids"`
	Subject           string  `json:"subject"`
	SessionID         string  `json:"session_id"`
	RecordingOffsetMS int64   `json:"recording_offset_ms"`
}

func (s *Server) createConsultation(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req createConsultationRequest
	c, _, err := s.caseRequest(r, rc, &req)
	if err != nil {
		return err
	}
	ctx := r.Context()
	units := req.UnitIDs
	if req.CompetentUnitID != 0 && !slices.Contains(units, req.CompetentUnitID) {
		units = append([]int64{req.CompetentUnitID}, units...) // the competent unit takes part
	}
	for _, id := range units {
		if _, err := s.unitField(ctx, "unit_ids", id); err != nil {
			return err
		}
	}
	req.RecordingOffsetMS = s.callOffset(req.SessionID, req.RecordingOffsetMS)
	k := casework.Consultation{CaseID: c.ID, CompetentUnitID: req.CompetentUnitID, UnitIDs: units, Subject: strings.TrimSpace(req.Subject),
		SessionID: strings.TrimSpace(req.SessionID), RecordingOffset: time.Duration(req.RecordingOffsetMS) * time.Millisecond}
	if err := s.st.CreateConsultation(ctx, &k, rc.actor(s.now())); err != nil {
		return err
	}
	if err := s.auditCase(ctx, rc, c, "case.consult", "", nil, map[string]int64{"consultation": k.ID}); err != nil {
		return err
	}
	s.notifyCall(k.SessionID, c.ID, "consultation", k.ID)
	writeJSON(w, http.StatusCreated, consultationView(k))
	return nil
}

// actor is the caller as a timeline actor, at their own unit.
func (rc *reqCtx) actor(at time.Time) casework.CaseEvent {
	return casework.CaseEvent{ActorID: rc.p.User.ID, Actor: rc.p.User.Username, UnitID: rc.p.User.UnitID, At: at}
}

func (s *Server) listConsultations(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, _, err := s.loadCase(r, rc)
	if err != nil {
		return err
	}
	ks, err := s.st.ListConsultations(r.Context(), c.ID)
	if err != nil {
		return err
	}
	out := []ConsultationView{}
	for _, k := range ks {
		out = append(out, consultationView(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"consultations": out})
	return nil
}

// consultationFor loads the consultation of the path and the unit the caller speaks for, which
// must be in the caller's scope for the route's action and one the caller is a member of.
func (s *Server) consultationFor(r *http.Request, rc *reqCtx, unitID int64) (casework.Consultation, org.Unit, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return casework.Consultation{}, org.Unit{}, err
	}
	k, err := s.st.GetConsultation(r.Context(), id)
	if err != nil {
		return k, org.Unit{}, err
	}
	if err := s.refuseCopy(r.Context(), k.CaseID); err != nil {
		return k, org.Unit{}, err
	}
	if unitID == 0 {
		unitID = k.CompetentUnitID
	}
	u, err := s.unitFieldInScope(r.Context(), rc, "unit_id", unitID)
	if err != nil {
		return k, u, err
	}
	if !casework.MemberOf(rc.p.Grants, u.ID) {
		return k, u, newErr(http.StatusForbidden, CodeForbidden, "api.consultation.member_only")
	}
	return k, u, nil
}

type opinionRequest struct {
	UnitID  int64  `json:"unit_id"` // default: the caller's own unit
	Text    string `json:"text"`
	Dissent bool   `json:"dissent"`
}

func (s *Server) addOpinion(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req opinionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.UnitID == 0 {
		req.UnitID = rc.p.User.UnitID
	}
	k, u, err := s.consultationFor(r, rc, req.UnitID)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := s.st.AddConsultationOpinion(ctx, k.ID, casework.Opinion{UnitID: u.ID, Text: strings.TrimSpace(req.Text), Dissent: req.Dissent},
		rc.actor(s.now())); err != nil {
		return err
	}
	if err := rc.audit("case.consult.opinion", "consultation:"+strconv.FormatInt(k.ID, 10), u, nil, map[string]bool{"dissent": req.Dissent}); err != nil {
		return err
	}
	return s.writeConsultation(w, r, k.ID)
}

type signRequest struct {
	Conclusion string `json:"conclusion"`
}

func (s *Server) signConsultation(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req signRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	k, u, err := s.consultationFor(r, rc, 0)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := s.checkQuorum(ctx, k); err != nil {
		return err
	}
	if err := s.st.SignConsultation(ctx, k.ID, strings.TrimSpace(req.Conclusion), rc.actor(s.now())); err != nil {
		return err
	}
	if err := rc.audit("case.consult.sign", "consultation:"+strconv.FormatInt(k.ID, 10), u, nil, nil); err != nil {
		return err
	}
	return s.writeConsultation(w, r, k.ID)
}

func (s *Server) writeConsultation(w http.ResponseWriter, r *http.Request, id int64) error {
	k, err := s.st.GetConsultation(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, consultationView(k))
	return nil
}
