package cluster

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// bucketScript is a token bucket in one hash: ARGV rate (tokens per second), burst, now (ms), and
// cost (1 to take, -1 to give back). It returns {allowed, milliseconds until a token}. The
// caller's clock is used: nodes' clocks differ by far less than a token's interval.
var bucketScript = redis.NewScript(`
local rate, burst, now, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 't', 'l')
local tokens, last = tonumber(b[1]), tonumber(b[2])
if not tokens then tokens, last = burst, now end
if now > last then tokens = math.min(burst, tokens + (now - last) / 1000 * rate) end
local ok, wait = 1, 0
if cost < 0 then
  tokens = math.min(burst, tokens - cost)
elseif tokens < cost then
  ok, wait = 0, math.ceil((cost - tokens) / rate * 1000)
else
  tokens = tokens - cost
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'l', tostring(math.max(now, last)))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {ok, wait}`)

// Limiter is a token bucket per key kept in Redis, so every node counts the same attempts; when
// Redis does not answer it falls back to Local, so logins are still limited (per node).
type Limiter struct {
	rdb    redis.UniversalClient
	prefix string
	rate   float64 // tokens per second
	burst  int
	// Local is asked while Redis is away.
	Local interface {
		Allow(key string, now time.Time) (bool, time.Duration)
		Refund(key string)
	}
	// Timeout bounds each call to Redis (default 300 ms): a login does not wait for a slow Redis.
	Timeout time.Duration
}

// NewLimiter builds a limiter named name (keys <prefix>:limit:<name>:<key>) of perMinute tokens
// up to burst.
func NewLimiter(rdb redis.UniversalClient, prefix, name string, perMinute, burst int) *Limiter {
	if prefix == "" {
		prefix = "sanji"
	}
	return &Limiter{rdb: rdb, prefix: prefix + ":limit:" + name + ":", rate: float64(perMinute) / 60, burst: burst,
		Timeout: 300 * time.Millisecond}
}

func (l *Limiter) run(key string, now time.Time, cost int) ([]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.Timeout)
	defer cancel()
	return bucketScript.Run(ctx, l.rdb, []string{l.prefix + key},
		strconv.FormatFloat(l.rate, 'f', -1, 64), l.burst, now.UnixMilli(), cost).Int64Slice()
}

// Allow takes one token for key; when none is left it returns false and how long until one is.
func (l *Limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	r, err := l.run(key, now, 1)
	if err != nil || len(r) != 2 {
		if l.Local != nil {
			return l.Local.Allow(key, now)
		}
		return true, 0
	}
	return r[0] == 1, time.Duration(r[1]) * time.Millisecond
}

// Refund gives key back a token (an attempt that should not count).
func (l *Limiter) Refund(key string) {
	if _, err := l.run(key, time.Now(), -1); err != nil && l.Local != nil {
		l.Local.Refund(key)
	}
}
