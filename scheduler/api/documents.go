package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// The case's documents: generated from its data into a printable page (the browser makes the
// PDF), kept as an attachment with its hash; their service (送达) on the petitioner; the list of
// unserved ones; ratings recorded by staff from a phone call and the reminders of unrated cases.

// CaseSettings are the office's settings of documents and ratings.
type CaseSettings struct {
	// DocumentHeader heads every generated document (the office's name as printed); "" = the
	// name of the unit that signs it.
	DocumentHeader string
	// RatingWindowDays is how long after its start a stage may be rated; 0 = 30.
	RatingWindowDays int
	// TerminalRating lets the petitioner rate at the hall terminal after a hearing.
	TerminalRating bool
}

// DocumentView is a generated document and its service.
type DocumentView struct {
	ID            int64      `json:"id"`
	CaseID        int64      `json:"case_id"`
	Kind          string     `json:"kind"`
	Title         string     `json:"title"`
	AttachmentID  int64      `json:"attachment_id"`
	SHA256        string     `json:"sha256"`
	Channel       string     `json:"channel,omitempty"`
	GeneratedAt   time.Time  `json:"generated_at"`
	ServedAt      *time.Time `json:"served_at,omitempty"`
	ServiceMethod string     `json:"service_method,omitempty"`
	ServiceProof  string     `json:"service_proof,omitempty"`
}

func documentView(d casework.Document) DocumentView {
	return DocumentView{ID: d.ID, CaseID: d.CaseID, Kind: d.Kind, Title: casework.DocumentTitle(d.Kind), AttachmentID: d.AttachmentID,
		SHA256: d.SHA256, Channel: d.Channel, GeneratedAt: d.GeneratedAt, ServedAt: optTime(d.ServedAt),
		ServiceMethod: d.ServiceMethod, ServiceProof: d.ServiceProof}
}

type documentRequest struct {
	Kind    string `json:"kind"`
	Reason  string `json:"reason"`
	Channel string `json:"channel"`
	Body    string `json:"body"`
}

// documentHeader is the office's header on a document: the setting, else the name of the unit
// that signs it.
func (s *Server) documentHeader(unit org.Unit) string {
	if s.cases.DocumentHeader != "" {
		return s.cases.DocumentHeader
	}
	return unit.Name
}

// bodyAbove is the name of the body one level above u, which a review of u's decision goes to;
// "" when there is none in the installation (the root holds the tree and is no body).
func (s *Server) bodyAbove(ctx context.Context, u org.Unit) (string, error) {
	if u.ParentID == 0 {
		return "", nil
	}
	parent, err := s.st.GetUnit(ctx, u.ParentID)
	if err != nil || parent.Kind == org.KindRoot {
		return "", err
	}
	return parent.Name, nil
}

func (s *Server) createDocument(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if s.blobs.Dir == "" {
		return errNoAttachments
	}
	var req documentRequest
	c, _, err := s.caseRequest(r, rc, &req)
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := s.now()
	d := casework.Document{CaseID: c.ID, Kind: req.Kind, Reason: strings.TrimSpace(req.Reason), Channel: req.Channel,
		Body: strings.TrimSpace(req.Body), GeneratedBy: rc.p.User.ID, GeneratedAt: now}
	// Validate before writing the page; the hash is not known yet.
	probe := d
	probe.SHA256 = strings.Repeat("0", 64)
	if err := casework.ValidateDocument(probe); err != nil {
		return err
	}
	signer, err := casework.DocumentSigner(c, d.Kind)
	if err != nil {
		return err
	}
	unit, err := s.st.GetUnit(ctx, signer)
	if err != nil {
		return err
	}
	data := casework.DocData{Header: s.documentHeader(unit), Case: c, Unit: unit.Name, Doc: d, Date: now}
	if casework.FurtherRight(d.Kind) {
		if data.ReviewBody, err = s.bodyAbove(ctx, unit); err != nil {
			return err
		}
	}
	page, err := casework.RenderDocument(data)
	if err != nil {
		return err
	}
	sum, err := s.blobs.PutPage(page)
	if err != nil {
		return err
	}
	a := casework.Attachment{CaseID: c.ID, Kind: casework.DocumentAttachmentKind(d.Kind), Name: d.Kind + "-" + c.Number + ".html",
		SHA256: sum, Size: int64(len(page)), MIME: casework.PageMIME, UploadedBy: rc.p.User.ID}
	actor := casework.CaseEvent{ActorID: rc.p.User.ID, Actor: rc.p.User.Username, UnitID: rc.p.User.UnitID}
	if err := s.st.AddDocument(ctx, &d, &a, actor); err != nil {
		return err
	}
	if err := s.auditCase(ctx, rc, c, "case.document", "document:"+strconv.FormatInt(d.ID, 10), nil,
		map[string]any{"kind": d.Kind, "sha256": d.SHA256}); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, documentView(d))
	return nil
}

func (s *Server) listDocuments(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, _, err := s.loadCase(r, rc)
	if err != nil {
		return err
	}
	ds, err := s.st.ListDocuments(r.Context(), c.ID)
	if err != nil {
		return err
	}
	out := []DocumentView{}
	for _, d := range ds {
		out = append(out, documentView(d))
	}
	writeJSON(w, http.StatusOK, map[string]any{"documents": out})
	return nil
}

// caseDocument loads the document of the path, of the path's case.
func (s *Server) caseDocument(r *http.Request, rc *reqCtx) (casework.Case, casework.CaseChain, casework.Document, error) {
	c, ch, err := s.loadCase(r, rc)
	if err != nil {
		return c, ch, casework.Document{}, err
	}
	id, err := pathID(r, "doc")
	if err != nil {
		return c, ch, casework.Document{}, err
	}
	d, err := s.st.GetDocument(r.Context(), id)
	if err == nil && d.CaseID != c.ID {
		err = errNotFound
	}
	return c, ch, d, err
}

// printDocument serves the page itself, to be printed: rendered in the browser (it is ours,
// escaped by html/template), with no script allowed.
func (s *Server) printDocument(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if s.blobs.Dir == "" {
		return errNoAttachments
	}
	_, ch, d, err := s.caseDocument(r, rc)
	if err != nil {
		return err
	}
	// The documents are addressed to the petitioner by name: not for the redacted view.
	if casework.CaseViewLevel(rc.p, ch) == casework.ViewRedacted {
		return errForbidden
	}
	f, err := s.blobs.Open(d.SHA256)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Document-SHA256", d.SHA256)
	w.WriteHeader(http.StatusOK)
	_, _ = f.WriteTo(w)
	return nil
}

type serviceRequest struct {
	Method string    `json:"method"`
	Proof  string    `json:"proof"`
	At     time.Time `json:"at"` // when it reached the petitioner; default now
}

func (s *Server) serveDocument(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req serviceRequest
	c, _, d, err := s.caseDocument(r, rc)
	if err != nil {
		return err
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	now := s.now()
	at := req.At
	if at.IsZero() {
		at = now
	}
	if at.After(now) {
		return invalidField("at", "api.documents.served_in_future")
	}
	sv := casework.Service{At: at, Method: req.Method, Proof: strings.TrimSpace(req.Proof), By: rc.p.User.ID}
	actor := casework.CaseEvent{ActorID: rc.p.User.ID, Actor: rc.p.User.Username, UnitID: rc.p.User.UnitID, At: now}
	if err := s.st.ServeDocument(r.Context(), d.ID, sv, actor); err != nil {
		return err
	}
	if err := s.auditCase(r.Context(), rc, c, "case.document.serve", "document:"+strconv.FormatInt(d.ID, 10), nil,
		map[string]any{"method": sv.Method, "at": sv.At}); err != nil {
		return err
	}
	d, err = s.st.GetDocument(r.Context(), d.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, documentView(d))
	return nil
}

// UnservedView is a document waiting to be served, with its case's number and title.
type UnservedView struct {
	Document DocumentView `json:"document"`
	Number   string       `json:"number"`
	Title    string       `json:"title"`
}

// unservedDocuments lists the documents of the caller's subtrees not yet served, for follow-up.
func (s *Server) unservedDocuments(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	roots := rc.roots()
	if len(roots) == 0 {
		return errForbidden
	}
	out := []UnservedView{}
	seen := map[int64]bool{}
	for _, root := range roots {
		ds, err := s.st.ListUnservedDocuments(r.Context(), root, 200)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if seen[d.ID] {
				continue
			}
			seen[d.ID] = true
			c, err := s.st.GetCase(r.Context(), d.CaseID)
			if err != nil {
				return err
			}
			out = append(out, UnservedView{Document: documentView(d), Number: c.Number, Title: c.Title})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"documents": out})
	return nil
}

// requireDocument refuses a step whose document (受理告知书, 不予受理告知书, 处理意见书, the
// assignment's 办结报告, the review's 复查意见书 or 复核意见书) the case lacks, naming it.
func (s *Server) requireDocument(ctx context.Context, c casework.Case, ev casework.CaseEvent) error {
	if len(casework.StepDocuments(ev, true)) == 0 {
		return nil
	}
	as, err := s.st.ListAssignments(ctx, c.ID)
	if err != nil {
		return err
	}
	assigned := false
	for _, a := range as {
		assigned = assigned || a.Status == casework.AssignmentOpen
	}
	ds, err := s.st.ListDocuments(ctx, c.ID)
	if err != nil {
		return err
	}
	return casework.CheckStepDocuments(ev, assigned, ds)
}

// ratingWindow is the days a stage may be rated.
func (s *Server) ratingWindow() int {
	if s.cases.RatingWindowDays > 0 {
		return s.cases.RatingWindowDays
	}
	return casework.DefaultRatingWindowDays
}

// addEvaluation checks the rating window and stores the rating.
func (s *Server) addEvaluation(ctx context.Context, c casework.Case, e *casework.Evaluation) error {
	evs, err := s.st.ListCaseEvents(ctx, c.ID)
	if err != nil {
		return err
	}
	if err := casework.CheckRatingWindow(c, evs, e.Stage, s.ratingWindow(), e.At); err != nil {
		return err
	}
	return s.st.AddEvaluation(ctx, e)
}

type staffRatingRequest struct {
	Stage string `json:"stage"`
	Score string `json:"score"`
}

// recordRating stores a rating the petitioner gave by phone, with who recorded it.
func (s *Server) recordRating(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req staffRatingRequest
	c, _, err := s.caseRequest(r, rc, &req)
	if err != nil {
		return err
	}
	e := casework.Evaluation{CaseID: c.ID, Stage: req.Stage, Score: req.Score, Via: casework.ViaPhone, At: s.now(), RecordedBy: rc.p.User.ID}
	if err := s.addEvaluation(r.Context(), c, &e); err != nil {
		return err
	}
	if err := s.auditCase(r.Context(), rc, c, "case.rating.phone", "", nil, map[string]any{"stage": e.Stage, "score": e.Score}); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": e.ID, "stage": e.Stage, "score": e.Score, "via": e.Via, "recorded_by": e.RecordedBy})
	return nil
}

// PendingRatingView is a case with stages still to be rated, and the last day each may be.
type PendingRatingView struct {
	CaseID int64             `json:"case_id"`
	Number string            `json:"number"`
	Title  string            `json:"title"`
	Stages map[string]string `json:"stages"` // stage → last day (YYYY-MM-DD)
}

// pendingRatings lists the caller's cases whose petitioner has not rated a stage that should be,
// with the window still open: the reminders.
func (s *Server) pendingRatings(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	roots := rc.roots()
	if len(roots) == 0 {
		return errForbidden
	}
	ctx := r.Context()
	now, days := s.now(), s.ratingWindow()
	out := []PendingRatingView{}
	seen := map[int64]bool{}
	for _, root := range roots {
		for _, f := range []casework.CaseFilter{{UnderPath: root}, {ResponsibleUnder: root}} {
			f.Limit = 500
			cs, err := s.st.ListCases(ctx, f)
			if err != nil {
				return err
			}
			for _, c := range cs {
				if seen[c.ID] || casework.EvaluationExcluded(c) || c.ExternalSource != "" {
					continue
				}
				seen[c.ID] = true
				evs, err := s.st.ListCaseEvents(ctx, c.ID)
				if err != nil {
					return err
				}
				es, err := s.st.ListEvaluations(ctx, c.ID)
				if err != nil {
					return err
				}
				stages := casework.PendingRatings(c, evs, es, days, now)
				if len(stages) == 0 {
					continue
				}
				v := PendingRatingView{CaseID: c.ID, Number: c.Number, Title: c.Title, Stages: map[string]string{}}
				for _, st := range stages {
					start, _ := casework.RatingStart(c, evs, st)
					v.Stages[st] = casework.RatingDue(start, days).Format("2006-01-02")
				}
				out = append(out, v)
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"cases": out, "window_days": days})
	return nil
}
