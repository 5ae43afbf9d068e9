package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"sanji/bench"
	"sanji/signaling"
)

// cascadeNodes starts nodes on the test PostgreSQL and Redis, each serving the codes given.
func cascadeNodes(t *testing.T, serves map[string][]string) map[string]*app {
	t.Helper()
	redisAddr := os.Getenv("SANJI_TEST_REDIS")
	if redisAddr == "" {
		t.Skip("SANJI_TEST_REDIS is not set (CI sets it)")
	}
	dsn := testPGSchema(t)
	keys := testIdentityKeys(t)
	prefix := "sanjitest-cascade-" + time.Now().Format("150405.000000")
	nodes := map[string]*app{}
	for id, codes := range serves {
		cfg := clusterTestConfig(t, redisAddr, prefix, id)
		cfg.Store.DSN, cfg.Identity.Keys = dsn, keys
		cfg.TokenSecret = testClusterSecret
		cfg.Cluster.Serves = codes
		nodes[id] = startTestApp(t, cfg)
	}
	for _, n := range nodes {
		waitView(t, n, len(nodes))
	}
	return nodes
}

// TestCascadeReceptionAcrossTwoNodes: the city node a owns the call (it serves the studio's
// city); both halls are in a district that node b serves, so their media stays on b while their
// signaling is a's. In hall 1's hearing the leader and hall 1 receive each other across the one
// relay, the waiting hall 2 receives nothing, and b holds both halls.
func TestCascadeReceptionAcrossTwoNodes(t *testing.T) {
	nodes := cascadeNodes(t, map[string][]string{"a": {benchCityCode}, "b": {benchCityCode[:4] + "01"}})
	a, b := nodes["a"], nodes["b"]
	resp, raw := postReception(t, testHTTPClient(t), a.URL(), `{"halls": 2, "petitioners_per_hall": 1, "districts": 1}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("booking: %s %s", resp.Status, raw)
	}
	var seats bench.ReceptionSeats
	if err := json.Unmarshal(raw, &seats); err != nil {
		t.Fatal(err)
	}
	if len(seats.Districts) != 1 || seats.Districts[0] != "990101" {
		t.Fatalf("districts %v", seats.Districts)
	}
	leader := dialFailoverPeer(t, wsOf(a.URL()), seats.Studio.Token)
	hall1 := dialFailoverPeer(t, wsOf(a.URL()), seats.Halls[0].Token)
	hall2 := dialFailoverPeer(t, wsOf(a.URL()), seats.Halls[1].Token)
	if s := a.cascade.hub.Stats(); s.Remotes != 2 {
		t.Fatalf("a drives %d participants' media on other nodes, want both halls'", s.Remotes)
	}
	if s := b.cascade.hub.Stats(); s.Held != 2 {
		t.Fatalf("b holds %d participants' media, want both halls'", s.Held)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := leader.c.Request(ctx, signaling.TypeCallNext, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if _, err := hall1.c.Request(ctx, signaling.TypeAckRecording, struct{}{}); err != nil {
		t.Fatal(err)
	}
	leader.receiving(t, 50, 15*time.Second)
	hall1.receiving(t, 50, 15*time.Second)
	if n := hall2.got.Load(); n != 0 {
		t.Fatalf("the waiting hall received %d packets during hall 1's hearing", n)
	}
	if s := a.cascade.hub.Stats(); s.Relays != 1 || s.Links != 1 {
		t.Fatalf("a: %+v, want one link and one relay (the call's, with b)", s)
	}
}
