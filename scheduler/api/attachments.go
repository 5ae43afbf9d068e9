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

// UploadLimits bound what case files may take: files per case, and bytes per case and per
// uploading unit (what its users uploaded to any case), so that one case or one unit cannot fill
// the disk for all. A concurrent upload may overshoot a quota by at most one file. Zero values
// take the defaults.
type UploadLimits struct {
	CaseFiles int   // default 200
	CaseBytes int64 // default 2 GiB
	UnitBytes int64 // default 50 GiB
}

func (l UploadLimits) withDefaults() UploadLimits {
	if l.CaseFiles <= 0 {
		l.CaseFiles = 200
	}
	if l.CaseBytes <= 0 {
		l.CaseBytes = 2 << 30
	}
	if l.UnitBytes <= 0 {
		l.UnitBytes = 50 << 30
	}
	return l
}

// mib is n bytes in MiB, rounded up, for messages.
func mib(n int64) int64 { return (n + 1<<20 - 1) >> 20 }

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
	// The quotas: what is left for the case and for the uploader's unit bounds this upload.
	use, err := s.st.AttachmentUsage(r.Context(), c.ID, rc.p.User.UnitID)
	if err != nil {
		return err
	}
	lim := s.uploads
	if use.CaseFiles >= lim.CaseFiles {
		return newErr(http.StatusRequestEntityTooLarge, CodeQuotaExceeded, "api.limits.case_files", "limit", lim.CaseFiles)
	}
	caseLeft, unitLeft := lim.CaseBytes-use.CaseBytes, lim.UnitBytes-use.UnitBytes
	quotaErr := func() error {
		if caseLeft <= unitLeft {
			return newErr(http.StatusRequestEntityTooLarge, CodeQuotaExceeded, "api.limits.case_bytes", "limit", mib(lim.CaseBytes))
		}
		return newErr(http.StatusRequestEntityTooLarge, CodeQuotaExceeded, "api.limits.unit_bytes", "limit", mib(lim.UnitBytes))
	}
	left := min(caseLeft, unitLeft)
	if left <= 0 {
		return quotaErr()
	}
	blobs := s.blobs
	byQuota := left < blobs.MaxSize
	if byQuota {
		blobs.MaxSize = left
	}
	sum, size, mt, err := blobs.Put(r.Body, name)
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, casework.ErrTooLarge) && byQuota:
		return quotaErr()
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
	if casework.HiddenAttachment(c, level, a.Kind) {
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
