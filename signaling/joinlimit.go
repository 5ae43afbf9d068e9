package signaling

import (
	"net"
	"sync"
	"time"
)

// joinLimiter bounds `join` and `resume` attempts per client address (a token bucket each): a
// token guesser or a client looping on refused joins costs the server a token check and a call
// lookup each time. A hall's few devices behind one address all come back at once after a
// network blip, hence the burst. Buckets are pruned when the map grows; no goroutine.
// Loopback peers are not limited: they are this machine — the load generator, a reverse proxy
// in front (whose clients all share its address, so limiting it would limit everyone).
type joinLimiter struct {
	rate     float64 // per second
	burst    float64
	loopback bool // limit loopback peers too (tests)

	mu      sync.Mutex
	buckets map[string]*joinBucket
}

type joinBucket struct {
	tokens float64
	last   time.Time
}

const maxJoinBuckets = 10000

func newJoinLimiter(perSecond, burst int) *joinLimiter {
	return &joinLimiter{rate: float64(perSecond), burst: float64(burst), buckets: map[string]*joinBucket{}}
}

// allow takes a token for addr's host at now.
func (l *joinLimiter) allow(addr net.Addr, now time.Time) bool {
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() && !l.loopback {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[host]
	if b == nil {
		if len(l.buckets) >= maxJoinBuckets {
			for k, o := range l.buckets {
				if o.tokens+now.Sub(o.last).Seconds()*l.rate >= l.burst {
					delete(l.buckets, k)
				}
			}
			if len(l.buckets) >= maxJoinBuckets {
				l.buckets = map[string]*joinBucket{} // forgetting beats running out of memory
			}
		}
		b = &joinBucket{tokens: l.burst, last: now}
		l.buckets[host] = b
	}
	b.tokens = min(b.tokens+now.Sub(b.last).Seconds()*l.rate, l.burst)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
