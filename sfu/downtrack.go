package sfu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// DownTrack is one subscriber's copy of one published track: our own webrtc.TrackLocal that
// rewrites SSRC, payload type, sequence number and timestamp for that subscriber, so the source
// can change (a simulcast layer, a pause) while the subscriber sees one continuous stream.
type DownTrack struct {
	id, streamID string
	kind         webrtc.RTPCodecType
	codec        webrtc.RTPCodecParameters // the publisher's codec
	source       *publishedTrack
	metrics      *metrics

	bound atomic.Bool
	// mu serialises the forwarding goroutine and the NACK handler, which both write.
	mu            sync.Mutex
	writer        webrtc.TrackLocalWriter
	ssrc, rtxSSRC uint32
	pt, rtxPT     uint8
	rw            rewriter
	nack          *nackState // nil for audio
	rtxSeq        uint16
	hdr           rtp.Header // reused for every forwarded packet
	rtxHdr        rtp.Header // reused for retransmissions
	needKeyframe  bool
}

// nackState is what serving NACKs takes: 13.5 KiB per down track. Only video has it: audio is not
// NACKed (our Opus offers no nack feedback), and a subscriber's audio down tracks were 4 % of its
// memory for nothing (docs/benchmarks.md).
type nackState struct {
	sent    sentLog
	scratch [maxPacketSize + 2]byte
}

func newDownTrack(src *publishedTrack, m *metrics) *DownTrack {
	d := &DownTrack{
		id:       src.info.ID,
		streamID: src.info.ParticipantID,
		kind:     src.remoteKind,
		codec:    src.codec,
		source:   src,
		metrics:  m,
		rw:       rewriter{clockRate: src.codec.ClockRate},
		// Video starts on a keyframe: anything before it cannot be decoded.
		needKeyframe: src.remoteKind == webrtc.RTPCodecTypeVideo,
	}
	if src.remoteKind == webrtc.RTPCodecTypeVideo {
		d.nack = &nackState{}
	}
	return d
}

// ID is the published track's id; the subscriber's MediaStreamTrack.id.
func (d *DownTrack) ID() string { return d.id }

// RID is empty: a down track is one stream whatever layer feeds it.
func (d *DownTrack) RID() string { return "" }

// StreamID is the publishing participant's id (msid), which clients group tiles by.
func (d *DownTrack) StreamID() string { return d.streamID }

// Kind is audio or video.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.kind }

var errNoCodec = errors.New("sfu: subscriber negotiated none of the publisher's codec")

// Bind is called by pion when the subscriber's connection has negotiated this track.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var chosen *webrtc.RTPCodecParameters
	params := ctx.CodecParameters()
	for i := range params {
		if strings.EqualFold(params[i].MimeType, d.codec.MimeType) && fmtpCompatible(params[i], d.codec) {
			chosen = &params[i]
			break
		}
	}
	if chosen == nil {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("%w: %s", errNoCodec, d.codec.MimeType)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.writer = ctx.WriteStream()
	d.ssrc = uint32(ctx.SSRC())
	d.pt = uint8(chosen.PayloadType)
	d.rtxSSRC, d.rtxPT = 0, 0
	apt := fmt.Sprintf("apt=%d", chosen.PayloadType)
	for _, c := range params {
		if strings.EqualFold(c.MimeType, webrtc.MimeTypeRTX) && c.SDPFmtpLine == apt && ctx.SSRCRetransmission() != 0 {
			d.rtxSSRC, d.rtxPT = uint32(ctx.SSRCRetransmission()), uint8(c.PayloadType)
		}
	}
	d.hdr = rtp.Header{Version: 2, PayloadType: d.pt, SSRC: d.ssrc}
	d.bound.Store(true)
	// The subscriber cannot decode until it has a keyframe.
	if d.kind == webrtc.RTPCodecTypeVideo {
		d.needKeyframe = true
		d.source.requestKeyframe()
	}
	return *chosen, nil
}

// Unbind is called by pion when the track is removed from the subscriber's connection.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.bound.Store(false)
	return nil
}

// resync splices the next packet on as a new source: after a mute or any other pause.
func (d *DownTrack) resync() {
	d.mu.Lock()
	d.rw.resync()
	d.needKeyframe = d.kind == webrtc.RTPCodecTypeVideo
	d.mu.Unlock()
}

// writeRTP forwards one source packet. It is the hot path: no allocation, one lock, one write.
func (d *DownTrack) writeRTP(p *packet, now int64) {
	if !d.bound.Load() {
		return
	}
	d.mu.Lock()
	if d.needKeyframe {
		if !p.keyframe {
			d.mu.Unlock()
			// Keep asking (throttled per track): the request made at bind time may have been
			// throttled away, and the subscriber cannot ask for what it never received.
			d.source.requestKeyframe()
			return
		}
		d.needKeyframe = false
		d.rw.resync()
	}
	seq, ts, ok := d.rw.rewrite(p, now)
	if !ok {
		d.mu.Unlock()
		return
	}
	if d.nack != nil {
		d.nack.sent.add(seq, p.seq, ts-p.timestamp)
	}
	d.hdr.SequenceNumber, d.hdr.Timestamp, d.hdr.Marker = seq, ts, p.marker
	_, err := d.writer.WriteRTP(&d.hdr, p.payload)
	d.mu.Unlock()
	if err == nil {
		d.metrics.forwardedPackets.Inc()
		d.metrics.forwardedBytes.Add(float64(len(p.payload) + 12))
	}
}

// handleRTCP acts on one subscriber's feedback for this track.
func (d *DownTrack) handleRTCP(pkts []rtcp.Packet) {
	for _, pkt := range pkts {
		switch p := pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			d.metrics.keyframeRequests.Inc()
			d.source.requestKeyframe()
		case *rtcp.TransportLayerNack:
			for _, pair := range p.Nacks {
				d.retransmit(pair.PacketID)
				for i := range uint16(16) {
					if pair.LostPackets&(1<<i) != 0 {
						d.retransmit(pair.PacketID + i + 1)
					}
				}
			}
		}
	}
}

// retransmit serves one NACKed packet from the publisher's buffer, over RTX when negotiated.
func (d *DownTrack) retransmit(outSeq uint16) {
	if !d.bound.Load() {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.metrics.nacks.Inc()
	if d.nack == nil {
		d.metrics.nackMisses.Inc()
		return
	}
	srcSeq, tsOffset, ok := d.nack.sent.lookup(outSeq)
	if !ok {
		return
	}
	scratch := &d.nack.scratch
	// Leave two bytes in front for the RTX original sequence number.
	n := d.source.buffer.get(srcSeq, scratch[2:])
	if n == 0 {
		d.metrics.nackMisses.Inc()
		return
	}
	var p packet
	if parseRTP(scratch[2:2+n], &p) != nil {
		return
	}
	hdr := &d.rtxHdr
	*hdr = rtp.Header{Version: 2, PayloadType: d.pt, SSRC: d.ssrc, SequenceNumber: outSeq,
		Timestamp: p.timestamp + tsOffset, Marker: p.marker}
	payload := p.payload
	if d.rtxSSRC != 0 {
		// RFC 4588: the RTX payload is the original sequence number followed by the payload. The
		// header bytes in front of the payload are no longer needed, so the OSN goes there.
		binary.BigEndian.PutUint16(scratch[p.offset:], outSeq)
		payload = scratch[p.offset : 2+p.offset+len(p.payload)]
		d.rtxSeq++
		hdr.SSRC, hdr.PayloadType, hdr.SequenceNumber = d.rtxSSRC, d.rtxPT, d.rtxSeq
	}
	if _, err := d.writer.WriteRTP(hdr, payload); err == nil {
		d.metrics.retransmits.Inc()
	}
}

// now is the monotonic clock the forwarding path stamps packets with.
func now() int64 { return time.Since(epoch).Nanoseconds() }

var epoch = time.Now()
