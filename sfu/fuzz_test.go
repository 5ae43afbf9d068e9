package sfu

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// The fuzz targets drive the functions that take a packet — the publisher's read path
// (publishedTrack.receive), a subscriber's RTCP (DownTrack.handleRTCP) and the TWCC tap — with no
// network: a publisher or subscriber can send the SFU any bytes, and none may crash it, make it
// send what it never received, or corrupt its estimates.

// fuzzPackets splits b into packets: each is a layer byte, a length byte and that many bytes.
func fuzzPackets(b []byte) (layers []int, pkts [][]byte) {
	for len(b) >= 2 {
		q, n := int(b[0]%3), int(b[1])
		b = b[2:]
		n = min(n, len(b))
		layers, pkts = append(layers, q), append(pkts, b[:n])
		b = b[n:]
	}
	return layers, pkts
}

// fuzzStream encodes packets as fuzzPackets reads them, for the seeds.
func fuzzStream(t testing.TB, layer int, pkts ...rtp.Packet) []byte {
	var out []byte
	for _, p := range pkts {
		b, err := p.Marshal()
		if err != nil || len(b) > 255 {
			t.Fatalf("seed packet: %v (%d bytes)", err, len(b))
		}
		out = append(out, byte(layer), byte(len(b)))
		out = append(out, b...)
	}
	return out
}

func vp8Packet(seq uint16, ts uint32, ssrc uint32, key bool) rtp.Packet {
	payload := vp8DeltaPayload
	if key {
		payload = []byte{0x90, 0x80, 0x05, 0x10, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01}
	}
	return rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc, Marker: true}, Payload: payload}
}

func rtcpBytes(t testing.TB, pkts ...rtcp.Packet) []byte {
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzPublisherAndFeedback sends a publisher's packets (any bytes, on any of three simulcast
// layers) through a track to one subscriber that negotiated RTX, then the subscriber's RTCP.
// Invariants: parseRTP agrees with pion's parser on every packet both accept; every packet the
// subscriber gets carries its own SSRC and payload type; feedback makes the SFU retransmit only
// packets it sent that subscriber, each byte for byte as first sent and at most maxResends times
// (a forged NACK for sequence numbers never sent gets nothing); keyframe requests stay throttled;
// a REMB leaves a bitrate the allocator can use (not negative); a replayed packet that is still
// buffered is not forwarded twice.
func FuzzPublisherAndFeedback(f *testing.F) {
	f.Add(fuzzStream(f, 0, vp8Packet(1, 0, 1000, true), vp8Packet(2, 3000, 1000, false), vp8Packet(3, 6000, 1000, false)),
		rtcpBytes(f, &rtcp.TransportLayerNack{MediaSSRC: 4242, Nacks: []rtcp.NackPair{{PacketID: 1, LostPackets: 0xffff}}}), false)
	f.Add(fuzzStream(f, 0, vp8Packet(100, 0, 1000, true), vp8Packet(101, 3000, 1000, false)),
		rtcpBytes(f, &rtcp.TransportLayerNack{MediaSSRC: 4242, Nacks: []rtcp.NackPair{{PacketID: 60000, LostPackets: 0xffff}, {PacketID: 1}}}), false)
	f.Add(fuzzStream(f, 2, vp8Packet(7, 0, 1002, true), vp8Packet(8, 90, 1002, false)),
		rtcpBytes(f, &rtcp.PictureLossIndication{MediaSSRC: 4242}, &rtcp.FullIntraRequest{MediaSSRC: 4242},
			&rtcp.PictureLossIndication{MediaSSRC: 4242}), true)
	f.Add(fuzzStream(f, 0, vp8Packet(1, 0, 1000, true)),
		rtcpBytes(f, &rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 1e6, SSRCs: []uint32{4242}},
			&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 4242, FractionLost: 30, TotalLost: 3, LastSequenceNumber: 10}}},
			&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 4242, FractionLost: 0, TotalLost: 2, LastSequenceNumber: 5}}}), false)
	f.Add(fuzzStream(f, 0, vp8Packet(1, 0, 1000, true)),
		rtcpBytes(f, &rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 3e20, SSRCs: []uint32{4242}}), false)
	f.Add([]byte{0, 12, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0xe8}, []byte{0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0x10, 0x92, 0, 1, 0xff, 0xff}, false)
	f.Add([]byte{0, 13, 0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0xe8, 0xff}, []byte{}, false)
	f.Add([]byte{0, 16, 0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0xe8, 0xbe, 0xde, 0xff, 0xff}, []byte{}, true)

	f.Fuzz(func(t *testing.T, stream, feedback []byte, simulcast bool) {
		n := 1
		if simulcast {
			n = 3
		}
		tr, plis := testTrackLayers(t, time.Hour, n)
		sub := &Participant{id: "sub"}
		d := newDownTrack(tr, sub, tr.metrics)
		w := &recordingWriter{keep: true}
		ctx := bindContext{codecs: []webrtc.RTPCodecParameters{
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 120},
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=120"}, PayloadType: 121},
		}, ssrc: 4242, rtxSSRC: 4343, writer: w}
		if _, err := d.Bind(ctx); err != nil {
			t.Fatal(err)
		}
		tr.addDown(d)
		if simulcast {
			d.setTarget(n - 1)
		}

		layers, pkts := fuzzPackets(stream)
		for i, raw := range pkts {
			var p packet
			if err := parseRTP(raw, &p); err == nil {
				var ref rtp.Packet
				if ref.Unmarshal(raw) == nil {
					if ref.SequenceNumber != p.seq || ref.Timestamp != p.timestamp || ref.SSRC != p.ssrc ||
						ref.Marker != p.marker || ref.PayloadType != p.payloadType || !bytes.Equal(ref.Payload, p.payload) {
						t.Fatalf("parseRTP and pion disagree on %x: %+v vs %+v", raw, p, ref.Header)
					}
				}
			}
			l := tr.layer(layers[i] % n)
			var p2 packet
			tr.receive(l, append([]byte(nil), raw...), &p2, now())
		}

		// What the subscriber got, by its sequence number; a later packet under the same number
		// (the 16-bit space wrapped) replaces it.
		sent := map[uint16][]byte{}
		forwarded := len(w.headers)
		if forwarded > len(pkts) {
			t.Fatalf("%d packets in, %d forwarded", len(pkts), forwarded)
		}
		for i, h := range w.headers {
			if h.SSRC != 4242 || h.PayloadType != 120 || h.Version != 2 {
				t.Fatalf("forwarded a packet with header %+v", h)
			}
			sent[h.SequenceNumber] = w.payload[i]
		}

		// A replay (SRTP lets a replay past its window through, or a publisher resends) of any
		// packet still buffered is not forwarded again.
		for i, raw := range pkts {
			var p packet
			l := tr.layer(layers[i] % n)
			if parseRTP(raw, &p) != nil || len(raw) > maxPacketSize {
				continue
			}
			if slot := &l.buffer.slots[p.seq&l.buffer.mask]; !slot.valid || slot.seq != p.seq {
				continue
			}
			tr.receive(l, append([]byte(nil), raw...), &p, now())
			if len(w.headers) != forwarded {
				t.Fatalf("the replay of packet %d (%x) was forwarded again", i, raw)
			}
		}

		pktsFB, err := rtcp.Unmarshal(feedback)
		if err != nil {
			return
		}
		d.handleRTCP(pktsFB)

		resent := map[uint16]int{}
		for i, h := range w.headers[forwarded:] {
			payload := w.payload[forwarded+i]
			if h.SSRC != 4343 || h.PayloadType != 121 {
				t.Fatalf("feedback made the SFU send %+v outside RTX", h)
			}
			if len(payload) < 2 {
				t.Fatalf("an RTX packet without its original sequence number: %x", payload)
			}
			osn := binary.BigEndian.Uint16(payload)
			orig, ok := sent[osn]
			if !ok {
				t.Fatalf("retransmitted %d, which the subscriber was never sent", osn)
			}
			if !bytes.Equal(orig, payload[2:]) {
				t.Fatalf("retransmission of %d differs from the original:\n%x\n%x", osn, orig, payload[2:])
			}
			if resent[osn]++; resent[osn] > maxResends {
				t.Fatalf("retransmitted %d %d times", osn, resent[osn])
			}
		}
		// One PLI per layer at most: the interval is an hour.
		if c := plis.count(); c > n {
			t.Fatalf("%d keyframe requests on %d layers within the throttle interval", c, n)
		}
		if r := sub.bwe.remb.Load(); r < 0 {
			t.Fatalf("a REMB left the estimate at %d bits/s", r)
		}
	})
}

// FuzzTWCCFeedback reads a subscriber's RTCP through the TWCC tap as pion hands it over, after
// 64 packets sent. Invariants: no panic; each packet sent is counted acked or lost at most once
// (forged feedback for sequence numbers never sent counts nothing); loss stays within 0..1 and
// delivered bytes are not negative.
func FuzzTWCCFeedback(f *testing.F) {
	fb := &rtcp.TransportLayerCC{SenderSSRC: 1, MediaSSRC: 4242, BaseSequenceNumber: 10, PacketStatusCount: 4, ReferenceTime: 5,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 4}},
		RecvDeltas: []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 500},
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 0}}}
	f.Add(rtcpBytes(f, fb))
	lost := &rtcp.TransportLayerCC{SenderSSRC: 1, MediaSSRC: 4242, BaseSequenceNumber: 60000, PacketStatusCount: 14,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeOneBit,
			SymbolList: []uint16{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}}}
	f.Add(rtcpBytes(f, lost, fb, fb))
	f.Add(rtcpBytes(f, &rtcp.PictureLossIndication{MediaSSRC: 4242}))

	f.Fuzz(func(t *testing.T, b []byte) {
		log := &twccLog{}
		start := now()
		for i := range uint16(64) {
			log.record(i, start+int64(i)*int64(time.Millisecond), 1200)
		}
		tap := &twccTap{log: log}
		var served bool
		r := tap.BindRTCPReader(interceptor.RTCPReaderFunc(func(buf []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
			served = true
			return copy(buf, b), a, nil
		}))
		buf := make([]byte, max(len(b), 1))
		if _, _, err := r.Read(buf, nil); err != nil || !served {
			t.Fatalf("the tap did not pass the read on: %v", err)
		}
		log.mu.Lock()
		acked, lostN, sentBytes := log.acked, log.lost, log.bytes
		log.mu.Unlock()
		if acked < 0 || lostN < 0 || acked+lostN > 64 {
			t.Fatalf("64 packets sent, feedback counted %d acked and %d lost", acked, lostN)
		}
		if sentBytes != int64(acked)*1200 {
			t.Fatalf("%d acked of 1200 bytes each, counted %d bytes", acked, sentBytes)
		}
		round := log.take(now(), 100*time.Millisecond)
		if round.loss < 0 || round.loss > 1 || round.delivered < 0 {
			t.Fatalf("a round of %+v", round)
		}
	})
}
