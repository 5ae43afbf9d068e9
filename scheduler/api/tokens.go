package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"sanji/auth"
	"sanji/scheduler/org"
)

// API tokens: one's own.

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ts, err := s.st.ListAPITokens(r.Context(), rc.p.User.ID)
	if err != nil {
		return err
	}
	out := []TokenView{}
	for _, t := range ts {
		out = append(out, tokenView(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

type createTokenRequest struct {
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	ExpiresIn string   `json:"expires_in"` // Go duration, e.g. "720h"; empty: no expiry
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req createTokenRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if rc.session == nil {
		// A token cannot mint tokens: its scopes would be the only limit on their spread.
		return errForbidden
	}
	if len(req.Scopes) == 0 {
		return invalidField("scopes", "api.token.scope_required")
	}
	for _, sc := range req.Scopes {
		if !rc.p.CanAnywhere(sc) {
			return invalidField("scopes", "api.token.bad_scope", "scope", sc)
		}
	}
	var exp time.Time
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return invalidField("expires_in", "api.token.bad_expiry")
		}
		exp = s.now().Add(d)
	}
	tok, err := auth.RandomToken(32)
	if err != nil {
		return err
	}
	t := org.APIToken{UserID: rc.p.User.ID, Name: strings.TrimSpace(req.Name), Hash: auth.HashToken(tok), Scopes: req.Scopes, ExpiresAt: exp}
	if err := s.st.CreateAPIToken(r.Context(), &t); err != nil {
		return err
	}
	if err := rc.audit("token.create", "token:"+strconv.FormatInt(t.ID, 10), org.Unit{}, nil, tokenView(t)); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "info": tokenView(t)})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	ts, err := s.st.ListAPITokens(ctx, rc.p.User.ID)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.ID == id {
			if err := s.st.RevokeAPIToken(ctx, id, s.now()); err != nil {
				return err
			}
			if err := rc.audit("token.revoke", "token:"+strconv.FormatInt(id, 10), org.Unit{}, nil, nil); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
	}
	return errNotFound // someone else's token looks like none at all
}
