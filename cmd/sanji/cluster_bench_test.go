package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"slices"
	"testing"
	"time"
)

// benchCluster is two nodes in process on the test's Redis: a holds the room "bench-room" (b
// drains, so placement puts it on a), with one member keeping the claim alive.
func benchCluster(b *testing.B) (a, bn *app) {
	b.Helper()
	redisAddr := os.Getenv("SANJI_TEST_REDIS")
	if redisAddr == "" {
		b.Skip("SANJI_TEST_REDIS is not set (CI sets it)")
	}
	buf := make([]byte, 6)
	_, _ = rand.Read(buf)
	prefix := "sanjibench-" + hex.EncodeToString(buf)
	node := func(id string) *app {
		cfg := clusterTestConfig(b, redisAddr, prefix, id)
		cfg.TokenSecret = testClusterSecret
		cfg.LogLevel = "warn"
		cfg.Limits.JoinsPerSecond, cfg.Limits.JoinBurst = 100000, 100000
		return startTestApp(b, cfg)
	}
	a, bn = node("a"), node("b")
	bn.cluster.node.Load().DrainLocal()
	waitView(b, bn, 2)
	conn, owner, err := joinFollowing(b, testHTTPClient(b), a.URL(), "bench-room")
	if err != nil || owner != a.URL() {
		b.Fatalf("holder: %s %v", owner, err)
	}
	b.Cleanup(func() { conn.Close() })
	return a, bn
}

// BenchmarkClusterJoinRedirect is what reaching a room on another node costs a client: each
// iteration joins the room once on its owner (a) and once through b, which answers wrong_node,
// after which the client joins on a. It reports the extra time of the redirected join (p50,
// p99 of the pairs' differences) and the Redis commands of a join on the owner and of a refused
// one (medians: a heartbeat falling inside a join is not the join's).
//
//	go test -run '^$' -bench ClusterJoinRedirect -benchtime 100x ./cmd/sanji/
func BenchmarkClusterJoinRedirect(b *testing.B) {
	a, bn := benchCluster(b)
	hc := testHTTPClient(b)
	var extra, direct []time.Duration
	var opsOwner, opsRefusing []float64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		t1, t2 := devToken(b, hc, a.URL(), "bench-room", "d"), devToken(b, hc, bn.URL(), "bench-room", "r")
		b.StartTimer()
		oa := a.cluster.ops.Load()
		start := time.Now()
		conn, owner, err := joinWithToken(a.URL(), t1)
		d := time.Since(start)
		opsOwner = append(opsOwner, float64(a.cluster.ops.Load()-oa))
		if err != nil || owner != a.URL() {
			b.Fatalf("direct join: %s %v", owner, err)
		}
		conn.Close()
		ob := bn.cluster.ops.Load()
		start = time.Now()
		conn, owner, err = joinWithToken(bn.URL(), t2)
		r := time.Since(start)
		opsRefusing = append(opsRefusing, float64(bn.cluster.ops.Load()-ob))
		if err != nil || owner != a.URL() {
			b.Fatalf("join through b: %s %v", owner, err)
		}
		conn.Close()
		direct = append(direct, d)
		extra = append(extra, r-d)
	}
	b.StopTimer()
	b.ReportMetric(ms(durPct(direct, 50)), "direct-p50-ms")
	b.ReportMetric(ms(durPct(direct, 99)), "direct-p99-ms")
	b.ReportMetric(ms(durPct(extra, 50)), "extra-p50-ms")
	b.ReportMetric(ms(durPct(extra, 99)), "extra-p99-ms")
	b.ReportMetric(median(opsOwner), "redis-ops/join")
	b.ReportMetric(median(opsRefusing), "redis-ops/refused-join")
}

// BenchmarkClusterRedisOpsOfACall counts the Redis commands of node a over one second, with a
// call (a room with a member) running on it; each iteration is one second. Packets never reach
// Redis: what is counted is the heartbeat and the claim's renewal.
//
//	go test -run '^$' -bench ClusterRedisOpsOfACall -benchtime 10x ./cmd/sanji/
func BenchmarkClusterRedisOpsOfACall(b *testing.B) {
	a, _ := benchCluster(b)
	b.ResetTimer()
	o := a.cluster.ops.Load()
	start := time.Now()
	for range b.N {
		time.Sleep(time.Second)
	}
	b.ReportMetric(float64(a.cluster.ops.Load()-o)/time.Since(start).Seconds(), "redis-ops/s")
}

func durPct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
