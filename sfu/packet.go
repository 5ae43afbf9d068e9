package sfu

import (
	"encoding/binary"
	"errors"
)

// packet is the parsed view of one RTP packet that the forwarding path needs. It points into a
// buffer owned by the caller; parsing allocates nothing.
type packet struct {
	raw         []byte // the whole packet as received
	payload     []byte // raw[offset:len(raw)-padding]
	offset      int
	seq         uint16
	timestamp   uint32
	ssrc        uint32
	payloadType uint8
	marker      bool
	keyframe    bool
	quality     int // the layer it came from
	// vp8 is the VP8 payload descriptor, parsed once per packet for every down track (vp8OK:
	// the track is VP8 and the descriptor is well formed).
	vp8   vp8Descriptor
	vp8OK bool
}

var errShortPacket = errors.New("sfu: short or malformed RTP packet")

// parseRTP fills p from b without copying. Header extensions from the publisher are not carried
// over: their ids belong to the publisher's session, not the subscriber's.
func parseRTP(b []byte, p *packet) error {
	if len(b) < 12 || b[0]>>6 != 2 {
		return errShortPacket
	}
	offset := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 { // extension present
		if len(b) < offset+4 {
			return errShortPacket
		}
		offset += 4 + 4*int(binary.BigEndian.Uint16(b[offset+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 { // padding: last byte says how much
		if end == 0 || int(b[end-1]) > end-offset {
			return errShortPacket
		}
		end -= int(b[end-1])
	}
	if offset > end {
		return errShortPacket
	}
	p.raw = b
	p.payload = b[offset:end]
	p.offset = offset
	p.marker = b[1]&0x80 != 0
	p.payloadType = b[1] & 0x7f
	p.seq = binary.BigEndian.Uint16(b[2:])
	p.timestamp = binary.BigEndian.Uint32(b[4:])
	p.ssrc = binary.BigEndian.Uint32(b[8:])
	p.keyframe, p.vp8OK = false, false
	return nil
}

// vp8Descriptor locates the fields of a VP8 payload descriptor (RFC 7741 §4.2) that a down track
// rewrites when it switches layers.
type vp8Descriptor struct {
	size     int  // bytes before the VP8 payload header
	start    bool // S=1 and PID=0: the first packet of a frame
	picID    int  // offset of the picture id, or 0 when absent
	picID15  bool // the picture id has 15 bits (else 7)
	tl0PicID int  // offset of TL0PICIDX, or 0 when absent
}

func parseVP8Descriptor(payload []byte) (d vp8Descriptor, ok bool) {
	if len(payload) < 1 {
		return d, false
	}
	d.start = payload[0]&0x10 != 0 && payload[0]&0x07 == 0
	i := 1
	if payload[0]&0x80 != 0 { // X: extension byte follows
		if len(payload) < 2 {
			return d, false
		}
		ext := payload[1]
		i = 2
		if ext&0x80 != 0 { // I: picture id
			if len(payload) <= i {
				return d, false
			}
			d.picID = i
			if payload[i]&0x80 != 0 {
				d.picID15 = true
				i += 2
			} else {
				i++
			}
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			d.tl0PicID = i
			i++
		}
		if ext&0x30 != 0 { // T or K: TID/Y/KEYIDX byte
			i++
		}
	}
	if len(payload) < i {
		return d, false
	}
	d.size = i
	return d, true
}

// isVP8Keyframe reports whether a VP8 RTP payload starts a keyframe (RFC 7741 §4.3).
func isVP8Keyframe(payload []byte) bool {
	d, ok := parseVP8Descriptor(payload)
	return vp8Keyframe(payload, d, ok)
}

// vp8Keyframe is isVP8Keyframe with the descriptor already parsed.
func vp8Keyframe(payload []byte, d vp8Descriptor, ok bool) bool {
	if !ok || !d.start || len(payload) <= d.size {
		return false
	}
	// VP8 payload header: P bit (inverse keyframe flag) is the lowest bit of the first byte.
	return payload[d.size]&0x01 == 0
}

// vp8FrameSize reads the width and height from the start of a VP8 keyframe (RFC 6386 §9.1).
func vp8FrameSize(payload []byte) (w, h int, ok bool) {
	d, ok := parseVP8Descriptor(payload)
	b := payload[min(d.size, len(payload)):]
	if !ok || len(b) < 10 || b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
		return 0, 0, false
	}
	return int(binary.LittleEndian.Uint16(b[6:]) & 0x3fff), int(binary.LittleEndian.Uint16(b[8:]) & 0x3fff), true
}

// isH264Keyframe reports whether an H.264 RTP payload carries an IDR slice or SPS (RFC 6184).
func isH264Keyframe(payload []byte) bool {
	if len(payload) < 1 {
		return false
	}
	switch nal := payload[0] & 0x1f; {
	case nal == 5 || nal == 7:
		return true
	case nal == 24: // STAP-A: walk the aggregated NAL units
		for i := 1; i+2 < len(payload); {
			size := int(binary.BigEndian.Uint16(payload[i:]))
			i += 2
			if i >= len(payload) {
				return false
			}
			if t := payload[i] & 0x1f; t == 5 || t == 7 {
				return true
			}
			i += size
		}
	case nal == 28: // FU-A: start fragment of an IDR
		return len(payload) > 1 && payload[1]&0x80 != 0 && payload[1]&0x1f == 5
	}
	return false
}

// audioLevelURI is the RFC 6464 client-to-mixer audio level header extension.
const audioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// audioLevel finds the RFC 6464 audio level (0 = loudest, 127 = silence) in a packet's header
// extensions with the given id, one-byte or two-byte form (RFC 8285).
func audioLevel(raw []byte, id uint8) (level uint8, ok bool) {
	if len(raw) < 12 || raw[0]&0x10 == 0 {
		return 0, false
	}
	i := 12 + 4*int(raw[0]&0x0f)
	if len(raw) < i+4 {
		return 0, false
	}
	profile := binary.BigEndian.Uint16(raw[i:])
	end := i + 4 + 4*int(binary.BigEndian.Uint16(raw[i+2:]))
	if end > len(raw) {
		return 0, false
	}
	for j := i + 4; j < end; {
		var eid uint8
		var n int
		switch {
		case profile == 0xbede:
			if raw[j] == 0 { // padding
				j++
				continue
			}
			eid, n = raw[j]>>4, int(raw[j]&0x0f)+1
			if eid == 15 {
				return 0, false
			}
			j++
		case profile&0xfff0 == 0x1000:
			if raw[j] == 0 {
				j++
				continue
			}
			if j+1 >= end {
				return 0, false
			}
			eid, n = raw[j], int(raw[j+1])
			j += 2
		default:
			return 0, false
		}
		if j+n > end {
			return 0, false
		}
		if eid == id && n >= 1 {
			return raw[j] & 0x7f, true
		}
		j += n
	}
	return 0, false
}
