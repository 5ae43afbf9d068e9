package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LoginLimits tune the login throttle. The lock is per client address and user name, never per
// account: whoever knows a user name must not be able to keep its owner out, and an unknown
// name must behave exactly like a known one, so nobody can list the accounts. Zero values take
// the defaults.
type LoginLimits struct {
	// PairLockAfter failures for one name from one address lock that pair for PairLockBase,
	// doubling with each further failure up to PairLockMax; default 5, 30s, 1h.
	PairLockAfter             int
	PairLockBase, PairLockMax time.Duration
	// NameDelayAfter failures for one name from any address make every later attempt at that
	// name wait NameDelayStep per failure beyond it, up to NameDelayMax: a guesser spread over
	// many addresses is slowed, the owner still gets in. Default 10, 200ms, 3s.
	NameDelayAfter              int
	NameDelayStep, NameDelayMax time.Duration
	// NameAlertAfter failures for one name raise an alert (a log line and
	// sanji_api_login_alerts_total), once per Window; default 20.
	NameAlertAfter int
	// Window is how long a name's failures are remembered after the last one; default 15m.
	Window time.Duration
}

func (l LoginLimits) withDefaults() LoginLimits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.PairLockAfter, 5)
	defD(&l.PairLockBase, 30*time.Second)
	defD(&l.PairLockMax, time.Hour)
	def(&l.NameDelayAfter, 10)
	defD(&l.NameDelayStep, 200*time.Millisecond)
	defD(&l.NameDelayMax, 3*time.Second)
	def(&l.NameAlertAfter, 20)
	defD(&l.Window, 15*time.Minute)
	return l
}

// loginGuard keeps the failures per (address, name) and per name in memory. The maps are
// pruned when they grow, so no goroutine cleans up; a restart forgets them, which costs an
// attacker nothing it could not get by waiting out the lock.
type loginGuard struct {
	lim    LoginLimits
	alerts prometheus.Counter

	mu    sync.Mutex
	pairs map[string]*pairFailures // address + "\x00" + name
	names map[string]*nameFailures
}

type pairFailures struct {
	n      int
	last   time.Time
	locked time.Time // locked until
}

type nameFailures struct {
	n       int
	last    time.Time
	alerted bool
}

const maxGuardEntries = 20000

func newLoginGuard(lim LoginLimits, reg prometheus.Registerer) *loginGuard {
	g := &loginGuard{lim: lim.withDefaults(), pairs: map[string]*pairFailures{}, names: map[string]*nameFailures{},
		alerts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sanji_api_login_alerts_total",
			Help: "User names that drew many failed logins (from any address) within the window: someone is guessing.",
		})}
	if reg != nil {
		reg.MustRegister(g.alerts)
	}
	return g
}

func pairKey(ip, name string) string { return ip + "\x00" + name }

// check returns how long an attempt at name must wait first (the per-name delay) and, when the
// pair is locked, until when.
func (g *loginGuard) check(ip, name string, now time.Time) (delay time.Duration, lockedUntil time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p := g.pairs[pairKey(ip, name)]; p != nil && p.locked.After(now) {
		lockedUntil = p.locked
	}
	if nf := g.liveName(name, now); nf != nil && nf.n > g.lim.NameDelayAfter {
		delay = min(time.Duration(nf.n-g.lim.NameDelayAfter)*g.lim.NameDelayStep, g.lim.NameDelayMax)
	}
	return delay, lockedUntil
}

// liveName is name's failure record, or nil once the window has passed since its last failure.
func (g *loginGuard) liveName(name string, now time.Time) *nameFailures {
	nf := g.names[name]
	if nf != nil && now.Sub(nf.last) > g.lim.Window {
		delete(g.names, name)
		return nil
	}
	return nf
}

// fail counts a failed attempt at name from ip. It returns true when this failure crossed the
// alert threshold for the name (once per window).
func (g *loginGuard) fail(ip, name string, now time.Time) (alert bool, failures int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.pairs) >= maxGuardEntries || len(g.names) >= maxGuardEntries {
		g.prune(now)
	}
	k := pairKey(ip, name)
	p := g.pairs[k]
	if p == nil || (p.locked.IsZero() && now.Sub(p.last) > g.lim.Window) {
		p = &pairFailures{}
		g.pairs[k] = p
	}
	p.n++
	p.last = now
	if p.n >= g.lim.PairLockAfter {
		d := g.lim.PairLockBase << min(p.n-g.lim.PairLockAfter, 16)
		p.locked = now.Add(min(d, g.lim.PairLockMax))
	}
	nf := g.liveName(name, now)
	if nf == nil {
		nf = &nameFailures{}
		g.names[name] = nf
	}
	nf.n++
	nf.last = now
	if nf.n >= g.lim.NameAlertAfter && !nf.alerted {
		nf.alerted = true
		g.alerts.Inc()
		return true, nf.n
	}
	return false, nf.n
}

// succeed forgets the pair's failures: the owner at that address got in. The name's failures
// stay, since others may still be guessing at it from elsewhere.
func (g *loginGuard) succeed(ip, name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.pairs, pairKey(ip, name))
}

// prune drops what has expired; under a flood of addresses or names, everything (forgetting is
// better than running out of memory).
func (g *loginGuard) prune(now time.Time) {
	for k, p := range g.pairs {
		if !p.locked.After(now) && now.Sub(p.last) > g.lim.Window {
			delete(g.pairs, k)
		}
	}
	for k, nf := range g.names {
		if now.Sub(nf.last) > g.lim.Window {
			delete(g.names, k)
		}
	}
	if len(g.pairs) >= maxGuardEntries {
		g.pairs = map[string]*pairFailures{}
	}
	if len(g.names) >= maxGuardEntries {
		g.names = map[string]*nameFailures{}
	}
}

// nameHash names a user name in logs without writing it down (a name is personal data).
func nameHash(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:6])
}

// wait sleeps d unless ctx ends first (the client went away).
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
