package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestResumeTriesEachNode: the Go client's Resume given the cluster's nodes tries each in turn —
// one that does not answer, one that does not host the room (wrong_node) — until the room's
// node takes the participant back; with none that does, it fails with the last one's error.
func TestResumeTriesEachNode(t *testing.T) {
	a, bn := twoNodesBDraining(t) // the room goes to a
	ws := wsOf
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "ws://" + ln.Addr().String() + "/ws"
	ln.Close()

	p := dialFailoverPeer(t, ws(a.URL()), devToken(t, testHTTPClient(t), a.URL(), "room-l", "甲"))
	defer p.close()
	before := p.c.ResumeToken()
	p.c.DropSocket()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.c.Resume(ctx, gone, ws(bn.URL()), ws(a.URL())); err != nil {
		t.Fatalf("resume over the list: %v", err)
	}
	if p.c.ResumeToken() == before || p.c.Joined().Room != "room-l" {
		t.Fatalf("not resumed: token renewed %v, room %q", p.c.ResumeToken() != before, p.c.Joined().Room)
	}

	p.c.DropSocket()
	err = p.c.Resume(ctx, gone, ws(bn.URL()))
	if err == nil || !strings.Contains(err.Error(), "wrong_node") {
		t.Fatalf("resume where no node hosts the room: %v", err)
	}
	if err := p.c.Resume(ctx, ws(a.URL())); err != nil {
		t.Fatalf("resume on a after the failed list: %v", err)
	}
}
