package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"sanji/auth"
	"sanji/scheduler"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var bg = context.Background()

// fakeHash and fakeCheck stand in for argon2id (tested in auth) so the matrix stays fast.
func fakeHash(pw string) (string, error) { return "hash:" + pw, nil }

func fakeCheck(hash, pw string) error {
	if hash != "hash:"+pw {
		return auth.ErrPasswordMismatch
	}
	return nil
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	t      testing.TB
	st     scheduler.Store
	api    *Server
	srv    *httptest.Server
	signer *auth.Signer
	clock  *clock
	root   org.Unit
	d1, d2 org.Unit // 上城区 (inside), 拱墅区 (outside)
	t1     org.Unit // a township of d1
	hall1  org.Hall // a hall of d1
	hall2  org.Hall // a hall of d2
	admin  string   // the bootstrap admin's one-time password
	seq    int
	peer   ed25519.PrivateKey // another system's exchange key, trusted by this server
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	st, err := sqlite.Open(bg, filepath.Join(t.TempDir(), "api.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f := &fixture{t: t, st: st, clock: &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}}
	n := 0
	gen := func() (string, error) { n++; return fmt.Sprintf("initial-pw-%03d", n), nil }
	login, err := scheduler.Bootstrap(bg, st, fakeHash, gen)
	if err != nil {
		t.Fatal(err)
	}
	f.admin = login.Password
	if _, err := scheduler.SeedDemo(bg, st, fakeHash, gen); err != nil {
		t.Fatal(err)
	}
	get := func(code string) org.Unit {
		u, err := st.GetUnitByCode(bg, code)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	f.root, f.d1, f.d2, f.t1 = get(org.RootCode), get("330102"), get("330105"), get("330102001")
	for _, h := range mustList(st.ListHalls(bg, f.d1.Path)) {
		if h.UnitID == f.d1.ID {
			f.hall1 = h
		}
	}
	for _, h := range mustList(st.ListHalls(bg, f.d2.Path)) {
		if h.UnitID == f.d2.ID {
			f.hall2 = h
		}
	}
	f.signer = auth.NewSigner([]byte(strings.Repeat("k", 32)))
	cfg.Store, cfg.Signer, cfg.Hash, cfg.Check, cfg.Now = st, f.signer, fakeHash, fakeCheck, f.clock.now
	if cfg.TwoFactor.Roles == nil {
		cfg.TwoFactor.Roles = []string{} // the tests of other subjects log in with a password alone; totp_test.go sets roles
	}
	_, f.peer, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Exchange.Trusted = append(cfg.Exchange.Trusted, f.peer.Public())
	if cfg.Attachments.Dir == "" {
		cfg.Attachments = casework.Blobs{Dir: filepath.Join(t.TempDir(), "attachments"), MaxSize: 1 << 10}
	}
	if cfg.Recordings == "" {
		cfg.Recordings = filepath.Join(t.TempDir(), "recordings")
	}
	f.api = New(cfg)
	f.srv = httptest.NewServer(f.api)
	t.Cleanup(f.srv.Close)
	return f
}

func mustList[T any](v []T, err error) []T {
	if err != nil {
		panic(err)
	}
	return v
}

func (f *fixture) next() int { f.seq++; return f.seq }

// user creates a person with role granted at unit, password "pw-<username>", no forced change.
func (f *fixture) user(role string, unit org.Unit) org.User {
	f.t.Helper()
	name := fmt.Sprintf("u%04d-%s", f.next(), strings.ReplaceAll(role, "_", "-"))
	u := org.User{Kind: org.UserPerson, Username: name, DisplayName: "测试 " + name, UnitID: unit.ID, PasswordHash: "hash:pw-" + name}
	if err := f.st.CreateUser(bg, &u); err != nil {
		f.t.Fatal(err)
	}
	if err := f.st.AddGrant(bg, &org.Grant{UserID: u.ID, Role: role, UnitID: unit.ID}); err != nil {
		f.t.Fatal(err)
	}
	return u
}

// client is a logged-in caller: a session (cookie + CSRF) or a bearer token.
type client struct {
	f      *fixture
	cookie *http.Cookie
	csrf   string
	bearer string
	lang   string
	// for the matrix rows
	password   string
	userID     int64
	someAction string
}

func (f *fixture) anon() *client { return &client{f: f} }

// login logs in through the API and fails the test unless it works.
func (f *fixture) login(username, password string) *client {
	f.t.Helper()
	c := f.anon()
	resp, body := c.do("POST", "/api/v1/session", map[string]string{"username": username, "password": password})
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("login %s: %d %s", username, resp.StatusCode, body)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			c.cookie = ck
		}
	}
	var me MeResponse
	if err := json.Unmarshal(body, &me); err != nil {
		f.t.Fatal(err)
	}
	c.csrf = me.CSRFToken
	if c.cookie == nil || c.csrf == "" {
		f.t.Fatalf("login %s: no cookie or CSRF token", username)
	}
	return c
}

func (f *fixture) loginUser(u org.User) *client { return f.login(u.Username, "pw-"+u.Username) }

// tokenClient makes an API token for u with scopes (nil: every action).
func (f *fixture) tokenClient(u org.User, scopes []string) *client {
	f.t.Helper()
	if scopes == nil {
		scopes = org.Actions
	}
	tok, _ := auth.RandomToken(32)
	if err := f.st.CreateAPIToken(bg, &org.APIToken{UserID: u.ID, Name: "test", Hash: auth.HashToken(tok), Scopes: scopes}); err != nil {
		f.t.Fatal(err)
	}
	return &client{f: f, bearer: tok}
}

// do sends a request; body is JSON-encoded unless it is a string (sent as text/csv) or nil.
func (c *client) do(method, path string, body any) (*http.Response, []byte) {
	c.f.t.Helper()
	return c.doWith(method, path, body, nil)
}

// doWith is do with extra request headers (a Range).
func (c *client) doWith(method, path string, body any, header http.Header) (*http.Response, []byte) {
	c.f.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "text/csv"
	case []byte:
		rd, ct = bytes.NewReader(b), "application/json"
	case zipBody:
		rd, ct = bytes.NewReader(b), "application/zip"
	default:
		j, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, c.f.srv.URL+path, rd)
	if err != nil {
		c.f.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	if c.csrf != "" {
		req.Header.Set(csrfHeader, c.csrf)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func errCode(t *testing.T, body []byte) Error {
	t.Helper()
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code == "" {
		t.Fatalf("not an error body: %s", body)
	}
	return eb.Error
}

func wantStatus(t *testing.T, resp *http.Response, body []byte, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
}
