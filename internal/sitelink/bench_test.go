package sitelink

import (
	"encoding/binary"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system time so far.
func cpuTime(t testing.TB) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestSustains3000PacketsPerSecond sends 3,000 packets/s of 1,000 bytes through a 30 ms Link to
// an echo for a second: every one comes back (the Link keeps up), and the CPU the process spent,
// sender and echo included, is logged.
func TestSustains3000PacketsPerSecond(t *testing.T) {
	const rate, n, size = 3000, 3000, 1000
	l, port := newLink(t, Config{Delay: 30 * time.Millisecond}, true, false)
	serveUDP(t, port, true)
	c := peer(t, port)
	var back int
	done := make(chan struct{})
	go func() { // the echoes, counted until none comes for a second
		defer close(done)
		b := make([]byte, 2048)
		for {
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.Read(b); err != nil {
				return
			}
			back++
		}
	}()
	cpu0, start := cpuTime(t), time.Now()
	b := make([]byte, size)
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * time.Second / rate)); wait > 0 {
			time.Sleep(wait)
		}
		binary.BigEndian.PutUint32(b, uint32(i))
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	eventually(t, 5*time.Second, "every packet back", func() bool { return l.Stats().Down.Packets+l.Stats().Down.DroppedPackets >= n })
	cpu := cpuTime(t) - cpu0
	<-done
	s := l.Stats()
	t.Logf("%d packets in %v each way: %d back; CPU %v (%.0f %% of a core, all of the process); link %+v",
		n, took.Round(time.Millisecond), back, cpu.Round(time.Millisecond), 100*cpu.Seconds()/took.Seconds(), s)
	if back != n || s.Up.DroppedPackets+s.Down.DroppedPackets != 0 {
		t.Errorf("%d of %d packets back, %d + %d dropped in the Link", back, n, s.Up.DroppedPackets, s.Down.DroppedPackets)
	}
}

// BenchmarkUDPForward pushes 1,000-byte packets one way through a Link with 1 ms of delay to a
// sink, as fast as the sink takes them, at most 128 on the way (what the sockets' buffers hold:
// the kernel would drop more, unseen by the Link).
func BenchmarkUDPForward(b *testing.B) {
	l, port := newLink(b, Config{Delay: time.Millisecond}, true, false)
	sink := serveUDP(b, port, false)
	c := peer(b, port)
	buf := make([]byte, 1000)
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for int64(i)-sink.packets.Load() >= 128 {
			time.Sleep(50 * time.Microsecond)
		}
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	eventually(b, 5*time.Second, "every packet at the sink", func() bool { return sink.packets.Load() >= int64(b.N) })
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/pkt")
	if s := l.Stats().Up; s.DroppedPackets != 0 {
		b.Errorf("the Link dropped %d packets", s.DroppedPackets)
	}
}
