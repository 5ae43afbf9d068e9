package api

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"sanji/i18n"
	"sanji/recording"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// Recordings of hearings (同步录音录像, docs/recording.md): a case's recorded hearings, each
// hearing's manifest and files for the playback page, and verification against the chain head
// recorded with the case. A recording shows the petitioner's face and voice: it is opened only
// by callers with recording.view at the case who also have its full view
// (casework.CaseViewLevel), with a stated purpose, and every view is in the audit log.

var (
	errNoRecordings    = newErr(http.StatusServiceUnavailable, CodeInternal, "api.recording.not_configured")
	errNoRecording     = newErr(http.StatusNotFound, CodeNotFound, "api.recording.not_found")
	errRecordingFile   = newErr(http.StatusNotFound, CodeNotFound, "api.recording.no_file")
	errRecordingFace   = newErr(http.StatusForbidden, CodeForbidden, "api.recording.face_restricted")
	errRecordingNoCase = newErr(http.StatusForbidden, CodeForbidden, "api.recording.no_case")
)

// CodeGone: what was asked for existed and was deleted (a recording's files, under retention).
const CodeGone = "gone"

// maxPurpose bounds the stated purpose of a view (it is stored with every audit entry).
const maxPurpose = 200

// RecordingTrackView is one track segment of a recording: one file.
type RecordingTrackView struct {
	File          string `json:"file"`
	Participant   string `json:"participant"`
	Role          string `json:"role"`
	Kind          string `json:"kind"`
	Codec         string `json:"codec"`
	Segment       int    `json:"segment"`
	StartOffsetMS int64  `json:"start_offset_ms"`
	DurationMS    int64  `json:"duration_ms"`
	Status        string `json:"status"`
	End           string `json:"end,omitempty"`
	Bytes         int64  `json:"bytes"`
}

// RecordingView is one recorded hearing of a case, as its timeline records it with the summary
// of its manifest.
type RecordingView struct {
	Hearing    string               `json:"hearing"`
	RecordedAt time.Time            `json:"recorded_at"` // the case event
	SessionID  int64                `json:"session_id,omitempty"`
	StartedAt  *time.Time           `json:"started_at,omitempty"`
	EndedAt    *time.Time           `json:"ended_at,omitempty"`
	DurationMS int64                `json:"duration_ms"`
	Tracks     []RecordingTrackView `json:"tracks"`
	Algorithm  string               `json:"algorithm,omitempty"`
	// Head is the chain head recorded with the case; Sealed says the manifest carries one too.
	Head   string `json:"head,omitempty"`
	Sealed bool   `json:"sealed"`
	// Retention is kept, deleted (the media files were deleted under the retention rule; the
	// manifest and the chain stay) or missing (the manifest itself cannot be found).
	Retention string     `json:"retention"`
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
	// Problem says why the summary is missing, 中文 / English.
	Problem string `json:"problem,omitempty"`
}

// Retention states of a recording.
const (
	retentionKept    = "kept"
	retentionDeleted = "deleted"
	retentionMissing = "missing"
)

// headPattern finds the chain head in a recording event's text: SHA-256 and SM3 heads are both
// 32 bytes, 64 hex digits.
var headPattern = regexp.MustCompile(`\b[0-9a-fA-F]{64}\b`)

const recordingRef = "recording:"

// recordingEvent is what the case's timeline says of one hearing's recording.
type recordingEvent struct {
	hearing string
	at      time.Time
	head    string // lower-case hex, "" when no event names one
}

// recordingEvents lists the case's recorded hearings in timeline order, each once, with the
// first chain head recorded for it.
func recordingEvents(evs []casework.CaseEvent) []recordingEvent {
	var out []recordingEvent
	index := map[string]int{}
	for _, e := range evs {
		h, ok := strings.CutPrefix(e.Ref, recordingRef)
		if e.Kind != casework.EvRecording || !ok || !recording.ValidHearingID(h) {
			continue
		}
		i, seen := index[h]
		if !seen {
			i = len(out)
			index[h] = i
			out = append(out, recordingEvent{hearing: h, at: e.At})
		}
		if out[i].head == "" {
			out[i].head = strings.ToLower(headPattern.FindString(e.Reason))
		}
	}
	return out
}

// recordingCase loads a case for a recording route: recording.view at the case, and the full
// view of it.
func (s *Server) recordingCase(ctx context.Context, rc *reqCtx, caseID int64) (casework.Case, error) {
	c, ch, err := s.caseInScope(ctx, rc, caseID)
	if err != nil {
		return c, err
	}
	if casework.CaseViewLevel(rc.p, ch) != casework.ViewFull {
		return c, errRecordingFace
	}
	return c, nil
}

// hearingDuration is how long the hearing's recording runs on its clock.
func hearingDuration(m *recording.Manifest) int64 {
	var d int64
	if !m.EndedAt.IsZero() {
		d = m.EndedAt.Sub(m.StartedAt).Milliseconds()
	}
	for _, t := range m.Tracks {
		d = max(d, t.StartOffsetMS+t.DurationMS)
	}
	return d
}

func recordingView(ev recordingEvent, caseID int64, m *recording.Manifest, readErr error) RecordingView {
	v := RecordingView{Hearing: ev.hearing, RecordedAt: ev.at, Head: ev.head, Tracks: []RecordingTrackView{}, Retention: retentionKept}
	switch {
	case errors.Is(readErr, fs.ErrNotExist):
		v.Retention, v.Problem = retentionMissing, i18n.T("api.recording.manifest_missing").String()
		return v
	case readErr != nil:
		v.Problem = i18n.T("api.recording.manifest_unreadable").String()
		return v
	case m.CaseID != caseID:
		// The timeline names a hearing of another case: nothing of it is shown here.
		v.Problem = i18n.T("api.recording.manifest_other_case").String()
		return v
	}
	v.SessionID, v.StartedAt, v.EndedAt = m.SessionID, optTime(m.StartedAt), optTime(m.EndedAt)
	v.DurationMS, v.Algorithm, v.Sealed = hearingDuration(m), m.Chain.Algorithm, m.Chain.Head != ""
	for _, t := range m.Tracks {
		v.Tracks = append(v.Tracks, RecordingTrackView{File: t.File, Participant: t.Participant, Role: t.Role, Kind: t.Kind,
			Codec: t.Codec, Segment: t.Segment, StartOffsetMS: t.StartOffsetMS, DurationMS: t.DurationMS, Status: t.Status,
			End: t.End, Bytes: t.Stats.Bytes})
	}
	if m.Purge != nil {
		v.Retention, v.DeletedAt = retentionDeleted, optTime(m.Purge.At)
	}
	return v
}

func (s *Server) caseRecordings(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, ch, err := s.loadCase(r, rc)
	if err != nil {
		return err
	}
	if casework.CaseViewLevel(rc.p, ch) != casework.ViewFull {
		return errRecordingFace
	}
	if s.recordings == "" {
		return errNoRecordings
	}
	evs, err := s.st.ListCaseEvents(r.Context(), c.ID)
	if err != nil {
		return err
	}
	out := []RecordingView{}
	for _, ev := range recordingEvents(evs) {
		m, err := recording.ReadManifest(filepath.Join(s.recordings, ev.hearing))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Error("recording manifest unreadable", zap.String("hearing", ev.hearing), errField(err))
		}
		out = append(out, recordingView(ev, c.ID, m, err))
	}
	writeJSON(w, http.StatusOK, map[string]any{"recordings": out})
	return nil
}

// openedHearing is a hearing's recording the caller may open.
type openedHearing struct {
	dir  string
	m    *recording.Manifest
	c    casework.Case
	unit org.Unit       // the case's registering unit, where views are audited
	ev   recordingEvent // what the case's timeline says of it (head "" when nothing)
}

// openHearing reads the manifest of the path's hearing and checks the caller's access to it
// through its case.
func (s *Server) openHearing(r *http.Request, rc *reqCtx) (*openedHearing, error) {
	if s.recordings == "" {
		return nil, errNoRecordings
	}
	id := r.PathValue("hearing")
	if !recording.ValidHearingID(id) {
		return nil, invalidField("hearing", "api.recording.bad_id")
	}
	h := &openedHearing{dir: filepath.Join(s.recordings, id)}
	m, err := recording.ReadManifest(h.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoRecording
	}
	if err != nil {
		return nil, err
	}
	if m.Hearing != id {
		return nil, fmt.Errorf("recording %s: the manifest names hearing %q", id, m.Hearing)
	}
	if m.CaseID == 0 {
		return nil, errRecordingNoCase
	}
	ctx := r.Context()
	if h.c, err = s.recordingCase(ctx, rc, m.CaseID); err != nil {
		return nil, err
	}
	if h.unit, err = s.st.GetUnit(ctx, h.c.UnitID); err != nil {
		return nil, err
	}
	evs, err := s.st.ListCaseEvents(ctx, h.c.ID)
	if err != nil {
		return nil, err
	}
	for _, ev := range recordingEvents(evs) {
		if ev.hearing == id {
			h.ev = ev
		}
	}
	h.m = m
	return h, nil
}

// openForView is openHearing for a view of the recording, with the purpose the caller states:
// required, one line.
func (s *Server) openForView(r *http.Request, rc *reqCtx) (*openedHearing, string, error) {
	h, err := s.openHearing(r, rc)
	if err != nil {
		return nil, "", err
	}
	p := strings.TrimSpace(r.URL.Query().Get("purpose"))
	if p == "" {
		return nil, "", invalidField("purpose", "api.recording.purpose_required")
	}
	if utf8.RuneCountInString(p) > maxPurpose || strings.ContainsAny(p, "\r\n") {
		return nil, "", invalidField("purpose", "api.recording.purpose_too_long", "max", maxPurpose)
	}
	return h, p, nil
}

func (h *openedHearing) target() string { return recordingRef + h.m.Hearing }

// ManifestResponse is a hearing's manifest for the playback page, with what the case records.
type ManifestResponse struct {
	Manifest *recording.Manifest `json:"manifest"`
	CaseID   int64               `json:"case_id"`
	// CaseHead is the chain head recorded with the case ("" while none is).
	CaseHead     string `json:"case_head"`
	DurationMS   int64  `json:"duration_ms"`
	MediaDeleted bool   `json:"media_deleted"`
}

func (s *Server) recordingManifest(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	h, purpose, err := s.openForView(r, rc)
	if err != nil {
		return err
	}
	if err := rc.auditView("recording.view", h.target(), h.unit, purpose, map[string]any{"case": h.c.ID, "file": recording.ManifestName}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ManifestResponse{Manifest: h.m, CaseID: h.c.ID, CaseHead: h.ev.head,
		DurationMS: hearingDuration(h.m), MediaDeleted: h.m.Purge != nil})
	return nil
}

// mediaType is a recording file's Content-Type: WebM for VP8 and Opus, Matroska for H.264.
func mediaType(t recording.Track) string {
	switch {
	case strings.HasSuffix(t.File, ".mkv"):
		return "video/x-matroska"
	case t.Kind == "audio":
		return "audio/webm"
	}
	return "video/webm"
}

func (s *Server) recordingFile(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	h, purpose, err := s.openForView(r, rc)
	if err != nil {
		return err
	}
	// Only a file the manifest lists: a name is never turned into a path otherwise.
	name := r.PathValue("name")
	var track *recording.Track
	for i, t := range h.m.Tracks {
		if t.File == name && t.Status != recording.StatusEmpty {
			track = &h.m.Tracks[i]
		}
	}
	if track == nil || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return errRecordingFile
	}
	if p := h.m.Purge; p != nil {
		return newErr(http.StatusGone, CodeGone,
			"api.recording.purged", "date", p.At.In(calendar.ChinaTZ).Format("2006-01-02"))
	}
	f, err := os.OpenInRoot(h.dir, name)
	if errors.Is(err, fs.ErrNotExist) {
		return newErr(http.StatusNotFound, CodeNotFound, "api.recording.file_missing")
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("recording file %s/%s: %w", h.m.Hearing, name, err)
	}
	// Every request is a view, a seek's range request too: the log says which part was read.
	rng := r.Header.Get("Range")
	if len(rng) > 100 {
		rng = rng[:100]
	}
	if err := rc.auditView("recording.view", h.target(), h.unit, purpose, map[string]any{"case": h.c.ID, "file": name, "range": rng}); err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("Content-Type", mediaType(*track))
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "private, no-store")
	hdr.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	// Hearing ids and file names are ASCII letters, digits, '-', '_' and '.'.
	hdr.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": h.m.Hearing + "-" + name}))
	if track.FileHash != "" {
		hdr.Set("ETag", `"`+track.FileHash+`"`) // a sealed file never changes: If-Range can trust it
	}
	http.ServeContent(w, r, name, st.ModTime(), f)
	return nil
}

// VerifyView is the outcome of checking a hearing's files against its chain and the head
// recorded with the case.
type VerifyView struct {
	Hearing   string `json:"hearing"`
	OK        bool   `json:"ok"`
	Algorithm string `json:"algorithm"`
	Head      string `json:"head,omitempty"` // computed from the files and the manifest
	CaseHead  string `json:"case_head"`      // recorded with the case
	Files     int    `json:"files"`          // files checked
	// Mismatch names the first file that does not match (manifest.json: the manifest itself).
	Mismatch     string `json:"mismatch,omitempty"`
	MediaDeleted bool   `json:"media_deleted,omitempty"`
	Message      string `json:"message"` // 中文 / English
}

func (s *Server) verifyRecording(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	h, err := s.openHearing(r, rc)
	if err != nil {
		return err
	}
	rep, err := recording.Verify(h.dir, h.ev.head)
	if err != nil {
		return err
	}
	v := VerifyView{Hearing: h.m.Hearing, OK: rep.OK, Algorithm: rep.Algorithm, Head: rep.Head, CaseHead: h.ev.head, Files: rep.Files,
		Mismatch: rep.Mismatch, MediaDeleted: rep.Purged != nil, Message: rep.Reason}
	switch {
	case !rep.OK:
	case h.ev.head == "":
		// Consistent in itself, but nothing outside the manifest vouches for it.
		v.OK = false
		v.Message = i18n.T("api.recording.head_unrecorded").String()
	default:
		v.Message = i18n.T("api.recording.verified", "files", rep.Files, "algorithm", rep.Algorithm).String()
	}
	if err := rc.audit("recording.verify", h.target(), h.unit, nil, map[string]any{"case": h.c.ID, "ok": v.OK, "mismatch": v.Mismatch}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
