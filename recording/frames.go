package recording

import (
	"encoding/binary"
	"time"

	"github.com/pion/rtp/codecs"
)

// frame is one media frame put together from its packets: a VP8 frame, an H.264 access unit (as
// length-prefixed NAL units) or an Opus packet.
type frame struct {
	ts   uint32    // RTP timestamp
	at   time.Time // arrival of its first packet
	key  bool
	data []byte // valid until the next push
}

// assembler turns packets in sequence order into frames. lost says packets were lost right before
// p. push reports a completed frame, and whether a keyframe is needed (a picture was lost, so
// what follows cannot be decoded until the next keyframe).
type assembler interface {
	push(p *heldPacket, lost bool) (f *frame, needKey bool)
}

// opusAssembler: every Opus packet is a frame of its own, and any frame can follow a loss.
type opusAssembler struct{ f frame }

func (a *opusAssembler) push(p *heldPacket, _ bool) (*frame, bool) {
	if len(p.payload) == 0 {
		return nil, false
	}
	a.f = frame{ts: p.ts, at: p.at, key: true, data: append(a.f.data[:0], p.payload...)}
	return &a.f, false
}

// videoFrames is what the VP8 and H.264 assemblers share: the frame being put together, and
// whether the stream waits for a keyframe. A frame with a missing packet is dropped, and so is
// every frame after it up to the next keyframe: they refer to what was lost.
type videoFrames struct {
	f        frame
	building bool
	waitKey  bool
	dropped  uint64 // frames not written because they could not be decoded
}

// begin starts a frame at p, abandoning one left without its last packet.
func (v *videoFrames) begin(p *heldPacket) {
	if v.building {
		v.abandon()
	}
	v.f = frame{ts: p.ts, at: p.at, data: v.f.data[:0]}
	v.building = true
}

// next takes note of what comes before p: a loss, or a frame left without its last packet
// (p has another timestamp).
func (v *videoFrames) next(p *heldPacket, lost bool) {
	if v.building && (lost || p.ts != v.f.ts) {
		v.abandon()
	}
	if lost {
		v.waitKey = true
	}
}

func (v *videoFrames) abandon() {
	v.building = false
	v.waitKey = true
	v.dropped++
}

// finish completes the frame; it is written only when it is decodable.
func (v *videoFrames) finish(key bool) (*frame, bool) {
	v.building = false
	if v.waitKey && !key {
		v.dropped++
		return nil, true
	}
	v.waitKey = false
	v.f.key = key
	return &v.f, false
}

type vp8Assembler struct {
	videoFrames
	desc codecs.VP8Packet
}

func newVP8Assembler() *vp8Assembler { return &vp8Assembler{videoFrames: videoFrames{waitKey: true}} }

func (a *vp8Assembler) push(p *heldPacket, lost bool) (*frame, bool) {
	a.next(p, lost)
	payload, err := a.desc.Unmarshal(p.payload)
	if err != nil {
		if a.building {
			a.abandon()
		}
		return nil, true
	}
	if !a.building {
		if a.desc.S != 1 || a.desc.PID != 0 {
			a.waitKey = true // the middle of a frame whose start is gone
			return nil, true
		}
		a.begin(p)
	}
	a.f.data = append(a.f.data, payload...)
	if !p.marker {
		return nil, lost
	}
	// VP8 frame tag (RFC 6386 §9.1): the lowest bit is 0 for a keyframe.
	f, need := a.finish(len(a.f.data) > 0 && a.f.data[0]&0x01 == 0)
	return f, need || lost
}

// vp8Size reads the size from a VP8 keyframe (RFC 6386 §9.1).
func vp8Size(data []byte) (w, h int, ok bool) {
	if len(data) < 10 || data[3] != 0x9d || data[4] != 0x01 || data[5] != 0x2a {
		return 0, 0, false
	}
	return int(binary.LittleEndian.Uint16(data[6:]) & 0x3fff), int(binary.LittleEndian.Uint16(data[8:]) & 0x3fff), true
}

// h264Assembler puts access units together as length-prefixed NAL units (the form Matroska's
// V_MPEG4/ISO/AVC takes) and keeps the last SPS and PPS for the track header.
type h264Assembler struct {
	videoFrames
	depack   codecs.H264Packet
	sps, pps []byte
}

func newH264Assembler() *h264Assembler {
	return &h264Assembler{videoFrames: videoFrames{waitKey: true}, depack: codecs.H264Packet{IsAVC: true}}
}

func (a *h264Assembler) push(p *heldPacket, lost bool) (*frame, bool) {
	a.next(p, lost)
	if !a.building {
		a.depack = codecs.H264Packet{IsAVC: true} // drop a fragment left from a lost unit
		if !(&codecs.H264Packet{}).IsPartitionHead(p.payload) {
			a.waitKey = true
			return nil, true
		}
		a.begin(p)
	}
	nals, err := a.depack.Unmarshal(p.payload)
	if err != nil {
		a.abandon()
		return nil, true
	}
	a.f.data = append(a.f.data, nals...)
	if !p.marker {
		return nil, lost
	}
	key := false
	for nal := range avcNALs(a.f.data) {
		switch nal[0] & 0x1f {
		case 5:
			key = true
		case 7:
			a.sps = append(a.sps[:0], nal...)
		case 8:
			a.pps = append(a.pps[:0], nal...)
		}
	}
	f, need := a.finish(key)
	return f, need || lost
}

// avcNALs yields the NAL units of a length-prefixed (4-byte) access unit.
func avcNALs(au []byte) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(au) >= 4 {
			n := int(binary.BigEndian.Uint32(au))
			if n == 0 || n > len(au)-4 {
				return
			}
			if !yield(au[4 : 4+n]) {
				return
			}
			au = au[4+n:]
		}
	}
}
