package sitelink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	node = Loopback(1)
	site = Loopback(2)
)

// newLink fronts a fresh port with a Link of cfg (its addresses and ports filled in); the node's
// side of the port is for the caller to open.
func newLink(t testing.TB, cfg Config, udp, tcp bool) (*Link, uint16) {
	t.Helper()
	port, err := FreePort(node, site)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Node, cfg.Site = node, site
	if udp {
		cfg.UDPPorts = []uint16{port}
	}
	if tcp {
		cfg.TCPPorts = []uint16{port}
	}
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, port
}

// udpNode is the node's side of a UDP port: it echoes (when echo) and counts what it receives.
type udpNode struct {
	packets, bytes atomic.Int64
	mu             sync.Mutex
	seqs           []uint32 // the first 4 bytes of each packet, in arrival order
}

func serveUDP(t testing.TB, port uint16, echo bool) *udpNode {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(node, port)))
	if err != nil {
		t.Fatal(err)
	}
	setBuffers(c) // as the Link's: the kernel drops nothing the test sends
	n := &udpNode{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			k, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if k >= 4 {
				n.mu.Lock()
				n.seqs = append(n.seqs, binary.BigEndian.Uint32(buf))
				n.mu.Unlock()
			}
			n.packets.Add(1)
			n.bytes.Add(int64(k))
			if echo {
				_, _ = c.WriteToUDPAddrPort(buf[:k], from)
			}
		}
	}()
	t.Cleanup(func() { _ = c.Close(); <-done })
	return n
}

// peer is a client socket that talks to the Link's site port.
func peer(t testing.TB, port uint16) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(site, port)))
	if err != nil {
		t.Fatal(err)
	}
	setBuffers(c) // as the Link's: the kernel drops nothing the test sends
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// ping sends one numbered packet and waits for its echo, returning the round trip.
func ping(t testing.TB, c *net.UDPConn, seq uint32, within time.Duration) (time.Duration, bool) {
	t.Helper()
	var b [64]byte
	binary.BigEndian.PutUint32(b[:], seq)
	start := time.Now()
	if _, err := c.Write(b[:]); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(start.Add(within))
	var r [64]byte
	for {
		n, err := c.Read(r[:])
		if err != nil {
			return 0, false
		}
		if n >= 4 && binary.BigEndian.Uint32(r[:]) == seq {
			return time.Since(start), true
		}
	}
}

func TestUDPDelayMakesRoundTrip(t *testing.T) {
	const delay = 30 * time.Millisecond
	l, port := newLink(t, Config{Delay: delay}, true, false)
	serveUDP(t, port, true)
	c := peer(t, port)
	var rtts []time.Duration
	for i := range 20 {
		rtt, ok := ping(t, c, uint32(i), time.Second)
		if !ok {
			t.Fatalf("ping %d: no echo within 1 s", i)
		}
		rtts = append(rtts, rtt)
	}
	slices.Sort(rtts)
	median := rtts[len(rtts)/2]
	t.Logf("RTT through 2 × %v: min %v, median %v, max %v", delay, rtts[0], median, rtts[len(rtts)-1])
	if rtts[0] < 2*delay {
		t.Errorf("fastest round trip %v is shorter than 2 × %v", rtts[0], delay)
	}
	if median > 2*delay+15*time.Millisecond {
		t.Errorf("median round trip %v, want ≈ %v", median, 2*delay)
	}
	// A packet is counted once written: the echo may be read before its count is in.
	eventually(t, time.Second, "20 packets counted each way", func() bool {
		s := l.Stats()
		return s.Up.Packets == 20 && s.Down.Packets == 20
	})

	// At run time: a shorter delay shortens the round trip.
	l.SetDelay(5*time.Millisecond, 0)
	rtt, ok := ping(t, c, 100, time.Second)
	if !ok || rtt >= 2*delay {
		t.Errorf("after SetDelay(5 ms): round trip %v (echo %v), want ≈ 10 ms", rtt, ok)
	}
}

// blast sends n numbered packets of size bytes, at most window ahead of what the Link has taken
// in, so that no socket buffer on the way overflows; pace, when set, spaces them in time.
func blast(t testing.TB, l *Link, c *net.UDPConn, from, n, size int, pace time.Duration) {
	t.Helper()
	b := make([]byte, size)
	start := time.Now()
	for i := from; i < n; i++ {
		if pace > 0 {
			if wait := time.Until(start.Add(time.Duration(i-from) * pace)); wait > 0 {
				time.Sleep(wait)
			}
		}
		binary.BigEndian.PutUint32(b, uint32(i))
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			eventually(t, 5*time.Second, "the Link takes in what was sent", func() bool {
				s := l.Stats().Up
				return s.Packets+s.DroppedPackets+int64(l.up.queued()) >= int64(i+1)
			})
		}
	}
	eventually(t, 5*time.Second, "the Link takes in what was sent", func() bool {
		s := l.Stats().Up
		return s.Packets+s.DroppedPackets >= int64(n)
	})
}

func TestUDPLossShare(t *testing.T) {
	const n, loss = 2000, 0.10
	l, port := newLink(t, Config{Loss: loss}, true, false)
	sink := serveUDP(t, port, false)
	blast(t, l, peer(t, port), 0, n, 100, 0)
	s := l.Stats().Up
	eventually(t, 5*time.Second, "the node receives every packet forwarded", func() bool { return sink.packets.Load() == s.Packets })
	got := float64(s.DroppedPackets) / n
	t.Logf("lost %d of %d (%.1f %%), forwarded %d", s.DroppedPackets, n, 100*got, s.Packets)
	if got < loss-0.03 || got > loss+0.03 {
		t.Errorf("lost %.1f %%, want 10 %% ± 3 %%", 100*got)
	}
	if s.Packets+s.DroppedPackets != n {
		t.Errorf("forwarded %d + dropped %d ≠ %d sent", s.Packets, s.DroppedPackets, n)
	}
}

func TestUDPOrderWithoutJitter(t *testing.T) {
	const n = 1000
	l, port := newLink(t, Config{Delay: 5 * time.Millisecond}, true, false)
	sink := serveUDP(t, port, false)
	c := peer(t, port)
	blast(t, l, c, 0, n/2, 200, 0)
	l.SetDelay(time.Millisecond, 0) // a shorter delay must not let later packets overtake
	blast(t, l, c, n/2, n, 200, 0)
	eventually(t, 5*time.Second, "all packets at the node", func() bool { return sink.packets.Load() == n })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for i, s := range sink.seqs {
		if s != uint32(i) {
			t.Fatalf("packet %d arrived as number %d: out of order", s, i)
		}
	}
}

func TestUDPJitterReorders(t *testing.T) {
	const n = 300
	l, port := newLink(t, Config{Delay: 2 * time.Millisecond, Jitter: 20 * time.Millisecond}, true, false)
	sink := serveUDP(t, port, false)
	blast(t, l, peer(t, port), 0, n, 200, 0)
	eventually(t, 5*time.Second, "all packets at the node", func() bool { return sink.packets.Load() == n })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if slices.IsSorted(sink.seqs) {
		t.Errorf("%d packets sent at once with 20 ms of jitter arrived in order", n)
	}
}

func TestCutAndRestore(t *testing.T) {
	l, port := newLink(t, Config{Delay: 2 * time.Millisecond}, true, true)
	serveUDP(t, port, true)
	serveTCPEcho(t, port)
	c := peer(t, port)
	if _, ok := ping(t, c, 1, time.Second); !ok {
		t.Fatal("no echo before the cut")
	}
	tc := dialSite(t, port)
	tcpRoundTrip(t, tc)

	l.Cut()
	before := l.Stats()
	if _, ok := ping(t, c, 2, 300*time.Millisecond); ok {
		t.Error("an echo came back through a cut link")
	}
	if after := l.Stats(); after.Up.DroppedPackets <= before.Up.DroppedPackets {
		t.Errorf("the cut dropped nothing: %+v", after.Up)
	}
	_ = tc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := tc.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("a TCP connection through the cut link read %v, want a reset", err)
	}
	if cc, err := net.DialTimeout("tcp", netip.AddrPortFrom(site, port).String(), time.Second); err == nil {
		_ = cc.Close()
		t.Error("a new TCP connection was accepted through a cut link")
	}

	if err := l.Restore(); err != nil {
		t.Fatal(err)
	}
	if _, ok := ping(t, c, 3, time.Second); !ok {
		t.Error("no echo after the restore")
	}
	tcpRoundTrip(t, dialSite(t, port))
}

// tcpRoundTrip sends a byte on c and reads its echo.
func tcpRoundTrip(t testing.TB, c net.Conn) {
	t.Helper()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if got := readFull(t, c, 1); string(got) != "x" {
		t.Fatalf("echo %q", got)
	}
}

func serveTCPEcho(t testing.TB, port uint16) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(node, port)))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

func dialSite(t testing.TB, port uint16) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", netip.AddrPortFrom(site, port).String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func readFull(t testing.TB, c net.Conn, n int) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

func TestTCPEchoWithDelay(t *testing.T) {
	const delay = 30 * time.Millisecond
	l, port := newLink(t, Config{Delay: delay}, false, true)
	serveTCPEcho(t, port)
	c := dialSite(t, port)
	start := time.Now()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if got := readFull(t, c, 4); string(got) != "ping" {
		t.Fatalf("echo %q", got)
	}
	rtt := time.Since(start)
	t.Logf("TCP round trip through 2 × %v: %v", delay, rtt)
	if rtt < 2*delay || rtt > 2*delay+30*time.Millisecond {
		t.Errorf("TCP round trip %v, want ≈ %v", rtt, 2*delay)
	}

	// A megabyte comes back whole and in order, chunk after chunk.
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7 / 5)
	}
	go func() { _, _ = c.Write(data) }()
	if got := readFull(t, c, len(data)); !bytes.Equal(got, data) {
		t.Error("the megabyte came back changed")
	}
	eventually(t, time.Second, "TCP counters", func() bool {
		s := l.Stats()
		return s.TCPBytesUp == 4+1<<20 && s.TCPBytesDown == 4+1<<20
	})
}

func TestRateLimitCapsThroughput(t *testing.T) {
	const rate, queue, size = 100_000, 10_000, 1000
	l, port := newLink(t, Config{Rate: rate, Queue: queue}, true, false)
	sink := serveUDP(t, port, false)
	c := peer(t, port)
	// 300 kB/s offered for about a second: three times the rate.
	start := time.Now()
	blast(t, l, c, 0, 300, size, time.Second/300)
	offered := time.Since(start)
	s := l.Stats().Up
	eventually(t, 2*time.Second, "what the limit let through reaches the node", func() bool { return sink.bytes.Load() == s.Bytes })
	limit := float64(rate)*offered.Seconds() + queue + size
	t.Logf("offered 300 kB in %v at a limit of %d B/s: delivered %d B, dropped %d B", offered, rate, s.Bytes, s.DroppedBytes)
	if float64(s.Bytes) > limit {
		t.Errorf("delivered %d B in %v, more than the limit allows (%.0f B)", s.Bytes, offered, limit)
	}
	if float64(s.Bytes) < 0.8*float64(rate)*offered.Seconds() {
		t.Errorf("delivered %d B in %v, far below the limit of %d B/s", s.Bytes, offered, rate)
	}
	if s.DroppedPackets == 0 {
		t.Error("nothing dropped at three times the rate")
	}

	// Lifted at run time, the limit drops nothing more.
	l.SetRate(0, 0)
	blast(t, l, c, 300, 400, size, 0)
	if after := l.Stats().Up; after.DroppedPackets != s.DroppedPackets {
		t.Errorf("%d more dropped with the limit lifted", after.DroppedPackets-s.DroppedPackets)
	}
}

func TestCounters(t *testing.T) {
	l, port := newLink(t, Config{}, true, false)
	serveUDP(t, port, true)
	a, b := peer(t, port), peer(t, port)
	for i := range 10 {
		if _, ok := ping(t, a, uint32(i), time.Second); !ok {
			t.Fatalf("no echo %d", i)
		}
	}
	if _, ok := ping(t, b, 99, time.Second); !ok {
		t.Fatal("no echo to the second peer")
	}
	want := Direction{Packets: 11, Bytes: 11 * 64}
	eventually(t, time.Second, "11 packets counted each way", func() bool { return l.Stats().Down.Packets == 11 })
	if s := l.Stats(); s.Up != want || s.Down != want || s.Flows != 2 {
		t.Errorf("stats %+v; want up and down %+v, 2 flows", s, want)
	}
	l.SetLoss(1)
	if _, ok := ping(t, a, 100, 100*time.Millisecond); ok {
		t.Error("an echo came back at 100 % loss")
	}
	if s := l.Stats(); s.Up.DroppedPackets != 1 || s.Up.DroppedBytes != 64 {
		t.Errorf("after a packet lost: %+v", s.Up)
	}
}

func TestForwardingAllocatesNothing(t *testing.T) {
	if raceBuild {
		t.Skip("allocations are not counted under the race detector")
	}
	_, port := newLink(t, Config{}, true, false)
	serveUDP(t, port, true)
	c := peer(t, port)
	var b, r [200]byte
	round := func() {
		if _, err := c.Write(b[:]); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(r[:]); err != nil {
			t.Fatal(err)
		}
	}
	round() // the flow and its socket
	// The whole process counts, test and echo server included: a per-packet allocation in the
	// Link would show as 2 (a packet each way).
	if a := testing.AllocsPerRun(500, round); a > 0.5 {
		t.Errorf("%.2f allocations per round trip", a)
	}
}

func TestFreePort(t *testing.T) {
	p, err := FreePort(node, site, Loopback(3))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Addr{node, site, Loopback(3)} {
		u, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, p)))
		if err != nil {
			t.Fatal(err)
		}
		_ = u.Close()
	}
}

func TestNewFailsOnABusyPortAndLeavesNothing(t *testing.T) {
	port, err := FreePort(node, site)
	if err != nil {
		t.Fatal(err)
	}
	busy, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(site, port)))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	// The UDP port opens and its TCP twin does not: New must close the first (goleak checks the
	// goroutines, the second New the socket).
	if _, err := New(Config{Node: node, Site: site, UDPPorts: []uint16{port}, TCPPorts: []uint16{port}}); err == nil {
		t.Fatal("New succeeded on a busy port")
	}
	l, err := New(Config{Node: node, Site: site, UDPPorts: []uint16{port}})
	if err != nil {
		t.Fatalf("the failed New kept its UDP socket: %v", err)
	}
	_ = l.Close()
}
