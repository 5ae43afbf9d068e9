package signaling_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sanji/signaling"
)

// fakePlacer places room "here" on this node, "there" on another, and fails for "down".
type fakePlacer struct {
	mu    sync.Mutex
	asked []string
}

func (f *fakePlacer) Place(_ context.Context, room string, _ int64) (string, error) {
	f.mu.Lock()
	f.asked = append(f.asked, room)
	f.mu.Unlock()
	switch room {
	case "there":
		return "http://10.0.0.2:8080", nil
	case "down":
		return "", errors.New("redis: connection refused")
	}
	return "", nil
}

func TestJoinAsksPlacement(t *testing.T) {
	pl := &fakePlacer{}
	e := newEnv(t, func(c *signaling.Config) { c.Placement = pl })

	// A room placed elsewhere: refused, naming the owner, and the connection stays open.
	r := e.dialRaw()
	r.send(signaling.TypeJoin, "j1", signaling.JoinData{Token: e.token("there", "p1", "leader", time.Minute)})
	m := r.nextOf(signaling.TypeError)
	var er signaling.Error
	if err := json.Unmarshal(m.Data, &er); err != nil {
		t.Fatal(err)
	}
	if er.Code != signaling.CodeWrongNode || er.NodeURL != "http://10.0.0.2:8080" || !strings.Contains(er.MessageZH, "http://10.0.0.2:8080") {
		t.Fatalf("wrong node: %+v", er)
	}
	checkBilingual(t, &er)

	// The cluster cannot say: refused as unavailable.
	r.send(signaling.TypeJoin, "j2", signaling.JoinData{Token: e.token("down", "p1", "leader", time.Minute)})
	r.expectError(signaling.CodeUnavailable, "j2")

	// A room placed here joins, and is listed as live.
	r.join(e.token("here", "p1", "leader", time.Minute), false)
	if got := e.srv.Rooms(); !slices.Equal(got, []string{"here"}) {
		t.Fatalf("live rooms: %v", got)
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if !slices.Equal(pl.asked, []string{"there", "down", "here"}) {
		t.Fatalf("placement asked for %v", pl.asked)
	}
}
