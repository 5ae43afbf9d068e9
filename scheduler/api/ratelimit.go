package api

import (
	"sync"
	"time"
)

// limiter is a token bucket per key (a client IP): rate tokens per interval, up to burst.
// Buckets live in a map pruned when it grows, so no goroutine is needed to clean up.
type limiter struct {
	mu       sync.Mutex
	rate     float64 // tokens per second
	burst    float64
	buckets  map[string]*bucket
	maxItems int
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(perMinute, burst int) *limiter {
	return &limiter{rate: float64(perMinute) / 60, burst: float64(burst), buckets: map[string]*bucket{}, maxItems: 10000}
}

// allow takes one token for key at now; when none is left it returns false and how long until
// one is.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxItems {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * l.rate
	if b.tokens > l.burst {
		b.tokens = l.burst
	}
	b.last = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// refund gives key back the token an attempt took, for an attempt that should not count (a
// login that succeeded: a hall's staff behind one address log in at nine without tripping it).
func (l *limiter) refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok {
		b.tokens = min(b.tokens+1, l.burst)
	}
}

// prune drops buckets that have refilled (they behave like new ones), and if that is not
// enough, everything: under a flood of addresses, forgetting is better than running out of memory.
func (l *limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= l.maxItems {
		l.buckets = map[string]*bucket{}
	}
}
