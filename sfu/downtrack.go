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
// rewrites SSRC, payload type, sequence number, timestamp (and for simulcast VP8 the picture id
// and TL0PICIDX) for that subscriber, so the source can change (a simulcast layer, a pause) while
// the subscriber sees one continuous stream.
type DownTrack struct {
	id, streamID string
	kind         webrtc.RTPCodecType
	codec        webrtc.RTPCodecParameters // the publisher's codec
	source       *publishedTrack
	sub          *Participant // nil in unit tests
	metrics      *metrics
	vp8Rewrite   bool // simulcast VP8: picture ids must stay continuous across layers
	// unwrapRED: the source sends RED and this receiver negotiated only Opus, so each packet's
	// primary block is forwarded as plain Opus. Set by Bind.
	unwrapRED bool
	// On a relay (set before it is added to its source): pinned keeps it on its layer whatever
	// the others do; levelExt (0 = none) is the link's audio level extension id, which carries the
	// source's levels on; relaySubs are the far subscribers it is carried for.
	pinned    bool
	levelExt  uint8
	levelBuf  [1]byte
	relaySubs atomic.Pointer[[]string]

	bound  atomic.Bool
	paused atomic.Bool // the allocator found no room for it
	// lowered: the allocator chose a lower layer than the subscriber's tile asks for (bandwidth).
	lowered atomic.Bool
	// cur is the layer being forwarded (-1 = none yet), target the layer wanted; a switch happens
	// on the target's keyframe. Written under mu, read without it to skip other layers' packets.
	cur, target atomic.Int32
	// Subscriber's wishes, read by the allocator.
	maxWidth, maxHeight atomic.Int32
	priority            atomic.Int32
	wanted              atomic.Int32 // the layer the allocator would pick if all were sent

	// mu serialises the forwarding goroutines (one per layer) and the NACK handler, which all write.
	mu            sync.Mutex
	writer        webrtc.TrackLocalWriter
	ssrc, rtxSSRC uint32
	pt, rtxPT     uint8
	rw            rewriter
	vp8           vp8Rewriter
	nack          *nackState        // nil for audio
	rtx           *retransmitBudget // the subscriber's, shared by its down tracks
	rtxSeq        uint16
	hdr           rtp.Header // reused for every forwarded packet
	rtxHdr        rtp.Header // reused for retransmissions

	// holes counts outgoing sequence numbers skipped because the packet never reached the SFU
	// (the publisher's loss), so that the receiver's reports can be read for its own link only.
	holes atomic.Uint32

	// Overload (overload.go): packets not sent because the fan-out reached this subscriber past
	// the delay bound, since housekeeping last looked; the highest layer allowed because of that
	// (noLagCeiling = none); and housekeeping's own counts of rounds with and without drops.
	lagged          atomic.Uint32
	lagCeiling      atomic.Int32
	lagStreak, calm int
	rr              rrState // the last receiver report's counters (the RTCP goroutine only)
}

// rrState is what the previous receiver report for this down track said.
type rrState struct {
	started       bool
	highest, lost uint32
	holes         uint32
}

// nackState is what serving NACKs (and rewriting VP8 payloads) takes: about 30 KiB per down
// track. Only video has it: audio is not NACKed (our Opus offers no nack feedback), and a
// subscriber's audio down tracks would carry it for nothing (docs/benchmarks.md).
type nackState struct {
	sent    sentLog
	scratch [maxPacketSize + 2]byte
}

func newDownTrack(src *publishedTrack, sub *Participant, m *metrics) *DownTrack {
	d := &DownTrack{
		id:         src.info.ID,
		streamID:   src.info.ParticipantID,
		kind:       src.remoteKind,
		codec:      src.codec,
		source:     src,
		sub:        sub,
		metrics:    m,
		rw:         rewriter{clockRate: src.codec.ClockRate},
		vp8Rewrite: src.info.Simulcast && strings.EqualFold(src.codec.MimeType, webrtc.MimeTypeVP8),
	}
	d.cur.Store(-1)
	d.lagCeiling.Store(noLagCeiling)
	d.target.Store(int32(src.topQuality()))
	d.wanted.Store(int32(src.topQuality()))
	if src.remoteKind == webrtc.RTPCodecTypeVideo {
		d.nack = &nackState{}
	}
	if sub != nil && sub.rtx != nil {
		d.rtx = sub.rtx
	} else {
		d.rtx = newRetransmitBudget() // a recorder's, or a test's
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
	unwrap := false
	if chosen == nil && isRED(d.codec) {
		for i := range params {
			if strings.EqualFold(params[i].MimeType, webrtc.MimeTypeOpus) {
				chosen, unwrap = &params[i], true
				break
			}
		}
	}
	if chosen == nil {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("%w: %s", errNoCodec, d.codec.MimeType)
	}
	var rtxSSRC uint32
	var rtxPT uint8
	apt := fmt.Sprintf("apt=%d", chosen.PayloadType)
	for _, c := range params {
		if strings.EqualFold(c.MimeType, webrtc.MimeTypeRTX) && c.SDPFmtpLine == apt && ctx.SSRCRetransmission() != 0 {
			rtxSSRC, rtxPT = uint32(ctx.SSRCRetransmission()), uint8(c.PayloadType)
		}
	}
	d.bind(ctx.WriteStream(), uint32(ctx.SSRC()), uint8(chosen.PayloadType), rtxSSRC, rtxPT, unwrap)
	return *chosen, nil
}

// bind starts forwarding to w: from a subscriber's connection (Bind), or to a recorder's queue.
// unwrapRED sends a RED source's Opus primary only.
func (d *DownTrack) bind(w webrtc.TrackLocalWriter, ssrc uint32, pt uint8, rtxSSRC uint32, rtxPT uint8, unwrapRED bool) {
	d.mu.Lock()
	d.writer = w
	d.unwrapRED = unwrapRED
	d.ssrc, d.pt = ssrc, pt
	d.rtxSSRC, d.rtxPT = rtxSSRC, rtxPT
	d.hdr = rtp.Header{Version: 2, PayloadType: d.pt, SSRC: d.ssrc}
	d.mu.Unlock()
	d.bound.Store(true)
	// The receiver cannot decode until it has a keyframe of the layer it starts on.
	d.source.requestKeyframe(int(d.target.Load()))
}

// Unbind is called by pion when the track is removed from the subscriber's connection.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.bound.Store(false)
	return nil
}

// resync restarts the stream at the next keyframe, spliced on: after a mute or a pause.
func (d *DownTrack) resync() {
	d.mu.Lock()
	d.cur.Store(-1)
	d.mu.Unlock()
}

// setTarget asks for a layer; the switch happens on that layer's next keyframe, which is
// requested now.
func (d *DownTrack) setTarget(quality int) {
	if d.target.Swap(int32(quality)) == int32(quality) {
		return
	}
	if d.cur.Load() != int32(quality) {
		d.source.requestKeyframe(quality)
	}
}

// setPaused stops or resumes forwarding when the subscriber's link cannot carry the track.
func (d *DownTrack) setPaused(paused bool) {
	if d.paused.Swap(paused) == paused {
		return
	}
	if !paused {
		d.resync()
		d.source.requestKeyframe(int(d.target.Load()))
	}
}

// targetSilent says the target layer sent packets and then nothing for layerActiveFor: the
// publisher stopped it. A layer not seen yet is left to the allocator.
func (d *DownTrack) targetSilent(now int64) bool {
	l := d.source.layer(int(d.target.Load()))
	if l == nil {
		return false
	}
	last := l.lastPacket.Load()
	return last != 0 && now-last > int64(layerActiveFor)
}

// writeRTP forwards one source packet and returns the bytes written (0: not forwarded). It is
// the hot path: no allocation, one lock, one write.
func (d *DownTrack) writeRTP(p *packet, now int64) int { return d.place(p, now, true) }

// skipRTP is writeRTP for a packet the fan-out reached too late: it takes its place in the
// outgoing stream (sequence number, sent log) but is not sent, so that the receiver sees it as
// lost on the link, NACKs it and gets it repaired like any loss (within the retransmission age
// and budget). Dropping it from the stream instead left the receiver a frame it could never
// complete, and the subscriber had to wait for a keyframe: every passing stall of the fan-out
// froze the picture for a keyframe's round trip, on a lossy link for seconds.
func (d *DownTrack) skipRTP(p *packet, now int64) { d.place(p, now, false) }

// place is writeRTP, and with send false skipRTP.
func (d *DownTrack) place(p *packet, now int64, send bool) int {
	q := int32(p.quality)
	if !d.bound.Load() || d.paused.Load() {
		return 0
	}
	if q != d.cur.Load() && q != d.target.Load() {
		if d.pinned || q > d.target.Load() || !d.targetSilent(now) {
			return 0
		}
		d.setTarget(int(q)) // the layer we wait on stopped: take this lower one, from its keyframe
	}
	d.mu.Lock()
	cur, target := d.cur.Load(), d.target.Load()
	switch {
	case q == target && q != cur:
		// Switch only on a keyframe of the target; until then the current layer goes on.
		if !p.keyframe {
			d.mu.Unlock()
			// Keep asking (throttled per layer): a request may have been throttled away, and a
			// subscriber cannot ask for what it never received.
			d.source.requestKeyframe(int(q))
			return 0
		}
		d.cur.Store(q)
		d.rw.resync()
		d.vp8.rebase = true
		if cur >= 0 {
			d.metrics.layerSwitches.Inc()
			d.source.room.layerSwitches.Inc()
		}
	case q != cur:
		d.mu.Unlock()
		return 0
	}
	payload := p.payload
	if d.unwrapRED {
		var ok bool
		if payload, ok = redPrimary(payload); !ok || len(payload) == 0 {
			d.mu.Unlock()
			return 0 // not RED after all, or nothing to play: the receiver's Opus decoder conceals it
		}
	}
	prev, started := d.rw.lastSeq, d.rw.started
	seq, ts, ok := d.rw.rewrite(p, now)
	if !ok {
		d.mu.Unlock()
		return 0
	}
	if gap := seq - prev; started && int16(gap) > 1 {
		d.holes.Add(uint32(gap - 1))
	}
	var picOffset uint16
	var tl0Offset uint8
	if d.nack != nil {
		if d.vp8Rewrite {
			payload, picOffset, tl0Offset = d.vp8.rewrite(p, d.nack.scratch[:])
		}
		d.nack.sent.add(sentEntry{valid: true, outSeq: seq, srcSeq: p.seq, tsOffset: ts - p.timestamp,
			quality: uint8(q), picOffset: picOffset, tl0Offset: tl0Offset, sentMs: uint32(now / 1e6)})
	}
	if !send {
		d.holes.Add(1) // not the link's loss: the receiver's reports are read without it
		d.mu.Unlock()
		return 0
	}
	d.hdr.SequenceNumber, d.hdr.Timestamp, d.hdr.Marker = seq, ts, p.marker
	if d.levelExt != 0 {
		d.carryLevel(p)
	}
	_, err := d.writer.WriteRTP(&d.hdr, payload)
	d.mu.Unlock()
	if err != nil {
		return 0
	}
	return len(payload) + 12
}

// handleRTCP acts on one subscriber's feedback for this track.
func (d *DownTrack) handleRTCP(pkts []rtcp.Packet) {
	for _, pkt := range pkts {
		switch p := pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			d.metrics.keyframeRequests.Inc()
			d.source.room.keyframeRequests.Inc()
			q := d.cur.Load()
			if q < 0 {
				q = d.target.Load()
			}
			d.source.requestKeyframe(int(q))
		case *rtcp.TransportLayerNack:
			for _, pair := range p.Nacks {
				d.retransmit(pair.PacketID)
				for i := range uint16(16) {
					if pair.LostPackets&(1<<i) != 0 {
						d.retransmit(pair.PacketID + i + 1)
					}
				}
			}
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			if d.sub != nil {
				d.sub.bwe.setREMB(rembBitrate(p.Bitrate))
			}
		case *rtcp.ReceiverReport:
			if d.sub != nil {
				for _, r := range p.Reports {
					if r.SSRC == d.ssrc {
						d.sub.bwe.setLoss(d.ownLoss(r))
					}
				}
			}
		}
	}
}

// rembBitrate is a REMB's bitrate as the estimate takes it. The wire's 18-bit mantissa and 6-bit
// exponent reach 2^81 bits/s, which int64 cannot hold (the conversion gave a negative estimate):
// anything above the estimate's ceiling is the ceiling, and a value that is not a number is none.
func rembBitrate(bps float32) int64 {
	switch {
	case !(bps > 0):
		return 0
	case bps >= maxEstimate:
		return maxEstimate
	}
	return int64(bps)
}

// ownLoss is the fraction (of 256) of what the SFU sent since the previous report that the
// receiver lost: the report's loss less the holes the publisher's own loss left in the stream.
func (d *DownTrack) ownLoss(r rtcp.ReceptionReport) uint8 {
	holes := d.holes.Load()
	prev := d.rr
	d.rr = rrState{started: true, highest: r.LastSequenceNumber, lost: r.TotalLost, holes: holes}
	if !prev.started {
		return r.FractionLost
	}
	expected := int64(r.LastSequenceNumber) - int64(prev.highest)
	lost := int64(r.TotalLost) - int64(prev.lost) - int64(holes-prev.holes)
	if expected <= 0 || lost <= 0 {
		return 0
	}
	return uint8(min(lost*256/expected, 255))
}

// retransmit serves one NACKed packet from the publisher's buffer, over RTX when negotiated.
func (d *DownTrack) retransmit(outSeq uint16) {
	if !d.bound.Load() {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.metrics.nacks.Inc()
	d.source.room.nacks.Inc()
	if d.nack == nil {
		d.metrics.nackMisses.Inc()
		return
	}
	e, ok := d.nack.sent.lookup(outSeq)
	if !ok {
		return
	}
	at := now()
	if int64(uint32(at/1e6)-e.sentMs)*1e6 > d.rtx.maxAge() {
		d.metrics.nacksTooOld.Inc()
		return
	}
	if !d.nack.sent.mayResend(outSeq, at) {
		return
	}
	if !d.rtx.allow(at) {
		d.metrics.nacksOverBudget.Inc()
		return
	}
	d.nack.sent.claimResend(outSeq, at)
	l := d.source.layer(int(e.quality))
	if l == nil {
		return
	}
	// Leave two bytes in front for the RTX original sequence number.
	scratch := d.nack.scratch[:]
	n := l.buffer.get(e.srcSeq, scratch[2:])
	if n == 0 {
		// Too old to repair: only a keyframe lets the subscriber decode again.
		d.metrics.nackMisses.Inc()
		d.source.requestKeyframe(int(e.quality))
		return
	}
	var p packet
	if parseRTP(scratch[2:2+n], &p) != nil {
		return
	}
	if d.vp8Rewrite {
		applyVP8Offsets(p.payload, e.picOffset, e.tl0Offset)
	}
	hdr := &d.rtxHdr
	*hdr = rtp.Header{Version: 2, PayloadType: d.pt, SSRC: d.ssrc, SequenceNumber: outSeq,
		Timestamp: p.timestamp + e.tsOffset, Marker: p.marker}
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
		d.rtx.spend(len(payload) + 12)
	}
}

// vp8Rewriter keeps VP8 picture ids and TL0PICIDX continuous when a down track switches between
// simulcast layers, whose encoders number their pictures independently.
type vp8Rewriter struct {
	rebase    bool
	started   bool
	picOffset uint16
	tl0Offset uint8
	lastPic   uint16
	lastTL0   uint8
}

// rewrite returns the packet's payload with rewritten ids (a copy in scratch when anything
// changes) and the offsets it applied. It uses the descriptor the track parsed.
func (v *vp8Rewriter) rewrite(p *packet, scratch []byte) ([]byte, uint16, uint8) {
	payload, desc := p.payload, p.vp8
	if !p.vp8OK || desc.picID == 0 {
		return payload, 0, 0
	}
	pic := readPicID(payload, desc)
	var tl0 uint8
	if desc.tl0PicID != 0 {
		tl0 = payload[desc.tl0PicID]
	}
	if v.rebase && desc.start {
		if v.started {
			v.picOffset = v.lastPic + 1 - pic
			v.tl0Offset = v.lastTL0 + 1 - tl0
		}
		v.rebase = false
	}
	outPic, outTL0 := pic+v.picOffset, tl0+v.tl0Offset
	if !v.started || int16((outPic-v.lastPic)<<1) > 0 { // newer, modulo 15 bits
		v.lastPic, v.lastTL0 = outPic, outTL0
	}
	v.started = true
	if v.picOffset == 0 && v.tl0Offset == 0 {
		return payload, 0, 0
	}
	out := scratch[:len(payload)]
	copy(out, payload)
	applyVP8OffsetsAt(out, desc, v.picOffset, v.tl0Offset)
	return out, v.picOffset, v.tl0Offset
}

func readPicID(payload []byte, d vp8Descriptor) uint16 {
	if d.picID15 {
		return binary.BigEndian.Uint16(payload[d.picID:]) & 0x7fff
	}
	return uint16(payload[d.picID] & 0x7f)
}

// applyVP8Offsets adds the offsets to the picture id and TL0PICIDX of a payload in place.
func applyVP8Offsets(payload []byte, picOffset uint16, tl0Offset uint8) {
	if d, ok := parseVP8Descriptor(payload); ok {
		applyVP8OffsetsAt(payload, d, picOffset, tl0Offset)
	}
}

// applyVP8OffsetsAt is applyVP8Offsets with the payload's descriptor already parsed.
func applyVP8OffsetsAt(payload []byte, d vp8Descriptor, picOffset uint16, tl0Offset uint8) {
	if d.picID == 0 || (picOffset == 0 && tl0Offset == 0) {
		return
	}
	pic := readPicID(payload, d) + picOffset
	if d.picID15 {
		binary.BigEndian.PutUint16(payload[d.picID:], 0x8000|pic&0x7fff)
	} else {
		payload[d.picID] = byte(pic & 0x7f)
	}
	if d.tl0PicID != 0 {
		payload[d.tl0PicID] += tl0Offset
	}
}

// now is the monotonic clock the forwarding path stamps packets with.
func now() int64 { return time.Since(epoch).Nanoseconds() }

var epoch = time.Now()
