package client

import (
	"slices"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// rtxRID makes a simulcast layer's retransmissions look like a browser's. pion's NACK responder
// resends a stored packet on the layer's RTX stream with the stored packet's header extensions,
// its rid (rtp-stream-id) included; a browser marks RTX packets with repaired-rtp-stream-id
// (RFC 8852) instead. A server that sees a layer's rid on an SSRC it does not know takes it for
// a new stream of that layer, so the rid must not be there. Registered before the NACK
// responder, this interceptor sits between it and the wire and sees its retransmissions.
type rtxRID struct{ interceptor.NoOp }

type rtxRIDFactory struct{}

func (rtxRIDFactory) NewInterceptor(string) (interceptor.Interceptor, error) { return &rtxRID{}, nil }

// BindLocalStream rewrites the RTX packets of streams that have a rid extension and an RTX stream.
func (*rtxRID) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	var ridID, rridID uint8
	for _, e := range info.RTPHeaderExtensions {
		switch e.URI {
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(e.ID)
		case sdp.SDESRepairRTPStreamIDURI:
			rridID = uint8(e.ID)
		}
	}
	rtx := info.SSRCRetransmission
	if rtx == 0 || ridID == 0 {
		return w
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		rid := h.GetExtension(ridID)
		if h.SSRC != rtx || rid == nil {
			return w.Write(h, payload, a)
		}
		// A copy: the header's extensions may share storage with the responder's stored packet.
		out := *h
		out.Extensions = slices.Clone(h.Extensions)
		if err := out.DelExtension(ridID); err != nil {
			return 0, err
		}
		if rridID != 0 {
			if err := out.SetExtension(rridID, rid); err != nil {
				return 0, err
			}
		}
		return w.Write(&out, payload, a)
	})
}
