package cascade

import (
	"encoding/binary"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// epoch is the zero of the send stamps: publisher and receivers share the process's monotonic clock.
var epoch = time.Now()

func sinceEpoch() time.Duration { return time.Since(epoch) }

// stampMagic marks a stamped payload: the last 12 bytes are the magic and the send time.
const stampMagic = 0x53414e4a // "SANJ"

func putStamp(payload []byte, at time.Duration) {
	n := len(payload)
	binary.BigEndian.PutUint32(payload[n-12:], stampMagic)
	binary.BigEndian.PutUint64(payload[n-8:], uint64(at))
}

func readStamp(payload []byte) (time.Duration, bool) {
	n := len(payload)
	if n < 16 || binary.BigEndian.Uint32(payload[n-12:]) != stampMagic {
		return 0, false
	}
	return time.Duration(binary.BigEndian.Uint64(payload[n-8:])), true
}

// publishStream sends a 1.5 Mbit/s VP8-shaped stream (30 frames a second of 6 packets of ~1,040
// bytes, a keyframe every 2 s), each packet stamped with its send time, until the test ends; it
// returns the SFU's track id.
func (c *testPeer) publishStream() string {
	c.t.Helper()
	tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "stream")
	if err != nil {
		c.t.Fatal(err)
	}
	c.negotiate(tr)
	payload := make([]byte, 1040)
	var seq uint16
	c.every(time.Second/30, func(frame int) {
		for i := range 6 {
			clear(payload)
			payload[0] = 0x10 // S: the start of a partition
			if i > 0 {
				payload[0] = 0
			}
			payload[1] = 0x01 // an interframe
			if frame%60 == 0 {
				payload[1] = 0x00
			}
			putStamp(payload, sinceEpoch())
			seq++
			c.sent.Add(1)
			_ = tr.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(frame) * 3000,
				Marker: i == 5}, Payload: payload})
		}
	})
	return c.publishedID(tr.ID())
}

// sentPackets is how many packets publishStream has sent.
func (c *testPeer) sentPackets() int64 { return c.sent.Load() }

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// BenchmarkRelayFanout: one 1.5 Mbit/s stream published by a hall whose media node b holds, received
// by far=N participants on the owner a over the room's one relay, and by one participant on b
// itself. It reports what crossed the relay per packet each far receiver got (1 = one copy,
// whatever N), and the latency the relay hop adds (far receivers' p50/p99 minus the near one's:
// one more SFU and the relay's link, on loopback).
func BenchmarkRelayFanout(b *testing.B) {
	for _, far := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("far=%d", far), func(b *testing.B) {
			nodes := newTestNodes(b, "a", "b")
			na, nb := nodes["a"], nodes["b"]
			hall := remotePeer(b, na, "b", "room", "hall", nil)
			id := hall.publishStream()
			near := localPeer(b, nb, "room", "near")
			if err := near.m.Subscribe(id); err != nil {
				b.Fatal(err)
			}
			var receivers []*testPeer
			for i := range far {
				p := localPeer(b, na, "room", fmt.Sprintf("far%d", i))
				waitUntil(b, "the relay announced the stream", func() bool { return p.m.Subscribe(id) == nil })
				receivers = append(receivers, p)
			}
			for _, p := range append(receivers, near) {
				waitUntil(b, "every receiver gets the stream", func() bool { return p.packets(id) > 100 })
			}
			b.ResetTimer()
			for _, p := range append(receivers, near) {
				p.mu.Lock()
				p.record, p.latency = true, nil
				p.mu.Unlock()
			}
			from, got := crossed(nb, "room", "a", id, true), receivers[0].packets(id)
			// b.N seconds of the stream.
			deadline := time.Now().Add(time.Duration(b.N) * time.Second)
			for time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			sent, recv := crossed(nb, "room", "a", id, true)-from, receivers[0].packets(id)-got
			b.StopTimer()
			var farLat []time.Duration
			for _, p := range receivers {
				p.mu.Lock()
				farLat = append(farLat, p.latency...)
				p.record = false
				p.mu.Unlock()
			}
			near.mu.Lock()
			nearLat := slices.Clone(near.latency)
			near.record = false
			near.mu.Unlock()
			if recv > 0 {
				b.ReportMetric(float64(sent)/float64(recv), "relay-copies")
			}
			b.ReportMetric(float64(percentile(nearLat, 0.5).Microseconds())/1000, "near-p50-ms")
			b.ReportMetric(float64(percentile(farLat, 0.5).Microseconds())/1000, "far-p50-ms")
			b.ReportMetric(float64(percentile(nearLat, 0.99).Microseconds())/1000, "near-p99-ms")
			b.ReportMetric(float64(percentile(farLat, 0.99).Microseconds())/1000, "far-p99-ms")
			b.ReportMetric(float64((percentile(farLat, 0.5)-percentile(nearLat, 0.5)).Microseconds())/1000, "hop-p50-ms")
			b.ReportMetric(float64((percentile(farLat, 0.99)-percentile(nearLat, 0.99)).Microseconds())/1000, "hop-p99-ms")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSpreadFanout: one 1.5 Mbit/s stream published on a, received by subs participants all
// on a (nodes=1), or spread evenly over a, b and c (nodes=3; b's and c's over their relay with a).
// It reports the share of packets lost to the receivers and the process's CPU per packet
// delivered (server and clients share the process: compare the two rows, not with the limit).
func BenchmarkSpreadFanout(b *testing.B) {
	const subs = 60
	for _, spread := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", spread), func(b *testing.B) {
			nodes := newTestNodes(b, "a", "b", "c")
			names := []string{"a", "b", "c"}[:spread]
			pub := localPeer(b, nodes["a"], "room", "studio")
			id := pub.publishStream()
			var receivers []*testPeer
			for i := range subs {
				node := names[i%len(names)]
				var p *testPeer
				if node == "a" {
					p = localPeer(b, nodes["a"], "room", fmt.Sprintf("sub%d", i))
				} else {
					p = remotePeer(b, nodes["a"], node, "room", fmt.Sprintf("sub%d", i), nil)
				}
				waitUntil(b, "the stream announced", func() bool { return p.m.Subscribe(id) == nil })
				receivers = append(receivers, p)
			}
			for _, p := range receivers {
				waitUntil(b, "every receiver gets the stream", func() bool { return p.packets(id) > 100 })
			}
			before := make([]int, len(receivers))
			for i, p := range receivers {
				before[i] = p.packets(id)
			}
			cpu0, sent0 := cpuTime(), pub.sentPackets()
			b.ResetTimer()
			deadline := time.Now().Add(time.Duration(b.N) * time.Second)
			for time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			b.StopTimer()
			cpu, sent := cpuTime()-cpu0, pub.sentPackets()-sent0
			var got int
			for i, p := range receivers {
				got += p.packets(id) - before[i]
			}
			want := float64(sent) * subs
			b.ReportMetric(100*max(0, want-float64(got))/want, "loss-%")
			if got > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(got)/1000, "cpu-µs/delivered")
			}
		})
	}
}
