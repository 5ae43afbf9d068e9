package cluster

import (
	"context"
	"testing"
	"time"
)

// TestDeadNodesRoomsAreTakenWithoutAClient: a node that stops heartbeating (a kill -9) has its
// rooms taken by a live node as soon as its entry expires, without any client asking; the
// room's live state outlives the dead owner, and a resume record is taken once.
func TestDeadNodesRoomsAreTakenWithoutAClient(t *testing.T) {
	rdb := newClient(t, nil, nil)
	prefix := testPrefix(t)
	short := func(c *Config) { c.NodeTTL = 500 * time.Millisecond; c.ClaimTTL = 3 * time.Second }
	a := newNode(t, rdb, prefix, "a", short, func(c *Config) { c.Serves = []string{"x"} })
	b := newNode(t, rdb, prefix, "b", short)
	ctx := context.Background()
	waitFor(t, 2*time.Second, "both nodes seen", func() bool { v, _ := b.View(); return len(v) == 2 })
	pl, err := a.Place(ctx, Want{Room: "call-1", Codes: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if !pl.Local {
		t.Fatalf("room placed on %s, not on a, which serves its code", pl.Node.ID)
	}
	if err := a.SetLive(ctx, "call-1", "call", []byte(`{"appointment":7}`)); err != nil {
		t.Fatal(err)
	}
	if err := a.SetLive(ctx, "call-1", "p:x", []byte("key\n{}")); err != nil {
		t.Fatal(err)
	}
	crash(a)
	took := waitFor(t, 2*time.Second, "b takes the room", func() bool {
		cl := b.Claims()
		return len(cl) == 1 && cl[0] == "call-1"
	})
	t.Logf("taken %v after the crash (node TTL 500 ms, heartbeat 100 ms)", took)
	if b.Takeovers() != 1 {
		t.Fatalf("takeovers %d", b.Takeovers())
	}
	if owner, _ := rdb.Get(ctx, b.roomKey("call-1")).Result(); owner != "b" {
		t.Fatalf("claim owner %q", owner)
	}
	if v, err := b.GetLive(ctx, "call-1", "call"); err != nil || string(v) != `{"appointment":7}` {
		t.Fatalf("snapshot after the takeover: %q %v", v, err)
	}
	if v, _ := b.TakeLive(ctx, "call-1", "p:x", "other\n"); v != nil {
		t.Fatalf("a record taken with the wrong key: %q", v)
	}
	if v, _ := b.TakeLive(ctx, "call-1", "p:x", "key\n"); string(v) != "key\n{}" {
		t.Fatalf("record: %q", v)
	}
	if v, _ := b.TakeLive(ctx, "call-1", "p:x", "key\n"); v != nil {
		t.Fatalf("a record taken twice: %q", v)
	}
}

// TestNearestServesTheDeepestCode: a hall's media goes to the node serving the deepest unit of its
// place in the tree (a district's node before the city's), never to a draining node, and to none
// when no node serves any of its codes.
func TestNearestServesTheDeepestCode(t *testing.T) {
	rdb := newClient(t, nil, nil)
	prefix := testPrefix(t)
	city := newNode(t, rdb, prefix, "city", func(c *Config) { c.Serves = []string{"330100"} })
	district := newNode(t, rdb, prefix, "district", func(c *Config) { c.Serves = []string{"330102"} })
	waitFor(t, 2*time.Second, "both nodes seen", func() bool { v, _ := city.View(); return len(v) == 2 })
	township := []string{"330000", "330100", "330102", "330102001"}
	if in, ok := city.Nearest(township); !ok || in.ID != "district" {
		t.Fatalf("a township hall of the district: %v %v, want the district's node", in.ID, ok)
	}
	if in, ok := city.Nearest([]string{"330000", "330100", "330105"}); !ok || in.ID != "city" {
		t.Fatalf("a hall of a district without a node: %v %v, want the city's", in.ID, ok)
	}
	if _, ok := city.Nearest([]string{"990100"}); ok {
		t.Fatal("a unit no node serves has a nearest node")
	}
	if err := district.Drain(context.Background(), "district"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the city sees the district draining", func() bool {
		in, ok := city.Nearest(township)
		return ok && in.ID == "city"
	})
}
