package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"sanji/web/browsertest"
)

// e2eDeadline bounds the wait for media to flow between all three pages.
const e2eDeadline = 60 * time.Second

// TestE2EThreeBrowsers is the whole product in one test: the real app in-process, and three tabs
// (three browser contexts) of one headless Chromium with fake camera and microphone, each going
// through the join page into the call page. It passes when every page decodes video and receives
// audio from both others.
func TestE2EThreeBrowsers(t *testing.T) {
	chromium := browsertest.Path(t)

	a := startE2EApp(t)

	browserCtx := e2eBrowser(t, chromium)
	room := "e2e-" + e2eRandom(t)
	pages := make([]*e2ePage, 3)
	for i := range pages {
		pages[i] = e2eJoin(t, browserCtx, a.URL(), room, fmt.Sprintf("E2E %d", i+1))
	}

	ids := make([]string, len(pages))
	deadline := time.Now().Add(e2eDeadline)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		done := true
		for i, p := range pages {
			p.last, p.lastErr = p.stats()
			if p.lastErr != nil {
				done = false
				continue
			}
			ids[i] = p.last.Self
		}
		for i, p := range pages {
			if p.lastErr != nil || !p.last.complete(others(ids, i)) {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			for i, p := range pages {
				t.Logf("page %d (%s): stats %s, error %v", i+1, ids[i], p.last, p.lastErr)
				t.Logf("page %d console:\n%s", i+1, strings.Join(p.console.all(), "\n"))
			}
			t.Fatalf("after %v not every page decodes video and receives audio from both others (see the stats above)", e2eDeadline)
		}
		<-tick.C
	}
	// Chromium offers RED for Opus; the server asks for it, so every microphone arrives as RED
	// (and is forwarded as it is to these receivers, which take RED too).
	for _, tr := range a.sfu.Room(room).Tracks() {
		if tr.Kind == "audio" && tr.Codec != "audio/red" {
			t.Errorf("audio track of %s published as %q, want audio/red", tr.ParticipantID, tr.Codec)
		}
	}
	for i, p := range pages {
		t.Logf("page %d: %s", i+1, p.last)
		for _, e := range p.console.exceptions() {
			t.Errorf("page %d: uncaught exception: %s", i+1, e)
		}
		// A healthy call shows no error to the person.
		banner, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](
			`document.getElementById("banner").hidden ? "" : document.getElementById("banner-text").textContent`))
		if err != nil || banner != "" {
			t.Errorf("page %d shows an error banner %q (%v)", i+1, banner, err)
		}
	}

	// Page 1 mutes its microphone: the server confirms (no error shows) and tells the others.
	if err := chromedp.Do(pages[0].ctx, chromedp.Click(chromedp.ID("btn-mic"))); err != nil {
		t.Fatalf("page 1: click mute: %v", err)
	}
	for i := 1; i < len(pages); i++ {
		e2eWait(t, pages[i].ctx, fmt.Sprintf("page %d sees page 1 muted", i+1),
			`!document.querySelector('[data-participant="`+ids[0]+`"] .badge-mic').hidden`)
	}
	e2eWait(t, pages[0].ctx, "page 1 mute confirmed without error",
		`window.sanjiCall.session.self.tracks.size > 0 && [...window.sanjiCall.session.self.tracks.values()].some(t => t.kind === "audio" && t.muted) && document.getElementById("banner").hidden`)

	// A picture of the call for people; the test does not look at it.
	shot, err := chromedp.Run(pages[0].ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot: %v", err)
	} else if f, err := os.CreateTemp(screenshotDir(t), "sanji-e2e-*.png"); err != nil {
		t.Errorf("screenshot file: %v", err)
	} else {
		_, werr := f.Write(shot)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			t.Errorf("write screenshot: %v", werr)
		} else {
			t.Logf("screenshot of page 1: %s", f.Name())
		}
	}
}

// e2eBrowser starts one headless Chromium with fake media devices; it ends with the test.
func e2eBrowser(t *testing.T, execPath string) context.Context {
	t.Helper()
	ctx, stop := browsertest.Start(execPath, t.TempDir())
	t.Cleanup(stop)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// e2ePage is one tab in its own browser context.
type e2ePage struct {
	ctx     context.Context
	console *e2eConsole
	last    e2eStats
	lastErr error
}

// e2eJoin opens a tab, goes through the join page and waits until the call page runs.
func e2eJoin(t *testing.T, browserCtx context.Context, baseURL, room, name string) *e2ePage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	p := &e2ePage{ctx: ctx}
	p.console = e2eCollectConsole(ctx)
	t.Cleanup(func() {
		cancel()
		<-p.console.done
	})
	if err := chromedp.Do(ctx, chromedp.Navigate(baseURL+"/dev.html")); err != nil {
		t.Fatalf("%s: open join page: %v", name, err)
	}
	e2eWait(t, ctx, name+": join page ready", `document.body.dataset.ready === "true"`)
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("room"), room),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.Click(chromedp.ID("join-submit")),
	); err != nil {
		t.Fatalf("%s: fill and submit the join form: %v", name, err)
	}
	e2eWait(t, ctx, name+": call page",
		`location.pathname.endsWith("/call.html") && location.search === "" && location.hash.startsWith("#token=") && !!window.sanjiCall`)
	return p
}

func e2eWait(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s still false after 20s (last error: %v)", what, expr, err)
		}
		<-tick.C
	}
}

// e2eStats is what window.sanjiCall.remoteStats() reports.
type e2eStats struct {
	Self               string `json:"self"`
	RemoteParticipants int    `json:"remoteParticipants"`
	Inbound            []struct {
		Kind            string `json:"kind"`
		TrackIdentifier string `json:"trackIdentifier"`
		ParticipantID   string `json:"participantId"`
		FramesDecoded   int    `json:"framesDecoded"`
		PacketsReceived int    `json:"packetsReceived"`
		FrameWidth      int    `json:"frameWidth"`
	} `json:"inbound"`
	States json.RawMessage `json:"states"`
	// What the subscriber connection negotiated, to tell "never offered" from "offered, no media".
	Receivers json.RawMessage `json:"receivers"`
	Signaling string          `json:"signaling"`
}

func (s e2eStats) String() string {
	b, err := json.Marshal(s)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// complete reports whether the page shows exactly the other participants, decodes video from
// each of them and receives audio from each of them.
func (s e2eStats) complete(others []string) bool {
	if s.RemoteParticipants != len(others) || slices.Contains(others, "") {
		return false
	}
	video, audio := map[string]bool{}, map[string]bool{}
	for _, in := range s.Inbound {
		switch {
		case in.Kind == "video" && in.FramesDecoded > 0:
			video[in.ParticipantID] = true
		case in.Kind == "audio" && in.PacketsReceived > 0:
			audio[in.ParticipantID] = true
		}
	}
	for _, id := range others {
		if !video[id] || !audio[id] {
			return false
		}
	}
	return true
}

func (p *e2ePage) stats() (e2eStats, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[e2eStats](`window.sanjiCall.remoteStats()`, chromedp.EvalAwaitPromise))
}

func others(ids []string, i int) []string {
	var out []string
	for j, id := range ids {
		if j != i {
			out = append(out, id)
		}
	}
	return out
}

// e2eConsole keeps a tab's console messages until the tab closes.
type e2eConsole struct {
	mu   sync.Mutex
	msgs []string
	exc  []string
	done chan struct{}
}

func e2eCollectConsole(ctx context.Context) *e2eConsole {
	c := &e2eConsole{done: make(chan struct{})}
	msgs := chromedp.Console(ctx)
	go func() {
		defer close(c.done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			line := fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m.Text)
			c.mu.Lock()
			c.msgs = append(c.msgs, line)
			if m.IsException() {
				c.exc = append(c.exc, line)
			}
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *e2eConsole) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs)
}

func (c *e2eConsole) exceptions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.exc)
}

func e2eRandom(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random room name: %v", err)
	}
	return hex.EncodeToString(b)
}

// screenshotDir is where the e2e test leaves its screenshot: SANJI_E2E_ARTIFACTS when a person
// wants to look at it, else the test's own temporary directory.
func screenshotDir(t *testing.T) string {
	if dir := os.Getenv("SANJI_E2E_ARTIFACTS"); dir != "" {
		return dir
	}
	return t.TempDir()
}

// startE2EApp runs the real app in-process on loopback, in development mode, until the test ends.
func startE2EApp(t *testing.T) *app {
	t.Helper()
	cfg := defaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Dev = true
	cfg.DataDir = t.TempDir()
	cfg.RTC.ListenIP = "127.0.0.1"
	cfg.RTC.UDPPort = 0
	cfg.RTC.TCPPort = 0
	cfg.RTC.LoopbackOnly = true
	cfg.Auth.TOTPRoles = []string{totpNone}
	a, err := newApp(cfg, zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)))
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	if err := a.Start(); err != nil {
		_ = a.Shutdown(context.Background())
		t.Fatalf("Start: %v", err)
	}
	// Cleanups run last-first: a browser started after this closes before the app shuts down.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		// A Shutdown that ignores its context would hang the test binary until -timeout; this
		// way the test fails with a message instead (and goleak then shows what is stuck).
		done := make(chan error, 1)
		go func() { done <- a.Shutdown(ctx) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("Shutdown did not return 5s after its 15s context ended")
		}
	})

	return a
}
