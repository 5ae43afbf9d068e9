package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sanji/auth"
	"sanji/i18n"
	"sanji/scheduler"
	"sanji/scheduler/org"
)

// Hall terminals: device users, their pairing codes and the pairing.

type createDeviceRequest struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	HallID      int64  `json:"hall_id"`
}

// PairingCode is a terminal's one-time code, shown on the admin page and typed on the terminal.
type PairingCode struct {
	Device    UserView  `json:"device"`
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) createDevice(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req createDeviceRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if req.HallID == 0 {
		return invalidField("hall_id", "api.device.hall_required")
	}
	hall, err := s.st.GetHall(ctx, req.HallID)
	if errors.Is(err, org.ErrNotFound) {
		return invalidField("hall_id", "api.hall.not_found")
	}
	if err != nil {
		return err
	}
	unit, err := s.unitInScope(ctx, rc, hall.UnitID)
	if err != nil {
		return err
	}
	// A terminal never logs in with a password: the hash of a random value nobody knows.
	secret, err := auth.RandomToken(32)
	if err != nil {
		return err
	}
	u := org.User{Kind: org.UserDevice, Username: strings.TrimSpace(req.Username), DisplayName: strings.TrimSpace(req.DisplayName),
		UnitID: unit.ID, HallID: hall.ID, PasswordHash: "!" + auth.HashToken(secret)}
	err = s.st.InTx(ctx, func(tx scheduler.Store) error {
		if err := tx.CreateUser(ctx, &u); err != nil {
			return err
		}
		return tx.AddGrant(ctx, &org.Grant{UserID: u.ID, Role: org.RoleHallTerminal, UnitID: unit.ID})
	})
	if err != nil {
		return err
	}
	pc, err := s.issuePairingCode(ctx, u)
	if err != nil {
		return err
	}
	if err := rc.audit("device.create", userTarget(u.ID), unit, nil, userView(u)); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, pc)
	return nil
}

func (s *Server) issuePairingCode(ctx context.Context, u org.User) (PairingCode, error) {
	code, err := auth.RandomDigits(10)
	if err != nil {
		return PairingCode{}, err
	}
	exp := s.now().Add(pairingTTL)
	if err := s.st.SetPairingCode(ctx, u.ID, auth.HashToken(code), exp); err != nil {
		return PairingCode{}, err
	}
	return PairingCode{Device: userView(u), Code: code, ExpiresAt: exp.UTC()}, nil
}

func (s *Server) newPairingCode(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	u, unit, err := s.pathUser(r, rc)
	if err != nil {
		return err
	}
	if u.Kind != org.UserDevice {
		return invalidField("id", "api.device.terminal_only")
	}
	pc, err := s.issuePairingCode(ctx, u)
	if err != nil {
		return err
	}
	if err := rc.audit("device.pairing_code", userTarget(u.ID), unit, nil, nil); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, pc)
	return nil
}

type pairRequest struct {
	Code string `json:"code"`
}

// pairDevice exchanges a pairing code for the terminal's API token (scope call.join only).
func (s *Server) pairDevice(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	now := s.now()
	if ok, wait := s.loginLim.allow(rc.ip, now); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		return newErr(http.StatusTooManyRequests, CodeRateLimited, "api.device.too_many_attempts")
	}
	var req pairRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	uid, err := s.st.ConsumePairingCode(ctx, auth.HashToken(strings.TrimSpace(req.Code)), now)
	if errors.Is(err, org.ErrNotFound) {
		_ = rc.audit("device.pair_fail", "", org.Unit{}, nil, nil)
		return newErr(http.StatusUnauthorized, CodePairingCodeFailed, "api.device.pairing_failed")
	}
	if err != nil {
		return err
	}
	u, err := s.st.GetUser(ctx, uid)
	if err != nil {
		return err
	}
	tok, err := auth.RandomToken(32)
	if err != nil {
		return err
	}
	t := org.APIToken{UserID: u.ID, Name: i18n.T("api.device.pairing_token_name").String(), Hash: auth.HashToken(tok), Scopes: []string{org.ActCallJoin}}
	if err := s.st.CreateAPIToken(ctx, &t); err != nil {
		return err
	}
	unit, _ := s.st.GetUnit(ctx, u.UnitID)
	rc.p = &org.Principal{User: u}
	if err := rc.audit("device.pair", userTarget(u.ID), unit, nil, tokenView(t)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "device": userView(u)})
	return nil
}
