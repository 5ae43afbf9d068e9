package sfu

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// BenchmarkForward measures one publisher packet (1100-byte VP8 payload) read, buffered and fanned
// out to N down tracks, up to the SRTP writer. Reported per packet and per subscriber.
func BenchmarkForward(b *testing.B) {
	for _, n := range []int{1, 10, 100, 500} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			tr, _ := testTrack(b, time.Hour)
			tr.maxDelay = DefaultMaxDelay
			for range n {
				_, w := bindDown(b, tr, false)
				w.keep = false
			}
			raw := marshal(b, rtp.Header{Version: 2, PayloadType: 96, SSRC: 777}, make([]byte, 1100))
			raw[12] = 0x10
			var p packet
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				binary.BigEndian.PutUint16(raw[2:], uint16(i))
				tr.receive(tr.layer(0), raw, &p, now())
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/subscriber")
		})
	}
}

// BenchmarkNACKServe measures serving one NACKed packet from the shared publisher buffer over RTX.
func BenchmarkNACKServe(b *testing.B) {
	tr, _ := testTrack(b, time.Hour)
	d, w := bindDown(b, tr, true)
	w.keep = false
	raw := marshal(b, rtp.Header{Version: 2, PayloadType: 96, SSRC: 777}, make([]byte, 1100))
	raw[12] = 0x10
	var p packet
	for i := range 512 {
		binary.BigEndian.PutUint16(raw[2:], uint16(i))
		tr.receive(tr.layer(0), raw, &p, now())
	}
	nack := []rtcp.Packet{&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: 100}}}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		// Measure a served NACK, not the resend limit, the age limit or the budget.
		d.nack.sent.entries[100].resent, d.nack.sent.entries[100].sentMs = 0, uint32(now()/1e6)
		d.rtx.tokens = 1 << 20
		d.handleRTCP(nack)
	}
	if got := testutil.ToFloat64(d.metrics.retransmits); got < float64(b.N) {
		b.Fatalf("%v retransmissions for %d NACKs", got, b.N)
	}
}

// BenchmarkForwardSimulcast is BenchmarkForward for one layer of a three-layer VP8 track after
// the down tracks switched layers: each packet's picture id is rewritten per subscriber.
func BenchmarkForwardSimulcast(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			tr, _ := testTrackLayers(b, time.Hour, 3)
			tr.maxDelay = DefaultMaxDelay
			for range n {
				_, w := bindDown(b, tr, false)
				w.keep = false
			}
			var p packet
			key := marshal(b, rtp.Header{Version: 2, SSRC: 1002}, vp8Frame(500, 0, true, 640, 360))
			tr.receive(tr.layer(2), key, &p, now())
			for _, d := range *tr.downs.Load() {
				d.setTarget(0)
			}
			key = marshal(b, rtp.Header{Version: 2, SSRC: 1000, SequenceNumber: 1}, vp8Frame(9, 0, true, 160, 90))
			tr.receive(tr.layer(0), key, &p, now())
			raw := marshal(b, rtp.Header{Version: 2, SSRC: 1000}, append(vp8Frame(10, 0, false, 0, 0), make([]byte, 1100)...))
			l := tr.layer(0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				binary.BigEndian.PutUint16(raw[2:], uint16(i+2))
				binary.BigEndian.PutUint16(raw[14:], 0x8000|uint16(i+10)&0x7fff)
				tr.receive(l, raw, &p, now())
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/subscriber")
		})
	}
}

// BenchmarkForwardHandoff is BenchmarkForward for one subscriber through the read loop's
// hand-off to the layer's fan-out goroutine (overload.go), as forward runs it: what stamping
// arrivals and bounding the delay cost per packet.
func BenchmarkForwardHandoff(b *testing.B) {
	tr, _ := testTrack(b, time.Hour)
	tr.maxDelay = DefaultMaxDelay
	_, w := bindDown(b, tr, false)
	w.keep = false
	raw := marshal(b, rtp.Header{Version: 2, PayloadType: 96, SSRC: 777}, make([]byte, 1100))
	raw[12] = 0x10
	l := tr.layer(0)
	// Shorter than the packet buffer, so the benchmark never laps the fan-out.
	q := make(chan queued, 64)
	done := make(chan struct{})
	go func() { defer close(done); tr.fanOutLoop(l, q) }()
	var p packet
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		binary.BigEndian.PutUint16(raw[2:], uint16(i))
		at := now()
		if tr.accept(l, raw, &p, at) {
			q <- queued{at: at, seq: p.seq}
		}
	}
	close(q)
	<-done
	if got := l.fwd.packets.Load(); got < uint64(b.N)*9/10 {
		b.Fatalf("%d of %d packets forwarded", got, b.N)
	}
}
