package signaling_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"sanji/auth"
	"sanji/sfu"
	"sanji/signaling"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testSecret = []byte("test secret of at least 32 bytes, for signing")

// env is a signaling server on a real SFU behind an httptest server, all on 127.0.0.1.
type env struct {
	t      *testing.T
	sfu    *sfu.SFU
	srv    *signaling.Server
	http   *httptest.Server
	signer *auth.Signer
	reg    *prometheus.Registry
	wsURL  string

	closeOnce sync.Once
}

func newEnv(t *testing.T, tweak func(*signaling.Config)) *env {
	t.Helper()
	log := zaptest.NewLogger(t)
	media, err := sfu.New(sfu.Config{ListenIP: "127.0.0.1", LoopbackOnly: true, UDPPort: 0, TCPPort: 0, Logger: log})
	if err != nil {
		t.Fatalf("sfu.New: %v", err)
	}
	e := &env{t: t, sfu: media, signer: auth.NewSigner(testSecret), reg: prometheus.NewRegistry()}
	cfg := signaling.Config{SFU: media, Tokens: e.signer, Logger: log, Registerer: e.reg}
	if tweak != nil {
		tweak(&cfg)
	}
	e.srv = signaling.New(cfg)
	e.http = httptest.NewServer(e.srv)
	e.wsURL = "ws" + strings.TrimPrefix(e.http.URL, "http")
	t.Cleanup(e.close)
	return e
}

// close is idempotent: tests that shut down themselves call it early.
func (e *env) close() { e.closeOnce.Do(e.doClose) }

func (e *env) doClose() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		e.t.Errorf("shutdown: %v", err)
	}
	e.http.Close()
	if err := e.sfu.Close(); err != nil {
		e.t.Errorf("sfu close: %v", err)
	}
}

func (e *env) token(room, sub, role string, ttl time.Duration) string {
	e.t.Helper()
	now := time.Now()
	tok, err := e.signer.Sign(auth.Claims{Room: room, Subject: sub, Name: "名字 " + sub, Role: role,
		IssuedAt: now, ExpiresAt: now.Add(ttl)})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// raw is a bare WebSocket to the server, for tests of the wire format.
type raw struct {
	t *testing.T
	c *websocket.Conn
}

func (e *env) dialRaw() *raw {
	e.t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(e.wsURL, nil)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	return &raw{t: e.t, c: c}
}

func (r *raw) sendText(s string) {
	r.t.Helper()
	if err := r.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *raw) send(typ, id string, data any) {
	r.t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		r.t.Fatal(err)
	}
	m, _ := json.Marshal(signaling.Message{V: 1, Type: typ, ID: id, Data: b})
	r.sendText(string(m))
}

// next reads the next message, failing the test after 5 s.
func (r *raw) next() signaling.Message {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := r.c.ReadMessage()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	var m signaling.Message
	if err := json.Unmarshal(b, &m); err != nil {
		r.t.Fatalf("server sent %q: %v", b, err)
	}
	return m
}

// nextOf reads until a message of type typ, skipping others (candidates, connection states).
func (r *raw) nextOf(typ string) signaling.Message {
	r.t.Helper()
	for {
		if m := r.next(); m.Type == typ {
			return m
		}
	}
}

// expectError reads the next error and checks its code, its re and its bilingual message.
func (r *raw) expectError(code, re string) {
	r.t.Helper()
	m := r.nextOf(signaling.TypeError)
	var e signaling.Error
	if err := json.Unmarshal(m.Data, &e); err != nil {
		r.t.Fatal(err)
	}
	if e.Code != code || m.Re != re {
		r.t.Fatalf("got error %q re %q (%s), want %q re %q", e.Code, m.Re, e.Message, code, re)
	}
	checkBilingual(r.t, &e)
}

func checkBilingual(t *testing.T, e *signaling.Error) {
	t.Helper()
	if e.MessageZH == "" || e.MessageEN == "" || e.Message != e.MessageZH+" / "+e.MessageEN {
		t.Fatalf("error %q is not bilingual: %+v", e.Code, e)
	}
	if !strings.ContainsFunc(e.MessageZH, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
		t.Fatalf("error %q: Chinese message has no Chinese: %q", e.Code, e.MessageZH)
	}
}

// ping checks the connection still answers.
func (r *raw) ping(id string) {
	r.t.Helper()
	r.send(signaling.TypePing, id, struct{}{})
	m := r.nextOf(signaling.TypePong)
	if m.Re != id {
		r.t.Fatalf("pong re %q, want %q", m.Re, id)
	}
}

func (r *raw) join(token string, auto bool) signaling.JoinedData {
	r.t.Helper()
	r.send(signaling.TypeJoin, "j", signaling.JoinData{Token: token, AutoSubscribe: &auto})
	m := r.next()
	if m.Type != signaling.TypeJoined || m.Re != "j" {
		r.t.Fatalf("join answered %s %s", m.Type, m.Data)
	}
	var d signaling.JoinedData
	if err := json.Unmarshal(m.Data, &d); err != nil {
		r.t.Fatal(err)
	}
	return d
}

// waitClosed reads until the server closes the socket and returns the close code.
func (r *raw) waitClosed() (code int, seen []signaling.Message) {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := r.c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, seen
			}
			r.t.Fatalf("socket ended without a close frame: %v", err)
		}
		var m signaling.Message
		_ = json.Unmarshal(b, &m)
		seen = append(seen, m)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
