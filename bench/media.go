package bench

import (
	"encoding/binary"
	"time"
)

// epoch is the zero of every send stamp and arrival time: publishers and subscribers run in the
// same process, so one monotonic clock serves both ends and the difference is the one-way latency.
var epoch = time.Now()

// Now is the time since the bench epoch on the monotonic clock.
func Now() time.Duration { return time.Since(epoch) }

// stampLen is the send stamp at the end of every payload the bench sends: 8 bytes, big-endian
// nanoseconds since the epoch. At the end rather than after the VP8 payload descriptor, so the
// first packet of a frame still begins with a real VP8 frame header the SFU's keyframe detection
// reads.
const stampLen = 8

// MaxPacket is the largest RTP packet the bench sends (header, extensions and payload), like a
// browser's.
const MaxPacket = 1200

// maxPayload leaves room for the 12-byte RTP header and the header extensions pion's
// interceptors add (TWCC sequence number, 8 bytes with the extension header).
const maxPayload = MaxPacket - 12 - 28

// putStamp writes the send stamp into the last bytes of payload.
func putStamp(payload []byte, at time.Duration) {
	binary.BigEndian.PutUint64(payload[len(payload)-stampLen:], uint64(at))
}

// The layer stamp is the byte before the send stamp of every video payload: the simulcast layer
// index + 1 (0 = not stamped), so a subscriber, which receives one rewritten stream, can tell
// which layer each frame came from.
const tailLen = stampLen + 1

// putLayer writes the layer stamp into payload.
func putLayer(payload []byte, layer int) { payload[len(payload)-tailLen] = byte(layer + 1) }

// readLayer returns the layer stamped in payload, or -1.
func readLayer(payload []byte) int {
	if len(payload) < tailLen {
		return -1
	}
	return int(payload[len(payload)-tailLen]) - 1
}

// readStamp returns the send stamp at the end of payload.
func readStamp(payload []byte) (time.Duration, bool) {
	if len(payload) < stampLen {
		return 0, false
	}
	return time.Duration(binary.BigEndian.Uint64(payload[len(payload)-stampLen:])), true
}

// vp8Desc is what a frame's RTP payload descriptors and VP8 header carry.
type vp8Desc struct {
	// ext sends the extended descriptor (X = 1) with a 15-bit picture id and TL0PICIDX, as
	// browsers do with simulcast: the SFU rewrites both when it switches a subscriber's layer.
	ext           bool
	picID         uint16
	tl0           uint8
	width, height uint16 // a keyframe's frame size
}

// plainVP8 is the one-layer publisher's frame: the one-byte descriptor and 640×480 keyframes.
var plainVP8 = vp8Desc{width: 640, height: 480}

// size is the descriptor's length in bytes.
func (d vp8Desc) size() int {
	if d.ext {
		return 5
	}
	return 1
}

// put writes the descriptor at the start of b; start marks the first packet of the frame (S).
func (d vp8Desc) put(b []byte, start bool) {
	var s byte
	if start {
		s = 0x10 // S = 1, PID = 0
	}
	if !d.ext {
		b[0] = s
		return
	}
	b[0] = 0x80 | s                                        // X
	b[1] = 0xc0                                            // I, L
	b[2], b[3] = 0x80|byte(d.picID>>8&0x7f), byte(d.picID) // M = 1: 15 bits
	b[4] = d.tl0
}

// vp8Frame splits one frame of size bytes into RTP payloads (RFC 7741): the payload descriptor d
// (S set on the first packet, partition 0) and, in the first packet, the VP8 frame header: a
// keyframe's 10 bytes (frame tag with P = 0, start code, d's frame size) or an interframe's 3-byte
// tag (P = 1). The rest is filler, each payload ending in room for the layer and send stamps. The payloads
// reuse buf's storage across calls; they are valid until the next call.
func vp8Frame(buf [][]byte, size int, key bool, d vp8Desc) [][]byte {
	ds := d.size()
	per := maxPayload - ds // payload bytes per packet after the descriptor
	hdr := 3
	if key {
		hdr = 10
	}
	size = max(size, hdr+tailLen)
	n := (size + per - 1) / per
	for len(buf) < n {
		buf = append(buf, make([]byte, maxPayload))
	}
	out := buf[:n]
	left := size
	for i := range out {
		chunk := min(left, per)
		if chunk < tailLen {
			chunk = tailLen
		}
		left -= chunk
		p := out[i][:ds+chunk]
		clear(p)
		d.put(p, i == 0)
		if i == 0 {
			frameTag(p[ds:], key, size, d.width, d.height)
		}
		out[i] = p
	}
	return out
}

// frameTag writes a VP8 frame header (RFC 6386 §9.1) at the start of b.
func frameTag(b []byte, key bool, size int, width, height uint16) {
	// 3-byte tag: bit 0 = P (0 = keyframe), bits 1-3 version, bit 4 show_frame, bits 5-23 the
	// first partition's size.
	part := uint32(min(size, 1<<19-1))
	tag := part<<5 | 1<<4
	if !key {
		tag |= 1
	}
	b[0], b[1], b[2] = byte(tag), byte(tag>>8), byte(tag>>16)
	if key {
		b[3], b[4], b[5] = 0x9d, 0x01, 0x2a // start code
		binary.LittleEndian.PutUint16(b[6:], width)
		binary.LittleEndian.PutUint16(b[8:], height)
	}
}

// isVP8FrameStart reports whether a VP8 RTP payload is the first packet of a frame (S = 1,
// partition 0).
func isVP8FrameStart(p []byte) bool { return len(p) > 0 && p[0]&0x10 != 0 && p[0]&0x07 == 0 }

// isVP8KeyframeStart reports whether a VP8 RTP payload is the first packet of a keyframe.
func isVP8KeyframeStart(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	i := 1
	x, s, pid := p[0]&0x80 != 0, p[0]&0x10 != 0, p[0]&0x07
	if !s || pid != 0 {
		return false
	}
	if x {
		if len(p) < 2 {
			return false
		}
		ext := p[1]
		i = 2
		if ext&0x80 != 0 { // I: picture id
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K
			i++
		}
	}
	return len(p) > i && p[i]&0x01 == 0
}

// opusPayload fills an Opus-sized payload: a TOC byte (config 15: fullband hybrid, 20 ms, mono,
// one frame) and filler, with room for the stamp. 80 bytes every 20 ms is 32 kbit/s.
func opusPayload(b []byte) []byte {
	b = b[:opusBytes]
	clear(b)
	b[0] = 15 << 3
	return b
}

const opusBytes = 80
