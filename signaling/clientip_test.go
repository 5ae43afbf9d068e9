package signaling_test

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"sanji/signaling"
)

// TestLogClientIP: a session's log lines carry the client's address only when LogClientIP is set.
func TestLogClientIP(t *testing.T) {
	for _, on := range []bool{false, true} {
		core, logs := observer.New(zapcore.DebugLevel)
		e := newEnv(t, func(c *signaling.Config) {
			c.Logger, c.LogClientIP = zap.New(core), on
		})
		r := e.dialRaw()
		r.join(e.token("room-ip", "hall-1", "leader", time.Minute), false)
		r.sendText(`{"type":"nonsense","id":"x"}`) // an error, logged with the session's fields
		r.next()
		local := r.c.LocalAddr().String()
		e.close()
		withAddr := 0
		for _, entry := range logs.All() {
			for _, f := range entry.Context {
				if f.Key == "remote" || strings.Contains(f.String, local) {
					withAddr++
				}
			}
		}
		if on && withAddr == 0 {
			t.Errorf("LogClientIP on: no log line names the client's address %s (%d lines)", local, logs.Len())
		}
		if !on && withAddr != 0 {
			t.Errorf("LogClientIP off: %d log fields name the client's address %s", withAddr, local)
		}
	}
}
