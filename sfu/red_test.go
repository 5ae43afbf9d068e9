package sfu

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

func TestREDPrimary(t *testing.T) {
	for _, c := range []struct {
		name    string
		payload []byte
		want    []byte
		ok      bool
	}{
		{"primary only", []byte{0x6f, 'a', 'b'}, []byte("ab"), true},
		{"one redundant block", []byte{0xef, 0x0f, 0x00, 0x02, 0x6f, 'o', 'l', 'n', 'e', 'w'}, []byte("new"), true},
		{"two redundant blocks", []byte{0xef, 0x1e, 0x00, 0x01, 0xef, 0x0f, 0x00, 0x01, 0x6f, 'x', 'y', 'z'}, []byte("z"), true},
		{"empty", nil, nil, false},
		{"cut in a block header", []byte{0xef, 0x0f, 0x00}, nil, false},
		{"block longer than the payload", []byte{0xef, 0x0f, 0x00, 0x09, 0x6f, 'a'}, nil, false},
		{"no primary header", []byte{0xef, 0x0f, 0x00, 0x00}, nil, false},
	} {
		got, ok := redPrimary(c.payload)
		if ok != c.ok || !bytes.Equal(got, c.want) {
			t.Errorf("%s: got %q %v, want %q %v", c.name, got, ok, c.want, c.ok)
		}
	}
	payload := []byte{0xef, 0x0f, 0x00, 0x02, 0x6f, 'o', 'l', 'n', 'e', 'w'}
	if n := testing.AllocsPerRun(100, func() { _, _ = redPrimary(payload) }); n != 0 {
		t.Errorf("redPrimary allocates %v times", n)
	}
}

// TestREDPassedOrUnwrapped: a publisher that offers RED is asked for it; a receiver that takes
// RED gets the packets as sent, one that only knows Opus gets each packet's primary block.
func TestREDPassedOrUnwrapped(t *testing.T) {
	s := newTestSFU(t)
	a := joinPeerWith(t, s, "red", "a", newClientPCWith(t, nil, true), newClientPCWith(t, nil, true))
	b := joinPeerWith(t, s, "red", "b", newClientPCWith(t, nil, true), newClientPCWith(t, nil, true))
	c := joinPeer(t, s, "red", "c")
	// Like a browser, the publisher's track is Opus; the SFU's answer decides it goes out as RED.
	tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: mimeRED, ClockRate: 48000, Channels: 2,
		SDPFmtpLine: "111/111"}, "audio", "stream")
	if err != nil {
		t.Fatal(err)
	}
	every(t, 20*time.Millisecond, func(n int) {
		prev, cur := []byte(fmt.Sprintf("f%05d", n-1)), []byte(fmt.Sprintf("f%05d", n))
		payload := append([]byte{0xef, 0x03, 0xc0 | byte(len(prev)>>8), byte(len(prev)), 0x6f}, append(prev, cur...)...)
		_ = tr.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: uint32(n) * 960}, Payload: payload})
	})
	a.publish(tr)
	// A browser sends the first codec of the answer: RED must lead the audio section.
	var answer sdp.SessionDescription
	if err := answer.UnmarshalString(a.pub.RemoteDescription().SDP); err != nil {
		t.Fatal(err)
	}
	for _, md := range answer.MediaDescriptions {
		if md.MediaName.Media == "audio" && (len(md.MediaName.Formats) < 2 || md.MediaName.Formats[0] != "63") {
			t.Errorf("answer's audio formats %v: RED (63) should come first", md.MediaName.Formats)
		}
	}
	ids := publishedIDs(t, s, "red", 1)
	if info := s.Room("red").Tracks()[0]; info.Codec != mimeRED {
		t.Fatalf("published codec %q, want RED", info.Codec)
	}
	for _, p := range []*peer{b, c} {
		if err := p.p.Subscribe(ids...); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both receivers", func() bool { return b.track(ids[0]) != nil && c.track(ids[0]) != nil })
	rb, rc := b.track(ids[0]), c.track(ids[0])
	if rb.Codec().MimeType != mimeRED || rc.Codec().MimeType != webrtc.MimeTypeOpus {
		t.Fatalf("negotiated %s and %s, want RED and Opus", rb.Codec().MimeType, rc.Codec().MimeType)
	}
	pb, _, err := rb.ReadRTP()
	if err != nil {
		t.Fatal(err)
	}
	if prim, ok := redPrimary(pb.Payload); !ok || len(pb.Payload) != 5+2*6 || !bytes.HasPrefix(prim, []byte("f")) {
		t.Errorf("RED receiver got %q", pb.Payload)
	}
	for range 5 {
		pc, _, err := rc.ReadRTP()
		if err != nil {
			t.Fatal(err)
		}
		if len(pc.Payload) != 6 || pc.Payload[0] != 'f' || pc.PayloadType != uint8(rc.Codec().PayloadType) {
			t.Fatalf("Opus receiver got %q (pt %d)", pc.Payload, pc.PayloadType)
		}
	}
}
