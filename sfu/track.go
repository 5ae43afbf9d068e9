package sfu

import (
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// publishedTrack is one track a participant sends: it reads the publisher's RTP, keeps recent
// packets for NACKs and fans each packet out to the down tracks of its subscribers.
type publishedTrack struct {
	info       TrackInfo // ID, ParticipantID, Kind, Codec are fixed; Muted is read through muted
	remoteKind webrtc.RTPCodecType
	codec      webrtc.RTPCodecParameters
	remote     *webrtc.TrackRemote
	receiver   *webrtc.RTPReceiver
	sendPLI    func() error
	buffer     *packetBuffer
	keyframe   func([]byte) bool
	metrics    *metrics
	log        *zap.Logger

	pliInterval time.Duration
	lastPLI     atomic.Int64
	muted       atomic.Bool

	// downs is replaced, never modified, so the forwarding loop reads it without a lock.
	downs   atomic.Pointer[[]*DownTrack]
	downsMu sync.Mutex
}

// audioBufferSlots bounds an audio track's packet buffer. Audio is not NACKed (our Opus offers
// only transport-cc feedback, as browsers do), so its buffer only drops duplicates, and a full
// PacketBufferSize of 1500-byte slots (1.5 MiB per track at the default) was the largest part of
// a small room's memory (docs/benchmarks.md). 64 slots are 1.3 s of 20 ms packets.
const audioBufferSlots = 64

// bufferSlots is the packet buffer size for a track of this kind.
func bufferSlots(kind webrtc.RTPCodecType, configured int) int {
	if kind == webrtc.RTPCodecTypeAudio {
		return min(configured, audioBufferSlots)
	}
	return configured
}

func newPublishedTrack(id, participantID string, remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver,
	pc *webrtc.PeerConnection, cfg *Config, m *metrics, log *zap.Logger) *publishedTrack {
	codec := remote.Codec()
	t := &publishedTrack{
		info: TrackInfo{ID: id, ParticipantID: participantID, Kind: Kind(remote.Kind().String()), Codec: codec.MimeType,
			SourceID: remote.ID()},
		remoteKind: remote.Kind(),
		codec:      codec,
		remote:     remote,
		receiver:   receiver,
		sendPLI: func() error {
			return pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(remote.SSRC())}})
		},
		buffer:      newPacketBuffer(bufferSlots(remote.Kind(), cfg.PacketBufferSize)),
		metrics:     m,
		log:         log,
		pliInterval: cfg.PLIThrottle,
	}
	switch strings.ToLower(codec.MimeType) {
	case strings.ToLower(webrtc.MimeTypeVP8):
		t.keyframe = isVP8Keyframe
	case strings.ToLower(webrtc.MimeTypeH264):
		t.keyframe = isH264Keyframe
	}
	empty := []*DownTrack{}
	t.downs.Store(&empty)
	return t
}

func (t *publishedTrack) Info() TrackInfo {
	info := t.info
	info.Muted = t.muted.Load()
	return info
}

// forward is the publisher's read loop; it ends when the track's receiver stops.
func (t *publishedTrack) forward() {
	var buf [maxPacketSize]byte
	var p packet
	for {
		n, _, err := t.remote.Read(buf[:])
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.log.Debug("track read ended", zap.String("track", t.info.ID), zap.Error(err))
			}
			return
		}
		if parseRTP(buf[:n], &p) != nil {
			t.metrics.droppedPackets.Inc()
			continue
		}
		if !t.buffer.put(p.seq, buf[:n]) {
			continue // duplicate (a repaired packet that had arrived) or oversized
		}
		if t.muted.Load() {
			continue
		}
		if t.keyframe != nil {
			p.keyframe = t.keyframe(p.payload)
		}
		t.fanOut(&p, now())
	}
}

// fanOut hands one packet to every subscriber's down track.
func (t *publishedTrack) fanOut(p *packet, at int64) {
	for _, d := range *t.downs.Load() {
		d.writeRTP(p, at)
	}
}

// readRTCP drains the publisher's RTCP for this track (sender reports feed our receiver reports).
func (t *publishedTrack) readRTCP() {
	for {
		if _, _, err := t.receiver.ReadRTCP(); err != nil {
			return
		}
	}
}

func (t *publishedTrack) addDown(d *DownTrack) {
	t.downsMu.Lock()
	old := *t.downs.Load()
	next := make([]*DownTrack, 0, len(old)+1)
	next = append(append(next, old...), d)
	t.downs.Store(&next)
	t.downsMu.Unlock()
}

func (t *publishedTrack) removeDown(d *DownTrack) {
	t.downsMu.Lock()
	old := *t.downs.Load()
	next := make([]*DownTrack, 0, len(old))
	for _, x := range old {
		if x != d {
			next = append(next, x)
		}
	}
	t.downs.Store(&next)
	t.downsMu.Unlock()
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
	t.requestKeyframe()
}

// requestKeyframe sends a PLI to the publisher, at most once per pliInterval for this track, so
// that many subscribers losing packets at once do not flood the publisher.
func (t *publishedTrack) requestKeyframe() {
	if t.remoteKind != webrtc.RTPCodecTypeVideo {
		return
	}
	at := now()
	last := t.lastPLI.Load()
	if last != 0 && at-last < int64(t.pliInterval) || !t.lastPLI.CompareAndSwap(last, at) {
		t.metrics.plisThrottled.Inc()
		return
	}
	t.metrics.plisSent.Inc()
	if err := t.sendPLI(); err != nil {
		t.log.Debug("send PLI", zap.String("track", t.info.ID), zap.Error(err))
	}
}

// stop ends the read loops.
func (t *publishedTrack) stop() {
	if err := t.receiver.Stop(); err != nil {
		t.log.Debug("stop receiver", zap.String("track", t.info.ID), zap.Error(err))
	}
}
