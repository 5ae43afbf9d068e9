package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"sanji/auth"
	"sanji/scheduler"
	"sanji/scheduler/org"
)

func TestFirstLoginMustChangePassword(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.login("admin", f.admin)
	resp, body := c.do("GET", "/api/v1/units", nil)
	wantStatus(t, resp, body, http.StatusForbidden)
	if e := errCode(t, body); e.Code != CodeMustChange {
		t.Fatalf("before the change: %+v", e)
	}
	resp, body = c.do("GET", "/api/v1/me", nil)
	wantStatus(t, resp, body, 200)
	var me MeResponse
	_ = json.Unmarshal(body, &me)
	if !me.MustChangePassword || me.User.Username != "admin" {
		t.Errorf("me = %+v", me)
	}
	resp, body = c.do("POST", "/api/v1/me/password", map[string]string{"old_password": "wrong", "new_password": "a-new-password-1"})
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); e.Field != "old_password" {
		t.Errorf("wrong old password: %+v", e)
	}
	resp, body = c.do("POST", "/api/v1/me/password", map[string]string{"old_password": f.admin, "new_password": "short"})
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); e.Field != "new_password" {
		t.Errorf("short new password: %+v", e)
	}
	resp, body = c.do("POST", "/api/v1/me/password", map[string]string{"old_password": f.admin, "new_password": "a-new-password-1"})
	wantStatus(t, resp, body, 204)
	resp, body = c.do("GET", "/api/v1/units", nil)
	wantStatus(t, resp, body, 200)
	f.login("admin", "a-new-password-1")
	if resp, _ := f.anon().do("POST", "/api/v1/session", map[string]string{"username": "admin", "password": f.admin}); resp.StatusCode != 401 {
		t.Errorf("old password still works: %d", resp.StatusCode)
	}
}

func TestLoginLockoutWithBackoff(t *testing.T) {
	f := newFixture(t, Config{LoginPerMinute: 1000, LoginBurst: 1000})
	u := f.user(org.RoleObserver, f.d1)
	try := func(pw string) (*http.Response, Error) {
		resp, body := f.anon().do("POST", "/api/v1/session", map[string]string{"username": u.Username, "password": pw})
		if resp.StatusCode == 200 {
			return resp, Error{}
		}
		return resp, errCode(t, body)
	}
	lockoutAfter, lockoutBase := 5, 30*time.Second // the defaults of LoginLimits
	for i := 0; i < lockoutAfter; i++ {
		if resp, e := try("wrong"); resp.StatusCode != 401 || e.Code != CodeBadCredentials {
			t.Fatalf("attempt %d: %d %+v", i, resp.StatusCode, e)
		}
	}
	resp, e := try("pw-" + u.Username)
	if resp.StatusCode != 429 || e.Code != CodeLocked || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("right password while locked: %d %+v (Retry-After %q)", resp.StatusCode, e, resp.Header.Get("Retry-After"))
	}
	f.clock.add(lockoutBase + time.Second)
	// One more wrong password locks for twice as long.
	if resp, _ := try("wrong"); resp.StatusCode != 401 {
		t.Fatalf("after the lock: %d", resp.StatusCode)
	}
	f.clock.add(lockoutBase + time.Second)
	if resp, e := try("pw-" + u.Username); resp.StatusCode != 429 || e.Code != CodeLocked {
		t.Fatalf("the second lock should last %v: %d %+v", 2*lockoutBase, resp.StatusCode, e)
	}
	f.clock.add(lockoutBase)
	if resp, e := try("pw-" + u.Username); resp.StatusCode != 200 {
		t.Fatalf("after the second lock: %d %+v", resp.StatusCode, e)
	}
	// Unknown names and failures are audited.
	es, _ := f.st.SearchAudit(bg, org.AuditQuery{Action: "login."})
	fails := 0
	for _, e := range es {
		if e.Action == "login.fail" {
			fails++
		}
	}
	if fails != lockoutAfter+1 {
		t.Errorf("%d login.fail entries, want %d", fails, lockoutAfter+1)
	}
}

func TestLoginRateLimitPerIP(t *testing.T) {
	f := newFixture(t, Config{LoginPerMinute: 3, LoginBurst: 3})
	// Good logins do not count: one office's staff behind one address all log in at nine.
	for i := 0; i < 6; i++ {
		f.login("admin", f.admin)
	}
	for i := 0; i < 3; i++ {
		resp, _ := f.anon().do("POST", "/api/v1/session", map[string]string{"username": "nobody", "password": "x"})
		if resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
	}
	resp, body := f.anon().do("POST", "/api/v1/session", map[string]string{"username": "admin", "password": f.admin})
	wantStatus(t, resp, body, 429)
	if e := errCode(t, body); e.Code != CodeRateLimited || resp.Header.Get("Retry-After") == "" {
		t.Errorf("rate limited: %+v", e)
	}
	f.clock.add(time.Minute)
	f.login("admin", f.admin)
}

func TestCSRF(t *testing.T) {
	f := newFixture(t, Config{})
	admin := f.user(org.RoleAdmin, f.d1)
	c := f.loginUser(admin)
	body := map[string]any{"unit_id": f.d1.ID, "kind": "hall", "name": "CSRF 大厅"}
	for _, tok := range []string{"", "forged"} {
		cc := *c
		cc.csrf = tok
		resp, b := cc.do("POST", "/api/v1/halls", body)
		wantStatus(t, resp, b, 403)
		if e := errCode(t, b); e.Code != CodeCSRF {
			t.Errorf("csrf %q: %+v", tok, e)
		}
	}
	// GET needs no token; the right token works.
	cc := *c
	cc.csrf = ""
	if resp, _ := cc.do("GET", "/api/v1/halls", nil); resp.StatusCode != 200 {
		t.Errorf("GET without CSRF token: %d", resp.StatusCode)
	}
	resp, b := c.do("POST", "/api/v1/halls", body)
	wantStatus(t, resp, b, 201)
	// A form post (not JSON) is refused even with the cookie and token.
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/halls", strings.NewReader("unit_id=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(csrfHeader, c.csrf)
	req.AddCookie(c.cookie)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form post: %d", r2.StatusCode)
	}
}

func TestSessionCookieAndLogout(t *testing.T) {
	f := newFixture(t, Config{})
	u := f.user(org.RoleObserver, f.d1)
	c := f.loginUser(u)
	ck := c.cookie
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/", ck)
	}
	resp, b := c.do("DELETE", "/api/v1/session", nil)
	wantStatus(t, resp, b, 204)
	resp, b = c.do("GET", "/api/v1/me", nil)
	wantStatus(t, resp, b, 401)
	// Sessions expire.
	c = f.loginUser(u)
	f.clock.add(13 * time.Hour)
	if resp, _ := c.do("GET", "/api/v1/me", nil); resp.StatusCode != 401 {
		t.Errorf("expired session: %d", resp.StatusCode)
	}
}

func TestErrorsLanguageFieldAndLimits(t *testing.T) {
	f := newFixture(t, Config{})
	admin := f.user(org.RoleAdmin, f.d1)
	c := f.loginUser(admin)
	resp, b := c.do("POST", "/api/v1/units", map[string]any{"parent_id": f.d1.ID, "kind": "township", "code": "12", "name": "x"})
	wantStatus(t, resp, b, 400)
	e := errCode(t, b)
	if e.Code != CodeInvalid || e.Field != "code" || !strings.Contains(e.Message, "乡镇") {
		t.Errorf("zh validation error: %+v", e)
	}
	c.lang = "en-US,en;q=0.9"
	resp, b = c.do("POST", "/api/v1/units", map[string]any{"parent_id": f.d1.ID, "kind": "township", "code": "12", "name": "x"})
	if e := errCode(t, b); e.Field != "code" || !strings.Contains(e.Message, "township code") {
		t.Errorf("en validation error: %+v", e)
	}
	resp, b = c.do("POST", "/api/v1/units", map[string]any{"parent_id": f.d1.ID, "colour": "red"})
	wantStatus(t, resp, b, 400)
	if e := errCode(t, b); e.Field != "colour" {
		t.Errorf("unknown field: %+v", e)
	}
	resp, b = c.do("POST", "/api/v1/units", map[string]any{"parent_id": "one"})
	wantStatus(t, resp, b, 400)
	if e := errCode(t, b); e.Field != "parent_id" {
		t.Errorf("wrong type: %+v", e)
	}
	big := `{"name":"` + strings.Repeat("x", maxBody) + `"}`
	resp, b = c.do("POST", "/api/v1/units", []byte(big))
	wantStatus(t, resp, b, http.StatusRequestEntityTooLarge)
	resp, b = c.do("GET", "/api/v1/nothing", nil)
	wantStatus(t, resp, b, 404)
	if e := errCode(t, b); e.Code != CodeNotFound {
		t.Errorf("unknown endpoint: %+v", e)
	}
	resp, b = f.anon().do("GET", "/api/v1/units", nil)
	wantStatus(t, resp, b, 401)
	resp, b = c.do("PUT", "/api/v1/units", map[string]any{})
	wantStatus(t, resp, b, http.StatusMethodNotAllowed)
	if e := errCode(t, b); e.Code != CodeMethodNotAllowed || resp.Header.Get("Allow") != "GET, POST" {
		t.Errorf("wrong method: %+v, Allow %q", e, resp.Header.Get("Allow"))
	}
}

func TestSubtreeVisibility(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.loginUser(f.user(org.RoleAdmin, f.d1))
	resp, b := c.do("GET", "/api/v1/units", nil)
	wantStatus(t, resp, b, 200)
	var units struct{ Units []UnitView }
	_ = json.Unmarshal(b, &units)
	if len(units.Units) == 0 {
		t.Fatal("no units")
	}
	for _, u := range units.Units {
		if !strings.HasPrefix(u.Path, f.d1.Path) {
			t.Errorf("district admin sees %s (%s) outside the district", u.Name, u.Code)
		}
	}
	resp, b = c.do("GET", "/api/v1/users", nil)
	var users struct{ Users []UserView }
	_ = json.Unmarshal(b, &users)
	for _, u := range users.Users {
		unit, _ := f.st.GetUnit(bg, u.UnitID)
		if !strings.HasPrefix(unit.Path, f.d1.Path) {
			t.Errorf("district admin sees user %s outside the district", u.Username)
		}
	}
}

func TestCreateUserThenLogin(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.loginUser(f.user(org.RoleAdmin, f.d1))
	resp, b := c.do("POST", "/api/v1/users", map[string]any{"username": "qingbo-op", "display_name": "清波接访员", "unit_id": f.t1.ID,
		"grants": []map[string]any{{"role": "hall_operator", "unit_id": f.t1.ID}}})
	wantStatus(t, resp, b, 201)
	var cu CreatedUser
	_ = json.Unmarshal(b, &cu)
	if cu.Password == "" || !cu.User.MustChangePassword || len(cu.User.Grants) != 1 {
		t.Fatalf("created: %+v", cu)
	}
	// Granting outside one's subtree is refused even for a user inside.
	resp, b = c.do("POST", "/api/v1/users/"+strconv.FormatInt(cu.User.ID, 10)+"/grants", map[string]any{"role": "leader", "unit_id": f.d2.ID})
	wantStatus(t, resp, b, 403)
	resp, b = c.do("POST", "/api/v1/users", map[string]any{"username": "qingbo-op", "display_name": "重复", "unit_id": f.t1.ID})
	wantStatus(t, resp, b, 409)
	resp, b = c.do("POST", "/api/v1/users", map[string]any{"username": "x", "display_name": "短", "unit_id": f.t1.ID})
	wantStatus(t, resp, b, 400)
	if e := errCode(t, b); e.Field != "username" {
		t.Errorf("bad username: %+v", e)
	}
	resp, b = c.do("POST", "/api/v1/users", map[string]any{"username": "bad-role", "display_name": "x", "unit_id": f.t1.ID,
		"grants": []map[string]any{{"role": "emperor", "unit_id": f.t1.ID}}})
	if e := errCode(t, b); resp.StatusCode != 400 || e.Field != "grants[0].role" {
		t.Errorf("bad role: %d %+v", resp.StatusCode, e)
	}
	nc := f.login("qingbo-op", cu.Password)
	resp, b = nc.do("POST", "/api/v1/me/password", map[string]string{"old_password": cu.Password, "new_password": "operator-pass-1"})
	wantStatus(t, resp, b, 204)
	resp, b = nc.do("POST", "/api/v1/join-tokens", map[string]any{"unit_id": f.t1.ID})
	wantStatus(t, resp, b, 200)
	var jt JoinToken
	_ = json.Unmarshal(b, &jt)
	claims, err := f.signer.Verify(jt.Token, f.clock.now())
	if err != nil || claims.Role != org.RoleHallOperator || claims.Room != "unit-"+strconv.FormatInt(f.t1.ID, 10) || claims.Name != "清波接访员" {
		t.Errorf("join token claims %+v, %v", claims, err)
	}
	// Expired and tampered join tokens are refused by the signaling side's verifier.
	if _, err := f.signer.Verify(jt.Token, f.clock.now().Add(3*time.Minute)); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("expired join token: %v", err)
	}
	tampered := jt.Token[:len(jt.Token)-2] + "xx"
	if _, err := f.signer.Verify(tampered, f.clock.now()); !errors.Is(err, auth.ErrBadToken) {
		t.Errorf("tampered join token: %v", err)
	}
}

func TestAuditSearchByAuditorOnly(t *testing.T) {
	f := newFixture(t, Config{})
	admin := f.loginUser(f.user(org.RoleAdmin, f.d1))
	resp, b := admin.do("POST", "/api/v1/halls", map[string]any{"unit_id": f.d1.ID, "kind": "hall", "name": "审计大厅"})
	wantStatus(t, resp, b, 201)
	resp, b = admin.do("GET", "/api/v1/audit", nil)
	wantStatus(t, resp, b, 403)
	aud := f.loginUser(f.user(org.RoleAuditor, f.d1))
	resp, b = aud.do("GET", "/api/v1/audit?action=hall.", nil)
	wantStatus(t, resp, b, 200)
	var res struct{ Entries []AuditView }
	_ = json.Unmarshal(b, &res)
	if len(res.Entries) != 1 || res.Entries[0].Action != "hall.create" || !strings.Contains(res.Entries[0].After, "审计大厅") || res.Entries[0].Actor == "" {
		t.Errorf("audit entries %+v", res.Entries)
	}
	// A district auditor does not see the other district.
	outside := f.loginUser(f.user(org.RoleAuditor, f.d2))
	resp, b = outside.do("GET", "/api/v1/audit?action=hall.", nil)
	res.Entries = nil
	_ = json.Unmarshal(b, &res)
	if len(res.Entries) != 0 {
		t.Errorf("another district's auditor sees %+v", res.Entries)
	}
	resp, b = aud.do("GET", "/api/v1/audit?from=yesterday", nil)
	if e := errCode(t, b); resp.StatusCode != 400 || e.Field != "from" {
		t.Errorf("bad from: %d %+v", resp.StatusCode, e)
	}
}

func TestAPITokens(t *testing.T) {
	f := newFixture(t, Config{})
	admin := f.loginUser(f.user(org.RoleAdmin, f.d1))
	resp, b := admin.do("POST", "/api/v1/tokens", map[string]any{"name": "导入脚本", "scopes": []string{"unit.read"}, "expires_in": "24h"})
	wantStatus(t, resp, b, 201)
	var created struct {
		Token string
		Info  TokenView
	}
	_ = json.Unmarshal(b, &created)
	stored, err := f.st.GetAPITokenByHash(bg, auth.HashToken(created.Token))
	if err != nil || stored.Hash == created.Token {
		t.Fatalf("token not stored hashed: %+v %v", stored, err)
	}
	tc := &client{f: f, bearer: created.Token}
	if resp, _ := tc.do("GET", "/api/v1/units", nil); resp.StatusCode != 200 {
		t.Errorf("token with unit.read: GET units %d", resp.StatusCode)
	}
	// The scope narrows the admin's rights; no CSRF token is needed with a bearer token.
	if resp, _ := tc.do("POST", "/api/v1/halls", map[string]any{"unit_id": f.d1.ID, "kind": "hall", "name": "令牌大厅"}); resp.StatusCode != 403 {
		t.Errorf("token without unit.write: POST halls %d", resp.StatusCode)
	}
	resp, b = admin.do("POST", "/api/v1/tokens", map[string]any{"name": "越权", "scopes": []string{"audit.read"}})
	if e := errCode(t, b); resp.StatusCode != 400 || e.Field != "scopes" {
		t.Errorf("scope beyond one's rights: %d %+v", resp.StatusCode, e)
	}
	resp, b = admin.do("DELETE", "/api/v1/tokens/"+strconv.FormatInt(created.Info.ID, 10), nil)
	wantStatus(t, resp, b, 204)
	if resp, _ := tc.do("GET", "/api/v1/units", nil); resp.StatusCode != 401 {
		t.Errorf("revoked token: %d", resp.StatusCode)
	}
	// Expired tokens stop working.
	resp, b = admin.do("POST", "/api/v1/tokens", map[string]any{"name": "短期", "scopes": []string{"unit.read"}, "expires_in": "1h"})
	_ = json.Unmarshal(b, &created)
	f.clock.add(2 * time.Hour)
	if resp, _ := (&client{f: f, bearer: created.Token}).do("GET", "/api/v1/units", nil); resp.StatusCode != 401 {
		t.Errorf("expired token: %d", resp.StatusCode)
	}
}

func TestDevicePairing(t *testing.T) {
	f := newFixture(t, Config{})
	admin := f.loginUser(f.user(org.RoleAdmin, f.d1))
	resp, b := admin.do("POST", "/api/v1/devices", map[string]any{"username": "qingbo-terminal", "display_name": "清波接访室终端", "hall_id": f.hall1.ID})
	wantStatus(t, resp, b, 201)
	var pc PairingCode
	_ = json.Unmarshal(b, &pc)
	if len(pc.Code) != 10 {
		t.Fatalf("pairing code %+v", pc)
	}
	resp, b = f.anon().do("POST", "/api/v1/devices/pair", map[string]string{"code": pc.Code})
	wantStatus(t, resp, b, 200)
	var paired struct{ Token string }
	_ = json.Unmarshal(b, &paired)
	resp, b = f.anon().do("POST", "/api/v1/devices/pair", map[string]string{"code": pc.Code})
	wantStatus(t, resp, b, 401)
	term := &client{f: f, bearer: paired.Token}
	resp, b = term.do("POST", "/api/v1/join-tokens", map[string]any{"hall_id": f.hall1.ID})
	wantStatus(t, resp, b, 200)
	var jt JoinToken
	_ = json.Unmarshal(b, &jt)
	if jt.Role != org.RoleHallTerminal {
		t.Errorf("terminal joins as %q", jt.Role)
	}
	if resp, _ := term.do("POST", "/api/v1/join-tokens", map[string]any{"hall_id": f.hall2.ID}); resp.StatusCode != 403 {
		t.Errorf("terminal joins another district's hall: %d", resp.StatusCode)
	}
	// Terminals cannot log in with a password.
	if resp, _ := f.anon().do("POST", "/api/v1/session", map[string]string{"username": "qingbo-terminal", "password": "!"}); resp.StatusCode != 401 {
		t.Errorf("terminal password login: %d", resp.StatusCode)
	}
}

func TestImportEndpoint(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.loginUser(f.user(org.RoleAdmin, f.d1))
	csv := "kind,code,name,parent_code\ntownship,330102101,新街道,330102\nhall,,新街道接访室,330102101\ntownship,330105101,越界街道,330105\n"
	resp, b := c.do("POST", "/api/v1/units/import", csv)
	wantStatus(t, resp, b, 403)
	if e := errCode(t, b); len(e.Lines) != 1 || e.Lines[0].Line != 4 {
		t.Errorf("forbidden line: %+v", e)
	}
	csv = "kind,code,name,parent_code\ntownship,330102101,新街道,330102\nhall,,新街道接访室,330102101\ntownship,12,坏代码,330102\n"
	resp, b = c.do("POST", "/api/v1/units/import", csv)
	wantStatus(t, resp, b, 400)
	if e := errCode(t, b); e.Code != CodeImportInvalid || len(e.Lines) != 1 || e.Lines[0].Line != 4 || e.Lines[0].Field != "code" {
		t.Errorf("bad line: %+v", e)
	}
	resp, b = c.do("POST", "/api/v1/units/import", []byte(`[{"kind":"township","code":"330102101","name":"新街道","parent_code":"330102"},{"kind":"hall","name":"新街道接访室","parent_code":"330102101"}]`))
	wantStatus(t, resp, b, 200)
	var res scheduler.ImportResult
	_ = json.Unmarshal(b, &res)
	if res.Units != 1 || res.Halls != 1 {
		t.Errorf("import result %+v", res)
	}
}

// Separation of duties: one person is never both administrator and auditor, nor either of them
// together with a role that sees case content; the refusal names the field and says what to do.
func TestRoleSeparation(t *testing.T) {
	f := newFixture(t, Config{})
	admin := f.user(org.RoleAdmin, f.d1)
	c := f.loginUser(admin)
	resp, b := c.do("POST", "/api/v1/users", map[string]any{"username": "two-hats", "display_name": "兼职", "unit_id": f.t1.ID,
		"grants": []map[string]any{{"role": "auditor", "unit_id": f.t1.ID}, {"role": "case_handler", "unit_id": f.t1.ID}}})
	if e := errCode(t, b); resp.StatusCode != 400 || e.Field != "grants" {
		t.Fatalf("auditor with a case role: %d %+v", resp.StatusCode, e)
	}
	resp, b = c.do("POST", "/api/v1/users", map[string]any{"username": "auditor-one", "display_name": "审计", "unit_id": f.t1.ID,
		"grants": []map[string]any{{"role": "auditor", "unit_id": f.t1.ID}}})
	wantStatus(t, resp, b, 201)
	var cu CreatedUser
	_ = json.Unmarshal(b, &cu)
	resp, b = c.do("POST", "/api/v1/users/"+strconv.FormatInt(cu.User.ID, 10)+"/grants", map[string]any{"role": "admin", "unit_id": f.t1.ID})
	if e := errCode(t, b); resp.StatusCode != 400 || e.Field != "grant.role" {
		t.Fatalf("auditor made admin: %d %+v", resp.StatusCode, e)
	}
	// The administrator cannot make itself the auditor either.
	resp, b = c.do("POST", "/api/v1/users/"+strconv.FormatInt(admin.ID, 10)+"/grants", map[string]any{"role": "auditor", "unit_id": f.t1.ID})
	if resp.StatusCode != 400 {
		t.Fatalf("admin granted itself auditor: %d %s", resp.StatusCode, b)
	}
	// The same duty at another node is fine.
	resp, b = c.do("POST", "/api/v1/users/"+strconv.FormatInt(cu.User.ID, 10)+"/grants", map[string]any{"role": "auditor", "unit_id": f.d1.ID})
	wantStatus(t, resp, b, 201)
}
