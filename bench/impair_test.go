package bench

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/pion/transport/v5/stdnet"
)

// impairedPair is an impaired UDP socket on loopback and a plain one it sends to.
func impairedPair(t *testing.T, m Impairment) (*impairedConn, *net.UDPConn, *impairer) {
	t.Helper()
	nw, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	im := newImpairer(m, 42)
	im.active.Store(true)
	c, err := (&impairedNet{Net: nw, im: im}).ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(); _ = rx.Close() })
	return c.(*impairedConn), rx, im
}

type drained struct {
	n, bytes int
	last     time.Time
}

// drainAsync reads rx while the test sends, so the socket buffer never overflows.
func drainAsync(rx *net.UDPConn, quiet time.Duration) <-chan drained {
	ch := make(chan drained, 1)
	go func() {
		n, b, last := drain(rx, quiet)
		ch <- drained{n, b, last}
	}()
	return ch
}

// drain counts what rx receives until nothing comes for quiet, with the last arrival's time.
func drain(rx *net.UDPConn, quiet time.Duration) (n, bytes int, last time.Time) {
	buf := make([]byte, 2000)
	for {
		_ = rx.SetReadDeadline(time.Now().Add(quiet))
		k, _, err := rx.ReadFrom(buf)
		if err != nil {
			return n, bytes, last
		}
		n++
		bytes += k
		last = time.Now()
	}
}

func rtpLike(size int) []byte {
	b := make([]byte, size)
	b[0] = 0x80
	return b
}

func TestImpairedConnLossShare(t *testing.T) {
	c, rx, im := impairedPair(t, Impairment{LossPercent: 10})
	got := drainAsync(rx, 500*time.Millisecond)
	const sent = 3000
	for i := range sent {
		if _, err := c.WriteTo(rtpLike(100), rx.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			time.Sleep(2 * time.Millisecond) // stay below the socket buffers
		}
	}
	// STUN (first byte 0) is never lost.
	for range 100 {
		if _, err := c.WriteTo(make([]byte, 40), rx.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	lost := sent + 100 - (<-got).n
	if lost < sent*8/100 || lost > sent*12/100 || uint64(lost) != im.dropped.Load() || im.sent.Load() != sent {
		t.Fatalf("%d of %d media packets lost (the impairer counted %d of %d), want 10 %% ± 2", lost, sent, im.dropped.Load(), im.sent.Load())
	}
}

func TestImpairedConnDelaysBothWays(t *testing.T) {
	const delay = 60 * time.Millisecond
	c, rx, _ := impairedPair(t, Impairment{Delay: delay})
	start := time.Now()
	if _, err := c.WriteTo(rtpLike(100), rx.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > delay/2 {
		t.Fatalf("WriteTo blocked for %v", took)
	}
	buf := make([]byte, 200)
	_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := rx.ReadFrom(buf); err != nil {
		t.Fatal(err)
	}
	if out := time.Since(start); out < delay {
		t.Fatalf("outgoing packet arrived after %v, want ≥ %v", out, delay)
	}
	// And the way back.
	back := time.Now()
	if _, err := rx.WriteTo([]byte{0x80, 1, 2}, c.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadFrom(buf); err != nil {
		t.Fatal(err)
	}
	if in := time.Since(back); in < delay {
		t.Fatalf("incoming packet handed over after %v, want ≥ %v", in, delay)
	}
}

func TestImpairedConnRateCap(t *testing.T) {
	const rate = 400_000 // bit/s: a 1000-byte packet every 20 ms
	c, rx, im := impairedPair(t, Impairment{RateBits: rate})
	got := drainAsync(rx, 500*time.Millisecond)
	start := time.Now()
	const sent = 200 // 1.6 Mbit in one burst: most of it cannot fit the queue
	for range sent {
		if _, err := c.WriteTo(rtpLike(1000), rx.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	d := <-got
	n, bytes, took := d.n, d.bytes, d.last.Sub(start)
	// The queue holds RateQueue at the rate, plus the packet that starts it.
	maxPackets := int(RateQueue*rate/8/time.Second)/1000 + 2
	if n > maxPackets || n < maxPackets-2 || uint64(sent-n) != im.dropped.Load() {
		t.Fatalf("%d packets through a %v queue (want about %d), %d dropped", n, RateQueue, maxPackets, im.dropped.Load())
	}
	if got := float64(bytes*8) / took.Seconds(); got > rate*1.15 {
		t.Fatalf("%d bytes in %v: %.0f bit/s over a %d bit/s cap", bytes, took, got, rate)
	}
}

// TestImpairedConnCloseEndsItsGoroutines: Close waits for the writer and the reader (goleak
// checks the package at its end), loses what is queued, and later calls fail.
func TestImpairedConnCloseEndsItsGoroutines(t *testing.T) {
	c, rx, _ := impairedPair(t, Impairment{Delay: time.Hour})
	for range 10 {
		if _, err := c.WriteTo(rtpLike(100), rx.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	readErr := make(chan error, 1)
	go func() {
		_, _, err := c.ReadFrom(make([]byte, 100))
		readErr <- err
	}()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("ReadFrom after Close returned a packet")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadFrom did not return after Close")
	}
	if _, err := c.WriteTo(rtpLike(100), rx.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteTo after Close: %v", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// TestImpairedConnOffIsClean: switched off, the conn neither drops nor delays.
func TestImpairedConnOffIsClean(t *testing.T) {
	c, rx, im := impairedPair(t, Impairment{LossPercent: 100, Delay: time.Hour})
	im.active.Store(false)
	got := drainAsync(rx, 300*time.Millisecond)
	for range 20 {
		if _, err := c.WriteTo(rtpLike(100), rx.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	if n := (<-got).n; n != 20 {
		t.Fatalf("%d of 20 packets through a link switched off", n)
	}
}
