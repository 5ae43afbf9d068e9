package sfu

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// recordingWriter stands in for pion's SRTP write stream: it keeps what a down track writes.
type recordingWriter struct {
	mu      sync.Mutex
	headers []rtp.Header
	payload [][]byte
	keep    bool
}

func (w *recordingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.keep {
		w.mu.Lock()
		w.headers = append(w.headers, *h)
		w.payload = append(w.payload, append([]byte(nil), payload...))
		w.mu.Unlock()
	}
	return len(payload) + 12, nil
}

func (w *recordingWriter) Write(b []byte) (int, error) { return len(b), nil }

// bindContext is the negotiated state pion hands a TrackLocal in Bind.
type bindContext struct {
	codecs  []webrtc.RTPCodecParameters
	ssrc    webrtc.SSRC
	rtxSSRC webrtc.SSRC
	writer  webrtc.TrackLocalWriter
}

func (c bindContext) CodecParameters() []webrtc.RTPCodecParameters           { return c.codecs }
func (c bindContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }
func (c bindContext) SSRC() webrtc.SSRC                                      { return c.ssrc }
func (c bindContext) SSRCRetransmission() webrtc.SSRC                        { return c.rtxSSRC }
func (c bindContext) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (c bindContext) WriteStream() webrtc.TrackLocalWriter                   { return c.writer }
func (c bindContext) ID() string                                             { return "ctx" }
func (c bindContext) RTCPReader() interceptor.RTCPReader                     { return nil }

// pliCounter stands in for the publisher's connection: it counts keyframe requests per SSRC.
type pliCounter struct {
	mu     sync.Mutex
	total  int
	bySSRC map[uint32]int
}

func (c *pliCounter) WriteRTCP(pkts []rtcp.Packet) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range pkts {
		if pli, ok := p.(*rtcp.PictureLossIndication); ok {
			c.total++
			if c.bySSRC == nil {
				c.bySSRC = map[uint32]int{}
			}
			c.bySSRC[pli.MediaSSRC]++
		}
	}
	return nil
}

func (c *pliCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// testTrack is a published VP8 track with one layer and no network behind it.
func testTrack(t testing.TB, pliInterval time.Duration) (*publishedTrack, *pliCounter) {
	t.Helper()
	return testTrackLayers(t, pliInterval, 1)
}

// testTrackLayers is a VP8 track with n simulcast layers of qualities 0..n-1 and SSRCs 1000+q.
func testTrackLayers(t testing.TB, pliInterval time.Duration, n int) (*publishedTrack, *pliCounter) {
	t.Helper()
	plis := &pliCounter{}
	m := newMetrics(nil)
	tr := &publishedTrack{
		room:        m.forRoom("test"),
		info:        TrackInfo{ID: "TR_test", ParticipantID: "pub", Kind: KindVideo, Codec: webrtc.MimeTypeVP8, Simulcast: n > 1},
		remoteKind:  webrtc.RTPCodecTypeVideo,
		codec:       videoCodecs[0],
		bufferSize:  1024,
		keyframe:    isVP8Keyframe,
		vp8:         true,
		frameSize:   vp8FrameSize,
		metrics:     m,
		pliInterval: pliInterval,
		pc:          plis,
	}
	empty := []*DownTrack{}
	tr.downs.Store(&empty)
	layers := []*layer{}
	for q := range n {
		rid := ""
		if n > 1 {
			rid = string("qhf"[q])
		}
		layers = append(layers, &layer{quality: q, rid: rid, ssrc: uint32(1000 + q), buffer: newPacketBuffer(1024)})
	}
	tr.layers.Store(&layers)
	return tr, plis
}

func bindDown(t testing.TB, tr *publishedTrack, rtx bool) (*DownTrack, *recordingWriter) {
	t.Helper()
	d := newDownTrack(tr, nil, tr.metrics)
	w := &recordingWriter{keep: true}
	ctx := bindContext{codecs: []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 120},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=120"}, PayloadType: 121},
	}, ssrc: 4242, writer: w}
	if rtx {
		ctx.rtxSSRC = 4343
	}
	if _, err := d.Bind(ctx); err != nil {
		t.Fatal(err)
	}
	tr.addDown(d)
	return d, w
}

// bindDowns binds n down tracks without RTX.
func bindDowns(t testing.TB, tr *publishedTrack, n int) ([]*DownTrack, []*recordingWriter) {
	t.Helper()
	var downs []*DownTrack
	var writers []*recordingWriter
	for range n {
		d, w := bindDown(t, tr, false)
		downs, writers = append(downs, d), append(writers, w)
	}
	return downs, writers
}

var (
	vp8KeyPayload   = []byte{0x10, 0x00, 0x9d, 0x01, 0x2a}
	vp8DeltaPayload = []byte{0x10, 0x01, 0x02}
)

// feed pushes a packet of layer 0 through the publisher side as the read loop would.
func feed(t testing.TB, tr *publishedTrack, seq uint16, ts uint32, payload []byte) {
	t.Helper()
	feedLayer(t, tr, 0, seq, ts, payload)
}

func feedLayer(t testing.TB, tr *publishedTrack, quality int, seq uint16, ts uint32, payload []byte) {
	t.Helper()
	l := tr.layer(quality)
	raw := marshal(t, rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: l.ssrc}, payload)
	var p packet
	tr.receive(l, raw, &p, now())
}

func TestDownTrackRewritesAndWaitsForKeyframe(t *testing.T) {
	tr, plis := testTrack(t, time.Hour)
	_, w := bindDown(t, tr, false)
	if plis.count() != 1 {
		t.Fatalf("binding a video down track sent %d PLIs, want 1", plis.count())
	}
	feed(t, tr, 10, 100, vp8DeltaPayload) // undecodable without a keyframe: dropped
	feed(t, tr, 11, 3100, vp8KeyPayload)
	feed(t, tr, 12, 6100, vp8DeltaPayload)
	if len(w.headers) != 2 {
		t.Fatalf("wrote %d packets, want 2 (from the keyframe on)", len(w.headers))
	}
	for i, h := range w.headers {
		if h.SSRC != 4242 || h.PayloadType != 120 {
			t.Fatalf("packet %d: ssrc %d pt %d not rewritten", i, h.SSRC, h.PayloadType)
		}
	}
	if w.headers[1].SequenceNumber != w.headers[0].SequenceNumber+1 || w.headers[1].Timestamp-w.headers[0].Timestamp != 3000 {
		t.Fatalf("not continuous: %+v", w.headers)
	}
}

func TestDownTrackServesNACKFromPublisherBuffer(t *testing.T) {
	for _, rtx := range []bool{false, true} {
		tr, _ := testTrack(t, time.Hour)
		d, w := bindDown(t, tr, rtx)
		feed(t, tr, 500, 0, vp8KeyPayload)
		feed(t, tr, 501, 3000, []byte{0x10, 0x01, 0xee})
		feed(t, tr, 502, 6000, vp8DeltaPayload)
		lost := w.headers[1]
		d.handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 4242,
			Nacks: []rtcp.NackPair{{PacketID: lost.SequenceNumber}}}})
		if len(w.headers) != 4 {
			t.Fatalf("rtx=%v: %d packets written after NACK, want 4", rtx, len(w.headers))
		}
		re, payload := w.headers[3], w.payload[3]
		if !rtx {
			if re.SSRC != 4242 || re.SequenceNumber != lost.SequenceNumber || re.Timestamp != lost.Timestamp ||
				string(payload) != "\x10\x01\xee" {
				t.Fatalf("plain retransmission wrong: %+v %x", re, payload)
			}
			continue
		}
		if re.SSRC != 4343 || re.PayloadType != 121 || re.Timestamp != lost.Timestamp {
			t.Fatalf("RTX header wrong: %+v", re)
		}
		if osn := binary.BigEndian.Uint16(payload); osn != lost.SequenceNumber || string(payload[2:]) != "\x10\x01\xee" {
			t.Fatalf("RTX payload wrong: %x", payload)
		}
		// A NACK for something never sent is ignored; the other subscribers' buffers are not involved.
		d.handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: lost.SequenceNumber + 100}}}})
		if len(w.headers) != 4 {
			t.Fatal("retransmitted a packet that was never sent")
		}
	}
}

func TestNACKServedForEverySubscriber(t *testing.T) {
	tr, _ := testTrack(t, time.Hour)
	downs, writers := bindDowns(t, tr, 3)
	feed(t, tr, 1, 0, vp8KeyPayload)
	feed(t, tr, 2, 3000, vp8DeltaPayload)
	for i, d := range downs {
		d.handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: writers[i].headers[0].SequenceNumber}}}})
		if len(writers[i].headers) != 3 {
			t.Fatalf("subscriber %d: NACK not served", i)
		}
	}
}

func TestPLIThrottledPerTrack(t *testing.T) {
	tr, plis := testTrack(t, 200*time.Millisecond)
	d, _ := bindDown(t, tr, false) // Bind asks for one keyframe
	for range 10 {
		d.handleRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: 4242}})
	}
	if plis.count() != 1 {
		t.Fatalf("%d PLIs reached the publisher within the interval, want 1", plis.count())
	}
	deadline := time.Now().Add(2 * time.Second)
	for plis.count() < 2 && time.Now().Before(deadline) {
		d.handleRTCP([]rtcp.Packet{&rtcp.FullIntraRequest{MediaSSRC: 4242}})
		time.Sleep(10 * time.Millisecond)
	}
	if plis.count() != 2 {
		t.Fatalf("after the interval a new request must pass: %d PLIs", plis.count())
	}
}

func TestMuteAndResumeKeepsSequenceContinuous(t *testing.T) {
	tr, _ := testTrack(t, 0)
	_, w := bindDown(t, tr, false)
	feed(t, tr, 1, 0, vp8KeyPayload)
	feed(t, tr, 2, 3000, vp8DeltaPayload)
	tr.setMuted(true)
	for i := uint16(3); i < 50; i++ {
		if !tr.muted.Load() {
			t.Fatal("unmuted")
		}
		feed(t, tr, i, uint32(i)*3000, vp8DeltaPayload) // stored, not forwarded
	}
	if len(w.headers) != 2 {
		t.Fatalf("muted track forwarded: %d", len(w.headers))
	}
	tr.setMuted(false)
	feed(t, tr, 50, 150000, vp8DeltaPayload) // waits for the keyframe it asked for
	feed(t, tr, 51, 153000, vp8KeyPayload)
	if len(w.headers) != 3 || w.headers[2].SequenceNumber != w.headers[1].SequenceNumber+1 {
		t.Fatalf("after unmute: %+v", w.headers)
	}
}

// TestForwardPathAllocatesNothing: ten subscribers and a recording. The recording's goroutine
// is not started, so its queue fills and then drops: both paths are measured.
func TestForwardPathAllocatesNothing(t *testing.T) {
	tr, _ := testTrack(t, time.Hour)
	for range 10 {
		d, w := bindDown(t, tr, false)
		w.keep = false
		_ = d
	}
	rec := newRecording(tr, newPacketSink(), tr.metrics, zap.NewNop())
	rec.attach()
	t.Cleanup(rec.detach)
	raw := marshal(t, rtp.Header{Version: 2, PayloadType: 96, SSRC: 777}, make([]byte, 1100))
	raw[12] = 0x10 // keyframe
	var p packet
	seq := uint16(0)
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		binary.BigEndian.PutUint16(raw[2:], seq)
		tr.receive(tr.layer(0), raw, &p, now())
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per forwarded packet, want 0", allocs)
	}
	if rec.Dropped() == 0 {
		t.Fatal("the recording's queue never filled: its drop path was not measured")
	}
}

func TestWaitingDownTrackKeepsAskingForKeyframe(t *testing.T) {
	tr, plis := testTrack(t, 50*time.Millisecond)
	bindDown(t, tr, false) // first request at bind
	// A second subscriber binds within the throttle interval: its own request is throttled away.
	_, w := bindDown(t, tr, false)
	if plis.count() != 1 {
		t.Fatalf("%d PLIs, want 1 within the interval", plis.count())
	}
	deadline := time.Now().Add(2 * time.Second)
	for seq := uint16(1); plis.count() < 2; seq++ {
		if time.Now().After(deadline) {
			t.Fatal("a down track waiting for a keyframe stopped asking for one")
		}
		feed(t, tr, seq, uint32(seq)*3000, vp8DeltaPayload)
		time.Sleep(5 * time.Millisecond)
	}
	if len(w.headers) != 0 {
		t.Fatal("delta frames forwarded before a keyframe")
	}
}

func nackFor(seq uint16) []rtcp.Packet {
	return []rtcp.Packet{&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: seq}}}}
}

func TestUnrepairableNACKAsksForKeyframe(t *testing.T) {
	tr, plis := testTrack(t, 0)
	d, w := bindDown(t, tr, false)
	feed(t, tr, 1, 0, vp8KeyPayload)
	feed(t, tr, 2, 3000, vp8DeltaPayload)
	before := plis.count()
	// The buffer lost packet 1 (overwritten long ago in a real stream).
	tr.layer(0).buffer.slots[1].valid = false
	d.handleRTCP(nackFor(w.headers[0].SequenceNumber))
	if plis.count() != before+1 {
		t.Fatal("a NACK that cannot be served did not ask the publisher for a keyframe")
	}
}

// An audio down track keeps no NACK state: audio is not NACKed, and a stray NACK is counted as a
// miss, not served. Video keeps serving NACKs.
func TestAudioDownTrackServesNoNACKs(t *testing.T) {
	tr, _ := testTrack(t, time.Hour)
	tr.remoteKind, tr.info.Kind = webrtc.RTPCodecTypeAudio, KindAudio
	tr.keyframe, tr.frameSize = nil, nil // audio may start anywhere
	tr.codec = audioCodecs[0]
	d := newDownTrack(tr, nil, tr.metrics)
	if d.nack != nil {
		t.Fatal("audio down track allocated NACK state")
	}
	w := &recordingWriter{keep: true}
	if _, err := d.Bind(bindContext{codecs: []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111},
	}, ssrc: 99, writer: w}); err != nil {
		t.Fatal(err)
	}
	tr.addDown(d)
	feed(t, tr, 1, 960, []byte{0x78, 1, 2, 3})
	feed(t, tr, 2, 1920, []byte{0x78, 1, 2, 3})
	if len(w.headers) != 2 {
		t.Fatalf("forwarded %d audio packets, want 2", len(w.headers))
	}
	d.handleRTCP(nackFor(w.headers[0].SequenceNumber))
	if len(w.headers) != 2 {
		t.Fatalf("a NACK for audio was served: %d packets written", len(w.headers))
	}

	video, _ := testTrack(t, time.Hour)
	if vd, _ := bindDown(t, video, false); vd.nack == nil {
		t.Fatal("video down track has no NACK state")
	}
}

// TestDuplicateRIDIsNotALayer: a second stream labelled with a RID the track has (a client's
// retransmissions carrying the layer's RID) must not become a second copy of that layer.
func TestDuplicateRIDIsNotALayer(t *testing.T) {
	tr, _ := testTrackLayers(t, time.Second, 2) // q and h
	if l := tr.addLayerOf(nil, "h", 2001); l != nil {
		t.Fatalf("a second h stream became a layer: %+v", l)
	}
	if l := tr.addLayerOf(nil, "f", 1002); l == nil || l.quality != 2 {
		t.Fatalf("the f layer: %+v", l)
	}
	if n := len(*tr.layers.Load()); n != 3 {
		t.Fatalf("%d layers, want q, h and f once each", n)
	}
}

// The receiver's reports count the holes the publisher's loss left as lost; the down track reads
// them for the subscriber's own link only.
func TestReceiverReportLossLessUpstreamHoles(t *testing.T) {
	tr, _ := testTrack(t, time.Hour)
	d, _ := bindDown(t, tr, false)
	key := vp8Frame(0, 0, true, 320, 240)
	feed(t, tr, 100, 0, key)
	first := d.ownLoss(rtcp.ReceptionReport{SSRC: d.ssrc, LastSequenceNumber: 100})
	// 100 packets on, 10 of them never reached the SFU (every tenth): the receiver reports 12
	// lost, 10 of them ours to ignore.
	for i := uint16(1); i <= 100; i++ {
		if i%10 == 0 {
			continue
		}
		feed(t, tr, 100+i, uint32(i)*3000, vp8Frame(i, 0, false, 0, 0))
	}
	if h := d.holes.Load(); h != 9 {
		t.Fatalf("%d holes counted, want 9 (the tenth packet of the last ten is beyond the last forwarded)", h)
	}
	got := d.ownLoss(rtcp.ReceptionReport{SSRC: d.ssrc, LastSequenceNumber: 199, TotalLost: 11, FractionLost: 28})
	if first != 0 || got != 2*256/99 {
		t.Fatalf("own loss %d of 256 (first report %d), want %d: 2 of 99 packets", got, first, 2*256/99)
	}
}
