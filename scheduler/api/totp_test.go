package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"sanji/auth"
	"sanji/scheduler/org"
)

// enrolStore gives a user a confirmed TOTP straight in the store and returns its secret.
func (f *fixture) enrolStore(userID int64) string {
	f.t.Helper()
	secret, err := auth.NewTOTPSecret()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.st.BeginTOTP(bg, userID, secret, f.clock.now()); err != nil {
		f.t.Fatal(err)
	}
	// Confirmed at an old step, so the current code is still unused.
	if err := f.st.ConfirmTOTP(bg, userID, 1, nil, f.clock.now()); err != nil {
		f.t.Fatal(err)
	}
	return secret
}

// code is the authenticator's code for secret now, by the fixture's clock.
func (f *fixture) code(secret string) string {
	f.t.Helper()
	c, err := auth.TOTPCode(secret, auth.TOTPStep(f.clock.now()))
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// me reads the caller's view.
func (c *client) me() MeResponse {
	c.f.t.Helper()
	resp, b := c.do("GET", "/api/v1/me", nil)
	wantStatus(c.f.t.(*testing.T), resp, b, 200)
	var m MeResponse
	if err := json.Unmarshal(b, &m); err != nil {
		c.f.t.Fatal(err)
	}
	return m
}

// adopt takes the session a response set, and its CSRF token.
func (c *client) adopt(resp *http.Response, csrf string) {
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			c.cookie = ck
		}
	}
	c.csrf = csrf
}

// codeStep sends the login's second step and returns the response.
func (c *client) codeStep(body map[string]string) (*http.Response, []byte) {
	c.f.t.Helper()
	resp, b := c.do("POST", "/api/v1/session/totp", body)
	if resp.StatusCode == 200 {
		var m MeResponse
		_ = json.Unmarshal(b, &m)
		c.adopt(resp, m.CSRFToken)
	}
	return resp, b
}

func wantCode(t *testing.T, resp *http.Response, b []byte, status int, code string) {
	t.Helper()
	wantStatus(t, resp, b, status)
	if e := errCode(t, b); e.Code != code {
		t.Fatalf("error code %s, want %s: %s", e.Code, code, b)
	}
}

// TestTOTPPolicyForcesEnrolment: under the default policy a supervisor's login can only enrol:
// every other route answers totp_enrolment_required; the enrolment shows the otpauth URI and the
// secret, refuses a wrong first code, and on a right one hands out ten recovery codes and turns
// the login into a full session with a new id. An observer's role does not require it.
func TestTOTPPolicyForcesEnrolment(t *testing.T) {
	f := newFixture(t, Config{TwoFactor: TwoFactor{Roles: org.SecondFactorRoles(), Issuer: "某市信访"}})
	sup := f.user(org.RoleSupervisor, f.d1)
	c := f.loginUser(sup)
	m := c.me()
	if m.Pending != org.SessionPendingEnrol || len(m.Can) != 0 || !m.TOTP.Required || m.TOTP.Enrolled {
		t.Fatalf("after the password: %+v", m)
	}
	resp, b := c.do("GET", "/api/v1/cases", nil)
	wantCode(t, resp, b, 403, CodeEnrolTOTP)
	resp, b = c.do("POST", "/api/v1/tokens", map[string]any{"name": "x", "scopes": []string{org.ActCaseRead}})
	wantCode(t, resp, b, 403, CodeEnrolTOTP)
	resp, b = c.do("POST", "/api/v1/session/totp", map[string]string{"code": "123456"})
	wantStatus(t, resp, b, 409)

	resp, b = c.do("POST", "/api/v1/me/totp", nil)
	wantStatus(t, resp, b, 200)
	var en TOTPEnrolment
	_ = json.Unmarshal(b, &en)
	if len(en.Secret) != 32 || !strings.HasPrefix(en.URI, "otpauth://totp/") || !strings.Contains(en.URI, "secret="+en.Secret) || !strings.Contains(en.URI, sup.Username) {
		t.Fatalf("enrolment %+v", en)
	}
	wrong := "000000"
	if f.code(en.Secret) == wrong {
		wrong = "000001"
	}
	resp, b = c.do("POST", "/api/v1/me/totp/confirm", map[string]string{"code": wrong})
	wantCode(t, resp, b, 401, CodeBadCode)
	resp, b = c.do("POST", "/api/v1/me/totp/confirm", map[string]string{"code": f.code(en.Secret)})
	wantStatus(t, resp, b, 200)
	var conf TOTPConfirmed
	_ = json.Unmarshal(b, &conf)
	if len(conf.RecoveryCodes) != 10 || conf.Me.Pending != "" || !conf.Me.TOTP.Enrolled || conf.Me.TOTP.RecoveryLeft != 10 || len(conf.Me.Can) == 0 {
		t.Fatalf("confirmed %+v", conf)
	}
	old := *c
	c.adopt(resp, conf.Me.CSRFToken)
	if old.cookie.Value == c.cookie.Value {
		t.Fatal("the enrolled login kept the waiting session's id")
	}
	if resp, _ := old.do("GET", "/api/v1/me", nil); resp.StatusCode != 401 {
		t.Errorf("the waiting session still works: %d", resp.StatusCode)
	}
	resp, b = c.do("GET", "/api/v1/cases", nil)
	wantStatus(t, resp, b, 200)
	resp, b = c.do("POST", "/api/v1/me/totp", nil)
	wantStatus(t, resp, b, 409) // one authenticator; an admin resets it
	if es := mustList(f.st.SearchAudit(bg, org.AuditQuery{Action: "totp.enrol", Target: userTarget(sup.ID)})); len(es) != 1 {
		t.Errorf("enrolment audited %d times", len(es))
	}

	obs := f.loginUser(f.user(org.RoleObserver, f.d1))
	if m := obs.me(); m.Pending != "" || m.TOTP.Required {
		t.Errorf("observer: %+v", m)
	}
}

// TestTOTPLoginNeedsCode: an enrolled user's password alone opens nothing; a wrong code is
// refused, the right one completes the login; the same code again (a replay within its window)
// is refused, the next step's code works.
func TestTOTPLoginNeedsCode(t *testing.T) {
	f := newFixture(t, Config{TwoFactor: TwoFactor{Roles: []string{org.RoleIntakeOfficer}}})
	u := f.user(org.RoleIntakeOfficer, f.d1)
	secret := f.enrolStore(u.ID)
	c := f.loginUser(u)
	if m := c.me(); m.Pending != org.SessionPendingTOTP || len(m.Can) != 0 {
		t.Fatalf("after the password: %+v", m)
	}
	resp, b := c.do("GET", "/api/v1/cases", nil)
	wantCode(t, resp, b, 403, CodeSecondFactor)
	resp, b = c.do("POST", "/api/v1/me/totp", nil)
	wantStatus(t, resp, b, 403) // enrolment is not a way around the code
	code := f.code(secret)
	wrong := strconv.Itoa((mustAtoi(code) + 1) % 1000000)
	resp, b = c.codeStep(map[string]string{"code": strings.Repeat("0", 6-len(wrong)) + wrong})
	wantCode(t, resp, b, 401, CodeBadCode)
	resp, b = c.codeStep(map[string]string{"code": code})
	wantStatus(t, resp, b, 200)
	resp, b = c.do("GET", "/api/v1/cases", nil)
	wantStatus(t, resp, b, 200)

	again := f.loginUser(u)
	resp, b = again.codeStep(map[string]string{"code": code})
	wantCode(t, resp, b, 401, CodeBadCode)
	f.clock.add(auth.TOTPPeriod)
	resp, b = again.codeStep(map[string]string{"code": f.code(secret)})
	wantStatus(t, resp, b, 200)
	actions := map[string]int{}
	for _, e := range mustList(f.st.SearchAudit(bg, org.AuditQuery{Target: userTarget(u.ID)})) {
		actions[e.Action]++
	}
	if actions["login.totp_fail"] != 1 || actions["login.totp_replay"] != 1 || actions["login.ok"] != 2 || actions["login.password_ok"] != 2 {
		t.Errorf("audited %v", actions)
	}
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// TestTOTPWrongCodesCounted: wrong codes count in the login throttle like wrong passwords: after
// five the address-and-name pair is locked, for the code and for the password alike.
func TestTOTPWrongCodesCounted(t *testing.T) {
	f := newFixture(t, Config{TwoFactor: TwoFactor{Roles: []string{org.RoleHallOperator}}, LoginPerMinute: 1000, LoginBurst: 1000})
	u := f.user(org.RoleHallOperator, f.d1)
	secret := f.enrolStore(u.ID)
	c := f.loginUser(u)
	code := f.code(secret)
	for i := 0; i < 5; i++ {
		bad := strconv.Itoa(100000 + i)
		if bad == code {
			bad = "999999"
		}
		resp, b := c.codeStep(map[string]string{"code": bad})
		wantCode(t, resp, b, 401, CodeBadCode)
	}
	resp, b := c.codeStep(map[string]string{"code": code})
	wantCode(t, resp, b, 429, CodeLocked)
	resp, b = f.anon().do("POST", "/api/v1/session", map[string]string{"username": u.Username, "password": "pw-" + u.Username})
	wantCode(t, resp, b, 429, CodeLocked)
	f.clock.add(time.Hour)
	c = f.loginUser(u)
	resp, b = c.codeStep(map[string]string{"code": f.code(secret)})
	wantStatus(t, resp, b, 200)
}

// TestTOTPRecoveryCodeSingleUse: a recovery code stands in for the code once; used again it is
// refused; the count left goes down.
func TestTOTPRecoveryCodeSingleUse(t *testing.T) {
	f := newFixture(t, Config{TwoFactor: TwoFactor{Roles: []string{org.RoleCaseHandler}}})
	u := f.user(org.RoleCaseHandler, f.d1)
	c := f.loginUser(u)
	resp, b := c.do("POST", "/api/v1/me/totp", nil)
	wantStatus(t, resp, b, 200)
	var en TOTPEnrolment
	_ = json.Unmarshal(b, &en)
	resp, b = c.do("POST", "/api/v1/me/totp/confirm", map[string]string{"code": f.code(en.Secret)})
	wantStatus(t, resp, b, 200)
	var conf TOTPConfirmed
	_ = json.Unmarshal(b, &conf)
	rc := conf.RecoveryCodes[3]

	c2 := f.loginUser(u)
	resp, b = c2.codeStep(map[string]string{"recovery_code": strings.ToUpper(rc)})
	wantStatus(t, resp, b, 200)
	if m := c2.me(); m.Pending != "" || m.TOTP.RecoveryLeft != 9 {
		t.Fatalf("after a recovery code: %+v", m)
	}
	c3 := f.loginUser(u)
	resp, b = c3.codeStep(map[string]string{"recovery_code": rc})
	wantCode(t, resp, b, 401, CodeBadCode)
	resp, b = c3.codeStep(map[string]string{"code": "123456", "recovery_code": rc})
	wantStatus(t, resp, b, 400)
	resp, b = c3.codeStep(map[string]string{"recovery_code": conf.RecoveryCodes[4]})
	wantStatus(t, resp, b, 200)
}

// TestTOTPAdminReset: an admin resets a user's TOTP (audited); the user's sessions end and the
// next login enrols afresh.
func TestTOTPAdminReset(t *testing.T) {
	f := newFixture(t, Config{TwoFactor: TwoFactor{Roles: []string{org.RoleSupervisor}}})
	u := f.user(org.RoleSupervisor, f.d1)
	secret := f.enrolStore(u.ID)
	c := f.loginUser(u)
	resp, b := c.codeStep(map[string]string{"code": f.code(secret)})
	wantStatus(t, resp, b, 200)
	admin := f.loginUser(f.user(org.RoleAdmin, f.d1))
	resp, b = admin.do("DELETE", "/api/v1/users/"+strconv.FormatInt(u.ID, 10)+"/totp", nil)
	wantStatus(t, resp, b, 204)
	resp, b = admin.do("DELETE", "/api/v1/users/"+strconv.FormatInt(u.ID, 10)+"/totp", nil)
	wantStatus(t, resp, b, 404)
	if resp, _ := c.do("GET", "/api/v1/me", nil); resp.StatusCode != 401 {
		t.Errorf("the user's session outlived the reset: %d", resp.StatusCode)
	}
	if m := f.loginUser(u).me(); m.Pending != org.SessionPendingEnrol {
		t.Errorf("after the reset: %+v", m)
	}
	if es := mustList(f.st.SearchAudit(bg, org.AuditQuery{Action: "totp.reset", Target: userTarget(u.ID)})); len(es) != 1 {
		t.Errorf("reset audited %d times", len(es))
	}
}

// TestTOTPDeviceTokenUnaffected: under the default policy a paired hall terminal still gets join
// tokens with its device token; nothing asks it for a second factor.
func TestTOTPDeviceTokenUnaffected(t *testing.T) {
	f := newFixture(t, Config{TwoFactor: TwoFactor{Roles: []string{org.RoleAdmin, org.RoleHallOperator}}})
	admin := f.loginUser(f.user(org.RoleAdmin, f.d1))
	admin = f.enrolAndLogin(admin)
	resp, b := admin.do("POST", "/api/v1/devices", map[string]any{"username": "qingbo-terminal", "display_name": "清波接访室终端", "hall_id": f.hall1.ID})
	wantStatus(t, resp, b, 201)
	var pc PairingCode
	_ = json.Unmarshal(b, &pc)
	resp, b = f.anon().do("POST", "/api/v1/devices/pair", map[string]string{"code": pc.Code})
	wantStatus(t, resp, b, 200)
	var paired struct{ Token string }
	_ = json.Unmarshal(b, &paired)
	term := &client{f: f, bearer: paired.Token}
	resp, b = term.do("POST", "/api/v1/join-tokens", map[string]any{"hall_id": f.hall1.ID})
	wantStatus(t, resp, b, 200)
	if m := term.me(); m.Pending != "" || m.TOTP.Required {
		t.Errorf("terminal: %+v", m)
	}
}

// enrolAndLogin enrols c's user through the API (c's session must enrol) and returns the full login.
func (f *fixture) enrolAndLogin(c *client) *client {
	f.t.Helper()
	resp, b := c.do("POST", "/api/v1/me/totp", nil)
	if resp.StatusCode != 200 {
		f.t.Fatalf("enrol: %d %s", resp.StatusCode, b)
	}
	var en TOTPEnrolment
	_ = json.Unmarshal(b, &en)
	resp, b = c.do("POST", "/api/v1/me/totp/confirm", map[string]string{"code": f.code(en.Secret)})
	if resp.StatusCode != 200 {
		f.t.Fatalf("confirm: %d %s", resp.StatusCode, b)
	}
	var conf TOTPConfirmed
	_ = json.Unmarshal(b, &conf)
	c.adopt(resp, conf.Me.CSRFToken)
	return c
}

// TestTOTPLoginsDoNotSpendTheAddressBudget: a hall's staff behind one address log in with codes
// at nine without tripping the per-address limit: a completed login gives back both its attempts.
func TestTOTPLoginsDoNotSpendTheAddressBudget(t *testing.T) {
	f := newFixture(t, Config{TwoFactor: TwoFactor{Roles: []string{org.RoleHallOperator}}, LoginPerMinute: 1, LoginBurst: 2})
	for i := 0; i < 4; i++ {
		u := f.user(org.RoleHallOperator, f.d1)
		secret := f.enrolStore(u.ID)
		c := f.loginUser(u)
		resp, b := c.codeStep(map[string]string{"code": f.code(secret)})
		wantStatus(t, resp, b, 200)
	}
}
