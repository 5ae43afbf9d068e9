package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"sanji/auth"
	"sanji/scheduler/org"
)

// matrixRow says how to call one route for the authorization matrix: the request for a target
// inside the caller's subtree (inside=true) or outside it.
type matrixRow struct {
	// call returns the path and body for the caller c.
	call func(f *fixture, c *client, inside bool) (path string, body any)
	// list: the route lists what the caller may see; allowed by role alone, inside or not.
	list bool
	// grantAtRoot: the caller's grant is at the root when inside (the route acts on the root).
	grantAtRoot bool
	// tokenForbidden: callers with an API token (the hall terminal) are refused by design.
	sessionOnly bool
}

func pick(inside bool, a, b org.Unit) org.Unit {
	if inside {
		return a
	}
	return b
}

// matrix has one row per route, keyed "METHOD pattern". TestAuthorizationMatrix fails for a
// route without a row, so a new endpoint cannot skip the matrix.
var matrix = map[string]matrixRow{
	"GET /api/v1/openapi.yaml": {call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/openapi.yaml", nil }},
	"POST /api/v1/session": {call: func(f *fixture, c *client, in bool) (string, any) {
		u := f.user(org.RoleObserver, f.d1)
		return "/api/v1/session", map[string]string{"username": u.Username, "password": "pw-" + u.Username}
	}},
	"DELETE /api/v1/session": {call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/session", nil }},
	"GET /api/v1/me":         {call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/me", nil }},
	"POST /api/v1/me/password": {sessionOnly: true, call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/me/password", map[string]string{"old_password": c.password, "new_password": "a-brand-new-password"}
	}},
	// The second factor (totp.go): c's user is enrolled in the store and c logged in again, so
	// its session waits for the code the row sends.
	"POST /api/v1/session/totp": {sessionOnly: true, call: func(f *fixture, c *client, in bool) (string, any) {
		secret := f.enrolStore(c.userID)
		if c.bearer == "" {
			u, _ := f.st.GetUser(bg, c.userID)
			nc := f.login(u.Username, c.password)
			c.cookie, c.csrf = nc.cookie, nc.csrf
		}
		return "/api/v1/session/totp", map[string]string{"code": f.code(secret)}
	}},
	"POST /api/v1/me/totp": {sessionOnly: true, call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/me/totp", nil }},
	"POST /api/v1/me/totp/confirm": {sessionOnly: true, call: func(f *fixture, c *client, in bool) (string, any) {
		secret, _ := auth.NewTOTPSecret()
		if err := f.st.BeginTOTP(bg, c.userID, secret, f.clock.now()); err != nil {
			f.t.Fatal(err)
		}
		return "/api/v1/me/totp/confirm", map[string]string{"code": f.code(secret)}
	}},
	"DELETE /api/v1/users/{id}/totp": {call: func(f *fixture, c *client, in bool) (string, any) {
		u := f.user(org.RoleObserver, pick(in, f.t1, f.d2))
		f.enrolStore(u.ID)
		return "/api/v1/users/" + strconv.FormatInt(u.ID, 10) + "/totp", nil
	}},
	"GET /api/v1/units": {list: true, call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/units", nil }},
	"POST /api/v1/units": {call: func(f *fixture, c *client, in bool) (string, any) {
		p := pick(in, f.d1, f.d2)
		return "/api/v1/units", map[string]any{"parent_id": p.ID, "kind": "township", "code": fmt.Sprintf("%s%03d", p.Code, 100+f.next()), "name": "新街道"}
	}},
	"PATCH /api/v1/units/{id}": {call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/units/" + strconv.FormatInt(pick(in, f.t1, f.d2).ID, 10), map[string]string{"name": fmt.Sprintf("改名 %d", f.next())}
	}},
	"POST /api/v1/units/import": {call: func(f *fixture, c *client, in bool) (string, any) {
		p := pick(in, f.d1, f.d2)
		return "/api/v1/units/import", fmt.Sprintf("kind,code,name,parent_code\ntownship,%s%03d,导入街道,%s\n", p.Code, 100+f.next(), p.Code)
	}},
	"GET /api/v1/halls": {list: true, call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/halls", nil }},
	"POST /api/v1/halls": {call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/halls", map[string]any{"unit_id": pick(in, f.d1, f.d2).ID, "kind": "hall", "name": fmt.Sprintf("新大厅 %d", f.next())}
	}},
	"GET /api/v1/categories": {list: true, call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/categories", nil }},
	"POST /api/v1/categories": {grantAtRoot: true, call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/categories", map[string]any{"code": fmt.Sprintf("T%d", f.next()), "name": "测试类别"}
	}},
	"GET /api/v1/users": {list: true, call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/users", nil }},
	"POST /api/v1/users": {call: func(f *fixture, c *client, in bool) (string, any) {
		u := pick(in, f.t1, f.d2)
		return "/api/v1/users", map[string]any{"username": fmt.Sprintf("new-%d", f.next()), "display_name": "新用户", "unit_id": u.ID,
			"grants": []map[string]any{{"role": "observer", "unit_id": u.ID}}}
	}},
	"PATCH /api/v1/users/{id}": {call: func(f *fixture, c *client, in bool) (string, any) {
		u := f.user(org.RoleObserver, pick(in, f.t1, f.d2))
		return "/api/v1/users/" + strconv.FormatInt(u.ID, 10), map[string]any{"disabled": true}
	}},
	"POST /api/v1/users/{id}/password-reset": {call: func(f *fixture, c *client, in bool) (string, any) {
		u := f.user(org.RoleObserver, pick(in, f.t1, f.d2))
		return "/api/v1/users/" + strconv.FormatInt(u.ID, 10) + "/password-reset", nil
	}},
	"POST /api/v1/users/{id}/grants": {call: func(f *fixture, c *client, in bool) (string, any) {
		unit := pick(in, f.t1, f.d2)
		u := f.user(org.RoleObserver, unit)
		return "/api/v1/users/" + strconv.FormatInt(u.ID, 10) + "/grants", map[string]any{"role": "leader", "unit_id": unit.ID}
	}},
	"DELETE /api/v1/users/{id}/grants/{grant}": {call: func(f *fixture, c *client, in bool) (string, any) {
		u := f.user(org.RoleObserver, pick(in, f.t1, f.d2))
		gs, _ := f.st.ListGrants(bg, u.ID)
		return fmt.Sprintf("/api/v1/users/%d/grants/%d", u.ID, gs[0].ID), nil
	}},
	"POST /api/v1/devices": {call: func(f *fixture, c *client, in bool) (string, any) {
		h := f.hall1
		if !in {
			h = f.hall2
		}
		return "/api/v1/devices", map[string]any{"username": fmt.Sprintf("term-%d", f.next()), "display_name": "终端", "hall_id": h.ID}
	}},
	"POST /api/v1/devices/{id}/pairing-code": {call: func(f *fixture, c *client, in bool) (string, any) {
		d := f.device(in)
		return "/api/v1/devices/" + strconv.FormatInt(d.ID, 10) + "/pairing-code", nil
	}},
	"POST /api/v1/devices/pair": {call: func(f *fixture, c *client, in bool) (string, any) {
		d := f.device(in)
		code := fmt.Sprintf("%010d", f.next())
		if err := f.st.SetPairingCode(bg, d.ID, auth.HashToken(code), f.clock.now().Add(time.Minute)); err != nil {
			f.t.Fatal(err)
		}
		return "/api/v1/devices/pair", map[string]string{"code": code}
	}},
	"GET /api/v1/tokens": {call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/tokens", nil }},
	"POST /api/v1/tokens": {sessionOnly: true, call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/tokens", map[string]any{"name": "脚本", "scopes": []string{c.someAction}}
	}},
	"DELETE /api/v1/tokens/{id}": {call: func(f *fixture, c *client, in bool) (string, any) {
		t := org.APIToken{UserID: c.userID, Name: "x", Hash: fmt.Sprintf("h-%d", f.next())}
		if err := f.st.CreateAPIToken(bg, &t); err != nil {
			f.t.Fatal(err)
		}
		return "/api/v1/tokens/" + strconv.FormatInt(t.ID, 10), nil
	}},
	"GET /api/v1/audit": {list: true, call: func(f *fixture, c *client, in bool) (string, any) { return "/api/v1/audit", nil }},
	"GET /api/v1/audit/head": {grantAtRoot: true, call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/audit/head", nil
	}},
	"POST /api/v1/join-tokens": {call: func(f *fixture, c *client, in bool) (string, any) {
		h := f.hall1
		if !in {
			h = f.hall2
		}
		return "/api/v1/join-tokens", map[string]any{"hall_id": h.ID}
	}},
}

// device makes a terminal account in a hall of d1 (inside) or d2.
func (f *fixture) device(inside bool) org.User {
	f.t.Helper()
	h := f.hall1
	if !inside {
		h = f.hall2
	}
	d := org.User{Kind: org.UserDevice, Username: fmt.Sprintf("dev-%d", f.next()), DisplayName: "终端", UnitID: h.UnitID, HallID: h.ID, PasswordHash: "!"}
	if err := f.st.CreateUser(bg, &d); err != nil {
		f.t.Fatal(err)
	}
	return d
}

// TestAuthorizationMatrix calls every route as every role, with the target inside and outside
// the role's subtree, and checks the answer against the policy table: allowed (2xx) or 403.
func TestAuthorizationMatrix(t *testing.T) {
	f := newFixture(t, Config{LoginPerMinute: 100000, LoginBurst: 100000, FeedPerMinute: 100000, FeedBurst: 100000})
	routes := f.api.Routes()
	seen := map[string]bool{}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		seen[key] = true
		row, ok := matrix[key]
		if !ok {
			t.Errorf("route %s has no row in the authorization matrix: add one", key)
			continue
		}
		for _, role := range org.Roles {
			for _, inside := range []bool{true, false} {
				name := fmt.Sprintf("%s/%s/inside=%v", key, role, inside)
				t.Run(name, func(t *testing.T) {
					f.t = t
					grantAt := f.d1
					if row.grantAtRoot && inside {
						grantAt = f.root
					}
					var c *client
					var who org.User
					if role == org.RoleHallTerminal {
						who = f.device(true)
						if err := f.st.AddGrant(bg, &org.Grant{UserID: who.ID, Role: role, UnitID: grantAt.ID}); err != nil {
							t.Fatal(err)
						}
						c = f.tokenClient(who, nil)
					} else {
						who = f.user(role, grantAt)
						c = f.loginUser(who)
						c.password = "pw-" + who.Username
					}
					c.userID = who.ID
					c.someAction = org.ActUnitRead
					if role == org.RoleHallTerminal {
						c.someAction = org.ActCallJoin
					}
					path, body := row.call(f, c, inside)
					var want bool
					switch rt.Access {
					case accessPublic, accessSelf:
						want = true
					default:
						want = org.RoleMay(role, rt.Access) && (inside || row.list)
					}
					if row.sessionOnly && c.bearer != "" {
						want = false
					}
					resp, b := c.do(rt.Method, path, body)
					got := resp.StatusCode
					switch {
					case want && (got < 200 || got > 299):
						t.Errorf("%s as %s (inside=%v): status %d, want 2xx: %s", key, role, inside, got, b)
					case !want && got != http.StatusForbidden:
						t.Errorf("%s as %s (inside=%v): status %d, want 403: %s", key, role, inside, got, b)
					}
				})
			}
		}
	}
	for key := range matrix {
		if !seen[key] {
			t.Errorf("matrix row %s names no route", key)
		}
	}
}

// TestOpenAPIDescribesEveryRoute keeps docs/api/openapi.yaml in step with the routing table.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	f := newFixture(t, Config{})
	resp, body := f.anon().do("GET", "/api/v1/openapi.yaml", nil)
	wantStatus(t, resp, body, 200)
	doc := string(body)
	for _, rt := range f.api.Routes() {
		i := strings.Index(doc, "\n  "+rt.Pattern+":\n")
		if i < 0 {
			t.Errorf("openapi.yaml lacks the path %s", rt.Pattern)
			continue
		}
		// The methods of a path are the lines indented four spaces until the next path.
		rest := doc[i+len(rt.Pattern)+4:]
		if j := strings.Index(rest, "\n  /"); j >= 0 {
			rest = rest[:j]
		}
		if !strings.Contains(rest, "\n    "+strings.ToLower(rt.Method)+":") {
			t.Errorf("openapi.yaml lacks %s %s", rt.Method, rt.Pattern)
		}
	}
}
