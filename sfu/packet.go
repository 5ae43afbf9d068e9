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
	p.keyframe = false
	return nil
}

// isVP8Keyframe reports whether a VP8 RTP payload starts a keyframe (RFC 7741 §4.3).
func isVP8Keyframe(payload []byte) bool {
	if len(payload) < 1 {
		return false
	}
	x := payload[0]&0x80 != 0
	s := payload[0]&0x10 != 0
	pid := payload[0] & 0x07
	if !s || pid != 0 {
		return false // not the first partition's start
	}
	i := 1
	if x {
		if len(payload) < 2 {
			return false
		}
		ext := payload[1]
		i = 2
		if ext&0x80 != 0 { // I: picture id
			if len(payload) <= i {
				return false
			}
			if payload[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: TID/Y/KEYIDX byte
			i++
		}
	}
	if len(payload) <= i {
		return false
	}
	// VP8 payload header: P bit (inverse keyframe flag) is the lowest bit of the first byte.
	return payload[i]&0x01 == 0
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
