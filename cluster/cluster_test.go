package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// redisAddr is the test Redis, SANJI_TEST_REDIS (CI sets it).
func redisAddr() string { return os.Getenv("SANJI_TEST_REDIS") }

// testPrefix keeps each test's keys apart from other tests and other users of the Redis.
func testPrefix(t *testing.T) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "sanjitest-" + hex.EncodeToString(b)
}

func newClient(t *testing.T, dial func(ctx context.Context, network, addr string) (net.Conn, error), ops *atomic.Int64) redis.UniversalClient {
	t.Helper()
	if redisAddr() == "" {
		t.Skip("SANJI_TEST_REDIS is not set (CI sets it)")
	}
	cl := NewRedis(RedisConfig{Addrs: []string{redisAddr()}, Dialer: dial, ReadTimeout: 300 * time.Millisecond,
		WriteTimeout: 300 * time.Millisecond, DialTimeout: 300 * time.Millisecond}, ops)
	if err := Ping(context.Background(), cl); err != nil && dial == nil {
		_ = cl.Close()
		t.Fatalf("no Redis at SANJI_TEST_REDIS=%s: %v", redisAddr(), err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

type nodeOpt func(*Config)

func newNode(t *testing.T, rdb redis.UniversalClient, prefix, id string, opts ...nodeOpt) *Node {
	t.Helper()
	cfg := Config{Redis: rdb, Prefix: prefix, ID: id, Version: "test", HTTPURL: "http://" + id,
		Heartbeat: 100 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.Start(context.Background())
	t.Cleanup(func() { _ = n.Close(context.Background()) })
	return n
}

// crash stops n's heartbeat without leaving the registry, as a killed process would.
func crash(n *Node) {
	n.cancel()
	<-n.done
	n.cancel = nil
}

// waitFor polls cond until it holds or d passed.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func ids(infos []Info) map[string]Info {
	m := map[string]Info{}
	for _, in := range infos {
		m[in.ID] = in
	}
	return m
}

func TestRegistryHeartbeatAndExpiry(t *testing.T) {
	rdb := newClient(t, nil, nil)
	p := testPrefix(t)
	load := Load{Participants: 7, Tracks: 12, BitrateBps: 3_000_000, CPU: 0.25}
	a := newNode(t, rdb, p, "a", func(c *Config) {
		c.Serves = []string{"330100"}
		c.MediaAddr = "127.0.0.1:7882"
		c.Load = func() Load { return load }
	})
	b := newNode(t, rdb, p, "b")
	waitFor(t, 3*time.Second, "both nodes seen", func() bool {
		all, err := a.Nodes(context.Background())
		return err == nil && len(all) == 2
	})
	all, _ := b.Nodes(context.Background())
	got := ids(all)["a"]
	if got.Load != load || got.MediaAddr != "127.0.0.1:7882" || len(got.Serves) != 1 || got.Serves[0] != "330100" || got.Version != "test" {
		t.Fatalf("node a as b sees it: %+v", got)
	}

	crash(b)
	took := waitFor(t, 6*time.Second, "a crashed node gone from the registry", func() bool {
		all, err := a.Nodes(context.Background())
		_, there := ids(all)["b"]
		return err == nil && !there
	})
	t.Logf("gone after %v", took)

	// A node that leaves properly is gone at once.
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	all, err := b.Nodes(context.Background())
	if err != nil || len(all) != 0 {
		t.Fatalf("after a left: %v, %v", all, err)
	}
}

func TestConcurrentClaimsPlaceEachRoomOnce(t *testing.T) {
	rdb := newClient(t, nil, nil)
	p := testPrefix(t)
	nodes := []*Node{newNode(t, rdb, p, "n1"), newNode(t, rdb, p, "n2"), newNode(t, rdb, p, "n3")}
	for _, n := range nodes {
		waitFor(t, 3*time.Second, "view of three", func() bool { v, _ := n.View(); return len(v) == 3 })
	}
	type result struct {
		room, owner, asker string
		local              bool
		err                error
	}
	results := make(chan result, 100)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			n := nodes[i%3]
			room := fmt.Sprintf("room-%d", i%10)
			pl, err := n.Place(context.Background(), Want{Room: room})
			results <- result{room: room, owner: pl.Node.ID, asker: n.ID(), local: pl.Local, err: err}
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	owners := map[string]string{}
	for r := range results {
		if r.err != nil {
			t.Fatalf("place %s: %v", r.room, r.err)
		}
		if o, ok := owners[r.room]; ok && o != r.owner {
			t.Fatalf("%s placed on %s and on %s", r.room, o, r.owner)
		}
		owners[r.room] = r.owner
		if r.local != (r.owner == r.asker) {
			t.Fatalf("%s: local=%v but owner %s asked by %s", r.room, r.local, r.owner, r.asker)
		}
	}
	if len(owners) != 10 {
		t.Fatalf("rooms placed: %d", len(owners))
	}
	for room, owner := range owners {
		v, err := rdb.Get(context.Background(), p+":room:"+room).Result()
		if err != nil || v != owner {
			t.Fatalf("claim of %s in Redis: %q, %v; placed on %s", room, v, err, owner)
		}
	}
}

func TestRenewAndStealRules(t *testing.T) {
	rdb := newClient(t, nil, nil)
	p := testPrefix(t)
	claimTTL := func(c *Config) { c.ClaimTTL = 900 * time.Millisecond }
	a := newNode(t, rdb, p, "a", claimTTL, func(c *Config) { c.Load = func() Load { return Load{} } })
	b := newNode(t, rdb, p, "b", claimTTL, func(c *Config) { c.Load = func() Load { return Load{Participants: 50} } })
	waitFor(t, 3*time.Second, "views", func() bool { v, _ := b.View(); return len(v) == 2 })
	ctx := context.Background()

	// b is busier: the room goes to a, and b's placement says so.
	pl, err := b.Place(ctx, Want{Room: "r"})
	if err != nil || pl.Local || pl.Node.ID != "a" {
		t.Fatalf("b places r: %+v, %v", pl, err)
	}
	// a adopts it when the client arrives there; its heartbeat keeps it past the claim's TTL.
	pl, err = a.Place(ctx, Want{Room: "r"})
	if err != nil || !pl.Local {
		t.Fatalf("a joins r: %+v, %v", pl, err)
	}
	// The claim must hold for three of its TTLs while a renews it (polled throughout).
	deadline := time.Now().Add(3 * 900 * time.Millisecond)
	for time.Now().Before(deadline) {
		if v, _ := rdb.Get(ctx, p+":room:r").Result(); v != "a" {
			t.Fatalf("claim of r while a renews it: %q", v)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// b cannot renew or release a's claim.
	if v, err := renewScript.Run(ctx, rdb, []string{p + ":room:r"}, "b", 900).Int(); err != nil || v != 0 {
		t.Fatalf("b renews a's claim: %d, %v", v, err)
	}
	if err := b.Release(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if v, _ := rdb.Get(ctx, p+":room:r").Result(); v != "a" {
		t.Fatalf("after b's release: %q", v)
	}

	// a stops heartbeating; once it left the registry, b takes the room over at the next join.
	crash(a)
	if err := rdb.Del(ctx, p+":{nodes}:node:a").Err(); err != nil { // as its TTL would
		t.Fatal(err)
	}
	if err := rdb.PExpire(ctx, p+":room:r", time.Minute).Err(); err != nil { // its claim outlives it
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "b's view without a", func() bool { v, _ := b.View(); _, there := ids(v)["a"]; return !there })
	pl, err = b.Place(ctx, Want{Room: "r"})
	if err != nil || !pl.Local {
		t.Fatalf("b takes over r of a gone node: %+v, %v", pl, err)
	}
	if v, _ := rdb.Get(ctx, p+":room:r").Result(); v != "b" {
		t.Fatalf("claim after takeover: %q", v)
	}
	// a, coming back, finds the room taken and drops it from its claims.
	if err := a.renew(ctx, true); err != nil {
		t.Fatal(err)
	}
	if c := a.Claims(); len(c) != 0 {
		t.Fatalf("a still claims %v", c)
	}
}

func TestDrainedNodeTakesNoNewRooms(t *testing.T) {
	rdb := newClient(t, nil, nil)
	p := testPrefix(t)
	// a is the least loaded, so without draining it would take every room.
	a := newNode(t, rdb, p, "a", func(c *Config) { c.Load = func() Load { return Load{} } })
	b := newNode(t, rdb, p, "b", func(c *Config) { c.Load = func() Load { return Load{Participants: 9} } })
	waitFor(t, 3*time.Second, "views", func() bool { v1, _ := a.View(); v2, _ := b.View(); return len(v1) == 2 && len(v2) == 2 })
	ctx := context.Background()
	if pl, err := a.Place(ctx, Want{Room: "before"}); err != nil || !pl.Local {
		t.Fatalf("before draining: %+v, %v", pl, err)
	}
	if err := b.Drain(ctx, "a"); err != nil { // an admin on b drains a
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "b sees a draining", func() bool {
		v, _ := b.View()
		return ids(v)["a"].Draining
	})
	if !a.Draining() {
		t.Fatal("a does not know it drains")
	}
	for i := 0; i < 10; i++ {
		for _, n := range []*Node{a, b} {
			pl, err := n.Place(ctx, Want{Room: fmt.Sprintf("new-%d", i)})
			if err != nil || pl.Node.ID != "b" {
				t.Fatalf("new room asked on %s: %+v, %v", n.ID(), pl, err)
			}
		}
	}
	// The room a had stays on a: calls in progress go on.
	if pl, err := b.Place(ctx, Want{Room: "before"}); err != nil || pl.Node.ID != "a" {
		t.Fatalf("existing room: %+v, %v", pl, err)
	}
	// With every node draining, a new room has nowhere to go.
	if err := b.Drain(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "a sees b draining", func() bool { v, _ := a.View(); return ids(v)["b"].Draining })
	if _, err := a.Place(ctx, Want{Room: "nowhere"}); !errors.Is(err, ErrNoNode) {
		t.Fatalf("all draining: %v", err)
	}
	if err := a.Undrain(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if pl, err := a.Place(ctx, Want{Room: "again"}); err != nil || !pl.Local {
		t.Fatalf("after undrain: %+v, %v", pl, err)
	}
	// An admin on a resumes b: b takes rooms again once its heartbeat reads the flag's absence.
	if err := a.Undrain(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "b resumed", func() bool { return !b.Draining() })
	// A local drain (SIGTERM) holds whatever Redis says.
	b.DrainLocal()
	if err := a.Undrain(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // three heartbeats
	if !b.Draining() {
		t.Fatal("an undrain in Redis ended b's shutdown drain")
	}
}

func TestReceptionCallGoesToANodeServingItsStudio(t *testing.T) {
	rdb := newClient(t, nil, nil)
	p := testPrefix(t)
	a := newNode(t, rdb, p, "a", func(c *Config) { c.Load = func() Load { return Load{} } })
	b := newNode(t, rdb, p, "b", func(c *Config) {
		c.Serves = []string{"330102"}
		c.Load = func() Load { return Load{Participants: 40} }
	})
	waitFor(t, 3*time.Second, "views", func() bool { v, _ := a.View(); return len(v) == 2 })
	ctx := context.Background()
	// A studio under 330102 goes to b, though a is idle.
	pl, err := a.Place(ctx, Want{Room: "call-1", Codes: []string{"000000", "330100", "330102", "330102001"}})
	if err != nil || pl.Node.ID != "b" || pl.Node.HTTPURL != "http://b" {
		t.Fatalf("call in b's tree: %+v, %v", pl, err)
	}
	// Elsewhere in the tree: the least loaded.
	pl, err = b.Place(ctx, Want{Room: "call-2", Codes: []string{"000000", "330100", "330105"}})
	if err != nil || pl.Node.ID != "a" {
		t.Fatalf("call outside b's tree: %+v, %v", pl, err)
	}
}

// proxy is a TCP proxy to Redis whose connections the test cuts.
type proxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	conns   []net.Conn
	refuse  bool
	wg      sync.WaitGroup
	dropped atomic.Int64
	// stalled holds Redis's answers back (a slow Redis) until it is cleared.
	stalled atomic.Bool
}

func newProxy(t *testing.T) *proxy {
	if redisAddr() == "" {
		t.Skip("SANJI_TEST_REDIS is not set (CI sets it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px := &proxy{ln: ln, target: redisAddr()}
	px.wg.Add(1)
	go px.accept()
	t.Cleanup(px.close)
	return px
}

func (px *proxy) accept() {
	defer px.wg.Done()
	for {
		c, err := px.ln.Accept()
		if err != nil {
			return
		}
		px.mu.Lock()
		if px.refuse {
			px.mu.Unlock()
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", px.target)
		if err != nil {
			px.mu.Unlock()
			_ = c.Close()
			continue
		}
		px.conns = append(px.conns, c, up)
		px.mu.Unlock()
		px.wg.Add(2)
		go func() { defer px.wg.Done(); _, _ = io.Copy(up, c); _ = up.Close() }()
		go func() { defer px.wg.Done(); px.answer(c, up); _ = c.Close() }()
	}
}

// answer copies Redis's answers to the client, holding them while the proxy is stalled.
func (px *proxy) answer(c, up net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := up.Read(buf)
		for px.stalled.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cut closes every connection and refuses new ones until restore: Redis is gone for the node.
func (px *proxy) cut() {
	px.mu.Lock()
	defer px.mu.Unlock()
	px.refuse = true
	for _, c := range px.conns {
		_ = c.Close()
	}
	px.conns = nil
}

func (px *proxy) restore() {
	px.mu.Lock()
	defer px.mu.Unlock()
	px.refuse = false
}

func (px *proxy) close() {
	px.stalled.Store(false)
	_ = px.ln.Close()
	px.cut()
	px.wg.Wait()
}

func (px *proxy) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, px.ln.Addr().String())
}

func TestRedisCutDuringClaimLoopRecovers(t *testing.T) {
	direct := newClient(t, nil, nil)
	px := newProxy(t)
	rdb := newClient(t, px.dial, nil)
	p := testPrefix(t)
	n := newNode(t, rdb, p, "a", func(c *Config) { c.ClaimTTL = 600 * time.Millisecond })
	waitFor(t, 3*time.Second, "healthy", func() bool { return n.Healthy() == nil })
	ctx := context.Background()

	// A claim loop: joins keep placing rooms while the connection is cut and comes back.
	stop := make(chan struct{})
	var placed, refused atomic.Int64
	var loop sync.WaitGroup
	loop.Add(1)
	go func() {
		defer loop.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			_, err := n.Place(cctx, Want{Room: fmt.Sprintf("loop-%d", i%5)})
			cancel()
			switch {
			case err == nil:
				placed.Add(1)
			case errors.Is(err, ErrUnavailable):
				refused.Add(1)
			default:
				t.Errorf("place: %v", err)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() { close(stop); loop.Wait() }()
	waitFor(t, 3*time.Second, "claims before the cut", func() bool { return placed.Load() > 5 })

	px.cut()
	waitFor(t, 3*time.Second, "unhealthy while cut", func() bool { return n.Healthy() != nil })
	waitFor(t, 3*time.Second, "joins refused while cut", func() bool { return refused.Load() > 0 })
	if !errors.Is(n.Healthy(), ErrUnavailable) {
		t.Fatalf("health: %v", n.Healthy())
	}
	// Meanwhile the claims expire (longer outage than their TTL), as Redis forgets them.
	waitFor(t, 3*time.Second, "claims expired", func() bool {
		k, _ := direct.Keys(ctx, p+":room:*").Result()
		return len(k) == 0
	})

	px.restore()
	before := placed.Load()
	waitFor(t, 5*time.Second, "healthy again without restart", func() bool { return n.Healthy() == nil })
	waitFor(t, 3*time.Second, "joins placed again", func() bool { return placed.Load() > before+5 })
	// The node takes its rooms back: every room it holds is claimed by it in Redis again.
	waitFor(t, 3*time.Second, "claims restored", func() bool {
		for _, r := range n.Claims() {
			if v, _ := direct.Get(ctx, p+":room:"+r).Result(); v != "a" {
				return false
			}
		}
		return len(n.Claims()) == 5
	})
}

func TestLimiterCountsAcrossNodes(t *testing.T) {
	px := newProxy(t)
	rdb1 := newClient(t, nil, nil)
	rdb2 := newClient(t, px.dial, nil)
	p := testPrefix(t)
	l1 := NewLimiter(rdb1, p, "login", 60, 3)
	l2 := NewLimiter(rdb2, p, "login", 60, 3)
	local := &countingLocal{}
	l2.Local = local
	now := time.Now()
	for i, l := range []*Limiter{l1, l2, l1} {
		if ok, _ := l.Allow("10.0.0.9", now); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	ok, wait := l2.Allow("10.0.0.9", now)
	if ok || wait <= 0 || wait > 2*time.Second {
		t.Fatalf("fourth attempt on the other node: %v, %v", ok, wait)
	}
	// A refund on one node frees an attempt on the other.
	l2.Refund("10.0.0.9")
	if ok, _ := l1.Allow("10.0.0.9", now); !ok {
		t.Fatal("refunded attempt refused")
	}
	// Another address has its own bucket.
	if ok, _ := l1.Allow("10.0.0.10", now); !ok {
		t.Fatal("other address refused")
	}
	// Redis away: the local limiter answers.
	px.cut()
	if ok, _ := l2.Allow("10.0.0.9", now); !ok || local.n.Load() != 1 {
		t.Fatalf("with Redis away: %v, local asked %d times", ok, local.n.Load())
	}
}

type countingLocal struct{ n atomic.Int64 }

func (c *countingLocal) Allow(string, time.Time) (bool, time.Duration) { c.n.Add(1); return true, 0 }
func (c *countingLocal) Refund(string)                                 {}

// TestSlowRedisDoesNotHoldTheLoop: Redis stops answering (the connections stay open) while the
// client's read timeout is long. The heartbeat gives up within its own deadline, so the node
// says it is unhealthy within a beat or two and beats again on time; the login limiter falls
// back to the local one within its timeout.
func TestSlowRedisDoesNotHoldTheLoop(t *testing.T) {
	px := newProxy(t)
	slow := func() redis.UniversalClient {
		cl := NewRedis(RedisConfig{Addrs: []string{redisAddr()}, Dialer: px.dial,
			ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}, nil)
		t.Cleanup(func() { _ = cl.Close() })
		return cl
	}
	p := testPrefix(t)
	const hb = 200 * time.Millisecond
	n := newNode(t, slow(), p, "a", func(c *Config) { c.Heartbeat = hb; c.NodeTTL = 3 * hb })
	waitFor(t, 3*time.Second, "healthy", func() bool { return n.Healthy() == nil })
	l := NewLimiter(slow(), p, "login", 60, 3)
	local := &countingLocal{}
	l.Local = local
	if ok, _ := l.Allow("10.0.0.9", time.Now()); !ok || local.n.Load() != 0 {
		t.Fatalf("before the stall: %v, local asked %d times", ok, local.n.Load())
	}

	px.stalled.Store(true)
	took := waitFor(t, 5*time.Second, "unhealthy while Redis does not answer", func() bool { return n.Healthy() != nil })
	// A beat starts within a heartbeat and gives up after one; the client's 10 s read timeout
	// would hold it far longer.
	if took > 2*time.Second {
		t.Fatalf("the heartbeat noticed the stall after %v (heartbeat %v)", took, hb)
	}
	start := time.Now()
	if ok, _ := l.Allow("10.0.0.9", time.Now()); !ok || local.n.Load() != 1 {
		t.Fatalf("limiter with Redis stalled: %v, local asked %d times", ok, local.n.Load())
	}
	if d := time.Since(start); d > l.Timeout+500*time.Millisecond {
		t.Fatalf("the limiter waited %v for a stalled Redis (timeout %v)", d, l.Timeout)
	}
	t.Logf("stall noticed after %v", took)

	px.stalled.Store(false)
	waitFor(t, 5*time.Second, "healthy again", func() bool { return n.Healthy() == nil })
}
