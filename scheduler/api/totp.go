package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"sanji/auth"
	"sanji/scheduler/org"
)

// Two-factor login (TOTP, RFC 6238; docs/security.md). After the password a user with a
// confirmed TOTP gets a session that waits for the code; a user whose roles require it but who
// has none gets a session that can only enrol. Either can do nothing else (authenticate) until
// the step is done, when the session is replaced by a full one with a new id. Device accounts
// never log in with a password, so the hall terminals' tokens are untouched.

// TwoFactor configures the second factor.
type TwoFactor struct {
	// Roles must log in with TOTP; nil: org.SecondFactorRoles(); empty: none.
	Roles []string
	// Issuer names this system in the authenticator app; default "Sanji".
	Issuer string
}

const (
	// pendingTTL bounds a session waiting for its second factor or its enrolment.
	pendingTTL = 10 * time.Minute
	// recoveryCodes is how many recovery codes an enrolment hands out.
	recoveryCodes = 10
)

// Stable error codes of the second factor.
const (
	CodeSecondFactor = "second_factor_required"
	CodeEnrolTOTP    = "totp_enrolment_required"
	CodeBadCode      = "bad_code"
)

var (
	errSecondFactor = newErr(http.StatusForbidden, CodeSecondFactor, "api.totp.code_required")
	errEnrolTOTP    = newErr(http.StatusForbidden, CodeEnrolTOTP, "api.totp.enrol_required")
)

// requiresTOTP reports whether one of the user's grants carries a role that must use TOTP.
func (s *Server) requiresTOTP(ctx context.Context, userID int64) (bool, error) {
	gs, err := s.st.ListGrants(ctx, userID)
	if err != nil {
		return false, err
	}
	for _, g := range gs {
		if s.totpRoles[g.Role] {
			return true, nil
		}
	}
	return false, nil
}

// secondFactorPending is what a login still lacks once the password was right.
func (s *Server) secondFactorPending(ctx context.Context, userID int64) (string, error) {
	t, err := s.st.GetTOTP(ctx, userID)
	switch {
	case err == nil && !t.ConfirmedAt.IsZero():
		return org.SessionPendingTOTP, nil
	case err != nil && !errors.Is(err, org.ErrNotFound):
		return "", err
	}
	need, err := s.requiresTOTP(ctx, userID)
	if err != nil || !need {
		return "", err
	}
	return org.SessionPendingEnrol, nil
}

// checkPending refuses a route a session waiting for its second factor may not use.
func (rc *reqCtx) checkPending() error {
	if rc.session == nil || rc.session.Pending == "" || rc.rt.beforeSecondFactor {
		return nil
	}
	if rc.session.Pending == org.SessionPendingEnrol {
		return errEnrolTOTP
	}
	return errSecondFactor
}

// startSession sets a new session cookie for the user, waiting for pending ("" for a full one),
// and returns its CSRF token.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, userID int64, pending string) (string, error) {
	now := s.now()
	id, err := auth.RandomToken(32)
	if err != nil {
		return "", err
	}
	csrf, err := auth.RandomToken(32)
	if err != nil {
		return "", err
	}
	ttl := s.ttl
	if pending != "" {
		ttl = pendingTTL
	}
	sess := org.Session{IDHash: auth.HashToken(id), UserID: userID, CSRFToken: csrf, CreatedAt: now, ExpiresAt: now.Add(ttl), Pending: pending}
	if err := s.st.CreateSession(r.Context(), sess); err != nil {
		return "", err
	}
	_ = s.st.DeleteExpiredSessions(r.Context(), now) // housekeeping; a failure here changes nothing
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: isTLS(r), Expires: sess.ExpiresAt,
	})
	return csrf, nil
}

// completeLogin replaces a waiting session by a full one (a new id: the waiting one's cookie is
// worth nothing after), clears the throttle's failures and returns the caller's view.
func (s *Server) completeLogin(w http.ResponseWriter, r *http.Request, rc *reqCtx, factor string) (MeResponse, error) {
	ctx := r.Context()
	if err := s.st.DeleteSession(ctx, rc.session.IDHash); err != nil {
		return MeResponse{}, err
	}
	csrf, err := s.startSession(w, r, rc.p.User.ID, "")
	if err != nil {
		return MeResponse{}, err
	}
	s.guard.succeed(rc.ip, truncate(rc.p.User.Username, 64))
	// Only failed attempts count against an address: give back the password's attempt and this one.
	s.loginLim.refund(rc.ip)
	s.loginLim.refund(rc.ip)
	unit, _ := s.st.GetUnit(ctx, rc.p.User.UnitID)
	if err := rc.audit("login.ok", userTarget(rc.p.User.ID), unit, nil, map[string]string{"factor": factor}); err != nil {
		return MeResponse{}, err
	}
	return s.meView(ctx, rc.p, csrf, "")
}

// answerLogin writes completeLogin's view.
func (s *Server) answerLogin(w http.ResponseWriter, r *http.Request, rc *reqCtx, factor string) error {
	m, err := s.completeLogin(w, r, rc, factor)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

// codeAttempt runs the throttle of a second-factor attempt like a password's: the address's
// rate, the address-and-name lock and the name's delay. It returns the name the guard counts.
func (s *Server) codeAttempt(w http.ResponseWriter, r *http.Request, rc *reqCtx) (string, error) {
	now := s.now()
	if ok, wait := s.loginLim.allow(rc.ip, now); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		return "", newErr(http.StatusTooManyRequests, CodeRateLimited, "api.login.too_many")
	}
	name := truncate(rc.p.User.Username, 64)
	delay, lockedUntil := s.guard.check(rc.ip, name, now)
	if !lockedUntil.IsZero() {
		w.Header().Set("Retry-After", strconv.Itoa(int(lockedUntil.Sub(now)/time.Second)+1))
		return "", newErr(http.StatusTooManyRequests, CodeLocked, "api.limits.login_locked")
	}
	if err := wait(r.Context(), delay); err != nil {
		return "", fmt.Errorf("totp: waiting out the per-name delay: %w", err)
	}
	return name, nil
}

// wrongCode counts a wrong or replayed code against the address and name, audits it and
// answers it.
func (s *Server) wrongCode(rc *reqCtx, name, action string) error {
	s.guard.fail(rc.ip, name, s.now())
	unit, _ := s.st.GetUnit(rc.r.Context(), rc.p.User.UnitID)
	_ = rc.audit(action, userTarget(rc.p.User.ID), unit, nil, nil)
	return newErr(http.StatusUnauthorized, CodeBadCode, "api.totp.bad_code")
}

type secondFactorRequest struct {
	Code         string `json:"code"`          // the authenticator's 6 digits
	RecoveryCode string `json:"recovery_code"` // or one unused recovery code
}

// loginSecondFactor is the login's second step: a TOTP code, or a recovery code, for a session
// waiting for it.
func (s *Server) loginSecondFactor(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if rc.session == nil {
		return errForbidden // API tokens have no login to complete
	}
	if rc.session.Pending != org.SessionPendingTOTP {
		return newErr(http.StatusConflict, CodeConflict, "api.totp.not_waiting")
	}
	var req secondFactorRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if (req.Code == "") == (req.RecoveryCode == "") {
		return invalidField("code", "api.totp.code_or_recovery")
	}
	name, err := s.codeAttempt(w, r, rc)
	if err != nil {
		return err
	}
	ctx := r.Context()
	uid := rc.p.User.ID
	if req.RecoveryCode != "" {
		err := s.st.UseRecoveryCode(ctx, uid, auth.HashToken(auth.NormalizeRecoveryCode(req.RecoveryCode)), s.now())
		if errors.Is(err, org.ErrNotFound) {
			return s.wrongCode(rc, name, "login.recovery_fail")
		}
		if err != nil {
			return err
		}
		return s.answerLogin(w, r, rc, "recovery_code")
	}
	t, err := s.st.GetTOTP(ctx, uid)
	if err != nil {
		return err
	}
	step, ok := auth.CheckTOTP(t.Secret, req.Code, s.now())
	if !ok {
		return s.wrongCode(rc, name, "login.totp_fail")
	}
	// Accepted once: a code seen before (by an onlooker, a proxy's log) is refused like a wrong one.
	if err := s.st.UseTOTPStep(ctx, uid, step); errors.Is(err, org.ErrConflict) {
		return s.wrongCode(rc, name, "login.totp_replay")
	} else if err != nil {
		return err
	}
	return s.answerLogin(w, r, rc, "totp")
}

// TOTPEnrolment is a new secret for the user's authenticator app: shown once, confirmed with
// a first code.
type TOTPEnrolment struct {
	Secret string `json:"secret"` // base32, to type in
	URI    string `json:"uri"`    // otpauth://totp/…, to paste or scan
}

// beginTOTP starts (or restarts) the caller's enrolment: a full session, or one that must enrol.
func (s *Server) beginTOTP(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if rc.session == nil || rc.session.Pending == org.SessionPendingTOTP {
		return errForbidden // API tokens do not enrol; a session waiting for its code gives it first
	}
	secret, err := auth.NewTOTPSecret()
	if err != nil {
		return err
	}
	if err := s.st.BeginTOTP(r.Context(), rc.p.User.ID, secret, s.now()); errors.Is(err, org.ErrConflict) {
		return newErr(http.StatusConflict, CodeConflict, "api.totp.already_enrolled")
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, TOTPEnrolment{Secret: secret, URI: auth.TOTPURI(s.totpIssuer, rc.p.User.Username, secret)})
	return nil
}

// TOTPConfirmed answers a confirmed enrolment: the recovery codes, shown this once, and the
// caller's view (a session that had to enrol is a full one now).
type TOTPConfirmed struct {
	RecoveryCodes []string   `json:"recovery_codes"`
	Me            MeResponse `json:"me"`
}

// confirmTOTP confirms the pending secret with a first code and hands out the recovery codes.
func (s *Server) confirmTOTP(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if rc.session == nil || rc.session.Pending == org.SessionPendingTOTP {
		return errForbidden
	}
	var req secondFactorRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Code == "" {
		return invalidField("code", "api.totp.code_or_recovery")
	}
	ctx := r.Context()
	uid := rc.p.User.ID
	t, err := s.st.GetTOTP(ctx, uid)
	if errors.Is(err, org.ErrNotFound) || (err == nil && !t.ConfirmedAt.IsZero()) {
		return newErr(http.StatusConflict, CodeConflict, "api.totp.nothing_pending")
	}
	if err != nil {
		return err
	}
	name, err := s.codeAttempt(w, r, rc)
	if err != nil {
		return err
	}
	step, ok := auth.CheckTOTP(t.Secret, req.Code, s.now())
	if !ok {
		return s.wrongCode(rc, name, "totp.confirm_fail")
	}
	codes, err := auth.NewRecoveryCodes(recoveryCodes)
	if err != nil {
		return err
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = auth.HashToken(auth.NormalizeRecoveryCode(c))
	}
	if err := s.st.ConfirmTOTP(ctx, uid, step, hashes, s.now()); errors.Is(err, org.ErrNotFound) {
		return newErr(http.StatusConflict, CodeConflict, "api.totp.nothing_pending")
	} else if err != nil {
		return err
	}
	unit, _ := s.st.GetUnit(ctx, rc.p.User.UnitID)
	if err := rc.audit("totp.enrol", userTarget(uid), unit, nil, nil); err != nil {
		return err
	}
	out := TOTPConfirmed{RecoveryCodes: codes}
	if rc.session.Pending == org.SessionPendingEnrol {
		out.Me, err = s.completeLogin(w, r, rc, "totp_enrolment")
	} else {
		out.Me, err = s.meView(ctx, rc.p, rc.session.CSRFToken, "")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// resetTOTP is an admin's reset of a user's TOTP (a lost phone, the recovery codes used up):
// the user's sessions end, and the next login enrols afresh where the roles require it.
func (s *Server) resetTOTP(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	u, unit, err := s.pathUser(r, rc)
	if err != nil {
		return err
	}
	if err := s.st.DeleteTOTP(ctx, u.ID); errors.Is(err, org.ErrNotFound) {
		return newErr(http.StatusNotFound, CodeNotFound, "api.totp.none")
	} else if err != nil {
		return err
	}
	if err := s.st.DeleteUserSessions(ctx, u.ID); err != nil {
		return err
	}
	if err := rc.audit("totp.reset", userTarget(u.ID), unit, nil, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// TOTPStatus is the caller's second factor as GET /api/v1/me shows it.
type TOTPStatus struct {
	Enrolled     bool `json:"enrolled"`
	Required     bool `json:"required"`
	RecoveryLeft int  `json:"recovery_left"`
}

func (s *Server) totpStatus(ctx context.Context, userID int64) (TOTPStatus, error) {
	var st TOTPStatus
	t, err := s.st.GetTOTP(ctx, userID)
	if err == nil && !t.ConfirmedAt.IsZero() {
		st.Enrolled, st.RecoveryLeft = true, t.RecoveryLeft
	} else if err != nil && !errors.Is(err, org.ErrNotFound) {
		return st, err
	}
	st.Required, err = s.requiresTOTP(ctx, userID)
	return st, err
}
