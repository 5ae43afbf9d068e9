package signaling_test

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"sanji/signaling"
)

// TestJoinsLimitedPerAddress: join and resume attempts beyond the burst from one address are
// refused with rate_limited, saying the limit; another address is not held up.
func TestJoinsLimitedPerAddress(t *testing.T) {
	e := newEnv(t, func(c *signaling.Config) { c.JoinRate, c.JoinBurst = 2, 3 })
	e.srv.LimitLoopbackJoins()
	r := e.dialRaw()
	r.send(signaling.TypeJoin, "j1", signaling.JoinData{Token: "forged"})
	r.expectError(signaling.CodeBadToken, "j1")
	r.send(signaling.TypeResume, "r1", signaling.ResumeData{Token: "guess", ParticipantID: "a"})
	r.expectError(signaling.CodeResumeRefused, "r1")
	r2 := e.dialRaw() // another socket, the same address: the same bucket
	r2.send(signaling.TypeJoin, "j2", signaling.JoinData{Token: "forged"})
	r2.expectError(signaling.CodeBadToken, "j2")
	r2.send(signaling.TypeJoin, "j3", signaling.JoinData{Token: "forged"})
	m := r2.next()
	var er signaling.Error
	_ = json.Unmarshal(m.Data, &er)
	if m.Type != signaling.TypeError || m.Re != "j3" || er.Code != signaling.CodeRateLimited ||
		!strings.Contains(er.MessageEN, "at most 2 a second") || er.MessageZH == "" {
		t.Fatalf("fourth attempt: %s %s", m.Type, m.Data)
	}

	// Another address (127.0.0.2 is loopback too, but a host of its own) gets in.
	d := websocket.Dialer{NetDialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}
	c, _, err := d.Dial(e.wsURL, nil)
	if err != nil {
		t.Fatalf("dial from 127.0.0.2: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	other := &raw{t: t, c: c}
	other.join(e.token("r", "b", "petitioner", time.Hour), true)

}
