package bench

import (
	"encoding/binary"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// feed adds packets with the given sequence numbers, 20 ms apart, each stamped delay before it
// arrives.
func feed(s *Stream, seqs []uint16, delay time.Duration) {
	for i, q := range seqs {
		at := time.Second + time.Duration(i)*20*time.Millisecond
		s.Add(Packet{Seq: q, Timestamp: uint32(i) * 960, Size: 100, Arrival: at, SentAt: at - delay, Stamped: true})
	}
}

func seqRange(from uint16, n int) []uint16 {
	out := make([]uint16, n)
	for i := range out {
		out[i] = from + uint16(i)
	}
	return out
}

func TestStreamKnownGapsAreLoss(t *testing.T) {
	s := NewStream("audio", 48000)
	var seqs []uint16
	for _, q := range seqRange(100, 100) {
		if q == 110 || q == 150 || q == 151 || q == 152 {
			continue // 4 lost
		}
		seqs = append(seqs, q)
	}
	feed(s, seqs, 5*time.Millisecond)
	st := s.Stats()
	if st.Expected != 100 || st.Received != 96 || st.Lost != 4 {
		t.Fatalf("expected %d received %d lost %d, want 100/96/4", st.Expected, st.Received, st.Lost)
	}
}

func TestStreamRepairAndDuplicatesAreNotLoss(t *testing.T) {
	s := NewStream("video", 90000)
	feed(s, []uint16{1, 2, 4, 5, 3, 3, 5}, time.Millisecond) // 3 repaired late, 3 and 5 duplicated
	st := s.Stats()
	if st.Expected != 5 || st.Received != 5 || st.Lost != 0 || st.Dups != 2 {
		t.Fatalf("%+v, want 5 expected, 5 received, 0 lost, 2 dups", st)
	}
}

func TestStreamSequenceWraps(t *testing.T) {
	s := NewStream("video", 90000)
	var seqs []uint16
	for _, q := range seqRange(65530, 20) { // crosses 65535 → 0
		if q != 2 {
			seqs = append(seqs, q)
		}
	}
	feed(s, seqs, time.Millisecond)
	if st := s.Stats(); st.Expected != 20 || st.Lost != 1 {
		t.Fatalf("expected %d lost %d across the wrap, want 20 and 1", st.Expected, st.Lost)
	}
}

func TestStreamResetAndFreezeBoundTheWindow(t *testing.T) {
	s := NewStream("audio", 48000)
	feed(s, []uint16{1, 2, 4, 5}, time.Millisecond) // 3 lost before the window
	s.Reset()
	// In the window: 6..15 with 9 missing; a late repair of 3 must not count.
	var seqs []uint16
	for _, q := range seqRange(6, 10) {
		if q != 9 {
			seqs = append(seqs, q)
		}
	}
	seqs = append(seqs, 3)
	feed(s, seqs, time.Millisecond)
	s.Freeze()
	feed(s, []uint16{9, 16, 17}, time.Millisecond) // 9 repaired in the grace period; 16, 17 after
	st := s.Stats()
	if st.Expected != 10 || st.Received != 10 || st.Lost != 0 {
		t.Fatalf("%+v, want 10 expected and received in the window", st)
	}
}

func TestStreamLatencyPercentiles(t *testing.T) {
	s := NewStream("audio", 48000)
	// 100 packets stamped 1..100 ms before arrival.
	for i := range 100 {
		at := time.Second + time.Duration(i)*20*time.Millisecond
		d := time.Duration(i+1) * time.Millisecond
		s.Add(Packet{Seq: uint16(i), Timestamp: uint32(i) * 960, Arrival: at, SentAt: at - d, Stamped: true})
	}
	st := s.Stats()
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.95, 95 * time.Millisecond}, {0.99, 99 * time.Millisecond}} {
		got := st.Latency.Quantile(c.q)
		if math.Abs(float64(got-c.want)) > 0.035*float64(c.want) {
			t.Errorf("p%.0f = %v, want %v ± 3.5 %%", c.q*100, got, c.want)
		}
	}
	if st.Latency.Max() != 100*time.Millisecond || st.Latency.Count() != 100 {
		t.Errorf("max %v count %d, want 100ms and 100", st.Latency.Max(), st.Latency.Count())
	}
}

func TestStreamJitter(t *testing.T) {
	// Packets every 20 ms with matching timestamps: zero jitter.
	s := NewStream("audio", 48000)
	feed(s, seqRange(0, 200), 3*time.Millisecond)
	if j := s.Stats().Jitter; j > 10*time.Microsecond {
		t.Fatalf("steady stream jitter %v, want ~0", j)
	}
	// Alternating arrival offsets of 0 and 4 ms: |D| = 4 ms each time, so J converges to 4 ms.
	s = NewStream("audio", 48000)
	for i := range 500 {
		at := time.Second + time.Duration(i)*20*time.Millisecond + time.Duration(i%2)*4*time.Millisecond
		s.Add(Packet{Seq: uint16(i), Timestamp: uint32(i) * 960, Arrival: at})
	}
	if j := s.Stats().Jitter; j < 3900*time.Microsecond || j > 4100*time.Microsecond {
		t.Fatalf("jitter %v, want ~4ms", j)
	}
}

func TestHistogramBucketsAndMerge(t *testing.T) {
	for _, v := range []int64{0, 1, 31, 32, 33, 63, 64, 1000, 123456, 1 << 30, 1<<41 + 12345} {
		lo, hi := histBounds(histIndex(v))
		if v < lo || v >= hi {
			t.Fatalf("value %d in bucket [%d,%d)", v, lo, hi)
		}
		if hi-lo > 1 && float64(hi-lo)/float64(lo) > 1.0/histSub+1e-9 {
			t.Fatalf("bucket [%d,%d) wider than 1/%d", lo, hi, histSub)
		}
	}
	var a, b Histogram
	for i := range 50 {
		a.Record(time.Duration(i) * time.Microsecond)
		b.Record(time.Duration(50+i) * time.Microsecond)
	}
	a.Merge(&b)
	if a.Count() != 100 || a.Max() != 99*time.Microsecond {
		t.Fatalf("merged count %d max %v", a.Count(), a.Max())
	}
	if p := a.Quantile(0.9); p < 87*time.Microsecond || p > 92*time.Microsecond {
		t.Fatalf("merged p90 %v, want ~89µs", p)
	}
}

func TestVP8FramesAreValidAndBounded(t *testing.T) {
	var buf [][]byte
	for _, c := range []struct {
		size int
		key  bool
	}{{6250, true}, {6250, false}, {20, true}, {1151, false}, {50000, true}} {
		buf = vp8Frame(buf, c.size, c.key, plainVP8)
		total := 0
		for i, p := range buf {
			if len(p) > maxPayload {
				t.Fatalf("payload %d bytes > %d", len(p), maxPayload)
			}
			if got := isVP8KeyframeStart(p); got != (c.key && i == 0) {
				t.Fatalf("size %d key %v packet %d: keyframe start = %v", c.size, c.key, i, got)
			}
			if (p[0]&0x10 != 0) != (i == 0) {
				t.Fatalf("S bit wrong on packet %d", i)
			}
			putStamp(p, 12345*time.Microsecond)
			if d, ok := readStamp(p); !ok || d != 12345*time.Microsecond {
				t.Fatalf("stamp round trip: %v %v", d, ok)
			}
			total += len(p) - 1
		}
		if c.size >= 1000 && (total < c.size || total > c.size+stampLen*len(buf)) {
			t.Fatalf("frame of %d bytes packetized into %d", c.size, total)
		}
		if c.key && (buf[0][4] != 0x9d || buf[0][5] != 0x01 || buf[0][6] != 0x2a) {
			t.Fatal("keyframe lacks the VP8 start code")
		}
	}
	// A simulcast layer's frames: the extended descriptor (picture id, TL0PICIDX) on every packet,
	// the layer's frame size in the keyframe header.
	top := vp8Desc{ext: true, picID: 0x1234, tl0: 7, width: 1280, height: 720}
	buf = vp8Frame(buf, 6250, true, top)
	for i, p := range buf {
		if len(p) > maxPayload || p[0]&0x80 == 0 || p[1] != 0xc0 || p[2] != 0x92 || p[3] != 0x34 || p[4] != 7 {
			t.Fatalf("simulcast packet %d: %d bytes, descriptor % x", i, len(p), p[:5])
		}
		if got := isVP8KeyframeStart(p); got != (i == 0) {
			t.Fatalf("simulcast packet %d: keyframe start = %v", i, got)
		}
	}
	if h := buf[0][5:]; h[3] != 0x9d || binary.LittleEndian.Uint16(h[6:]) != 1280 || binary.LittleEndian.Uint16(h[8:]) != 720 {
		t.Fatalf("simulcast keyframe header % x", h[:10])
	}
	// A descriptor with the X bit and a 15-bit picture id.
	if !isVP8KeyframeStart([]byte{0x90, 0x80, 0x81, 0x23, 0x10, 0, 0}) {
		t.Fatal("extended descriptor keyframe not detected")
	}
	if isVP8KeyframeStart([]byte{0x90, 0x80, 0x81, 0x23, 0x11, 0, 0}) {
		t.Fatal("extended descriptor interframe detected as keyframe")
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:80", "https://127.0.0.2:9"} {
		if _, err := CheckLoopback(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://10.0.0.1:8080", "http://example.com", "ftp://127.0.0.1", "127.0.0.1:8080", ""} {
		if _, err := CheckLoopback(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestParseMetricsAndProc(t *testing.T) {
	m, err := parseMetrics(strings.NewReader("# HELP x\nsanji_sfu_forwarded_packets_total 1.5e+06\nsanji_sfu_forwarded_bytes_total{a=\"b\"} 3\ngo_goroutines 12\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m["sanji_sfu_forwarded_packets_total"] != 1.5e6 || m["go_goroutines"] != 12 {
		t.Fatalf("parsed %v", m)
	}
	if _, ok := m["sanji_sfu_forwarded_bytes_total"]; ok {
		t.Fatal("a labelled sample was taken for the unlabelled one")
	}
	self, err := readProc(os.Getpid())
	if err != nil || self.RSSKB <= 0 || self.HWMKB < self.RSSKB {
		t.Fatalf("readProc(self) = %+v, %v", self, err)
	}
}
