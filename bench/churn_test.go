package bench

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
)

// TestCompareChurnFindsGrowth: a resource that ends above its level after the warm-up by more than
// the tolerance and the slack fails the soak, naming it; within them it passes.
func TestCompareChurnFindsGrowth(t *testing.T) {
	base := ChurnSample{Goroutines: 100, HeapBytes: 50 << 20, RSSKB: 100_000, FDs: 40, UDPSockets: 1, TCPSockets: 3}
	same := base
	same.Goroutines, same.HeapBytes, same.FDs = 104, 52<<20, 41 // +4 %, +4 %, +1 (slack)
	for _, c := range compareChurn(base, same, 5) {
		if !c.OK {
			t.Errorf("%s %d → %d failed within the tolerance", c.Resource, c.Base, c.End)
		}
	}
	grown := base
	grown.Goroutines, grown.UDPSockets = 130, 2
	rep := &ChurnReport{TolerancePercent: 5, Checks: compareChurn(base, grown, 5)}
	bad := map[string]bool{}
	for _, c := range rep.Checks {
		if !c.OK {
			bad[c.Resource] = true
		}
	}
	if len(bad) != 2 || !bad["goroutines"] || !bad["udp_sockets"] {
		t.Fatalf("failed checks %v, want goroutines and udp_sockets", bad)
	}
	err := rep.Err()
	if err == nil || !strings.Contains(err.Error(), "goroutines 100 → 130") {
		t.Fatalf("Err() = %v, want the goroutines named", err)
	}
}

// TestReadSocketsCountsOwnSockets opens a UDP and a TCP socket in this process and sees both
// counts and the descriptors rise.
func TestReadSocketsCountsOwnSockets(t *testing.T) {
	pid := os.Getpid()
	fds0, udp0, tcp0, err := readSockets(pid)
	if err != nil {
		t.Fatal(err)
	}
	u, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fds, udp, tcp, err := readSockets(pid)
	if err != nil {
		t.Fatal(err)
	}
	if udp != udp0+1 || tcp != tcp0+1 || fds < fds0+2 {
		t.Fatalf("fds %d → %d, udp %d → %d, tcp %d → %d; want one more socket of each", fds0, fds, udp0, udp, tcp0, tcp)
	}
}

// TestRunChurnNeedsServerPID: without the server's process the soak cannot read its resources
// and says so before joining anyone.
func TestRunChurnNeedsServerPID(t *testing.T) {
	_, err := RunChurn(context.Background(), Config{URL: "http://127.0.0.1:1", Rooms: 1, Subscribers: 1}, ChurnConfig{})
	if err == nil || !strings.Contains(err.Error(), "--server-pid") {
		t.Fatalf("err = %v, want the pid asked for", err)
	}
}
