package sfu

import (
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

func marshal(t testing.TB, h rtp.Header, payload []byte) []byte {
	t.Helper()
	b, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRTP(t *testing.T) {
	h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 65535, Timestamp: 1234, SSRC: 99, Marker: true, CSRC: []uint32{7}}
	if err := h.SetExtension(3, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	raw := marshal(t, h, []byte{0xaa, 0xbb, 0xcc})
	var p packet
	if err := parseRTP(raw, &p); err != nil {
		t.Fatal(err)
	}
	if p.seq != 65535 || p.timestamp != 1234 || p.ssrc != 99 || !p.marker || p.payloadType != 96 {
		t.Fatalf("header fields wrong: %+v", p)
	}
	if string(p.payload) != "\xaa\xbb\xcc" {
		t.Fatalf("payload %x", p.payload)
	}
	for _, bad := range [][]byte{nil, {0x80}, raw[:13], {0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if parseRTP(bad, &p) == nil {
			t.Fatalf("accepted malformed %x", bad)
		}
	}
	// Padding is not part of the payload.
	padded := marshal(t, rtp.Header{Version: 2, Padding: true, PaddingSize: 4}, []byte{1, 2})
	if err := parseRTP(padded, &p); err != nil || len(p.payload) != 2 {
		t.Fatalf("padding: err %v payload %x", err, p.payload)
	}
}

func TestKeyframeDetection(t *testing.T) {
	// VP8: X=1, S=1, PID=0; I=1 with 15-bit picture id; payload header P=0 → keyframe.
	vp8Key := []byte{0x90, 0x80, 0x80, 0x01, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}
	vp8Delta := []byte{0x90, 0x80, 0x80, 0x01, 0x11, 0x02, 0x00}
	vp8Cont := []byte{0x80, 0x80, 0x80, 0x01, 0x10} // not the start of a partition
	if !isVP8Keyframe(vp8Key) || isVP8Keyframe(vp8Delta) || isVP8Keyframe(vp8Cont) || isVP8Keyframe(nil) {
		t.Fatal("VP8 keyframe detection wrong")
	}
	if !isVP8Keyframe([]byte{0x10, 0x00}) {
		t.Fatal("VP8 keyframe without extensions not detected")
	}
	if !isH264Keyframe([]byte{0x65}) || !isH264Keyframe([]byte{0x67}) || isH264Keyframe([]byte{0x41}) {
		t.Fatal("H.264 single NAL detection wrong")
	}
	stapA := []byte{0x18, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}
	if !isH264Keyframe(stapA) {
		t.Fatal("H.264 STAP-A with SPS not detected")
	}
	fuStartIDR := []byte{0x7c, 0x85}
	fuMidIDR := []byte{0x7c, 0x05}
	if !isH264Keyframe(fuStartIDR) || isH264Keyframe(fuMidIDR) {
		t.Fatal("H.264 FU-A detection wrong")
	}
}

func TestPacketBuffer(t *testing.T) {
	b := newPacketBuffer(100) // rounds to 128
	if len(b.slots) != 128 {
		t.Fatalf("size %d", len(b.slots))
	}
	if !b.put(10, []byte{1, 2, 3}) || b.put(10, []byte{1, 2, 3}) {
		t.Fatal("duplicate not detected")
	}
	dst := make([]byte, maxPacketSize)
	if n := b.get(10, dst); n != 3 || dst[2] != 3 {
		t.Fatalf("get: %d %x", n, dst[:n])
	}
	if b.get(11, dst) != 0 {
		t.Fatal("got a packet never stored")
	}
	b.put(10+128, []byte{9})
	if b.get(10, dst) != 0 {
		t.Fatal("overwritten packet still served")
	}
	if b.put(1, make([]byte, maxPacketSize+1)) {
		t.Fatal("oversized packet stored")
	}
}

func TestAudioBufferIsSmall(t *testing.T) {
	if n := bufferSlots(webrtc.RTPCodecTypeAudio, 1024); n != audioBufferSlots {
		t.Fatalf("audio buffer %d slots, want %d", n, audioBufferSlots)
	}
	if n := bufferSlots(webrtc.RTPCodecTypeAudio, 16); n != 16 {
		t.Fatalf("audio buffer %d slots for a configured 16, want 16", n)
	}
	if n := bufferSlots(webrtc.RTPCodecTypeVideo, 1024); n != 1024 {
		t.Fatalf("video buffer %d slots, want the configured 1024", n)
	}
}
