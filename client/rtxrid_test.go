package client

import (
	"bytes"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// TestRTXCarriesRepairedRID: a layer's retransmission leaves with repaired-rtp-stream-id
// instead of rtp-stream-id, as a browser sends it; the layer's own packets keep their rid, and
// the header handed in (shared with the NACK responder's stored packet) is not changed.
func TestRTXCarriesRepairedRID(t *testing.T) {
	const ridID, rridID, midID = 2, 3, 1
	info := &interceptor.StreamInfo{SSRC: 100, SSRCRetransmission: 200, RTPHeaderExtensions: []interceptor.RTPHeaderExtension{
		{URI: sdp.SDESMidURI, ID: midID}, {URI: sdp.SDESRTPStreamIDURI, ID: ridID}, {URI: sdp.SDESRepairRTPStreamIDURI, ID: rridID}}}
	var got []rtp.Header
	w := (&rtxRID{}).BindLocalStream(info, interceptor.RTPWriterFunc(func(h *rtp.Header, _ []byte, _ interceptor.Attributes) (int, error) {
		got = append(got, *h)
		return 0, nil
	}))
	for _, ssrc := range []uint32{100, 200} {
		h := rtp.Header{Version: 2, SSRC: ssrc}
		if err := h.SetExtension(midID, []byte("0")); err != nil {
			t.Fatal(err)
		}
		if err := h.SetExtension(ridID, []byte("f")); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(&h, nil, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(h.GetExtension(ridID), []byte("f")) {
			t.Fatalf("SSRC %d: the caller's header lost its rid", ssrc)
		}
	}
	media, rtx := got[0], got[1]
	if !bytes.Equal(media.GetExtension(ridID), []byte("f")) || media.GetExtension(rridID) != nil {
		t.Fatalf("media packet: rid %q rrid %q", media.GetExtension(ridID), media.GetExtension(rridID))
	}
	if rtx.GetExtension(ridID) != nil || !bytes.Equal(rtx.GetExtension(rridID), []byte("f")) || !bytes.Equal(rtx.GetExtension(midID), []byte("0")) {
		t.Fatalf("RTX packet: rid %q rrid %q mid %q", rtx.GetExtension(ridID), rtx.GetExtension(rridID), rtx.GetExtension(midID))
	}
}
