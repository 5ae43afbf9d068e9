package cluster

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// TestRedisOpsPerJoinAndPerSecond counts the commands a node sends: per join (placing a new room,
// joining a room already placed) and per heartbeat with rooms to renew. docs/benchmarks.md
// reports the numbers; the bounds here keep them from growing unnoticed.
func TestRedisOpsPerJoinAndPerSecond(t *testing.T) {
	var ops atomic.Int64
	rdb := newClient(t, nil, &ops)
	p := testPrefix(t)
	// A long heartbeat: the test drives the beats itself.
	n := newNode(t, rdb, p, "a", func(c *Config) { c.Heartbeat = time.Hour })
	ctx := context.Background()

	const rooms = 20
	before, start := ops.Load(), time.Now()
	for i := 0; i < rooms; i++ {
		if _, err := n.Place(ctx, Want{Room: fmt.Sprintf("r%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	perNew, tNew := float64(ops.Load()-before)/rooms, time.Since(start)/rooms
	before, start = ops.Load(), time.Now()
	for i := 0; i < rooms; i++ {
		if _, err := n.Place(ctx, Want{Room: fmt.Sprintf("r%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	perPlaced, tPlaced := float64(ops.Load()-before)/rooms, time.Since(start)/rooms

	before = ops.Load()
	if err := n.heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	perBeat := ops.Load() - before
	before = ops.Load()
	if err := n.renew(ctx, true); err != nil {
		t.Fatal(err)
	}
	perRenew := ops.Load() - before
	held := len(n.Claims())

	// At the defaults: a heartbeat every second, claims renewed every 5 s.
	perSecNode := float64(perBeat) / DefaultHeartbeat.Seconds()
	perSecCall := float64(perRenew) / float64(max(held, 1)) / (DefaultClaimTTL / 3).Seconds()
	t.Logf("Redis commands: %.1f per join of a new room (%v), %.1f per join of a placed room (%v); %d per heartbeat (%.1f/s per node); "+
		"renewing %d rooms: %d (%.2f/s per call)", perNew, tNew, perPlaced, tPlaced, perBeat, perSecNode, held, perRenew, perSecCall)
	// A new room is also listed among the node's rooms (SADD, PEXPIRE); a renewal extends each
	// room's claim and live state, and rewrites the list (DEL, SADD, PEXPIRE), for failover.
	if perNew > 4 || perPlaced > 1 || perBeat > 8 || perRenew != int64(2*held+3) {
		t.Fatalf("more Redis commands than budgeted: new %.1f, placed %.1f, beat %d, renew %d for %d rooms", perNew, perPlaced, perBeat, perRenew, held)
	}
}
