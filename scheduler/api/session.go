package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"sanji/auth"
	"sanji/scheduler/org"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// MeResponse is the caller's own view: who, what grants, and the CSRF token for changing requests.
type MeResponse struct {
	User               UserView    `json:"user"`
	Grants             []GrantView `json:"grants"`
	CSRFToken          string      `json:"csrf_token,omitempty"`
	MustChangePassword bool        `json:"must_change_password"`
	// Can lists the actions the caller may perform somewhere, so pages show only what works; an
	// action on installation-wide data (rootOnly) is listed only for a grant at the root.
	Can []string `json:"can"`
	// Pending is what the login still lacks: "totp" (the code), "enrol" (TOTP enrolment), or
	// empty. A session with something pending can do nothing else, so Can is empty.
	Pending string `json:"pending,omitempty"`
	// TOTP is the caller's second factor.
	TOTP TOTPStatus `json:"totp"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	now := s.now()
	if ok, wait := s.loginLim.allow(rc.ip, now); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		return newErr(http.StatusTooManyRequests, CodeRateLimited, "api.login.too_many")
	}
	var req loginRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Username == "" {
		return invalidField("username", "api.login.username_required")
	}
	if req.Password == "" || len(req.Password) > 4*auth.MaxPasswordLen {
		return invalidField("password", "api.login.password_required")
	}
	ctx := r.Context()
	// Every path below costs one password check and answers the same for a known name, an
	// unknown one and a locked pair, so neither status, body nor timing tells whether an
	// account exists.
	name := truncate(req.Username, 64)
	delay, lockedUntil := s.guard.check(rc.ip, name, now)
	if err := wait(ctx, delay); err != nil {
		return fmt.Errorf("login: waiting out the per-name delay: %w", err)
	}
	badCreds := newErr(http.StatusUnauthorized, CodeBadCredentials, "api.login.bad_credentials")
	u, err := s.st.GetUserByUsername(ctx, req.Username)
	known := err == nil && u.Kind == org.UserPerson
	if err != nil && !errors.Is(err, org.ErrNotFound) {
		return err
	}
	target, unit := "username:"+name, org.Unit{}
	if known {
		target = userTarget(u.ID)
		unit, _ = s.st.GetUnit(ctx, u.UnitID)
	}
	if !lockedUntil.IsZero() {
		s.burnPasswordCheck(req.Password)
		w.Header().Set("Retry-After", strconv.Itoa(int(lockedUntil.Sub(now)/time.Second)+1))
		_ = rc.audit("login.locked", target, unit, nil, nil)
		return newErr(http.StatusTooManyRequests, CodeLocked, "api.limits.login_locked")
	}
	var pwErr error
	if known {
		pwErr = s.checkPassword(u.PasswordHash, req.Password)
		if pwErr != nil && !errors.Is(pwErr, auth.ErrPasswordMismatch) {
			s.log.Error("password hash unusable", zap.Int64("user_id", u.ID), zap.Error(pwErr))
		}
	} else {
		s.burnPasswordCheck(req.Password)
	}
	if !known || pwErr != nil || u.Disabled {
		if alert, n := s.guard.fail(rc.ip, name, now); alert {
			fields := []zap.Field{zap.String("name_hash", nameHash(name)), zap.Int("failures", n)}
			if s.logIP {
				fields = append(fields, zap.String("last_ip", rc.ip))
			}
			if known {
				fields = append(fields, zap.Int64("user_id", u.ID))
			}
			s.log.Warn("many failed logins for one user name: someone may be guessing its password", fields...)
		}
		_ = rc.audit("login.fail", target, unit, nil, nil)
		return badCreds
	}
	pending, err := s.secondFactorPending(ctx, u.ID)
	if err != nil {
		return err
	}
	if pending == "" {
		// With a second factor to come, the failures stay counted until it is given: a
		// stolen password must not reset the throttle of guessing codes.
		s.guard.succeed(rc.ip, name)
		s.loginLim.refund(rc.ip) // only failed attempts count against an address
	}
	// The store's failure fields are no longer written on failure (the throttle is per address
	// and name, in memory); clearing them here ends a lock an older version may have left.
	if u.FailedLogins != 0 || !u.LockedUntil.IsZero() {
		if err := s.st.ResetLoginFailures(ctx, u.ID); err != nil {
			return err
		}
	}
	csrf, err := s.startSession(w, r, u.ID, pending)
	if err != nil {
		return err
	}
	p, err := s.principal(ctx, u.ID)
	if err != nil {
		return err
	}
	rc.p = p
	action := "login.ok"
	if pending != "" {
		action = "login.password_ok" // the login is not done until the second factor
	}
	if err := rc.audit(action, userTarget(u.ID), unit, nil, nil); err != nil {
		return err
	}
	m, err := s.meView(ctx, p, csrf, pending)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

// isTLS is true when the browser reached us over HTTPS, directly or through a proxy that says
// so. A spoofed header only makes the cookie stricter.
func isTLS(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if rc.session != nil {
		if err := s.st.DeleteSession(r.Context(), rc.session.IDHash); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: isTLS(r), MaxAge: -1})
	if err := rc.audit("logout", userTarget(rc.p.User.ID), org.Unit{}, nil, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	csrf, pending := "", ""
	if rc.session != nil {
		csrf, pending = rc.session.CSRFToken, rc.session.Pending
	}
	m, err := s.meView(r.Context(), rc.p, csrf, pending)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

// rootOnly are the actions whose handlers check them at the root, as they change data of the
// whole installation (the holiday calendar, the category tree): a grant below the root allows
// them nowhere, so a page must not offer them to its holder.
var rootOnly = map[string]bool{org.ActHolidayWrite: true, org.ActCategoryWrite: true, org.ActNodeAdmin: true}

func (s *Server) meView(ctx context.Context, p *org.Principal, csrf, pending string) (MeResponse, error) {
	m := MeResponse{User: userView(p.User), CSRFToken: csrf, MustChangePassword: p.User.MustChangePassword, Can: []string{}, Pending: pending}
	for _, g := range p.Grants {
		m.Grants = append(m.Grants, grantView(g))
	}
	var err error
	if m.TOTP, err = s.totpStatus(ctx, p.User.ID); err != nil {
		return m, err
	}
	if pending != "" {
		return m, nil
	}
	var root org.Unit
	for _, a := range org.Actions {
		may := p.CanAnywhere(a)
		if may && rootOnly[a] {
			if root.Path == "" {
				var err error
				if root, err = s.st.GetUnitByCode(ctx, org.RootCode); err != nil {
					return m, fmt.Errorf("me: root unit: %w", err)
				}
			}
			may = p.Can(a, root.Path)
		}
		if may {
			m.Can = append(m.Can, a)
		}
	}
	return m, nil
}

type passwordRequest struct {
	Old string `json:"old_password"`
	New string `json:"new_password"`
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req passwordRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if rc.session == nil {
		return errForbidden // API tokens and terminals have no password to change
	}
	if err := s.checkPassword(rc.p.User.PasswordHash, req.Old); err != nil {
		return invalidField("old_password", "api.password.wrong_current")
	}
	if err := auth.ValidatePassword(req.New); err != nil {
		return invalidField("new_password", "api.password.length")
	}
	if req.New == req.Old {
		return invalidField("new_password", "api.password.unchanged")
	}
	h, err := s.hashPassword(req.New)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := s.st.SetPassword(ctx, rc.p.User.ID, h, false); err != nil {
		return err
	}
	// Other logins of this user end; this one stays.
	if err := s.st.DeleteUserSessions(ctx, rc.p.User.ID); err != nil {
		return err
	}
	if rc.session != nil {
		if err := s.st.CreateSession(ctx, *rc.session); err != nil {
			return err
		}
	}
	unit, _ := s.st.GetUnit(ctx, rc.p.User.UnitID)
	if err := rc.audit("password.change", userTarget(rc.p.User.ID), unit, nil, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func userTarget(id int64) string { return "user:" + strconv.FormatInt(id, 10) }
