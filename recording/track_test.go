package recording

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pion/rtp"
	"go.uber.org/goleak"

	"sanji/recording/recordingtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// writeAll writes the packets, closes the writer and reads its file back.
func writeAll(t *testing.T, w *TrackWriter, pkts []*rtp.Packet) recordingtest.File {
	t.Helper()
	for _, p := range pkts {
		if err := w.WriteRTP(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return recordingtest.ReadFile(t, w.Path())
}

// vp8Packets is frame n of a synthetic VP8 stream in two packets; the frame's bytes end with n.
func vp8Packets(n int, key bool, seq uint16, ts uint32) []*rtp.Packet {
	body := []byte{0x01, 0x00, 0x00} // delta frame tag
	if key {
		body = []byte{0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a}
		body = binary.LittleEndian.AppendUint16(body, 320)
		body = binary.LittleEndian.AppendUint16(body, 180)
	}
	return []*rtp.Packet{
		{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: append([]byte{0x10}, body...)},
		{Header: rtp.Header{Version: 2, SequenceNumber: seq + 1, Timestamp: ts, Marker: true},
			Payload: binary.BigEndian.AppendUint16([]byte{0x00, 0xaa}, uint16(n))},
	}
}

func frameNumber(b recordingtest.Block) int { return recordingtest.Number(b.Data) }

// TestVideoReorderedAndLostPackets: packets swapped within the jitter window come out in order;
// a frame with a lost packet is dropped with the frames that depend on it, up to the next
// keyframe, and the file's timestamps jump over the gap.
func TestVideoReorderedAndLostPackets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.webm")
	keyRequests := 0
	w, err := NewTrackWriter(path, "video/VP8", TrackOptions{RequestKeyframe: func() { keyRequests++ }})
	if err != nil {
		t.Fatal(err)
	}
	const frames = 60
	var pkts []*rtp.Packet
	base := uint32(4_294_000_000) // the timestamp wraps during the stream
	for n := range frames {
		pkts = append(pkts, vp8Packets(n, n%20 == 0, uint16(65500+2*n)&0xffff, base+uint32(n)*3000)...)
	}
	// Swap neighbours in a few places (a repaired packet arrives after the next one).
	for _, i := range []int{5, 16, 33, 70} {
		pkts[i], pkts[i+1] = pkts[i+1], pkts[i]
	}
	// Lose the second packet of frame 25: frames 25-39 cannot be decoded (40 is a keyframe).
	start := uint16(65500)
	lostSeq := start + 2*25 + 1
	pkts = slices.DeleteFunc(pkts, func(p *rtp.Packet) bool { return p.SequenceNumber == lostSeq })
	f := writeAll(t, w, pkts)
	if f.Track.CodecID != "V_VP8" || f.Track.Video == nil || f.Track.Video.PixelWidth != 320 || f.DocType != "webm" {
		t.Fatalf("track header %+v (doc type %s)", f.Track, f.DocType)
	}
	var got []int
	for _, b := range f.Blocks {
		got = append(got, frameNumber(b))
		if want := int64(frameNumber(b)) * 3000 / 90; b.MS != want {
			t.Fatalf("frame %d at %d ms, want %d (its RTP time from the first frame)", frameNumber(b), b.MS, want)
		}
		if b.Key != (frameNumber(b)%20 == 0) {
			t.Fatalf("frame %d keyframe flag %v", frameNumber(b), b.Key)
		}
	}
	var want []int
	for n := range frames {
		if n < 25 || n >= 40 {
			want = append(want, n)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("frames in the file %v, want %v", got, want)
	}
	recordingtest.CheckMonotonic(t, f.Blocks)
	st := w.Stats()
	if st.LostPackets != 1 || st.DroppedFrames != 15 || st.Frames != uint64(len(want)) || st.Reordered != 4 {
		t.Fatalf("stats %+v: want 1 lost packet, 15 dropped frames, %d written, 4 put back in order", st, len(want))
	}
	if keyRequests == 0 {
		t.Fatal("no keyframe asked for after a lost picture")
	}
	if f.Cues == 0 || f.DurationMS != float64(f.Blocks[len(f.Blocks)-1].MS) {
		t.Fatalf("cues %d, duration %v: want an index and the last block's time", f.Cues, f.DurationMS)
	}
}

func opusPacket(n int, seq uint16, ts uint32) *rtp.Packet {
	return &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: n == 0},
		Payload: binary.BigEndian.AppendUint16([]byte{0xfc}, uint16(n))}
}

// TestAudioGapsStayGaps: lost audio packets are missing from the file, late ones beyond the
// jitter window are not slipped in out of order, and silence (no packets) keeps its length.
func TestAudioGapsStayGaps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.webm")
	w, err := NewTrackWriter(path, "audio/opus", TrackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	lost := map[int]bool{10: true, 11: true, 12: true, 90: true}
	var late *rtp.Packet
	for i := range n {
		p := opusPacket(i, uint16(i+100), uint32(i)*960)
		if i >= 150 {
			p.Timestamp += 48000 * 3 // three seconds of silence (DTX) before packet 150
		}
		switch {
		case lost[i]:
			continue
		case i == 50:
			late = p // arrives a second later: too late for the 500 ms window
			continue
		}
		if err := w.WriteRTP(p); err != nil {
			t.Fatal(err)
		}
		if i == 100 {
			if err := w.WriteRTP(late); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f := recordingtest.ReadFile(t, path)
	if f.Track.CodecID != "A_OPUS" || len(f.Track.CodecPrivate) != 19 || f.Track.Audio == nil || f.Track.Audio.SamplingFrequency != 48000 {
		t.Fatalf("track header %+v", f.Track)
	}
	recordingtest.CheckMonotonic(t, f.Blocks)
	if len(f.Blocks) != n-len(lost)-1 {
		t.Fatalf("%d audio packets in the file, want %d", len(f.Blocks), n-len(lost)-1)
	}
	for i, b := range f.Blocks {
		num := frameNumber(b)
		if i > 0 && num <= frameNumber(f.Blocks[i-1]) {
			t.Fatalf("packet %d written after %d", num, frameNumber(f.Blocks[i-1]))
		}
		want := int64(num) * 20
		if num >= 150 {
			want += 3000
		}
		if b.MS != want {
			t.Fatalf("packet %d at %d ms, want %d", num, b.MS, want)
		}
	}
	if st := w.Stats(); st.LostPackets != uint64(len(lost)+1) || st.LatePackets != 1 {
		t.Fatalf("stats %+v: want %d lost (one of them late)", st, len(lost)+1)
	}
}

// TestWriteErrorStopsTheWriter: a full disk (/dev/full answers every write with ENOSPC) stops
// the writer with an error; nothing panics and nothing waits.
func TestWriteErrorStopsTheWriter(t *testing.T) {
	w, err := NewTrackWriter(filepath.Join(t.TempDir(), "a.webm"), "audio/opus", TrackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.create = func(string) (*os.File, error) { return os.OpenFile("/dev/full", os.O_WRONLY, 0) }
	var werr error
	for i := 0; i < 100 && werr == nil; i++ {
		werr = w.WriteRTP(opusPacket(i, uint16(i), uint32(i)*960))
	}
	if werr == nil {
		t.Fatal("writing to a full disk never failed")
	}
	if err := w.Close(); err == nil || !errors.Is(err, werr) && err.Error() != werr.Error() {
		t.Fatalf("close after the failure: %v, want the write error %v", err, werr)
	}
	if err := w.WriteRTP(opusPacket(200, 200, 200*960)); err == nil {
		t.Fatal("a failed writer took another packet")
	}
}

func TestUnsupportedCodec(t *testing.T) {
	if _, err := NewTrackWriter(filepath.Join(t.TempDir(), "x"), "video/AV1", TrackOptions{}); !errors.Is(err, ErrUnsupportedCodec) {
		t.Fatalf("AV1: %v", err)
	}
}
