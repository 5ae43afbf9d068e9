package sfu

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// packetSink is a RecordSink that keeps copies of what it is given; gate, when set, holds every
// write until the test lets it go (a writer stuck on a slow disk).
type packetSink struct {
	mu      sync.Mutex
	headers []rtp.Header
	payload [][]byte
	closed  chan error
	gate    chan struct{}
	fail    error // returned by WriteRTP once set
}

func newPacketSink() *packetSink { return &packetSink{closed: make(chan error, 1)} }

func (s *packetSink) WriteRTP(p *rtp.Packet) error {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.headers = append(s.headers, p.Header)
	s.payload = append(s.payload, append([]byte(nil), p.Payload...))
	return nil
}

func (s *packetSink) Close(err error) { s.closed <- err }

func (s *packetSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.headers)
}

func (s *packetSink) snapshot() ([]rtp.Header, [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rtp.Header(nil), s.headers...), append([][]byte(nil), s.payload...)
}

// startTestRecording records a test track (no room, no participant) and stops it when the test ends.
func startTestRecording(t *testing.T, tr *publishedTrack, sink RecordSink) *Recording {
	t.Helper()
	rec := newRecording(tr, sink, tr.metrics, zap.NewNop())
	tr.addRecording(rec)
	var wg sync.WaitGroup
	wg.Add(1)
	rec.start(wg.Done)
	t.Cleanup(func() { rec.Stop(); wg.Wait() })
	return rec
}

func TestRecordingFollowsBestLayerOnKeyframes(t *testing.T) {
	tr, plis := testTrackLayers(t, time.Hour, 3)
	// Only the lowest layer is being sent when the recording starts.
	seq := [3]uint16{100, 5000, 30000}
	ts := uint32(0)
	frame := func(q int, key bool) {
		feedLayer(t, tr, q, seq[q], ts+uint32(q)*7777, vp8Frame(seq[q], 0, key, 160<<q, 120<<q))
		seq[q]++
	}
	frame(0, false)
	sink := newPacketSink()
	rec := startTestRecording(t, tr, sink)
	if plis.bySSRC[1000] != 1 {
		t.Fatalf("PLIs per layer at start: %v, want one for the lowest layer (the only one sent)", plis.bySSRC)
	}
	frame(0, false) // not decodable: not recorded
	frame(0, true)
	frame(0, false)
	ts += 3000
	// The top layer appears: housekeeping moves the recording there, at its keyframe.
	frame(2, false)
	tr.steerRecordings(now())
	if plis.bySSRC[1002] != 1 {
		t.Fatalf("PLIs per layer: %v, want one for the top layer once it is sent", plis.bySSRC)
	}
	if got := tr.pausedLayers(); len(got) != 1 || got[0] != "h" {
		t.Fatalf("layers paused with a recording running: %v, want only h (the recorder wants f)", got)
	}
	frame(0, false)
	frame(2, false) // still on layer 0 until layer 2's keyframe
	frame(2, true)
	frame(0, false) // the old layer is no longer recorded
	frame(2, false)
	waitForCount(t, sink, 5)
	hdrs, payloads := sink.snapshot()
	if len(hdrs) != 5 {
		t.Fatalf("%d packets recorded, want 5", len(hdrs))
	}
	sizes := []int{}
	for i, h := range hdrs {
		if i > 0 && h.SequenceNumber != hdrs[i-1].SequenceNumber+1 {
			t.Fatalf("recorded sequence jumps %d → %d", hdrs[i-1].SequenceNumber, h.SequenceNumber)
		}
		if i > 0 && int32(h.Timestamp-hdrs[i-1].Timestamp) < 0 {
			t.Fatalf("recorded timestamp goes back at %d", i)
		}
		if w, _, ok := vp8FrameSize(payloads[i]); ok {
			sizes = append(sizes, w)
		}
	}
	if len(sizes) != 2 || sizes[0] != 160 || sizes[1] != 640 {
		t.Fatalf("keyframe widths recorded %v, want 160 then 640", sizes)
	}
	if rec.Dropped() != 0 {
		t.Fatalf("%d packets dropped", rec.Dropped())
	}
}

func waitForCount(t *testing.T, s *packetSink, n int) {
	t.Helper()
	waitFor(t, "recorded packets", func() bool { return s.count() >= n })
}

// A writer that cannot keep up costs the recording packets (counted, a gap the writer sees), and
// never the subscribers theirs.
func TestSlowRecordingDropsAndNeverHoldsForwarding(t *testing.T) {
	tr, _ := testTrack(t, time.Hour)
	_, w := bindDown(t, tr, false)
	sink := newPacketSink()
	sink.gate = make(chan struct{})
	rec := startTestRecording(t, tr, sink)
	const n = recordQueueVideo + 100
	done := make(chan struct{})
	go func() {
		defer close(done)
		feed(t, tr, 1, 0, vp8KeyPayload)
		for i := uint16(2); i <= n; i++ {
			feed(t, tr, i, uint32(i)*3000, vp8DeltaPayload)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("forwarding waited for a stuck recording")
	}
	if len(w.headers) != n {
		t.Fatalf("the subscriber got %d of %d packets", len(w.headers), n)
	}
	if rec.Dropped() < 99 {
		t.Fatalf("%d packets dropped for the stuck recording, want the ones its queue had no room for", rec.Dropped())
	}
	close(sink.gate) // the disk is back
	waitForCount(t, sink, n-int(rec.Dropped()))
	feed(t, tr, n+1, (n+1)*3000, vp8DeltaPayload)
	waitFor(t, "the packet after the gap", func() bool {
		h, _ := sink.snapshot()
		return len(h) > 0 && h[len(h)-1].SequenceNumber == n+1
	})
	hdrs, _ := sink.snapshot()
	gap := false
	for i := 1; i < len(hdrs); i++ {
		if hdrs[i].SequenceNumber != hdrs[i-1].SequenceNumber+1 {
			gap = true
		}
	}
	if !gap || len(hdrs)+int(rec.Dropped()) != n+1 {
		t.Fatalf("recorded %d + dropped %d of %d packets (gap seen: %v)", len(hdrs), rec.Dropped(), n+1, gap)
	}
}

func TestRecordingWriterErrorEndsOnlyTheRecording(t *testing.T) {
	tr, _ := testTrack(t, time.Hour)
	_, w := bindDown(t, tr, false)
	sink := newPacketSink()
	startTestRecording(t, tr, sink)
	feed(t, tr, 1, 0, vp8KeyPayload)
	waitForCount(t, sink, 1)
	diskFull := errors.New("no space left on device")
	sink.mu.Lock()
	sink.fail = diskFull
	sink.mu.Unlock()
	feed(t, tr, 2, 3000, vp8DeltaPayload)
	select {
	case err := <-sink.closed:
		if !errors.Is(err, diskFull) {
			t.Fatalf("closed with %v, want the writer's error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a failing writer did not end the recording")
	}
	if len(*tr.downs.Load()) != 1 || len(tr.recordingList()) != 0 {
		t.Fatal("the failed recording is still attached to the track")
	}
	feed(t, tr, 3, 6000, vp8DeltaPayload)
	if len(w.headers) != 3 {
		t.Fatalf("the subscriber got %d of 3 packets", len(w.headers))
	}
}

// A track the publisher sends as RED is recorded as its Opus primary blocks, as Opus-only
// subscribers receive it.
func TestRecordingUnwrapsRED(t *testing.T) {
	tr, _ := testTrack(t, time.Hour)
	for _, c := range audioCodecs {
		if isRED(c) {
			tr.codec = c
		}
	}
	tr.info.Kind, tr.info.Codec, tr.remoteKind, tr.keyframe, tr.frameSize = KindAudio, mimeRED, webrtc.RTPCodecTypeAudio, nil, nil
	sink := newPacketSink()
	startTestRecording(t, tr, sink)
	feed(t, tr, 1, 960, []byte{0xef, 0x03, 0xc0, 0x03, 0x6f, 'o', 'l', 'd', 'n', 'e', 'w'})
	waitForCount(t, sink, 1)
	if _, payloads := sink.snapshot(); string(payloads[0]) != "new" {
		t.Fatalf("recorded %q, want the primary block", payloads[0])
	}
}

// TestRecordingOfAPionPublisher records a real publisher's audio and video in process; the
// recording starts on a keyframe, ignores the subscription policy, and ends with the track.
func TestRecordingOfAPionPublisher(t *testing.T) {
	s := newTestSFU(t)
	a := joinPeer(t, s, "rec", "a")
	video, audio := startSource(t, true), startSource(t, false)
	senders := a.publish(video.track, audio.track)
	go answerPLI(senders[0], video)
	ids := publishedIDs(t, s, "rec", 2)
	room := s.Room("rec")
	room.SetPolicy(denyAll{})
	sinks := map[Kind]*packetSink{}
	for _, id := range ids {
		sink := newPacketSink()
		rec, err := room.Record(id, sink)
		if err != nil {
			t.Fatal(err)
		}
		sinks[rec.Track().Kind] = sink
	}
	if _, err := room.Record("TR_nope", newPacketSink()); !errors.Is(err, ErrTrackNotFound) {
		t.Fatalf("recording an unknown track: %v", err)
	}
	for _, sink := range sinks {
		waitForCount(t, sink, 20)
	}
	_, payloads := sinks[KindVideo].snapshot()
	if !isVP8Keyframe(payloads[0]) {
		t.Fatal("the video recording does not start on a keyframe")
	}
	a.p.Close("left")
	for kind, sink := range sinks {
		select {
		case err := <-sink.closed:
			if !errors.Is(err, ErrTrackEnded) {
				t.Fatalf("%s recording closed with %v, want ErrTrackEnded", kind, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s recording did not end with its track", kind)
		}
	}
}
