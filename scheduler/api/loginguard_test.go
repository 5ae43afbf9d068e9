package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"sanji/scheduler/org"
)

// peerServer serves f's API with the client address taken from X-Test-Peer, so one test can
// speak from several addresses.
func peerServer(t *testing.T, f *fixture) func(peer, username, password string) (status int, body []byte, retry string, took time.Duration) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = r.Header.Get("X-Test-Peer") + ":40000"
		f.api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return func(peer, username, password string) (int, []byte, string, time.Duration) {
		t.Helper()
		j, _ := json.Marshal(map[string]string{"username": username, "password": password})
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/session", bytes.NewReader(j))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Test-Peer", peer)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, withoutRequestID(t, body), resp.Header.Get("Retry-After"), time.Since(start)
	}
}

// withoutRequestID drops the per-request id from an error body, the one part that differs
// by design.
func withoutRequestID(t *testing.T, body []byte) []byte {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	if e, ok := m["error"].(map[string]any); ok {
		delete(e, "request_id")
	}
	delete(m, "request_id")
	out, _ := json.Marshal(m)
	return out
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestLoginNoUsernameOracle: a known name, an unknown one and a locked pair answer with the
// same status and body, in the same time: each costs one password check.
func TestLoginNoUsernameOracle(t *testing.T) {
	const checkCost = 25 * time.Millisecond // what a password check costs here (argon2id: ~150 ms)
	slowCheck := func(hash, pw string) error { time.Sleep(checkCost); return fakeCheck(hash, pw) }
	f := newFixture(t, Config{LoginPerMinute: 100000, LoginBurst: 100000,
		Login: LoginLimits{NameDelayAfter: 100000, NameAlertAfter: 100000}})
	f.api.check = slowCheck
	post := peerServer(t, f)
	u := f.user(org.RoleObserver, f.d1)
	const unknown = "nobody-here"

	// Lock both names from one address.
	for i := 0; i < 5; i++ {
		post("10.9.9.9", u.Username, "wrong")
		post("10.9.9.9", unknown, "wrong")
	}
	const tries = 30
	var tKnown, tUnknown, tLockedKnown, tLockedUnknown []time.Duration
	for i := 0; i < tries; i++ {
		// A new address each round for the unlocked names, so they stay below the lock.
		peer := "10.1.0." + string(rune('0'+i%10)) + string(rune('0'+i/10))
		sk, bk, _, dk := post(peer, u.Username, "wrong")
		su, bu, _, du := post(peer, unknown, "wrong")
		if sk != 401 || su != 401 || !bytes.Equal(bk, bu) {
			t.Fatalf("known %d %s, unknown %d %s", sk, bk, su, bu)
		}
		slk, blk, rlk, dlk := post("10.9.9.9", u.Username, "pw-"+u.Username)
		slu, blu, rlu, dlu := post("10.9.9.9", unknown, "pw-"+u.Username)
		if slk != 429 || slu != 429 || !bytes.Equal(blk, blu) || rlk != rlu {
			t.Fatalf("locked known %d %s (Retry-After %s), locked unknown %d %s (%s)", slk, blk, rlk, slu, blu, rlu)
		}
		tKnown, tUnknown = append(tKnown, dk), append(tUnknown, du)
		tLockedKnown, tLockedUnknown = append(tLockedKnown, dlk), append(tLockedUnknown, dlu)
	}
	ref := median(tKnown)
	for name, ds := range map[string][]time.Duration{"unknown": tUnknown, "locked known": tLockedKnown, "locked unknown": tLockedUnknown} {
		m := median(ds)
		if diff := (m - ref).Abs(); diff > checkCost/2 {
			t.Errorf("median of %s %v, of known %v: the difference tells names apart", name, m, ref)
		}
	}
	if ref < checkCost {
		t.Errorf("median of known %v: the password was not checked", ref)
	}
}

// TestLoginAttackerDoesNotLockOutOwner: failures from one address lock only that address for
// that name; the owner elsewhere logs in, after the per-name delay; the name raises an alert.
func TestLoginAttackerDoesNotLockOutOwner(t *testing.T) {
	reg := prometheus.NewRegistry()
	const step = 20 * time.Millisecond
	f := newFixture(t, Config{LoginPerMinute: 100000, LoginBurst: 100000, Registerer: reg,
		Login: LoginLimits{NameDelayAfter: 10, NameDelayStep: step, NameDelayMax: 5 * step, NameAlertAfter: 12}})
	post := peerServer(t, f)
	u := f.user(org.RoleObserver, f.d1)
	const owner = "10.2.3.4"

	// Four attacking addresses: each gets five wrong passwords, then its pair is locked, and
	// from there even the right password is refused while the lock lasts.
	for a := 0; a < 4; a++ {
		attacker := "203.0.113." + string(rune('1'+a))
		for i := 0; i < 5; i++ {
			if st, _, _, _ := post(attacker, u.Username, "guess"); st != 401 {
				t.Fatalf("attempt %d from attacker %d: %d", i, a, st)
			}
		}
		if st, _, _, _ := post(attacker, u.Username, "pw-"+u.Username); st != 429 {
			t.Fatalf("right password from locked attacker %d: %d", a, st)
		}
	}
	// 20 failures for the name: one alert (once per window).
	if got := testutil.ToFloat64(f.api.guard.alerts); got != 1 {
		t.Errorf("alerts %v, want 1", got)
	}
	st, body, _, took := post(owner, u.Username, "pw-"+u.Username)
	if st != 200 {
		t.Fatalf("the owner at another address: %d %s", st, body)
	}
	if took < 5*step {
		t.Errorf("the owner's login took %v: the per-name delay (%v) was not applied", took, 5*step)
	}
	// Another name is not slowed.
	if _, _, _, took := post(owner, "someone-else", "x"); took >= 5*step {
		t.Errorf("an unrelated name took %v", took)
	}
	if n, err := testutil.GatherAndCount(reg, "sanji_api_login_alerts_total"); err != nil || n != 1 {
		t.Errorf("metric registered: %d %v", n, err)
	}
}
