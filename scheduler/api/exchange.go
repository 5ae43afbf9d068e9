package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/exchange"
	"sanji/scheduler/org"
)

// Case exchange (docs/exchange.md): export cases as a signed bundle, import a bundle, and the
// public key that lets another system verify what this one signs. Identity in an export is a PII
// export: it needs a purpose and the pii.view right for every case, and each case is audited
// (pii.export); without them the bundle carries masked identities.

// Exchange limits.
const (
	maxExportCases = 1000
	maxBundleBody  = 2 << 30
)

// CodeBundleRejected: an imported bundle failed its checks; field names the part at fault.
const CodeBundleRejected = "bundle_rejected"

// CodeReadOnlyCopy: the case is a copy from another system and is changed there.
const CodeReadOnlyCopy = "read_only_copy"

var errReadOnlyCopy = newErr(http.StatusConflict, CodeReadOnlyCopy,
	"api.exchange.read_only_copy")

// refuseCopy refuses a change to a copy of a case from another system.
func (s *Server) refuseCopy(ctx context.Context, caseID int64) error {
	c, err := s.st.GetCase(ctx, caseID)
	if err != nil {
		return err
	}
	if c.ExternalSource != "" {
		return errReadOnlyCopy
	}
	return nil
}

// exchangeKeys are the configured keys; a server configured without any signs with a key of its
// own process (tests, tools), which no other system can have been told to trust.
func exchangeKeys(k exchange.ExchangeKeys) exchange.ExchangeKeys {
	if k.Private == nil {
		priv, err := exchange.GenerateKey(exchange.AlgEd25519)
		if err != nil {
			panic(fmt.Sprintf("api: generate exchange key: %v", err)) // the system's randomness is gone
		}
		k.Private = priv
	}
	return k
}

// PublicKeyView is this system's exchange key.
type PublicKeyView struct {
	Algorithm string `json:"algorithm"`
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"` // base64 (Ed25519: the 32 bytes; SM2: PKIX DER): what exchange.trusted_keys takes
	PEM       string `json:"pem"`
}

func (s *Server) exchangePublicKey(w http.ResponseWriter, _ *http.Request, _ *reqCtx) error {
	pub := s.exchange.Public()
	writeJSON(w, http.StatusOK, PublicKeyView{Algorithm: exchange.Algorithm(pub), KeyID: exchange.KeyID(pub),
		PublicKey: exchange.MarshalPublicKey(pub), PEM: exchange.PublicKeyPEM(pub)})
	return nil
}

type exportRequest struct {
	CaseIDs []int64 `json:"case_ids"` // these cases; or else the filter below
	UnitID  int64   `json:"unit_id"`  // cases registered in, or routed to, this subtree; 0: every subtree in scope
	Status  string  `json:"status"`
	From    string  `json:"from"` // registered on or after this day (YYYY-MM-DD, Beijing time)
	To      string  `json:"to"`   // registered on or before this day
	// Identity is "masked" (default) or "full"; full needs Purpose and pii.view for every case.
	Identity string `json:"identity"`
	Purpose  string `json:"purpose"`
}

// exportSet resolves the request to the cases to export, each one the caller may export.
func (s *Server) exportSet(ctx context.Context, rc *reqCtx, req exportRequest) ([]casework.Case, error) {
	if len(req.CaseIDs) > 0 {
		if req.UnitID != 0 || req.Status != "" || req.From != "" || req.To != "" {
			return nil, invalidField("case_ids", "api.exchange.ids_with_filter")
		}
		if len(req.CaseIDs) > maxExportCases {
			return nil, invalidField("case_ids", "api.exchange.too_many_ids", "max", maxExportCases)
		}
		var out []casework.Case
		seen := map[int64]bool{}
		for _, id := range req.CaseIDs {
			if seen[id] {
				continue
			}
			seen[id] = true
			c, err := s.st.GetCase(ctx, id)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	}
	f := casework.CaseFilter{Status: casework.CaseStatus(req.Status)}
	if f.Status != "" && !slices.Contains(casework.CaseStatuses, f.Status) {
		return nil, invalidField("status", "api.case.unknown_status")
	}
	day := func(field, v string, next bool) (time.Time, error) {
		if v == "" {
			return time.Time{}, nil
		}
		d, err := time.ParseInLocation("2006-01-02", v, calendar.ChinaTZ)
		if err != nil {
			return d, invalidField(field, "api.exchange.bad_date", "field", field)
		}
		if next {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	var err error
	if f.RegisteredFrom, err = day("from", req.From, false); err != nil {
		return nil, err
	}
	if f.RegisteredBefore, err = day("to", req.To, true); err != nil {
		return nil, err
	}
	roots := rc.roots()
	if req.UnitID != 0 {
		u, err := s.unitFieldInScope(ctx, rc, "unit_id", req.UnitID)
		if err != nil {
			return nil, err
		}
		roots = []string{u.Path}
	}
	if len(roots) == 0 {
		return nil, errForbidden
	}
	seen := map[int64]bool{}
	var out []casework.Case
	for _, root := range roots {
		for _, by := range []casework.CaseFilter{{UnderPath: root}, {ResponsibleUnder: root}} {
			q := f
			q.UnderPath, q.ResponsibleUnder = by.UnderPath, by.ResponsibleUnder
			for {
				cs, err := s.st.ListCases(ctx, q)
				if err != nil {
					return nil, err
				}
				if len(cs) == 0 {
					break
				}
				q.BeforeID = cs[len(cs)-1].ID
				for _, c := range cs {
					if !seen[c.ID] {
						seen[c.ID] = true
						out = append(out, c)
					}
				}
				if len(out) > maxExportCases {
					return nil, invalidField("unit_id", "api.exchange.too_many_matches", "max", maxExportCases)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b casework.Case) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *Server) exportCases(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if s.blobs.Dir == "" {
		return errNoAttachments
	}
	var req exportRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	level := casework.ViewMasked
	switch req.Identity {
	case "", exchange.IdentityMasked:
	case exchange.IdentityFull:
		level = casework.ViewFull
		if strings.TrimSpace(req.Purpose) == "" {
			return invalidField("purpose", "api.exchange.purpose_required")
		}
	default:
		return invalidField("identity", "api.exchange.bad_identity")
	}
	cs, err := s.exportSet(ctx, rc, req)
	if err != nil {
		return err
	}
	var ids []int64
	var units []org.Unit
	for _, c := range cs {
		ch, err := s.caseChain(ctx, c)
		if err != nil {
			return err
		}
		inScope := false
		for _, p := range append([]string{ch.CasePath, ch.ResponsiblePath}, ch.CoPaths...) {
			inScope = inScope || (p != "" && rc.p.Can(rc.rt.access, p))
		}
		if !inScope {
			return errForbidden
		}
		// What the caller may not see, the caller may not send: a redacted viewer exports nothing.
		seen := casework.CaseViewLevel(rc.p, ch)
		if seen == casework.ViewRedacted || (level == casework.ViewFull && (seen < casework.ViewFull || !rc.p.Can(org.ActPIIView, ch.CasePath))) {
			return newErr(http.StatusForbidden, CodeForbidden, "api.exchange.case_forbidden", "number", c.Number)
		}
		u, err := s.st.GetUnit(ctx, c.UnitID)
		if err != nil {
			return err
		}
		ids, units = append(ids, c.ID), append(units, u)
	}
	// Every blob must be there before the first byte goes out: a bundle cannot fail half-written.
	set, err := exchange.ExportCases(ctx, s.st, ids, level, s.now())
	if err != nil {
		return err
	}
	for _, a := range set.Files {
		f, err := s.blobs.Open(a.SHA256)
		if err != nil {
			return fmt.Errorf("export: attachment %d: %w", a.ID, err)
		}
		_ = f.Close()
	}
	identity := exchange.IdentityMasked
	if level == casework.ViewFull {
		identity = exchange.IdentityFull
		for i, c := range cs {
			e := org.AuditEntry{Action: "pii.export", Target: "case:" + strconv.FormatInt(c.ID, 10), UnitID: units[i].ID, UnitPath: units[i].Path,
				Purpose: strings.TrimSpace(req.Purpose), IP: rc.ip, RequestID: rc.requestID, At: s.now(), ActorID: rc.p.User.ID, Actor: rc.p.User.Username}
			if err := s.st.AppendAudit(ctx, &e); err != nil {
				return err
			}
		}
	}
	at := rc.p.User.UnitID
	if req.UnitID != 0 {
		at = req.UnitID
	}
	u, err := s.st.GetUnit(ctx, at)
	if err != nil {
		return err
	}
	if err := rc.audit("case.export", "cases", u, nil, map[string]any{"cases": len(ids), "identity": identity, "files": len(set.Files)}); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="sanji-cases-%s.zip"`, s.now().UTC().Format("20060102T150405Z")))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Sanji-Bundle-Key", s.exchange.OwnID())
	w.WriteHeader(http.StatusOK)
	if err := exchange.WriteBundle(w, set.Cases, exchange.BundleFiles(s.blobs, set.Files), s.exchange.Private, s.now()); err != nil {
		// The status is sent: the cut-off zip fails the importer's checks. Say so in the log.
		s.log.Error("export bundle cut off", errField(err), pathField(r))
	}
	return nil
}

// ImportedCase is what happened to one case of an imported bundle.
type ImportedCase struct {
	Number      string `json:"number"` // the exporter's number
	Outcome     string `json:"outcome"`
	CaseID      int64  `json:"case_id,omitempty"`
	LocalNumber string `json:"local_number,omitempty"`
	Reason      string `json:"reason,omitempty"` // why a stale case was left alone, in the request's language
}

// ImportResponse is the answer to an import.
type ImportResponse struct {
	KeyID    string         `json:"key_id"`
	Identity string         `json:"identity"`
	Counts   map[string]int `json:"counts"`
	Cases    []ImportedCase `json:"cases"`
}

func (s *Server) importCases(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if s.blobs.Dir == "" {
		return errNoAttachments
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/zip" {
		return newErr(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "api.exchange.not_zip")
	}
	if len(rc.roots()) == 0 {
		return errForbidden
	}
	ctx := r.Context()
	// Spooled to disk: a zip is read from its end, and a bundle may be larger than memory allows.
	tmpDir := filepath.Join(s.blobs.Dir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	f, err := os.CreateTemp(tmpDir, "bundle-*")
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}()
	size, err := io.Copy(f, r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return newErr(http.StatusRequestEntityTooLarge, CodeTooLarge, "api.exchange.too_large", "limit", tooBig.Limit)
		}
		return fmt.Errorf("import: read bundle: %w", err)
	}
	b, err := exchange.ReadBundleLimited(f, size, s.exchange, s.bundles)
	if err != nil {
		return err
	}
	allow := func(u org.Unit) error {
		if !rc.p.Can(rc.rt.access, u.Path) {
			return newErr(http.StatusForbidden, CodeForbidden, "api.exchange.unit_forbidden", "code", u.Code)
		}
		return nil
	}
	results, err := scheduler.ImportBundle(ctx, s.st, s.blobs, b, s.exchange.OwnID(), allow)
	if err != nil {
		return err
	}
	resp := ImportResponse{KeyID: b.KeyID, Identity: exchange.IdentityFull, Counts: map[string]int{}, Cases: []ImportedCase{}}
	for _, res := range results {
		reason := res.Reason.ZH
		if lang(r) == "en" {
			reason = res.Reason.EN
		}
		if res.Anonymous {
			resp.Identity = exchange.IdentityMasked
		}
		resp.Counts[res.Outcome]++
		resp.Cases = append(resp.Cases, ImportedCase{Number: res.Number, Outcome: res.Outcome, CaseID: res.CaseID, LocalNumber: res.Local, Reason: reason})
		if res.Outcome == exchange.ImportCreated || res.Outcome == exchange.ImportUpdated {
			if err := rc.audit("case.import", "case:"+strconv.FormatInt(res.CaseID, 10), res.Unit, nil,
				map[string]string{"outcome": res.Outcome, "source": b.KeyID, "external_id": res.Number}); err != nil {
				return err
			}
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
