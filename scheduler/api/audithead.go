package api

import (
	"net/http"
	"strings"
	"time"

	"sanji/scheduler/org"
)

// AuditHeadView is the audit chain's head as an auditor exports it to keep outside the database
// and compare later (`sanji verify --audit --head`, docs/security.md).
type AuditHeadView struct {
	EntryID    int64     `json:"entry_id"`    // the newest entry, 0 when the log is empty
	At         time.Time `json:"at"`          // its time
	Hash       string    `json:"hash"`        // its hash: the chain's head (hex)
	Algorithm  string    `json:"algorithm"`   // sha256 or sm3
	Records    int64     `json:"records"`     // entries in the log
	ExportedAt time.Time `json:"exported_at"` // when this head was read
}

// auditHead exports the chain's head. The chain runs through the whole installation's log, so
// only an auditor whose grant covers the whole tree reads it (one lower down searches only a
// subtree, and the head would tell of entries outside it).
func (s *Server) auditHead(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	whole := false
	for _, root := range rc.roots() {
		whole = whole || strings.Count(root, "/") <= 2
	}
	if !whole {
		return errForbidden
	}
	h, err := s.st.AuditHead(r.Context())
	if err != nil {
		return err
	}
	if h.Algorithm == "" && h.ID == 0 {
		h.Algorithm = org.AuditHashSHA256
	}
	w.Header().Set("Content-Disposition", `attachment; filename="audit-head-`+time.Now().UTC().Format("20060102")+`.json"`)
	writeJSON(w, http.StatusOK, AuditHeadView{EntryID: h.ID, At: h.At, Hash: h.Hash, Algorithm: h.Algorithm, Records: h.Records,
		ExportedAt: time.Now().UTC().Truncate(time.Second)})
	return nil
}
