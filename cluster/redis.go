package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig is how a node reaches Redis: one server (Addrs has one address), a Sentinel group
// (MasterName set, Addrs the sentinels) or a Redis Cluster (several Addrs, no MasterName).
type RedisConfig struct {
	Addrs      []string
	MasterName string
	Username   string
	Password   string
	DB         int
	// TLS, when set, is used for every connection (rediss).
	TLS *tls.Config
	// Timeouts bound each operation, so a slow Redis fails a join instead of hanging it.
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	PoolSize     int
	// Dialer replaces the network dialer (tests cut connections with it).
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Defaults of RedisConfig: short, because nothing a node asks Redis is worth waiting for longer
// than a person waits for a join.
const (
	DefaultDialTimeout  = 2 * time.Second
	DefaultReadTimeout  = time.Second
	DefaultWriteTimeout = time.Second
)

// quiet is go-redis's logger: its own lines (every failed dial) would flood stderr during an
// outage; the node logs the outage once, with zap, and when it ends.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quiet{}) }

// NewRedis opens a client for c (no connection is made until the first command). ops, when not
// nil, counts every command sent (a pipeline counts each of its commands).
func NewRedis(c RedisConfig, ops *atomic.Int64) redis.UniversalClient {
	o := &redis.UniversalOptions{
		Addrs:        c.Addrs,
		MasterName:   c.MasterName,
		Username:     c.Username,
		Password:     c.Password,
		DB:           c.DB,
		TLSConfig:    c.TLS,
		DialTimeout:  or(c.DialTimeout, DefaultDialTimeout),
		ReadTimeout:  or(c.ReadTimeout, DefaultReadTimeout),
		WriteTimeout: or(c.WriteTimeout, DefaultWriteTimeout),
		PoolSize:     c.PoolSize,
		Dialer:       c.Dialer,
		// A cluster node's claims must not be retried blindly after a timeout: the caller decides.
		MaxRetries: 1,
		// The callers' deadlines bound the socket's reads and writes too (without this go-redis
		// applies only ReadTimeout to each command, retry included): the heartbeat's loop and
		// the login limiter must not wait on a slow Redis longer than they allow.
		ContextTimeoutEnabled: true,
		DisableIdentity:       true, // no CLIENT SETINFO: older servers and proxies answer it with an error
	}
	cl := redis.NewUniversalClient(o)
	if ops != nil {
		cl.AddHook(countHook{ops})
	}
	return cl
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// countHook counts the commands a client sends, for the operations-per-join measurement and the
// sanji_cluster_redis_ops_total metric.
type countHook struct{ n *atomic.Int64 }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// Ping checks that Redis answers, with the client's own timeouts.
func Ping(ctx context.Context, cl redis.UniversalClient) error {
	if err := cl.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis ping: %w", err)
	}
	return nil
}
