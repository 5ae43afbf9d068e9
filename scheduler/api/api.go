package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"sanji/auth"
	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/exchange"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// Config configures a Server.
type Config struct {
	Store  scheduler.Store
	Signer *auth.Signer // signs join tokens
	Logger *zap.Logger
	// Hash and Check handle passwords; default auth.HashPassword / auth.CheckPassword.
	Hash  func(string) (string, error)
	Check func(hash, pw string) error
	// Now is the clock; default time.Now.
	Now func() time.Time
	// SessionTTL is how long a login lasts; default 12 hours.
	SessionTTL time.Duration
	// JoinTokenTTL is how long a join token lasts; default 2 minutes (it is used at once).
	JoinTokenTTL time.Duration
	// LoginPerMinute and LoginBurst limit login and pairing attempts per client IP; default 10 and 10.
	LoginPerMinute, LoginBurst int
	// Attachments is where case files live (content-addressed); a zero Dir disables uploads.
	Attachments casework.Blobs
	// Notifier delivers notices (invitations and their answers); nil sends none.
	Notifier reception.Notifier
	// Recordings is the directory of the hearings' recordings (<Recordings>/<hearing id>/, as the
	// recording package writes them); "" = not configured, the recording routes answer 503.
	Recordings string
	// FeedPerMinute and FeedBurst limit calendar feed fetches per client IP; default 60 and 30.
	FeedPerMinute, FeedBurst int
	// Uploads are the quotas of case files (attachments.go).
	Uploads UploadLimits
	// Bundles bound what an imported case bundle may unpack to (zip bombs).
	Bundles exchange.Limits
	// Login tunes the throttle of failed logins per address and name (loginguard.go).
	Login LoginLimits
	// Registerer takes the API's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Exchange signs exported bundles and says whose bundles are imported; without a key the
	// server signs with one made for this process only.
	Exchange exchange.ExchangeKeys
	// Cluster, when the server is one node of several, lists and drains the nodes; nil: a single node.
	Cluster Cluster
	// LoginLimiter, when set, wraps the local per-address login limiter (its fallback) in one
	// that counts across the cluster.
	LoginLimiter func(local RateLimiter) RateLimiter
	// ForwardDaysPerLevel is the province's working days for each level to pass a forwarded
	// matter on (casework.ForwardRule); 0: casework.DefaultForwardDaysPerLevel.
	ForwardDaysPerLevel int
	// TwoFactor says who must log in with TOTP (totp.go).
	TwoFactor TwoFactor
	// Cases are the office's settings of case documents and ratings (documents.go).
	Cases CaseSettings
	// LogClientIP puts the client's address in the API's log lines (the failed-login alert's
	// last_ip), as the setting log.client_ip does for the signaling's; off, no line names it.
	LogClientIP bool
}

// Body limits.
const (
	maxBody       = 64 << 10
	maxImportBody = 4 << 20
)

// maxConcurrentHashes is how many password hashes run at once.
const maxConcurrentHashes = 4

// hashPassword and checkPassword run the configured hasher within a hashing slot.
func (s *Server) hashPassword(pw string) (string, error) {
	s.hashSlots <- struct{}{}
	defer func() { <-s.hashSlots }()
	return s.hash(pw)
}

func (s *Server) checkPassword(hash, pw string) error {
	s.hashSlots <- struct{}{}
	defer func() { <-s.hashSlots }()
	return s.check(hash, pw)
}

// burnPasswordCheck spends the time of one password check, with the configured checker
// against a hash made once by the configured hasher, for a name that is unknown or locked.
func (s *Server) burnPasswordCheck(pw string) {
	s.dummyOnce.Do(func() {
		h, err := s.hashPassword("sanji: no such user")
		if err != nil {
			s.log.Error("dummy password hash", zap.Error(err))
		}
		s.dummyHash = h
	})
	_ = s.checkPassword(s.dummyHash, pw)
}

const (
	sessionCookie = "sanji_session"
	csrfHeader    = "X-CSRF-Token"
	pairingTTL    = 15 * time.Minute
)

// Server serves the API.
type Server struct {
	st       scheduler.Store
	signer   *auth.Signer
	log      *zap.Logger
	hash     func(string) (string, error)
	check    func(hash, pw string) error
	now      func() time.Time
	ttl      time.Duration
	joinTTL  time.Duration
	loginLim attemptLimiter
	guard    *loginGuard
	cluster  Cluster
	// logIP is Config.LogClientIP.
	logIP bool
	// dummyHash is checked against for unknown and locked names (burnPasswordCheck).
	dummyOnce sync.Once
	dummyHash string
	feedLim   *limiter
	// hashSlots bounds concurrent password hashing: each argon2id run takes 64 MiB, so a burst of
	// logins must queue rather than exhaust memory.
	hashSlots  chan struct{}
	mux        *http.ServeMux
	routes     []route
	blobs      casework.Blobs
	uploads    UploadLimits
	bundles    exchange.Limits
	notifier   reception.Notifier
	recordings string
	cases      CaseSettings
	calls      atomic.Pointer[CallHooks] // the live calls, once connected (SetCallHooks)
	exchange   exchange.ExchangeKeys
	codes      hearingCodes  // the query codes of the hearings under way (hearingcodes.go)
	forward    calendar.Rule // the per-level forwarding period (casework.ForwardRule)
	totpRoles  map[string]bool
	totpIssuer string
}

// New builds the API server.
func New(cfg Config) *Server {
	s := &Server{blobs: cfg.Attachments, notifier: cfg.Notifier, recordings: cfg.Recordings, st: cfg.Store, signer: cfg.Signer, log: cfg.Logger, hash: cfg.Hash, check: cfg.Check,
		now: cfg.Now, ttl: cfg.SessionTTL, joinTTL: cfg.JoinTokenTTL, exchange: exchangeKeys(cfg.Exchange),
		forward: casework.ForwardRule(cfg.ForwardDaysPerLevel)}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.log = s.log.Named("api")
	if s.hash == nil {
		s.hash = auth.HashPassword
	}
	if s.check == nil {
		s.check = auth.CheckPassword
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ttl == 0 {
		s.ttl = 12 * time.Hour
	}
	if s.joinTTL == 0 {
		s.joinTTL = 2 * time.Minute
	}
	per, burst := cfg.LoginPerMinute, cfg.LoginBurst
	if per == 0 {
		per = 10
	}
	if burst == 0 {
		burst = 10
	}
	local := newLimiter(per, burst)
	s.loginLim = local
	if cfg.LoginLimiter != nil {
		s.loginLim = sharedLimiter{cfg.LoginLimiter(local)}
	}
	s.cluster = cfg.Cluster
	s.logIP = cfg.LogClientIP
	s.guard = newLoginGuard(cfg.Login, cfg.Registerer)
	s.uploads = cfg.Uploads.withDefaults()
	s.cases = cfg.Cases
	s.bundles = cfg.Bundles
	per, burst = cfg.FeedPerMinute, cfg.FeedBurst
	if per == 0 {
		per = 60
	}
	if burst == 0 {
		burst = 30
	}
	s.feedLim = newLimiter(per, burst)
	s.hashSlots = make(chan struct{}, maxConcurrentHashes)
	roles := cfg.TwoFactor.Roles
	if roles == nil {
		roles = org.SecondFactorRoles()
	}
	s.totpRoles = map[string]bool{}
	for _, r := range roles {
		s.totpRoles[r] = true
	}
	s.totpIssuer = cfg.TwoFactor.Issuer
	if s.totpIssuer == "" {
		s.totpIssuer = "Sanji"
	}
	s.routes = s.routeTable()
	s.mux = http.NewServeMux()
	for i := range s.routes {
		rt := &s.routes[i]
		s.mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	// A known path with another method gets a JSON 405 naming the allowed methods, instead of
	// the mux's plain-text one.
	allowed := map[string][]string{}
	for _, rt := range s.routes {
		allowed[rt.pattern] = append(allowed[rt.pattern], rt.method)
	}
	for pattern, methods := range allowed {
		allow := strings.Join(methods, ", ")
		notAllowed := func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			s.writeError(w, r, newErr(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "api.request.method_not_allowed", "allow", allow))
		}
		// One pattern per method: a method-less pattern would conflict with, say,
		// "PATCH /api/v1/units/{id}" beside "/api/v1/units/import".
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if !slices.Contains(methods, m) {
				s.mux.HandleFunc(m+" "+pattern, notAllowed)
			}
		}
	}
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, newErr(http.StatusNotFound, CodeNotFound, "api.request.no_endpoint"))
	})
	return s
}

// ServeHTTP serves /api/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Access kinds of a route.
const (
	accessPublic = "public" // no login
	accessSelf   = "self"   // any logged-in user, about themselves
)

// route is one row of the routing table.
type route struct {
	method, pattern string
	// access is accessPublic, accessSelf or a scheduler action (scheduler.Act*).
	access string
	// beforePasswordChange lets a user who must change their password use the route.
	beforePasswordChange bool
	// beforeSecondFactor lets a session waiting for its second factor or its TOTP enrolment use
	// the route (totp.go).
	beforeSecondFactor bool
	// bodyLimit overrides maxBody.
	bodyLimit int64
	handle    func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error
}

// RouteInfo describes a route for tests and documentation.
type RouteInfo struct {
	Method, Pattern, Access string
}

// Routes lists the routes with their access, in table order.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, len(s.routes))
	for i, rt := range s.routes {
		out[i] = RouteInfo{Method: rt.method, Pattern: rt.pattern, Access: rt.access}
	}
	return out
}

// reqCtx is what a handler knows about the request's caller.
type reqCtx struct {
	s         *Server
	r         *http.Request
	rt        *route
	p         *org.Principal // nil on public routes without a login
	session   *org.Session   // nil for API tokens
	ip        string
	requestID string
}

// require fails with 403 unless the caller may perform the route's action at targetPath.
func (rc *reqCtx) require(targetPath string) error {
	if !rc.p.Can(rc.rt.access, targetPath) {
		return errForbidden
	}
	return nil
}

// requireAction is require for a second action a route needs besides its own (e.g. granting a
// role also needs the right to see the user). It still goes through the one policy table.
func (rc *reqCtx) requireAction(action, targetPath string) error {
	if !rc.p.Can(action, targetPath) {
		return errForbidden
	}
	return nil
}

// roots are the subtrees where the caller may perform the route's action.
func (rc *reqCtx) roots() []string { return rc.p.VisibleRoots(rc.rt.access) }

func (s *Server) wrap(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := &reqCtx{s: s, r: r, rt: rt, ip: clientIP(r)}
		rc.requestID, _ = auth.RandomToken(9)
		w.Header().Set("X-Request-ID", rc.requestID)
		limit := rt.bodyLimit
		if limit == 0 {
			limit = maxBody
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if err := s.authenticate(w, r, rc); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := rt.handle(w, r, rc); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// authenticate finds the caller (session cookie or bearer API token), checks CSRF on changing
// requests made with a cookie, and enforces the first-login password change.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		p, err := s.principalFromToken(ctx, strings.TrimSpace(bearer))
		if err != nil {
			return err
		}
		rc.p = p
	} else if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		sess, err := s.st.GetSession(ctx, auth.HashToken(c.Value))
		switch {
		case err == nil && s.now().Before(sess.ExpiresAt):
			p, err := s.principal(ctx, sess.UserID)
			if err != nil {
				return err
			}
			if p != nil {
				rc.p, rc.session = p, &sess
			}
		case err == nil || errors.Is(err, org.ErrNotFound):
			// Expired or unknown: treat as logged out.
		default:
			return err
		}
	}
	if rc.rt.access == accessPublic {
		return nil
	}
	if rc.p == nil {
		return errUnauthenticated
	}
	if rc.session != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
		// Double submit: the token was handed out at login and is read by our own pages only
		// (SameSite=Strict already keeps other sites' requests from carrying the cookie).
		if tok := r.Header.Get(csrfHeader); tok == "" || !constantEqual(tok, rc.session.CSRFToken) {
			return errCSRF
		}
	}
	if err := rc.checkPending(); err != nil {
		return err
	}
	if rc.p.User.MustChangePassword && !rc.rt.beforePasswordChange {
		return errMustChange
	}
	return nil
}

// principal loads a user and their grants; nil when the user is gone or disabled.
func (s *Server) principal(ctx context.Context, userID int64) (*org.Principal, error) {
	u, err := s.st.GetUser(ctx, userID)
	if errors.Is(err, org.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, nil
	}
	gs, err := s.st.ListGrants(ctx, userID)
	if err != nil {
		return nil, err
	}
	return &org.Principal{User: u, Grants: gs}, nil
}

func (s *Server) principalFromToken(ctx context.Context, tok string) (*org.Principal, error) {
	bad := newErr(http.StatusUnauthorized, CodeUnauthenticated, "api.auth.token_invalid")
	if tok == "" || len(tok) > 200 {
		return nil, bad
	}
	t, err := s.st.GetAPITokenByHash(ctx, auth.HashToken(tok))
	if errors.Is(err, org.ErrNotFound) {
		return nil, bad
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !t.RevokedAt.IsZero() || (!t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)) {
		return nil, bad
	}
	p, err := s.principal(ctx, t.UserID)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, bad
	}
	p.Scopes = append([]string{}, t.Scopes...)
	return p, nil
}

func constantEqual(a, b string) bool {
	return len(a) == len(b) && auth.HashToken(a) == auth.HashToken(b)
}

// clientIP is the TCP peer's address. Behind a reverse proxy every client shares the proxy's
// address for the login rate limit and the per-address-and-name lock; the per-name delay still holds.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// decode reads a JSON body into v: the Content-Type must be JSON (so an HTML form on another
// site cannot post here), unknown fields are refused, and the size is bounded by wrap.
func decode(r *http.Request, v any) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return newErr(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "api.request.not_json")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return newErr(http.StatusRequestEntityTooLarge, CodeTooLarge, "api.request.too_large", "limit", tooBig.Limit)
		}
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return invalidField(ute.Field, "api.request.field_type", "field", ute.Field)
		}
		if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
			f := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
			return invalidField(f, "api.request.unknown_field", "field", f)
		}
		return newErr(http.StatusBadRequest, CodeBadJSON, "api.request.bad_json")
	}
	if dec.More() {
		return newErr(http.StatusBadRequest, CodeBadJSON, "api.request.one_value")
	}
	return nil
}

// pathID reads a numeric path parameter.
func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, invalidField(name, "api.request.bad_path_id")
	}
	return id, nil
}

// audit appends an entry about the caller's action. A failed audit write fails the request:
// a change that cannot be audited must not look successful.
func (rc *reqCtx) audit(action, target string, unit org.Unit, before, after any) error {
	return rc.appendAudit(action, target, unit, "", before, after)
}

// auditView records that the caller saw personal data at target, and the purpose they stated.
func (rc *reqCtx) auditView(action, target string, unit org.Unit, purpose string, after any) error {
	return rc.appendAudit(action, target, unit, purpose, nil, after)
}

func (rc *reqCtx) appendAudit(action, target string, unit org.Unit, purpose string, before, after any) error {
	e := org.AuditEntry{Action: action, Target: target, UnitID: unit.ID, UnitPath: unit.Path, Purpose: purpose,
		IP: rc.ip, RequestID: rc.requestID, At: rc.s.now()}
	if rc.p != nil {
		e.ActorID, e.Actor = rc.p.User.ID, rc.p.User.Username
	}
	if before != nil {
		b, _ := json.Marshal(before)
		e.Before = string(b)
	}
	if after != nil {
		b, _ := json.Marshal(after)
		e.After = string(b)
	}
	if err := rc.s.st.AppendAudit(rc.r.Context(), &e); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

func errField(err error) zap.Field { return zap.Error(err) }

func pathField(r *http.Request) zap.Field {
	p := r.URL.Path
	if strings.HasPrefix(p, feedPrefix) {
		p = feedPrefix + "…" // the rest is a feed's secret token
	}
	return zap.String("route", r.Method+" "+p)
}

// readAll reads a bounded body (imports).
func readAll(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, newErr(http.StatusRequestEntityTooLarge, CodeTooLarge, "api.request.file_too_large", "limit", tooBig.Limit)
		}
		return nil, err
	}
	return b, nil
}
