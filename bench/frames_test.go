package bench

import (
	"testing"
	"time"
)

// sendFrames feeds a Stream with frames of per packets each, 33 ms apart, the layer stamped;
// skip drops the listed sequence numbers.
func sendFrames(s *Stream, seq *uint16, ts *uint32, at *time.Duration, n, per, layer int, keyFirst bool, skip map[uint16]bool) {
	for f := range n {
		for i := range per {
			q := *seq
			*seq++
			if skip[q] {
				continue
			}
			s.Add(Packet{Seq: q, Timestamp: *ts, Size: 100, Arrival: *at, FrameStart: i == 0, Marker: i == per-1,
				IsKeyframe: i == 0 && keyFirst && f == 0, Layer: layer})
		}
		*ts += 3000
		*at += 33 * time.Millisecond
	}
}

func TestFrameTrackerChainAndKeyframes(t *testing.T) {
	s := NewStream("video", 90000)
	s.TrackFrames()
	s.Reset()
	seq, ts, at := uint16(65000), uint32(0), time.Second
	sendFrames(s, &seq, &ts, &at, 10, 3, 2, false, nil) // first frame taken as in step: 10 decoded
	// A packet lost and never repaired: that frame and the rest until a keyframe are not shown.
	sendFrames(s, &seq, &ts, &at, 5, 3, 2, false, map[uint16]bool{seq + 1: true})
	sendFrames(s, &seq, &ts, &at, 10, 3, 0, true, nil) // a keyframe of layer q, then interframes
	frames := s.decodedFrames()
	if len(frames) != 20 {
		t.Fatalf("%d frames decoded, want 10 + 0 + 10", len(frames))
	}
	st := frameStats(frames, time.Second, at)
	if st.ByLayer != [3]int{10, 0, 10} {
		t.Fatalf("frames by layer %v", st.ByLayer)
	}
	// The freeze: from the last frame before the loss to the keyframe, 6 frame times.
	if want := 6 * 33 * time.Millisecond; st.LongestFreeze != want {
		t.Fatalf("longest freeze %v, want %v", st.LongestFreeze, want)
	}
}

func TestFrameTrackerWaitsForRepair(t *testing.T) {
	s := NewStream("video", 90000)
	s.TrackFrames()
	seq, ts, at := uint16(10), uint32(0), time.Second
	sendFrames(s, &seq, &ts, &at, 3, 2, 1, true, map[uint16]bool{13: true}) // frame 2 lacks its 2nd packet
	if n := len(s.decodedFrames()); n != 1 {
		t.Fatalf("%d frames decoded before the repair, want 1 (frame 3 waits for frame 2)", n)
	}
	s.Add(Packet{Seq: 13, Timestamp: 3000, Arrival: at, Marker: true, Layer: 1}) // the retransmission
	if n := len(s.decodedFrames()); n != 3 {
		t.Fatalf("%d frames decoded after the repair, want 3", n)
	}
}

func TestFrameStatsAndTopLayerBack(t *testing.T) {
	var frames []decodedFrame
	for i := range 30 { // 10 fps of q for 3 s, nothing for 1.5 s, then f
		frames = append(frames, decodedFrame{at: time.Duration(i) * 100 * time.Millisecond, layer: 0})
	}
	frames = append(frames, decodedFrame{at: 4400 * time.Millisecond, layer: 2})
	st := frameStats(frames, 0, 5*time.Second)
	if st.FPSMin != 0 || st.FPSMean != 31.0/5 || st.LongestFreeze != 1500*time.Millisecond {
		t.Fatalf("%+v", st)
	}
	if back := topLayerBack(frames, 2, 3*time.Second, 5*time.Second); back != 1400*time.Millisecond {
		t.Fatalf("top layer back after %v, want 1.4 s", back)
	}
	if back := topLayerBack(frames, 2, 4500*time.Millisecond, 5*time.Second); back != 0 {
		t.Fatalf("a stream on the top layer at the clearing: %v, want 0", back)
	}
	if back := topLayerBack(frames[:30], 2, time.Second, 5*time.Second); back != -1 {
		t.Fatalf("never on the top layer: %v, want -1", back)
	}
}
