package api

import (
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"sanji/scheduler/org"
)

// TestLoginAlertClientIP: the alert of many failed logins for one name carries the last
// address only with LogClientIP (log.client_ip); off, no log line of the API names it.
func TestLoginAlertClientIP(t *testing.T) {
	const attacker = "203.0.113.77"
	for _, on := range []bool{false, true} {
		core, logs := observer.New(zapcore.DebugLevel)
		f := newFixture(t, Config{LoginPerMinute: 100000, LoginBurst: 100000, Logger: zap.New(core), LogClientIP: on,
			Login: LoginLimits{NameDelayAfter: 100000, NameAlertAfter: 3}})
		post := peerServer(t, f)
		u := f.user(org.RoleObserver, f.d1)
		for range 3 {
			if st, _, _, _ := post(attacker, u.Username, "guess"); st != 401 {
				t.Fatalf("wrong password: %d", st)
			}
		}
		alerts := logs.FilterMessageSnippet("many failed logins").All()
		if len(alerts) != 1 {
			t.Fatalf("LogClientIP %v: %d alerts, want 1", on, len(alerts))
		}
		if got := alerts[0].ContextMap()["last_ip"]; on && got != attacker {
			t.Errorf("LogClientIP on: the alert's last_ip is %v, want %s", got, attacker)
		}
		if on {
			continue
		}
		for _, e := range logs.All() {
			for k, v := range e.ContextMap() {
				if s, ok := v.(string); ok && strings.Contains(s, attacker) {
					t.Errorf("LogClientIP off: %q logs %s = %q", e.Message, k, s)
				}
			}
		}
	}
}
