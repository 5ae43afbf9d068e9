package recording

import (
	"encoding/binary"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pion/rtp"

	"sanji/recording/recordingtest"
)

// Sequence parameter sets of real encoders with the picture sizes they describe.
var realSPS = []struct {
	name string
	sps  []byte
	w, h int
}{
	{"352x288 high", []byte{0x67, 0x64, 0x00, 0x0c, 0xac, 0x3b, 0x50, 0xb0, 0x4b, 0x42, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00,
		0x00, 0x03, 0x00, 0x3d, 0x08}, 352, 288},
	{"1280x720 high", []byte{0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x6c, 0x80, 0x00, 0x00, 0x03,
		0x00, 0x80, 0x00, 0x00, 0x1e, 0x07, 0x8c, 0x18, 0xcb}, 1280, 720},
	{"1920x1080 baseline, cropped", []byte{0x67, 0x42, 0xc0, 0x28, 0xd9, 0x00, 0x78, 0x02, 0x27, 0xe5, 0x84, 0x00, 0x00, 0x03,
		0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc9, 0x20}, 1920, 1080},
	{"2560x1440 scaling matrix", []byte{103, 100, 0, 50, 173, 132, 1, 12, 32, 8, 97, 0, 67, 8, 2, 24, 64, 16, 194, 0, 132, 59,
		80, 20, 0, 90, 211, 112, 16, 16, 20, 0, 0, 3, 0, 4, 0, 0, 3, 0, 162, 16}, 2560, 1440},
	{"1920x1080 interlaced", []byte{0x67, 0x4d, 0x40, 0x28, 0xab, 0x60, 0x3c, 0x02, 0x23, 0xef, 0x01, 0x10, 0x00, 0x00, 0x03,
		0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0x2e, 0x94, 0x00, 0x35, 0x64, 0x06, 0xb2, 0x85, 0x08, 0x0e, 0xe2, 0xc5, 0x22, 0xc0}, 1920, 1080},
}

func TestSPSSize(t *testing.T) {
	for _, c := range realSPS {
		w, h, err := spsSize(c.sps)
		if err != nil || w != c.w || h != c.h {
			t.Errorf("%s: %dx%d %v, want %dx%d", c.name, w, h, err, c.w, c.h)
		}
	}
	if _, _, err := spsSize([]byte{0x67, 0x42, 0x00}); err == nil {
		t.Error("a truncated SPS was read")
	}
}

// h264Packets is access unit n: a keyframe is a STAP-A with SPS and PPS, then the IDR slice in
// three FU-A fragments; a delta frame is one non-IDR slice. Every slice ends with n.
func h264Packets(n int, key bool, seq uint16, ts uint32) []*rtp.Packet {
	pkt := func(payload []byte, marker bool) *rtp.Packet {
		p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: marker}, Payload: payload}
		seq++
		return p
	}
	slice := binary.BigEndian.AppendUint16([]byte{0x9a, 0x01, 0x02}, uint16(n))
	if !key {
		return []*rtp.Packet{pkt(append([]byte{0x41}, slice...), true)}
	}
	sps, pps := realSPS[1].sps, []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}
	stap := []byte{0x78}
	stap = binary.BigEndian.AppendUint16(stap, uint16(len(sps)))
	stap = append(stap, sps...)
	stap = binary.BigEndian.AppendUint16(stap, uint16(len(pps)))
	stap = append(stap, pps...)
	idr := append([]byte{0x88, 0x84, 0x00, 0x33}, slice...) // after the NAL header 0x65
	return []*rtp.Packet{
		pkt(stap, false),
		pkt(append([]byte{0x7c, 0x85}, idr[:2]...), false), // FU indicator (NRI 3, type 28), start + type 5
		pkt(append([]byte{0x7c, 0x05}, idr[2:4]...), false),
		pkt(append([]byte{0x7c, 0x45}, idr[4:]...), true), // end
	}
}

// TestH264ToMatroska: access units come out as length-prefixed NAL units in a Matroska file
// whose header carries the stream's SPS and PPS; a keyframe with a lost fragment is dropped
// with the frames after it, up to the next complete keyframe.
func TestH264ToMatroska(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.mkv")
	w, err := NewTrackWriter(path, "video/H264", TrackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seq := uint16(1000)
	var want []int
	var all []*rtp.Packet
	for n := range 40 {
		key := n%10 == 0
		pkts := h264Packets(n, key, seq, uint32(n)*3000)
		seq += uint16(len(pkts))
		if n == 10 {
			pkts = slices.Delete(pkts, 2, 3) // the IDR's middle fragment is lost
		}
		if n < 10 || n >= 20 {
			want = append(want, n)
		}
		all = append(all, pkts...)
	}
	f := writeAll(t, w, all)
	if f.DocType != "matroska" || f.Track.CodecID != "V_MPEG4/ISO/AVC" || f.Track.Video == nil ||
		f.Track.Video.PixelWidth != 1280 || f.Track.Video.PixelHeight != 720 {
		t.Fatalf("header: doc type %s, track %+v", f.DocType, f.Track)
	}
	cp := f.Track.CodecPrivate
	if len(cp) < 8 || cp[0] != 1 || cp[1] != 0x64 || cp[4] != 0xff || cp[5] != 0xe1 {
		t.Fatalf("CodecPrivate %x is not an avcC record of the SPS", cp)
	}
	var got []int
	for _, b := range f.Blocks {
		var types []byte
		for nal := range avcNALs(b.Data) {
			types = append(types, nal[0]&0x1f)
		}
		last := types[len(types)-1]
		if b.Key != (last == 5) || (b.Key && !slices.Equal(types, []byte{7, 8, 5})) {
			t.Fatalf("block at %d ms: NAL types %v, keyframe %v", b.MS, types, b.Key)
		}
		got = append(got, recordingtest.Number(b.Data))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("access units in the file %v, want %v", got, want)
	}
	recordingtest.CheckMonotonic(t, f.Blocks)
}
