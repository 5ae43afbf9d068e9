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

// TestSeatTokenUsedOnceAcrossNodes: two nodes in process on one PostgreSQL and one Redis. A
// seat token refused with wrong_node on one node is given back and seats its client on the
// owner; a copy of it is then refused there, and — the owner gone, the room re-placed on the
// other node — refused on the other node too, which still seats a token never used.
func TestSeatTokenUsedOnceAcrossNodes(t *testing.T) {
	dsn := testPGSchema(t)
	redisAddr := os.Getenv("SANJI_TEST_REDIS")
	if redisAddr == "" {
		t.Skip("SANJI_TEST_REDIS is not set (CI sets it)")
	}
	prefix := "sanjitest-seat-" + time.Now().Format("150405.000000")
	keys := testIdentityKeys(t)
	node := func(id string) *app {
		cfg := clusterTestConfig(t, redisAddr, prefix, id)
		cfg.Store.DSN, cfg.Identity.Keys = dsn, keys
		cfg.TokenSecret = testClusterSecret
		return startTestApp(t, cfg)
	}
	a := node("a")
	b := node("b")
	ctx := context.Background()
	// b drains, so the call is placed on a.
	if err := b.cluster.node.Load().Drain(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	waitDraining(t, a, "b", true)

	resp, raw := postReception(t, testHTTPClient(t), a.URL(), `{"halls": 2, "petitioners_per_hall": 1}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("booking: %s %s", resp.Status, raw)
	}
	var seats bench.ReceptionSeats
	if err := json.Unmarshal(raw, &seats); err != nil {
		t.Fatal(err)
	}
	tok := seats.Halls[0].Token
	join := func(ap *app, tok string) (string, map[string]any) {
		t.Helper()
		return wsAsk(t, ap.URL(), signaling.TypeJoin, map[string]any{"token": tok}, signaling.TypeJoined)
	}

	// Through b: refused with the owner's URL, the token given back.
	if typ, data := join(b, tok); typ != "error" || data["code"] != signaling.CodeWrongNode || data["node_url"] != a.URL() {
		t.Fatalf("join through b: %s %v", typ, data)
	}
	if typ, data := join(a, tok); typ != signaling.TypeJoined {
		t.Fatalf("join on a: %s %v", typ, data)
	}
	// A copy on the owner is refused.
	if typ, data := join(a, tok); typ != "error" || data["code"] != signaling.CodeTokenUsed {
		t.Fatalf("copy on a: %s %v", typ, data)
	}

	// a leaves (its claims released), b takes rooms again: the call is placed on b now.
	if err := b.cluster.node.Load().Undrain(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	waitDraining(t, b, "b", false)
	if typ, data := join(b, tok); typ != "error" || data["code"] != signaling.CodeTokenUsed {
		t.Fatalf("copy on b, the room placed there: %s %v", typ, data)
	}
	if typ, data := join(b, seats.Halls[1].Token); typ != signaling.TypeJoined {
		t.Fatalf("an unused token on b: %s %v", typ, data)
	}
}

// waitDraining waits until ap's view of the cluster shows node id draining (or not).
func waitDraining(t *testing.T, ap *app, id string, draining bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		view, _ := ap.cluster.node.Load().View()
		for _, in := range view {
			if in.ID == id && in.Draining == draining {
				return
			}
		}
		if time.Now().After(end) {
			t.Fatalf("node %s draining %v not seen: %+v", id, draining, view)
		}
	}
}
