package api

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// Case files: upload as the raw request body (?kind=&name=), download with safe headers. A
// sensitive kind (submitted material, signed record, recording) is served only to the chain,
// with a stated purpose, and each download is audited; accusation material never reaches a
// redacted viewer.

// AttachmentView is a file's metadata.
type AttachmentView struct {
	ID     int64  `json:"id"`
	CaseID int64  `json:"case_id"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	MIME   string `json:"mime"`
}

func attachmentView(a casework.Attachment) AttachmentView {
	return AttachmentView{a.ID, a.CaseID, a.Kind, a.Name, a.SHA256, a.Size, a.MIME}
}

var errNoAttachments = newErr(http.StatusServiceUnavailable, CodeInternal, "api.attachment.not_configured")

func (s *Server) uploadAttachment(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if s.blobs.Dir == "" {
		return errNoAttachments
	}
	c, _, err := s.loadCase(r, rc)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	name := casework.SafeName(q.Get("name"))
	a := casework.Attachment{CaseID: c.ID, Kind: q.Get("kind"), Name: name, UploadedBy: rc.p.User.ID, UploadedAt: s.now()}
	// Check the kind before reading a large body.
	if err := casework.ValidateAttachment(casework.Attachment{CaseID: 1, Kind: a.Kind, Name: name, SHA256: strings.Repeat("0", 64), Size: 1, MIME: "x"}); err != nil {
		return err
	}
	sum, size, mt, err := s.blobs.Put(r.Body, name)
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, casework.ErrTooLarge) || errors.As(err, &mbe):
		return newErr(http.StatusRequestEntityTooLarge, CodeTooLarge, "api.attachment.too_large")
	case err != nil:
		return err
	}
	a.SHA256, a.Size, a.MIME = sum, size, mt
	if err := s.st.AddAttachment(r.Context(), &a); err != nil {
		return err
	}
	u, err := s.st.GetUnit(r.Context(), c.UnitID)
	if err != nil {
		return err
	}
	if err := rc.audit("case.attach", "attachment:"+strconv.FormatInt(a.ID, 10), u, nil, map[string]any{"case": c.ID, "kind": a.Kind, "sha256": a.SHA256}); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, attachmentView(a))
	return nil
}

func (s *Server) downloadAttachment(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if s.blobs.Dir == "" {
		return errNoAttachments
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	a, err := s.st.GetAttachment(ctx, id)
	if err != nil {
		return err
	}
	// loadCase reads the case id from the path: set it from the attachment.
	r.SetPathValue("id", strconv.FormatInt(a.CaseID, 10))
	c, ch, err := s.loadCase(r, rc)
	if err != nil {
		return err
	}
	level := casework.CaseViewLevel(rc.p, ch)
	if level == casework.ViewRedacted && (casework.SensitiveAttachment(a.Kind) || casework.IsAccusationMaterial(c.Type, a.Kind)) {
		return errForbidden
	}
	if casework.SensitiveAttachment(a.Kind) {
		purpose := strings.TrimSpace(r.URL.Query().Get("purpose"))
		if purpose == "" {
			return invalidField("purpose", "api.attachment.purpose_required")
		}
		u, err := s.st.GetUnit(ctx, c.UnitID)
		if err != nil {
			return err
		}
		e := org.AuditEntry{Action: "attachment.view", Target: "attachment:" + strconv.FormatInt(a.ID, 10), UnitID: u.ID, UnitPath: u.Path,
			Purpose: purpose, IP: rc.ip, RequestID: rc.requestID, At: s.now(), ActorID: rc.p.User.ID, Actor: rc.p.User.Username}
		if err := s.st.AppendAudit(ctx, &e); err != nil {
			return err
		}
	}
	f, err := s.blobs.Open(a.SHA256)
	if err != nil {
		return err
	}
	defer f.Close()
	casework.DownloadHeaders(w.Header(), a)
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, f)
	return nil
}
