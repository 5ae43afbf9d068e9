package signaling

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"time"
	"unicode/utf8"

	"sanji/auth"
)

var roomPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// maxDevTokenBody bounds the request body of DevTokenHandler.
const maxDevTokenBody = 4 << 10

// DevTokenRequest is the body of POST /dev/token.
type DevTokenRequest struct {
	Room string `json:"room"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// DevTokenResponse is the answer of POST /dev/token.
type DevTokenResponse struct {
	Token         string `json:"token"`
	ParticipantID string `json:"participant_id"`
}

// DevTokenHandler serves POST /dev/token: it signs a join token valid for ttl for anyone who asks,
// with a fresh participant id. It is for development only (mounted with --dev): real join tokens
// come from the scheduler's API (POST /api/v1/join-tokens), for a logged-in user's role.
func DevTokenHandler(signer *auth.Signer, ttl time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, newError("method_not_allowed", "signaling.dev_token.post_only"))
			return
		}
		var req DevTokenRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxDevTokenBody))
		if err := dec.Decode(&req); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeJSON(w, http.StatusRequestEntityTooLarge, newError(CodeTooLarge, "signaling.dev_token.body_too_large"))
				return
			}
			writeJSON(w, http.StatusBadRequest, errBadJSON(describe(err)))
			return
		}
		switch {
		case !roomPattern.MatchString(req.Room):
			writeJSON(w, http.StatusBadRequest, newError(CodeInvalid, "signaling.dev_token.bad_room"))
			return
		case req.Name == "" || utf8.RuneCountInString(req.Name) > 64 || !utf8.ValidString(req.Name):
			writeJSON(w, http.StatusBadRequest, newError(CodeInvalid, "signaling.dev_token.bad_name"))
			return
		case !auth.ValidRole(req.Role) || req.Role == auth.RoleNode:
			writeJSON(w, http.StatusBadRequest, newError(CodeInvalid, "signaling.dev_token.bad_role"))
			return
		}
		id, err := newParticipantID()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errInternal())
			return
		}
		now := time.Now()
		tok, err := signer.Sign(auth.Claims{Room: req.Room, Subject: id, Name: req.Name, Role: req.Role,
			IssuedAt: now, ExpiresAt: now.Add(ttl)})
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errInternal())
			return
		}
		writeJSON(w, http.StatusOK, DevTokenResponse{Token: tok, ParticipantID: id})
	})
}

func newParticipantID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "p-" + hex.EncodeToString(b), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
