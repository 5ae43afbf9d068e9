package sfu

import (
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// publishedTrack is one track a participant sends. A simulcast track has several layers (one per
// RID), an ordinary one has one. Each layer reads the publisher's RTP, keeps recent packets for
// NACKs and fans each packet out to the down tracks of the track's subscribers.
type publishedTrack struct {
	info       TrackInfo // ID, ParticipantID, Kind, Codec are fixed; Muted is read through muted
	remoteKind webrtc.RTPCodecType
	codec      webrtc.RTPCodecParameters
	receiver   *webrtc.RTPReceiver
	pc         rtcpWriter
	keyframe   func([]byte) bool
	vp8        bool // VP8: the descriptor is parsed once per packet (keyframes, picture ids)
	frameSize  func([]byte) (w, h int, ok bool)
	bufferSize int
	metrics    *metrics
	room       *roomMetrics
	log        *zap.Logger

	pliInterval time.Duration
	// maxDelay bounds the delay the SFU adds (0 = none: unit tests that feed by hand).
	maxDelay time.Duration
	muted    atomic.Bool
	// audioLevel is the publisher's audio-level header extension id (0 = none negotiated).
	audioLevel uint8
	loudness   loudness

	// layers and downs are replaced, never modified, so the forwarding loops read them without a lock.
	layers  atomic.Pointer[[]*layer]
	downs   atomic.Pointer[[]*DownTrack]
	mu      sync.Mutex // serialises replacing layers and downs
	stopped atomic.Bool
	// announced is the last set of paused layers told to the publisher (housekeeping only).
	announced string
	// recordings are the server's own recorders of this track (under mu); their down tracks are
	// in downs too.
	recordings []*Recording
}

type rtcpWriter interface {
	WriteRTCP([]rtcp.Packet) error
}

// layer is one encoding of a track: the only one, or one simulcast layer.
type layer struct {
	quality int // 0 = lowest; fixed when the layer appears
	rid     string
	remote  *webrtc.TrackRemote
	ssrc    uint32
	buffer  *packetBuffer
	fwd     forwardCounter // what the fan-out wrote, folded into the metrics on scrape

	lastPLI      atomic.Int64
	lastPacket   atomic.Int64 // monotonic ns
	lastKeyframe atomic.Int64
	bytes        atomic.Uint64 // since the last bitrate sample
	bitrate      atomic.Int64  // bits per second over the last sample
	width        atomic.Int32  // from the last keyframe, when the codec says
	height       atomic.Int32

	// For the uplink's loss: the highest sequence number (extended), the packets that arrived,
	// and the sequence numbers skipped on first arrival (lost on the link, repaired or not).
	highest, packets, gaps atomic.Uint64
	extHighest             uint64 // the read loop's own copy
	seqStarted             bool
	counted                uplinkCounters // housekeeping only
}

// audioBufferSlots bounds an audio track's packet buffer. Audio is not NACKed (our Opus offers
// only transport-cc feedback, as browsers do), so its buffer only drops duplicates.
const audioBufferSlots = 64

// bufferSlots is the packet buffer size for a track of this kind.
func bufferSlots(kind webrtc.RTPCodecType, configured int) int {
	if kind == webrtc.RTPCodecTypeAudio {
		return min(configured, audioBufferSlots)
	}
	return configured
}

// ridQuality ranks the RIDs browsers and our clients use: q(uarter) < h(alf) < f(ull). Other
// names are ranked by arrival, after these.
func ridQuality(rid string, existing int) int {
	switch rid {
	case "", "q":
		return 0
	case "h":
		return 1
	case "f":
		return 2
	}
	return 3 + existing
}

func newPublishedTrack(id, participantID string, remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver,
	pc rtcpWriter, cfg *Config, m *metrics, log *zap.Logger) *publishedTrack {
	codec := remote.Codec()
	t := &publishedTrack{
		info: TrackInfo{ID: id, ParticipantID: participantID, Kind: Kind(remote.Kind().String()), Codec: codec.MimeType,
			SourceID: remote.ID(), Simulcast: remote.RID() != ""},
		remoteKind:  remote.Kind(),
		codec:       codec,
		receiver:    receiver,
		pc:          pc,
		bufferSize:  bufferSlots(remote.Kind(), cfg.PacketBufferSize),
		metrics:     m,
		log:         log,
		pliInterval: cfg.PLIThrottle,
		maxDelay:    cfg.MaxDelay,
	}
	switch strings.ToLower(codec.MimeType) {
	case strings.ToLower(webrtc.MimeTypeVP8):
		t.keyframe, t.frameSize, t.vp8 = isVP8Keyframe, vp8FrameSize, true
	case strings.ToLower(webrtc.MimeTypeH264):
		t.keyframe = isH264Keyframe
	}
	if receiver != nil {
		for _, ext := range receiver.GetParameters().HeaderExtensions {
			if ext.URI == audioLevelURI {
				t.audioLevel = uint8(ext.ID)
			}
		}
	}
	empty := []*DownTrack{}
	t.downs.Store(&empty)
	noLayers := []*layer{}
	t.layers.Store(&noLayers)
	return t
}

// addLayer adds the encoding remote delivers (a RID of a simulcast track, or the only one).
func (t *publishedTrack) addLayer(remote *webrtc.TrackRemote) *layer {
	return t.addLayerOf(remote, remote.RID(), uint32(remote.SSRC()))
}

// addLayerOf adds a layer with rid and ssrc. A second stream with the RID of a layer the track
// has already (a client that labels its retransmissions with the layer's RID instead of the
// repair RID, a stray SSRC) is not a layer: it returns nil, and the caller drains and drops it.
func (t *publishedTrack) addLayerOf(remote *webrtc.TrackRemote, rid string, ssrc uint32) *layer {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.layers.Load()
	if rid != "" && slices.ContainsFunc(old, func(l *layer) bool { return l.rid == rid }) {
		return nil
	}
	l := &layer{quality: ridQuality(rid, len(old)), rid: rid, remote: remote, ssrc: ssrc,
		buffer: newPacketBuffer(t.bufferSize)}
	next := append(slices.Clone(old), l)
	slices.SortFunc(next, func(a, b *layer) int { return a.quality - b.quality })
	t.layers.Store(&next)
	return l
}

// topQuality is the best layer's quality (0 before any layer exists).
func (t *publishedTrack) topQuality() int {
	ls := *t.layers.Load()
	if len(ls) == 0 {
		return 0
	}
	return ls[len(ls)-1].quality
}

// layer returns the layer of a quality, or nil.
func (t *publishedTrack) layer(quality int) *layer {
	for _, l := range *t.layers.Load() {
		if l.quality == quality {
			return l
		}
	}
	return nil
}

func (t *publishedTrack) Info() TrackInfo {
	info := t.info
	info.Muted = t.muted.Load()
	return info
}

// readEnded notes why a layer's read loop ended.
func (t *publishedTrack) readEnded(l *layer, err error) {
	if !errors.Is(err, io.EOF) {
		t.log.Debug("track read ended", zap.String("track", t.info.ID), zap.String("rid", l.rid), zap.Error(err))
	}
}

// receive handles one packet of a layer at once, as the read loop and the fan-out do one after
// the other (tests and benchmarks).
func (t *publishedTrack) receive(l *layer, raw []byte, p *packet, at int64) {
	if t.accept(l, raw, p, at) {
		t.fanOut(l, p, at)
	}
}

// accept is the read loop's part of a packet: buffer it and note what the allocator and the
// speaker detector need. It reports whether the packet is to be fanned out.
func (t *publishedTrack) accept(l *layer, raw []byte, p *packet, at int64) bool {
	if parseRTP(raw, p) != nil {
		t.metrics.droppedPackets.Inc()
		return false
	}
	if !l.buffer.put(p.seq, raw) {
		return false // duplicate (a repaired packet that had arrived) or oversized
	}
	l.lastPacket.Store(at)
	l.bytes.Add(uint64(len(raw)))
	l.noteSeq(p.seq)
	if t.audioLevel != 0 {
		if level, ok := audioLevel(raw, t.audioLevel); ok {
			t.loudness.add(level)
		}
	}
	return !t.muted.Load()
}

// fanOut sends a packet that arrived at at to the layer's subscribers, in priority order, as
// long as it is within maxDelay of its arrival.
func (t *publishedTrack) fanOut(l *layer, p *packet, at int64) {
	p.keyframe = t.keyframe == nil // audio (and codecs we cannot inspect) may start anywhere
	if t.vp8 {
		p.vp8, p.vp8OK = parseVP8Descriptor(p.payload)
	}
	if t.keyframe != nil {
		if t.vp8 {
			p.keyframe = vp8Keyframe(p.payload, p.vp8, p.vp8OK)
		} else {
			p.keyframe = t.keyframe(p.payload)
		}
		if p.keyframe {
			l.lastKeyframe.Store(at)
			if t.frameSize != nil {
				if w, h, ok := t.frameSize(p.payload); ok {
					l.width.Store(int32(w))
					l.height.Store(int32(h))
				}
			}
		}
	}
	p.quality = l.quality
	var packets, bytes uint64
	downs := *t.downs.Load()
	for i, d := range downs {
		if t.maxDelay > 0 && i%fanOutClockEvery == 0 && now()-at > int64(t.maxDelay) {
			t.dropLate(downs[i:], p, at)
			break
		}
		if n := d.writeRTP(p, at); n > 0 {
			packets++
			bytes += uint64(n)
		}
	}
	if packets > 0 {
		l.fwd.packets.Add(packets)
		l.fwd.bytes.Add(bytes)
	}
}

// sampleBitrates turns the bytes counted since the last call into each layer's bitrate.
func (t *publishedTrack) sampleBitrates(interval time.Duration) {
	for _, l := range *t.layers.Load() {
		// A layer that sent nothing keeps its last rate: it is paused upstream (dynacast) or
		// stalled, and the allocator must still know what resuming it would cost.
		if b := l.bytes.Swap(0); b > 0 {
			l.bitrate.Store(int64(float64(b*8) / interval.Seconds()))
		}
	}
}

// forwardedBitrate is what this track costs its subscribers: each forwarding down track at the
// rate of the layer it receives.
func (t *publishedTrack) forwardedBitrate() int64 {
	var sum int64
	for _, d := range *t.downs.Load() {
		if d.paused.Load() || !d.bound.Load() {
			continue
		}
		if l := t.layer(int(d.cur.Load())); l != nil {
			sum += l.bitrate.Load()
		}
	}
	return sum
}

// readRTCP drains the publisher's RTCP for one layer (sender reports feed our receiver reports).
func (t *publishedTrack) readRTCP(l *layer) {
	for {
		var err error
		if l.rid == "" {
			_, _, err = t.receiver.ReadRTCP()
		} else {
			_, _, err = t.receiver.ReadSimulcastRTCP(l.rid)
		}
		if err != nil {
			return
		}
	}
}

func (t *publishedTrack) addDown(d *DownTrack) {
	t.mu.Lock()
	next := append(slices.Clone(*t.downs.Load()), d)
	t.downs.Store(&next)
	t.mu.Unlock()
}

func (t *publishedTrack) removeDown(d *DownTrack) {
	t.mu.Lock()
	next := slices.DeleteFunc(slices.Clone(*t.downs.Load()), func(x *DownTrack) bool { return x == d })
	t.downs.Store(&next)
	t.mu.Unlock()
}

// setMuted stops or resumes forwarding. On resume every subscriber splices the stream on again
// (and waits for a keyframe, which is asked for at once).
func (t *publishedTrack) setMuted(muted bool) {
	if t.muted.Swap(muted) == muted || muted {
		return
	}
	for _, d := range *t.downs.Load() {
		d.resync()
	}
	for _, l := range *t.layers.Load() {
		t.requestKeyframe(l.quality)
	}
}

// requestKeyframe sends a PLI for one layer to the publisher, at most once per pliInterval for
// that layer, so that many subscribers losing packets at once do not flood the publisher.
func (t *publishedTrack) requestKeyframe(quality int) {
	if t.remoteKind != webrtc.RTPCodecTypeVideo {
		return
	}
	l := t.layer(quality)
	if l == nil {
		return
	}
	at := now()
	last := l.lastPLI.Load()
	if last != 0 && at-last < int64(t.pliInterval) || !l.lastPLI.CompareAndSwap(last, at) {
		t.metrics.plisThrottled.Inc()
		return
	}
	t.metrics.plisSent.Inc()
	if err := t.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}}); err != nil {
		t.log.Debug("send PLI", zap.String("track", t.info.ID), zap.Error(err))
	}
}

// stop ends the read loops.
func (t *publishedTrack) stop() {
	if t.stopped.Swap(true) || t.receiver == nil {
		return
	}
	if err := t.receiver.Stop(); err != nil {
		t.log.Debug("stop receiver", zap.String("track", t.info.ID), zap.Error(err))
	}
}
