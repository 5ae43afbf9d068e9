package signaling_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sanji/auth"
	"sanji/scheduler/api"
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

// movingPlacer says the room lives on another node until moved, then here.
type movingPlacer struct{ here atomic.Bool }

func (m *movingPlacer) Place(context.Context, string, int64) (string, error) {
	if m.here.Load() {
		return "", nil
	}
	return "http://10.0.0.2:8080", nil
}

// TestWrongNodeDoesNotSpendTheSeatToken: a seat token refused with wrong_node still seats its
// client here later (the room moved here), instead of being taken for a copy already used.
func TestWrongNodeDoesNotSpendTheSeatToken(t *testing.T) {
	pl := &movingPlacer{}
	ce := newCallEnv(t, func(c *signaling.Config) { c.Placement = pl })
	u := ce.users["demo-leader"]
	now := time.Now()
	tok, err := ce.signer.Sign(auth.Claims{Room: api.CallRoom(ce.session.ID), Subject: "studio-1", Name: u.DisplayName,
		Role: "leader", IssuedAt: now, ExpiresAt: now.Add(time.Hour), UserID: u.ID, SessionID: ce.session.ID,
		Seat: auth.SeatStudio})
	if err != nil {
		t.Fatal(err)
	}
	r := ce.dialRaw()
	r.send(signaling.TypeJoin, "j1", signaling.JoinData{Token: tok})
	r.expectError(signaling.CodeWrongNode, "j1")
	pl.here.Store(true)
	if j := r.join(tok, true); j.Participant.ID != "studio-1" {
		t.Fatalf("joined as %+v", j.Participant)
	}
}
