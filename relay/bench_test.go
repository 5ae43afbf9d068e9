package relay

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRoundTrip is one 1200-byte packet to the media port and its echo back, directly and
// through an allocation over each transport: the relay's cost per packet is the difference. Each
// round trip crosses the relay twice (to_media, to_client).
func BenchmarkRoundTrip(b *testing.B) {
	payload := make([]byte, 1200) // a video packet's size
	buf := make([]byte, 1500)
	b.Run("direct", func(b *testing.B) {
		media := echo(b).LocalAddr()
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		roundTrips(b, c, media, payload, buf)
	})
	for _, tr := range []Transport{UDP, TCP, TLS} {
		b.Run("turn-"+string(tr), func(b *testing.B) {
			f := newFixture(b)
			user, pass := valid("bench")
			cl := f.dial(b, tr, user, pass)
			relayConn, err := cl.Allocate()
			if err != nil {
				b.Fatal(err)
			}
			defer relayConn.Close()
			roundTrips(b, relayConn, f.media, payload, buf)
		})
	}
}

// roundTrips also reports the process's CPU time per round trip (cpu-ns/op): client, relay and
// echo all run in this process, and on a shared machine CPU time varies less than wall time.
func roundTrips(b *testing.B, c net.PacketConn, to net.Addr, payload, buf []byte) {
	b.SetBytes(int64(len(payload)))
	start := cpuTime(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.WriteTo(payload, to); err != nil {
			b.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := c.ReadFrom(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
