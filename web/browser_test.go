package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"sanji/web/browsertest"
)

// These tests drive the pages in headless Chromium against a scripted fake of the server (the
// token endpoint and the signaling socket), so the pages' own behaviour is checked without the
// SFU. The real end-to-end call is cmd/sanji's TestE2EThreeBrowsers.

// One Chromium serves every test of the package (it takes seconds to start); each test gets its
// own browser context, so storage and permissions do not carry from one test to the next.
var browser struct {
	once    sync.Once
	ctx     context.Context
	err     error
	dataDir string
	stop    func()
}

func startBrowser(execPath string) {
	dir, err := os.MkdirTemp("", "sanji-web-chromium-")
	if err != nil {
		browser.err = fmt.Errorf("user data dir: %w", err)
		return
	}
	browser.dataDir = dir
	ctx, stop := browsertest.Start(execPath, dir)
	browser.ctx = ctx
	browser.stop = func() {
		stop()
		os.RemoveAll(dir)
	}
	if err := chromedp.Do(ctx); err != nil {
		browser.err = fmt.Errorf("start Chromium: %w", err)
	}
}

// stopBrowser ends the shared Chromium; TestMain calls it after the tests.
func stopBrowser() {
	if browser.stop != nil {
		browser.stop()
	}
}

// newBrowser returns a tab in a fresh browser context of the shared Chromium.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := browsertest.Path(t)
	browser.once.Do(func() { startBrowser(path) })
	if browser.err != nil {
		t.Fatal(browser.err)
	}
	ctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return ctx
}

// consoleLog collects a tab's console errors and uncaught exceptions until the tab ends.
type consoleLog struct {
	mu   sync.Mutex
	msgs []string
	done chan struct{}
}

func collectConsole(ctx context.Context) *consoleLog {
	c := &consoleLog{done: make(chan struct{})}
	msgs := chromedp.Console(ctx)
	go func() {
		defer close(c.done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				c.mu.Lock()
				c.msgs = append(c.msgs, fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m.Text))
				c.mu.Unlock()
			}
		}
	}()
	return c
}

func (c *consoleLog) errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// replyJSON answers a scripted API request with v as JSON.
func replyJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// waitFor polls expr in the page until it is true or the deadline passes.
func waitFor(t *testing.T, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")", chromedp.EvalAwaitPromise))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s (%s): still false after %v (last error: %v)", what, expr, timeout, err)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}

// fakeServer serves the pages, a token endpoint the test switches on and off, and hands each
// signaling socket to the test.
type fakeServer struct {
	*httptest.Server
	devToken atomic.Bool
	conns    chan *websocket.Conn
	release  chan struct{}
	mu       sync.Mutex
	paths    []string
	tokenReq []map[string]string
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{conns: make(chan *websocket.Conn, 4), release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	mux.HandleFunc("POST /dev/token", func(w http.ResponseWriter, r *http.Request) {
		if !f.devToken.Load() {
			http.NotFound(w, r)
			return
		}
		var req map[string]string
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.tokenReq = append(f.tokenReq, req)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"token": fakeToken, "participant_id": "me"})
	})
	up := websocket.Upgrader{}
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		f.conns <- c
		<-f.release // the test owns the socket until the server closes
		c.Close()
	})
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.paths = append(f.paths, r.URL.RequestURI())
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		close(f.release)
		f.Server.Close()
	})
	return f
}

// fakeToken has the shape of a join token; its payload names "Me", an observer.
var fakeToken = func() string {
	payload := `{"room":"r1","sub":"me","name":"Me","role":"observer","exp":4102444800,"iat":1700000000}`
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2lnbmF0dXJl"
}()

type envelope struct {
	V    int             `json:"v"`
	Type string          `json:"type"`
	ID   string          `json:"id,omitempty"`
	Re   string          `json:"re,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// expect reads client messages until one of type typ, skipping the ones the client sends on its
// own schedule (trickle, ping).
func expect(t *testing.T, c *websocket.Conn, typ string) envelope {
	t.Helper()
	return expectPast(t, c, typ)
}

// expectPast is expect that also lets pass the other types named (a page's media offer arrives
// whenever its camera opens, which a test of its controls does not wait for).
func expectPast(t *testing.T, c *websocket.Conn, typ string, past ...string) envelope {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		var m envelope
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("waiting for %q from the page: %v", typ, err)
		}
		if m.V != 1 {
			t.Fatalf("page sent v=%d in %+v, want 1", m.V, m)
		}
		if m.Type == typ {
			return m
		}
		if m.Type != "trickle" && m.Type != "ping" && !slices.Contains(past, m.Type) {
			t.Fatalf("page sent %q while %q was expected: %s", m.Type, typ, m.Data)
		}
	}
}

func send(t *testing.T, c *websocket.Conn, typ, re string, data any) {
	t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteJSON(envelope{V: 1, Type: typ, Re: re, Data: raw}); err != nil {
		t.Fatalf("send %s: %v", typ, err)
	}
}

func TestJoinPage(t *testing.T) {
	srv := newFakeServer(t)
	ctx := newBrowser(t)
	console := collectConsole(ctx)

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/dev.html?room=r1")); err != nil {
		t.Fatalf("open join page: %v", err)
	}
	waitFor(t, ctx, "join page ready", `document.body.dataset.ready === "true"`, 10*time.Second)

	if got := eval[string](t, ctx, `document.querySelector("h1").textContent`); got != "加入视频接访" {
		t.Errorf("default heading %q, want Chinese", got)
	}
	roles := eval[[]string](t, ctx, `[...document.querySelectorAll("#role option")].map(o => o.value + "=" + o.textContent)`)
	wantRoles := []string{"leader=领导", "hall_operator=接访员", "intake_officer=登记员", "case_handler=承办人", "unit_head=单位负责人",
		"supervisor=督办员", "scheduler_staff=排班员", "petitioner=信访人", "observer=观察员", "admin=管理员"}
	if strings.Join(roles, ",") != strings.Join(wantRoles, ",") {
		t.Errorf("roles %v, want %v", roles, wantRoles)
	}
	if got := eval[string](t, ctx, `document.getElementById("room").value`); got != "r1" {
		t.Errorf("room from ?room= is %q, want r1", got)
	}

	// Without --dev the token endpoint is a 404: the page says so and offers the token field.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("name"), "Me"),
		chromedp.Click(chromedp.ID("join-submit")),
	); err != nil {
		t.Fatalf("submit: %v", err)
	}
	waitFor(t, ctx, "404 message", `!document.getElementById("join-error").hidden`, 10*time.Second)
	if got := eval[string](t, ctx, `document.getElementById("join-error").textContent`); !strings.Contains(got, "--dev") || !strings.Contains(got, "令牌") {
		t.Errorf("404 message %q, want the Chinese explanation", got)
	}
	if !eval[bool](t, ctx, `document.getElementById("token-box").open`) {
		t.Error("token field not opened after 404")
	}

	// Switching to English translates the page and the message shown, and is remembered.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#lang button[data-lang="en"]`))); err != nil {
		t.Fatalf("switch language: %v", err)
	}
	if got := eval[string](t, ctx, `document.getElementById("join-error").textContent`); !strings.Contains(got, "development token endpoint") {
		t.Errorf("404 message after switch %q, want English", got)
	}
	if got := eval[string](t, ctx, `document.querySelector("h1").textContent + "|" + document.documentElement.lang + "|" + document.getElementById("room").placeholder`); got != "Join a video reception|en|e.g. demo" {
		t.Errorf("after switch: %q", got)
	}
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	waitFor(t, ctx, "join page ready after reload", `document.body.dataset.ready === "true"`, 10*time.Second)
	if got := eval[string](t, ctx, `document.querySelector("h1").textContent`); got != "Join a video reception" {
		t.Errorf("heading after reload %q, want the remembered English", got)
	}

	// A malformed pasted token is refused; a call link with a token is accepted.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#token-box summary")),
		chromedp.SendKeys(chromedp.ID("token"), "not a token"),
		chromedp.Click(chromedp.ID("join-submit")),
	); err != nil {
		t.Fatalf("paste bad token: %v", err)
	}
	waitFor(t, ctx, "bad token message", `document.getElementById("join-error").textContent.includes("malformed")`, 10*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("token"), srv.URL+"/call.html#token="+fakeToken),
		chromedp.Click(chromedp.ID("join-submit")),
	); err != nil {
		t.Fatalf("paste token: %v", err)
	}
	waitFor(t, ctx, "call page", `location.pathname === "/call.html" && location.hash === "#token=`+fakeToken+`"`, 10*time.Second)

	var unexpected []string
	for _, e := range console.errors() {
		// The browser itself logs the 404 of the token endpoint, which this test asked for.
		if !strings.Contains(e, "/dev/token") || !strings.Contains(e, "404") {
			unexpected = append(unexpected, e)
		}
	}
	if len(unexpected) > 0 {
		t.Errorf("console errors on the join page:\n%s", strings.Join(unexpected, "\n"))
	}
}

func TestCallPageAgainstFakeServer(t *testing.T) {
	srv := newFakeServer(t)
	srv.devToken.Store(true)
	ctx := newBrowser(t)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/dev.html"),
		chromedp.SendKeys(chromedp.ID("room"), "r1"),
		chromedp.SendKeys(chromedp.ID("name"), "Me"),
		chromedp.SetValue(chromedp.ID("role"), "petitioner"),
		chromedp.Click(chromedp.ID("join-submit")),
	); err != nil {
		t.Fatalf("join: %v", err)
	}

	var c *websocket.Conn
	select {
	case c = <-srv.conns:
	case <-time.After(15 * time.Second):
		t.Fatal("the call page did not open the signaling socket")
	}
	srv.mu.Lock()
	if len(srv.tokenReq) != 1 || srv.tokenReq[0]["room"] != "r1" || srv.tokenReq[0]["name"] != "Me" || srv.tokenReq[0]["role"] != "petitioner" {
		t.Errorf("token requests %v, want one for r1/Me/petitioner", srv.tokenReq)
	}
	for _, p := range srv.paths {
		if strings.Contains(p, "token=") {
			t.Errorf("the token reached the server in a URL: %s", p)
		}
	}
	srv.mu.Unlock()

	join := expect(t, c, "join")
	var jd struct {
		Token         string `json:"token"`
		AutoSubscribe bool   `json:"auto_subscribe"`
	}
	if err := json.Unmarshal(join.Data, &jd); err != nil || jd.Token != fakeToken || !jd.AutoSubscribe || join.ID == "" {
		t.Fatalf("join %+v (%v), want the token, auto_subscribe and an id", join, err)
	}
	send(t, c, "joined", join.ID, map[string]any{
		"room":        "r1",
		"participant": map[string]any{"id": "me", "name": "Me", "role": "petitioner", "tracks": []any{}},
		"participants": []any{map[string]any{"id": "p2", "name": "Ann", "role": "leader", "tracks": []any{
			map[string]any{"id": "t-a", "participant_id": "p2", "kind": "audio", "codec": "audio/opus", "muted": true},
		}}},
		"ice_servers": []any{},
	})
	send(t, c, "participant_joined", "", map[string]any{"participant": map[string]any{"id": "p3", "name": "Bob", "role": "case_handler", "tracks": []any{}}})

	offer := expect(t, c, "publish_offer")
	var od struct {
		SDP string `json:"sdp"`
	}
	if err := json.Unmarshal(offer.Data, &od); err != nil || !strings.Contains(od.SDP, "m=audio") || !strings.Contains(od.SDP, "m=video") || offer.ID == "" {
		t.Fatalf("publish_offer without audio+video or id: %v\n%s", err, od.SDP)
	}
	send(t, c, "error", offer.ID, map[string]string{
		"code": "unsupported_codec", "message": "不支持的编码 / unsupported codec",
		"message_zh": "不支持的编码，请更换浏览器。", "message_en": "Unsupported codec; use another browser.",
	})

	waitFor(t, ctx, "two remote tiles", `window.sanjiCall && document.querySelectorAll("#grid .tile.remote").length === 2`, 10*time.Second)
	waitFor(t, ctx, "server error in the banner", `document.getElementById("banner-text").textContent === "不支持的编码，请更换浏览器。"`, 10*time.Second)
	tiles := eval[[]string](t, ctx, `[...document.querySelectorAll("#grid .tile.remote")].map(e =>
		e.querySelector(".name").textContent + "/" + e.querySelector(".role").textContent + "/" + !e.querySelector(".badge-mic").hidden)`)
	if strings.Join(tiles, ",") != "Ann/领导/true,Bob/承办人/false" {
		t.Errorf("remote tiles %v", tiles)
	}
	if got := eval[string](t, ctx, `document.querySelector("#grid .tile.local .name").textContent`); got != "Me（我）" {
		t.Errorf("local tile name %q", got)
	}
	stats := eval[struct {
		RemoteParticipants int `json:"remoteParticipants"`
	}](t, ctx, `window.sanjiCall.remoteStats()`)
	if stats.RemoteParticipants != 2 {
		t.Errorf("remoteStats().remoteParticipants = %d, want 2", stats.RemoteParticipants)
	}
	if eval[bool](t, ctx, `window.sanjiCall.publisher instanceof RTCPeerConnection && window.sanjiCall.subscriber instanceof RTCPeerConnection`) != true {
		t.Error("window.sanjiCall does not expose both PeerConnections")
	}

	// Muting the microphone disables the local track at once, and tells the server as soon as
	// the server has named the track.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("btn-mic"))); err != nil {
		t.Fatalf("click mute: %v", err)
	}
	waitFor(t, ctx, "local audio disabled", `window.sanjiCall.session.localTracks.audio.enabled === false`, 10*time.Second)
	send(t, c, "track_published", "", map[string]any{"track": map[string]any{
		"id": "srv-audio", "participant_id": "me", "kind": "audio", "codec": "audio/opus", "muted": false}})
	mute := expect(t, c, "mute")
	var md struct {
		TrackID string `json:"track_id"`
		Muted   bool   `json:"muted"`
	}
	if err := json.Unmarshal(mute.Data, &md); err != nil || md.TrackID != "srv-audio" || !md.Muted || mute.ID == "" {
		t.Fatalf("mute %s (%v), want srv-audio muted with an id", mute.Data, err)
	}
	send(t, c, "muted", mute.ID, md)
	if got := eval[string](t, ctx, `document.getElementById("btn-mic").getAttribute("aria-pressed") + "/" +
		!document.querySelector("#grid .tile.local .badge-mic").hidden`); got != "true/true" {
		t.Errorf("mic button pressed / local muted badge: %s", got)
	}

	// Remote mute, a participant leaving and the server's goodbye reach the page.
	send(t, c, "track_muted", "", map[string]any{"track_id": "t-a", "participant_id": "p2", "muted": false})
	waitFor(t, ctx, "remote unmute", `document.querySelector('[data-participant="p2"] .badge-mic').hidden`, 10*time.Second)
	send(t, c, "participant_left", "", map[string]string{"participant_id": "p2"})
	waitFor(t, ctx, "one remote tile", `document.querySelectorAll("#grid .tile.remote").length === 1`, 10*time.Second)
	send(t, c, "bye", "", map[string]string{"reason": "shutdown"})
	c.Close()
	waitFor(t, ctx, "ended overlay", `!document.getElementById("ended").hidden`, 10*time.Second)
	if got := eval[string](t, ctx, `document.getElementById("ended-text").textContent`); !strings.Contains(got, "服务器正在关闭") {
		t.Errorf("ended text %q, want the Chinese shutdown message", got)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#lang button[data-lang="en"]`))); err != nil {
		t.Fatalf("switch language: %v", err)
	}
	if got := eval[string](t, ctx, `document.getElementById("ended-text").textContent`); !strings.Contains(got, "shutting down") {
		t.Errorf("ended text after switch %q, want English", got)
	}
}

func TestCallPageShowsJoinError(t *testing.T) {
	srv := newFakeServer(t)
	ctx := newBrowser(t)

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/call.html#token="+fakeToken)); err != nil {
		t.Fatalf("open call page: %v", err)
	}
	var c *websocket.Conn
	select {
	case c = <-srv.conns:
	case <-time.After(15 * time.Second):
		t.Fatal("the call page did not open the signaling socket")
	}
	join := expect(t, c, "join")
	send(t, c, "error", join.ID, map[string]string{
		"code": "token_expired", "message": "令牌已过期 / token expired",
		"message_zh": "加入令牌已过期，请重新获取。", "message_en": "The join token has expired; get a new one.",
	})
	waitFor(t, ctx, "ended overlay", `!document.getElementById("ended").hidden`, 10*time.Second)
	if got := eval[string](t, ctx, `document.getElementById("ended-text").textContent`); got != "加入令牌已过期，请重新获取。" {
		t.Errorf("ended text %q", got)
	}

	// Without a token the page says so and never opens a socket.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/call.html")); err != nil {
		t.Fatalf("open call page without token: %v", err)
	}
	waitFor(t, ctx, "no-token message", `document.getElementById("ended-text").textContent.includes("没有加入令牌")`, 10*time.Second)
}
