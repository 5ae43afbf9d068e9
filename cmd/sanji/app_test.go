package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func TestAppHealthReadyMetrics(t *testing.T) {
	a := startTestApp(t, testConfig(t))
	c := testHTTPClient(t)
	u := a.URL()
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(u) || strings.HasSuffix(u, ":0") {
		t.Fatalf("URL() = %q, want http://127.0.0.1:<picked port>", u)
	}

	if code, body := get(t, c, u+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, c, u+"/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}

	code, body := get(t, c, u+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, name := range []string{
		"go_goroutines",              // Go collector
		"process_start_time_seconds", // process collector
		"sanji_build_info{",          // ours
		"sanji_sfu_participants",     // the SFU registered on our registry
		"sanji_signaling_sessions",   // and so did signaling
	} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	// The web client is at "/" and the signaling endpoint at /ws (a plain GET is not an upgrade).
	if code, body := get(t, c, u+"/"); code != 200 || !strings.Contains(strings.ToLower(body), "<html") {
		t.Errorf("GET / = %d, want the web client's page", code)
	}
	if code, _ := get(t, c, u+"/ws"); code == 200 || code == 404 {
		t.Errorf("GET /ws without upgrade = %d, want the signaling handler's refusal", code)
	}
}

func TestDevTokenOnlyInDevMode(t *testing.T) {
	for _, dev := range []bool{true, false} {
		cfg := testConfig(t)
		cfg.Dev = dev
		a := startTestApp(t, cfg)
		resp, err := testHTTPClient(t).Post(a.URL()+"/dev/token", "application/json",
			strings.NewReader(`{"room":"r1","name":"A","role":"observer"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if dev && (resp.StatusCode != 200 || !strings.Contains(string(body), `"token"`)) {
			t.Errorf("dev: POST /dev/token = %d %q, want a token", resp.StatusCode, body)
		}
		// Without --dev the path falls through to the web handler, which refuses a POST.
		if !dev && resp.StatusCode == 200 {
			t.Errorf("without dev: POST /dev/token = %d %q, want a refusal", resp.StatusCode, body)
		}
	}
}

func TestAppShutdownLeavesNothing(t *testing.T) {
	cfg := testConfig(t)
	a, err := newApp(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	u := a.URL()
	tr := &http.Transport{}
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	if code, _ := get(t, c, u+"/readyz"); code != 200 {
		t.Fatalf("/readyz before shutdown = %d", code)
	}
	tr.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-a.Done():
	default:
		t.Error("Done() not closed after Shutdown")
	}
	if err := a.Err(); err != nil {
		t.Errorf("Err() after a clean shutdown = %v", err)
	}
	if err := a.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown = %v, want the first call's nil", err)
	}

	// A shut-down app is not ready, and its port no longer answers.
	rec := httptest.NewRecorder()
	a.readyz(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("readyz after shutdown = %d, want 503", rec.Code)
	}
	if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(u, "http://"), time.Second); err == nil {
		conn.Close()
		t.Error("HTTP port still accepts connections after Shutdown")
	}
	if err := a.Start(); err == nil {
		t.Error("Start after Shutdown succeeded")
	}

	// The SFU's ports are free again: a new app can take the same ones.
	cfg.Listen = strings.TrimPrefix(u, "http://")
	cfg.RTC.UDPPort = a.sfu.UDPAddr().Port
	if tcp := a.sfu.TCPAddr(); tcp != nil {
		cfg.RTC.TCPPort = tcp.Port
	}
	b, err := newApp(cfg, nil)
	if err != nil {
		t.Fatalf("reusing the ports of a shut-down app: %v", err)
	}
	if err := b.Start(); err != nil {
		_ = b.Shutdown(ctx)
		t.Fatalf("reusing the HTTP port of a shut-down app: %v", err)
	}
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	goleak.VerifyNone(t)
}

// TestShutdownSaysByeToClients joins a room over the real /ws and shuts the app down: the client
// hears `bye {"reason":"shutdown"}` and the socket closes, and nothing is left running.
func TestShutdownSaysByeToClients(t *testing.T) {
	a, err := newApp(testConfig(t), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	shutdownDone := make(chan error, 1)
	defer func() {
		select {
		case <-shutdownDone:
		default:
			_ = a.Shutdown(context.Background())
		}
	}()

	c := testHTTPClient(t)
	resp, err := c.Post(a.URL()+"/dev/token", "application/json",
		strings.NewReader(`{"room":"shutdown-test","name":"Tester","role":"observer"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.Token == "" {
		t.Fatalf("dev token: status %d, %v", resp.StatusCode, err)
	}
	c.Transport.(*http.Transport).CloseIdleConnections()

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.URL(), "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("dial /ws: %v", err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	join, _ := json.Marshal(map[string]any{"v": 1, "type": "join", "id": "1",
		"data": map[string]any{"token": tok.Token, "auto_subscribe": false}})
	if err := ws.WriteMessage(websocket.TextMessage, join); err != nil {
		t.Fatal(err)
	}
	type msg struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	readUntil := func(typ string) msg {
		t.Helper()
		for {
			var m msg
			if err := ws.ReadJSON(&m); err != nil {
				t.Fatalf("waiting for %q: %v", typ, err)
			}
			if m.Type == typ {
				return m
			}
			if m.Type == "error" {
				t.Fatalf("waiting for %q: error %s", typ, m.Data)
			}
		}
	}
	readUntil("joined")

	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		shutdownDone <- a.Shutdown(ctx)
	}()
	bye := readUntil("bye")
	var data struct {
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(bye.Data, &data); err != nil || data.Reason != "shutdown" {
		t.Errorf("bye data %s, want reason shutdown", bye.Data)
	}
	// After bye the server closes the socket.
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			break
		}
	}
	select {
	case err := <-shutdownDone:
		shutdownDone <- err // for the deferred check
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	ws.Close()
	goleak.VerifyNone(t)
}

func TestShutdownWithoutStart(t *testing.T) {
	a, err := newApp(testConfig(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown of an app never started: %v", err)
	}
	if a.URL() != "" {
		t.Errorf("URL() of an app never started = %q", a.URL())
	}
}

func TestStartFailsOnBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig(t)
	cfg.Listen = busy.Addr().String()
	a, err := newApp(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	err = a.Start()
	if err == nil || !strings.Contains(err.Error(), "无法监听") || !strings.Contains(err.Error(), "cannot listen") {
		t.Fatalf("Start on a busy port: %v, want a bilingual error", err)
	}
}

func TestNewAppFailsOnBusyMediaPort(t *testing.T) {
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig(t)
	cfg.RTC.UDPPort = busy.LocalAddr().(*net.UDPAddr).Port
	a, err := newApp(cfg, nil)
	if err == nil {
		_ = a.Shutdown(context.Background())
		t.Fatal("newApp succeeded on a busy UDP port")
	}
	if !strings.Contains(err.Error(), "无法打开媒体端口") || !strings.Contains(err.Error(), "cannot open the media ports") {
		t.Errorf("err = %v, want a bilingual error", err)
	}
}

// TestServeCommand runs `sanji serve` in-process: it prints the address, serves, and shuts down
// with exit code 0 when its context ends.
func TestServeCommand(t *testing.T) {
	dir := t.TempDir()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer pr.Close() // on an early failure, serve's writes fail instead of blocking
	code := make(chan int, 1)
	go func() {
		defer pw.Close()
		code <- serve(ctx, []string{"--listen", "127.0.0.1:0", "--dev", "--data-dir", dir,
			"--rtc-udp-port", "0", "--rtc-tcp-port", "-1"}, pw, &stderr, envMap(nil), nil)
	}()

	sc := bufio.NewScanner(pr)
	var lines []string
	url := ""
	for url == "" && sc.Scan() {
		lines = append(lines, sc.Text())
		url = regexp.MustCompile(`http://[0-9.:]+`).FindString(sc.Text())
	}
	if url == "" {
		t.Fatalf("serve printed no address; stdout %q", lines)
	}
	for sc.Scan() { // the rest, until serve returns and closes the pipe
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), "/dev/token") {
			c := testHTTPClient(t)
			if code, _ := get(t, c, url+"/readyz"); code != 200 {
				t.Errorf("/readyz = %d", code)
			}
			c.Transport.(*http.Transport).CloseIdleConnections()
			cancel()
		}
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("serve exit code %d, want 0; stderr:\n%s", c, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return after its context ended")
	}
	out := strings.Join(lines, "\n")
	for _, want := range []string{"Sanji is running", "dev mode: token endpoint is on", "已关闭 / stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	// JSON logs on stderr, never on stdout.
	if !strings.Contains(stderr.String(), `"msg":"listening"`) || strings.Contains(out, `"msg"`) {
		t.Errorf("logs should be JSON on stderr only; stderr:\n%s", stderr.String())
	}
}

func TestRunCommands(t *testing.T) {
	tests := []struct {
		args        []string
		code        int
		out, errOut string
	}{
		{[]string{"version"}, 0, "sanji dev go", ""},
		{[]string{"help"}, 0, "sanji serve", ""},
		{nil, 2, "", "sanji serve"},
		{[]string{"frobnicate"}, 2, "", "unknown command \"frobnicate\""},
		{[]string{"serve", "--rtc-udp-port", "99999"}, 2, "", "rtc.udp_port 99999 超出范围"},
		{[]string{"serve", "--help"}, 0, "", "SANJI_RTC_UDP_PORT"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errOut, envMap(nil))
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr %q", code, tt.code, errOut.String())
			}
			if !strings.Contains(out.String(), tt.out) {
				t.Errorf("stdout %q lacks %q", out.String(), tt.out)
			}
			if !strings.Contains(errOut.String(), tt.errOut) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tt.errOut)
			}
		})
	}
}
