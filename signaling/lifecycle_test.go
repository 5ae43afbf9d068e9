package signaling_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"sanji/auth"
	"sanji/signaling"
)

func TestKeepaliveClosesSilentClient(t *testing.T) {
	e := newEnv(t, func(c *signaling.Config) {
		c.PingInterval = 20 * time.Millisecond
		c.PongTimeout = 150 * time.Millisecond
	})
	silent := e.dialRaw() // never reads, so never answers the server's pings
	live := e.dialRaw()
	// gorilla answers pings while reading; keep the live one reading.
	msgs := make(chan signaling.Message, 16)
	go func() {
		defer close(msgs)
		for {
			_, b, err := live.c.ReadMessage()
			if err != nil {
				return
			}
			var m signaling.Message
			_ = json.Unmarshal(b, &m)
			msgs <- m
		}
	}()
	eventually(t, "the silent client to be dropped", func() bool { return e.srv.Sessions() == 1 })

	// The live one has outlived the timeout and still answers.
	live.send(signaling.TypePing, "still", struct{}{})
	select {
	case m := <-msgs:
		if m.Type != signaling.TypePong || m.Re != "still" {
			t.Fatalf("live client got %s", m.Type)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("live client got no pong")
	}
	_ = silent.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := silent.c.ReadMessage(); err != nil {
			break // the server closed it
		}
	}
}

func TestShutdownSaysByeAndLeavesNoGoroutine(t *testing.T) {
	before := goleak.IgnoreCurrent()
	e := newEnv(t, nil)
	a, b := e.dialRaw(), e.dialRaw()
	a.join(e.token("r", "a", "leader", time.Hour), true)
	b.ping("not joined yet")
	eventually(t, "two sessions", func() bool { return e.srv.Sessions() == 2 })

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	for _, r := range []*raw{a, b} {
		code, seen := r.waitClosed()
		if code != websocket.CloseGoingAway {
			t.Errorf("close code %d, want 1001", code)
		}
		last := seen[len(seen)-1]
		if last.Type != signaling.TypeBye || !strings.Contains(string(last.Data), `"shutdown"`) {
			t.Errorf("last message %s %s, want bye shutdown", last.Type, last.Data)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if n := e.srv.Sessions(); n != 0 {
		t.Fatalf("%d sessions after shutdown", n)
	}
	if _, resp, err := websocket.DefaultDialer.Dial(e.wsURL, nil); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after shutdown: %v", err)
	}
	e.close()
	_ = a.c.Close()
	_ = b.c.Close()
	goleak.VerifyNone(t, before)
}

func TestRosterAndReplace(t *testing.T) {
	e := newEnv(t, nil)
	a := e.dialRaw()
	a.join(e.token("r", "a", "leader", time.Hour), true)
	b := e.dialRaw()
	jb := b.join(e.token("r", "b", "petitioner", time.Hour), true)
	if len(jb.Participants) != 1 || jb.Participants[0].ID != "a" || jb.Participants[0].Name != "名字 a" {
		t.Fatalf("b sees %+v", jb.Participants)
	}
	m := a.nextOf(signaling.TypeParticipantJoined)
	var pj signaling.ParticipantJoinedData
	_ = json.Unmarshal(m.Data, &pj)
	if pj.Participant.ID != "b" || pj.Participant.Role != "petitioner" {
		t.Fatalf("a was told %+v", pj)
	}

	// b connects again: the older connection is replaced.
	b2 := e.dialRaw()
	b2.join(e.token("r", "b", "petitioner", time.Hour), true)
	code, seen := b.waitClosed()
	if code != websocket.CloseNormalClosure || len(seen) == 0 || seen[len(seen)-1].Type != signaling.TypeBye ||
		!strings.Contains(string(seen[len(seen)-1].Data), `"replaced"`) {
		t.Fatalf("old connection: code %d, messages %+v", code, seen)
	}
	a.nextOf(signaling.TypeParticipantLeft)
	a.nextOf(signaling.TypeParticipantJoined)

	// leave: bye to the leaver, participant_left to the others.
	b2.send(signaling.TypeLeave, "", struct{}{})
	code, seen = b2.waitClosed()
	if code != websocket.CloseNormalClosure || seen[len(seen)-1].Type != signaling.TypeBye {
		t.Fatalf("leave: code %d, messages %+v", code, seen)
	}
	m = a.nextOf(signaling.TypeParticipantLeft)
	if !strings.Contains(string(m.Data), `"b"`) {
		t.Fatalf("participant_left %s", m.Data)
	}
	eventually(t, "one session", func() bool { return e.srv.Sessions() == 1 })
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, nil)
	r := e.dialRaw()
	r.ping("1")
	r.sendText("nonsense")
	r.expectError(signaling.CodeBadJSON, "")
	families, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.GetGauge() != nil:
				got[key] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			}
		}
	}
	for key, want := range map[string]float64{
		"sanji_signaling_sessions":                                1,
		"sanji_signaling_messages_total,direction=in,type=ping":   1,
		"sanji_signaling_messages_total,direction=out,type=pong":  1,
		"sanji_signaling_messages_total,direction=out,type=error": 1,
		"sanji_signaling_errors_total,code=bad_json":              1,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v (all: %v)", key, got[key], want, got)
		}
	}
}

func TestDevTokenHandler(t *testing.T) {
	signer := auth.NewSigner(testSecret)
	h := httptest.NewServer(signaling.DevTokenHandler(signer, time.Hour))
	defer h.Close()
	post := func(body string) (*http.Response, map[string]string) {
		t.Helper()
		resp, err := http.Post(h.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("status %d, body not JSON: %v", resp.StatusCode, err)
		}
		return resp, out
	}

	resp, out := post(`{"room":"hall-1","name":"张三","role":"petitioner"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %v", resp.StatusCode, out)
	}
	c, err := signer.Verify(out["token"], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Room != "hall-1" || c.Name != "张三" || c.Role != "petitioner" || c.Subject != out["participant_id"] || c.Subject == "" {
		t.Fatalf("claims %+v, response %v", c, out)
	}
	_, again := post(`{"room":"hall-1","name":"张三","role":"petitioner"}`)
	if again["participant_id"] == out["participant_id"] {
		t.Fatal("two requests got the same participant id")
	}

	for body, code := range map[string]int{
		`{"room":"bad room!","name":"x","role":"leader"}`:                       http.StatusBadRequest,
		`{"room":"r","name":"","role":"leader"}`:                                http.StatusBadRequest,
		`{"room":"r","name":"` + strings.Repeat("名", 65) + `","role":"leader"}`: http.StatusBadRequest,
		`{"room":"r","name":"x","role":"emperor"}`:                              http.StatusBadRequest,
		`{"room":"` + strings.Repeat("r", 65) + `","name":"x","role":"leader"}`: http.StatusBadRequest,
		`not json`: http.StatusBadRequest,
		`{"room":"r","name":"` + strings.Repeat("x", 8<<10) + `","role":"leader"}`: http.StatusRequestEntityTooLarge,
	} {
		resp, out := post(body)
		if resp.StatusCode != code || out["code"] == "" || out["message"] != out["message_zh"]+" / "+out["message_en"] {
			t.Errorf("%.40s: status %d %v, want %d with a bilingual error", body, resp.StatusCode, out, code)
		}
	}

	resp, err = http.Get(h.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Fatalf("GET: status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
