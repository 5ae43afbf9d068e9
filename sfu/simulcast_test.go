package sfu

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// vp8Frame builds a one-packet VP8 frame with a 15-bit picture id and TL0PICIDX; keyframes carry
// the frame size.
func vp8Frame(picID uint16, tl0 uint8, key bool, w, h int) []byte {
	b := []byte{0x90, 0xc0, 0x80 | byte(picID>>8), byte(picID), tl0}
	if !key {
		return append(b, 0x01, 0x00, 0x00)
	}
	b = append(b, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a)
	b = binary.LittleEndian.AppendUint16(b, uint16(w))
	return binary.LittleEndian.AppendUint16(b, uint16(h))
}

func picID(t *testing.T, payload []byte) uint16 {
	t.Helper()
	d, ok := parseVP8Descriptor(payload)
	if !ok || d.picID == 0 {
		t.Fatalf("no picture id in %x", payload)
	}
	return readPicID(payload, d)
}

func TestVP8Parsing(t *testing.T) {
	key := vp8Frame(300, 7, true, 640, 480)
	if !isVP8Keyframe(key) || isVP8Keyframe(vp8Frame(301, 7, false, 0, 0)) {
		t.Fatal("keyframe detection with picture id and TL0PICIDX")
	}
	if w, h, ok := vp8FrameSize(key); !ok || w != 640 || h != 480 {
		t.Fatalf("frame size %dx%d %v", w, h, ok)
	}
	if _, _, ok := vp8FrameSize(vp8Frame(1, 0, false, 0, 0)); ok {
		t.Fatal("size read from a delta frame")
	}
	p := append([]byte(nil), key...)
	applyVP8Offsets(p, 0x8000-300+5, 250) // wraps both fields
	if got := picID(t, p); got != 5 || p[4] != 1 {
		t.Fatalf("offsets applied: pic %d tl0 %d", got, p[4])
	}
}

func TestAudioLevelExtension(t *testing.T) {
	h := rtp.Header{Version: 2, Extension: true, ExtensionProfile: 0xbede}
	if err := h.SetExtension(1, []byte{0x30}); err != nil {
		t.Fatal(err)
	}
	if err := h.SetExtension(4, []byte{0x80 | 33}); err != nil {
		t.Fatal(err)
	}
	raw := marshal(t, h, []byte{1, 2, 3})
	if l, ok := audioLevel(raw, 4); !ok || l != 33 {
		t.Fatalf("one-byte form: %d %v", l, ok)
	}
	if _, ok := audioLevel(raw, 5); ok {
		t.Fatal("found an extension that is not there")
	}
	h2 := rtp.Header{Version: 2, Extension: true, ExtensionProfile: 0x1000}
	if err := h2.SetExtension(9, []byte{12}); err != nil {
		t.Fatal(err)
	}
	if l, ok := audioLevel(marshal(t, h2, []byte{1}), 9); !ok || l != 12 {
		t.Fatalf("two-byte form: %d %v", l, ok)
	}
	if _, ok := audioLevel(marshal(t, rtp.Header{Version: 2}, []byte{1}), 1); ok {
		t.Fatal("level without extensions")
	}
}

// TestLayerSwitchWaitsForKeyframeAndStaysContinuous drives a down track across simulcast
// layers: it keeps the current layer until the target's keyframe, asks that layer (and only
// it) for one, and the subscriber sees continuous sequence numbers, timestamps and picture ids.
func TestLayerSwitchWaitsForKeyframeAndStaysContinuous(t *testing.T) {
	tr, plis := testTrackLayers(t, time.Hour, 3)
	_, w := bindDown(t, tr, false)
	if d := *tr.downs.Load(); d[0].target.Load() != 2 {
		t.Fatalf("starts on layer %d, want the top (2)", d[0].target.Load())
	}
	seq := [3]uint16{100, 5000, 30000}
	pic := [3]uint16{10, 2000, 20000}
	ts := uint32(0)
	frame := func(q int, key bool) {
		feedLayer(t, tr, q, seq[q], ts+uint32(q)*7777, vp8Frame(pic[q], uint8(pic[q]), key, 160<<q, 120<<q))
		seq[q]++
		pic[q]++
	}
	step := func(keys ...int) {
		for q := range 3 {
			frame(q, len(keys) > 0 && keys[0] == q)
		}
		ts += 3000
	}
	step()  // no keyframe anywhere: nothing forwarded
	step(2) // top keyframe: starts
	step()  // top continues
	if len(w.headers) != 2 {
		t.Fatalf("%d packets before the switch, want 2 (layer 2 from its keyframe)", len(w.headers))
	}
	d := (*tr.downs.Load())[0]
	before := plis.bySSRC[1000]
	d.setTarget(0)
	if plis.bySSRC[1000] != before+1 {
		t.Fatal("switching down did not ask layer 0 for a keyframe")
	}
	step() // still layer 2: layer 0 has no keyframe yet
	if len(w.headers) != 3 {
		t.Fatal("the current layer stopped before the target's keyframe")
	}
	step(0) // layer 0 keyframe: switch
	step()
	if len(w.headers) != 5 {
		t.Fatalf("%d packets after the switch, want 5", len(w.headers))
	}
	for i := 1; i < len(w.headers); i++ {
		if w.headers[i].SequenceNumber != w.headers[i-1].SequenceNumber+1 {
			t.Fatalf("sequence gap at %d: %d → %d", i, w.headers[i-1].SequenceNumber, w.headers[i].SequenceNumber)
		}
		if int32(w.headers[i].Timestamp-w.headers[i-1].Timestamp) <= 0 {
			t.Fatalf("timestamp did not advance at %d", i)
		}
		if got, prev := picID(t, w.payload[i]), picID(t, w.payload[i-1]); got != (prev+1)&0x7fff {
			t.Fatalf("picture id %d after %d at packet %d", got, prev, i)
		}
	}
	if w, h, _ := vp8FrameSize(w.payload[3]); w != 160 || h != 120 {
		t.Fatalf("switched to a %dx%d layer, want 160x120", w, h)
	}
	// A NACK for a packet of the old layer is served from that layer's buffer, as it was sent.
	old := w.headers[2]
	d.handleRTCP(nackFor(old.SequenceNumber))
	if last := w.headers[len(w.headers)-1]; last.SequenceNumber != old.SequenceNumber || picID(t, w.payload[len(w.payload)-1]) != picID(t, w.payload[2]) {
		t.Fatalf("retransmission of a layer-2 packet after switching: %+v", last)
	}
}

func TestAllocatorFollowsBudgetSizeAndPriority(t *testing.T) {
	tr, _ := testTrackLayers(t, time.Hour, 3)
	at := now()
	for q, l := range *tr.layers.Load() {
		l.lastPacket.Store(at)
		l.bitrate.Store([]int64{150_000, 500_000, 1_500_000}[q])
		l.width.Store(int32(160 << q))
		l.height.Store(int32(120 << q))
	}
	d, _ := bindDown(t, tr, false)
	cases := []struct {
		name          string
		budget        int64
		width, height int
		wantQuality   int32
		wantPaused    bool
		mayExceed     bool // the lowest layer is kept although it needs more than the budget
	}{
		{"unlimited", math.MaxInt64, 0, 0, 2, false, false},
		{"1 Mbit/s", 1_000_000, 0, 0, 1, false, false},
		{"thin link", 200_000, 0, 0, 0, false, false},
		{"nearly carries the lowest: kept", 100_000, 0, 0, 0, false, true},
		{"too thin: paused", 50_000, 0, 0, 0, true, false},
		{"small tile", math.MaxInt64, 300, 200, 1, false, false},
		{"thumbnail", math.MaxInt64, 160, 90, 0, false, false},
	}
	// Without the receiver's own estimate (REMB), loss alone never pauses the last picture.
	if d.allocate(50_000, false, at); d.paused.Load() || d.target.Load() != 0 {
		t.Fatalf("paused on a loss-based estimate: paused %v, layer %d", d.paused.Load(), d.target.Load())
	}
	for _, c := range cases {
		d.maxWidth.Store(int32(c.width))
		d.maxHeight.Store(int32(c.height))
		used := d.allocate(c.budget, true, at)
		if c.wantPaused != d.paused.Load() {
			t.Fatalf("%s: paused %v", c.name, d.paused.Load())
		}
		if !c.wantPaused && (d.target.Load() != c.wantQuality || (used > c.budget && !c.mayExceed)) {
			t.Fatalf("%s: layer %d using %d of %d, want layer %d", c.name, d.target.Load(), used, c.budget, c.wantQuality)
		}
	}
	// Dynacast: with this one subscriber on a thumbnail, only the lowest layer is wanted.
	d.maxWidth.Store(160)
	d.maxHeight.Store(90)
	d.allocate(math.MaxInt64, true, at)
	if got := tr.pausedLayers(); strings.Join(got, ",") != "h,f" {
		t.Fatalf("paused layers %q for a thumbnail, want h and f", got)
	}
	// A layer the publisher stopped sending is not chosen, but is still wanted when it fits.
	(*tr.layers.Load())[2].lastPacket.Store(at - int64(time.Minute))
	d.maxWidth.Store(0)
	d.maxHeight.Store(0)
	d.allocate(math.MaxInt64, true, at)
	if d.target.Load() != 1 {
		t.Fatalf("chose layer %d although layer 2 is silent", d.target.Load())
	}
	if d.wanted.Load() != 2 {
		t.Fatalf("wants layer %d, want 2 so that the publisher resumes it", d.wanted.Load())
	}
}

func TestBandwidthEstimate(t *testing.T) {
	var b bandwidth
	sec := int64(time.Second)
	b.update(0, 1_000_000)
	if b.estimate() != math.MaxInt64 {
		t.Fatal("a clean link without REMB must mean no limit")
	}
	// 25 % loss while sending 1 Mbit/s: come down to about what gets through.
	b.setLoss(64)
	b.update(sec, 1_000_000)
	if e := b.estimate(); e >= 1_000_000 || e < 800_000 {
		t.Fatalf("estimate %d at 25 %% loss of 1 Mbit/s", e)
	}
	low := b.estimate()
	// Clean again: no climb before the wait (1 s), then 8 % per round.
	b.setLoss(0)
	b.update(2*sec, 800_000)
	if b.estimate() != low {
		t.Fatal("climbed right after congestion")
	}
	b.update(4*sec, 800_000)
	if b.estimate() <= low {
		t.Fatal("did not climb after a clean wait")
	}
	// A report already acted on is not acted on again.
	before := b.estimate()
	b.update(9*sec/2, 900_000)
	if b.estimate() < before {
		t.Fatal("the same loss report lowered the estimate twice")
	}
	// Congestion soon after a climb is blamed on it: the next climb waits twice as long.
	b.setLoss(100)
	b.update(9*sec/2, 900_000)
	if b.wait != 2*minClimbWait {
		t.Fatalf("wait %v after a climb caused congestion, want %v", b.wait, 2*minClimbWait)
	}
	// A REMB caps the estimate with 50 % headroom.
	var r bandwidth
	r.setREMB(1_000_000)
	r.update(0, 500_000)
	if r.estimate() != 1_500_000 {
		t.Fatalf("estimate %d from a REMB of 1 Mbit/s, want 1.5 Mbit/s", r.estimate())
	}
}

func TestSpeakerDetection(t *testing.T) {
	var s speakerDetector
	quiet, loud, louder := 10.0, 80.0, 100.0
	if sp, _ := s.update(map[string]float64{"a": quiet, "b": quiet}); sp != "" {
		t.Fatalf("speaker %q in silence", sp)
	}
	var sp string
	for range 5 {
		sp, _ = s.update(map[string]float64{"a": loud, "b": quiet})
	}
	if sp != "a" {
		t.Fatalf("speaker %q, want a", sp)
	}
	// One loud sample from b (a cough) does not take the floor.
	if sp, _ = s.update(map[string]float64{"a": loud, "b": louder}); sp != "a" {
		t.Fatalf("a cough moved the speaker to %q", sp)
	}
	for range 8 {
		sp, _ = s.update(map[string]float64{"a": quiet, "b": louder})
	}
	if sp != "b" {
		t.Fatalf("speaker %q, want b after a stops", sp)
	}
	for range 10 {
		sp, _ = s.update(map[string]float64{})
	}
	if sp != "" {
		t.Fatalf("speaker %q after everyone left", sp)
	}
}

func TestSimulcastForwardPathAllocatesNothing(t *testing.T) {
	tr, _ := testTrackLayers(t, time.Hour, 3)
	for range 5 {
		_, w := bindDown(t, tr, false)
		w.keep = false
	}
	var p packet
	seq := [3]uint16{}
	pic := uint16(0)
	send := func(q int, key bool) {
		raw := marshal(t, rtp.Header{Version: 2, SequenceNumber: seq[q], SSRC: uint32(1000 + q)}, vp8Frame(pic+uint16(q)*1000, 0, key, 160<<q, 120<<q))
		seq[q]++
		tr.receive(tr.layer(q), raw, &p, now())
	}
	send(2, true)
	for _, d := range *tr.downs.Load() {
		d.setTarget(0)
	}
	send(0, true) // every down track now rewrites picture ids (offset ≠ 0)
	raw := marshal(t, rtp.Header{Version: 2, SSRC: 1000}, vp8Frame(0, 0, false, 0, 0))
	l := tr.layer(0)
	allocs := testing.AllocsPerRun(1000, func() {
		seq[0]++
		pic++
		binary.BigEndian.PutUint16(raw[2:], seq[0])
		binary.BigEndian.PutUint16(raw[14:], 0x8000|pic)
		tr.receive(l, raw, &p, now())
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per forwarded simulcast packet, want 0", allocs)
	}
}

// When the layer a down track receives stops (the publisher's uplink thinned and its encoder
// dropped the layer), the next packet of a lower layer moves it there, from that layer's
// keyframe, without waiting for the allocator.
func TestSilentLayerFallsBackAtOnce(t *testing.T) {
	tr, plis := testTrackLayers(t, time.Nanosecond, 3)
	d, w := bindDown(t, tr, false)
	d.setTarget(2)
	at := now()
	var p packet
	send := func(q int, seq uint16, key bool, at int64) {
		raw := marshal(t, rtp.Header{Version: 2, SequenceNumber: seq, SSRC: uint32(1000 + q)}, vp8Frame(seq, 0, key, 160<<q, 120<<q))
		tr.receive(tr.layer(q), raw, &p, at)
	}
	send(2, 1, true, at)
	send(0, 1, false, at)
	if d.cur.Load() != 2 {
		t.Fatalf("on layer %d, want 2", d.cur.Load())
	}
	// The top layer goes silent; within layerActiveFor a lower packet changes nothing.
	send(0, 2, false, at+int64(layerActiveFor)/2)
	if d.target.Load() != 2 {
		t.Fatalf("moved to layer %d while the top layer was only briefly quiet", d.target.Load())
	}
	before := plis.count()
	send(0, 3, false, at+2*int64(layerActiveFor))
	if d.target.Load() != 0 || plis.count() == before {
		t.Fatalf("target %d after the top layer went silent (keyframe requests %d → %d), want layer 0 asked for", d.target.Load(), before, plis.count())
	}
	count := func() int { w.mu.Lock(); defer w.mu.Unlock(); return len(w.headers) }
	n := count()
	send(0, 4, true, at+2*int64(layerActiveFor)+1)
	if d.cur.Load() != 0 || count() != n+1 {
		t.Fatalf("on layer %d with %d packets after the lower keyframe, want layer 0 forwarding", d.cur.Load(), count())
	}
}
