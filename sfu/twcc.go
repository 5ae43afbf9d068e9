package sfu

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// Send-side bandwidth estimation for a subscriber's link from transport-wide congestion control
// feedback (TWCC): pion numbers every packet we send on the subscriber connection; the receiver
// reports which of them arrived and when. Only packets the SFU actually sent are reported, and
// their send times are the SFU's own, so loss and queueing on the publisher's uplink (which reach
// the SFU as gaps and jitter) do not show here: this is the receiver's own link and nothing else.
// A receiver's REMB, by contrast, is computed from RTP timestamps in the receiver, and the
// publisher's jitter pulls it down.

// twccSlots is how many recent sends are remembered: feedback comes within a few hundred ms, so
// this is over a second even at 2,000 packets/s (32 KiB per subscriber).
const twccSlots = 1 << 11

// twccLog remembers what was sent with which transport-wide sequence number and folds the
// receiver's feedback into per-round figures for the allocator.
type twccLog struct {
	mu   sync.Mutex
	sent [twccSlots]twccSent

	// Since the last take.
	acked, lost int
	bytes       int64
	delaySum    int64 // µs: arrival − send, each against its own clock (an unknown constant offset)
	delayMin    int64
	lastFB      int64 // monotonic ns of the last feedback
	// Baseline one-way delay: the least delay of each recent round; queueing is the excess.
	baseline    [20]int64
	baselineIdx int
}

type twccSent struct {
	valid    bool
	reported bool
	seq      uint16
	size     uint16
	at       int64 // monotonic ns
}

// sent records one outgoing packet.
func (l *twccLog) record(seq uint16, at int64, size int) {
	l.mu.Lock()
	l.sent[seq%twccSlots] = twccSent{valid: true, seq: seq, size: uint16(min(size, 1<<16-1)), at: at}
	l.mu.Unlock()
}

// feedback folds one TWCC report in.
func (l *twccLog) feedback(fb *rtcp.TransportLayerCC, at int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastFB = at
	seq := fb.BaseSequenceNumber
	arrival := int64(fb.ReferenceTime) * 64_000 // µs on the receiver's clock
	deltas := fb.RecvDeltas
	remaining := int(fb.PacketStatusCount)
	one := func(status uint16) {
		s := seq
		seq++
		remaining--
		received := status == rtcp.TypeTCCPacketReceivedSmallDelta || status == rtcp.TypeTCCPacketReceivedLargeDelta
		if received && len(deltas) > 0 {
			arrival += deltas[0].Delta
			deltas = deltas[1:]
		}
		e := &l.sent[s%twccSlots]
		if !e.valid || e.seq != s || e.reported {
			return
		}
		e.reported = true
		if !received {
			l.lost++
			return
		}
		l.acked++
		l.bytes += int64(e.size)
		d := arrival - e.at/1000
		l.delaySum += d
		if l.acked == 1 || d < l.delayMin {
			l.delayMin = d
		}
	}
	for _, c := range fb.PacketChunks {
		switch c := c.(type) {
		case *rtcp.RunLengthChunk:
			for i := 0; i < int(c.RunLength) && remaining > 0; i++ {
				one(c.PacketStatusSymbol)
			}
		case *rtcp.StatusVectorChunk:
			for _, s := range c.SymbolList {
				if remaining == 0 {
					break
				}
				one(s)
			}
		}
	}
}

// linkRound is what one allocation round learnt of a subscriber's own link from TWCC.
type linkRound struct {
	fresh      bool          // feedback arrived in the round
	loss       float64       // share of the reported packets that were lost, 0..1
	delivered  int64         // bits/s that arrived, over the round
	queueDelay time.Duration // mean one-way delay above the recent minimum
}

// twccFeedbackFresh is how long TWCC feedback counts as flowing; after that the receiver is
// treated as one without TWCC (receiver reports and REMB).
const twccFeedbackFresh = 2 * time.Second

// take returns the round since the last call (interval long) and starts a new one.
func (l *twccLog) take(at int64, interval time.Duration) linkRound {
	l.mu.Lock()
	defer l.mu.Unlock()
	var r linkRound
	n := l.acked + l.lost
	if n == 0 {
		return r
	}
	r.fresh = l.lastFB != 0 && at-l.lastFB < int64(twccFeedbackFresh)
	r.loss = float64(l.lost) / float64(n)
	r.delivered = l.bytes * 8 * int64(time.Second) / int64(max(interval, time.Millisecond))
	if l.acked > 0 {
		l.baseline[l.baselineIdx%len(l.baseline)] = l.delayMin
		l.baselineIdx++
		base := l.delayMin
		for i := range min(l.baselineIdx, len(l.baseline)) {
			base = min(base, l.baseline[i])
		}
		r.queueDelay = time.Duration(l.delaySum/int64(l.acked)-base) * time.Microsecond
	}
	l.acked, l.lost, l.bytes, l.delaySum = 0, 0, 0, 0
	return r
}

// twccTap is the interceptor that records each outgoing packet's transport-wide sequence number
// (set by pion's TWCC header interceptor, which must wrap it) and reads the feedback.
type twccTap struct {
	interceptor.NoOp
	log *twccLog
}

// NewInterceptor makes the tap its own factory: one tap per subscriber connection.
func (t *twccTap) NewInterceptor(string) (interceptor.Interceptor, error) { return t, nil }

func (t *twccTap) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	var id uint8
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.TransportCCURI {
			id = uint8(e.ID)
		}
	}
	if id == 0 {
		return w // the receiver did not take TWCC: REMB and receiver reports only
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if ext := h.GetExtension(id); len(ext) == 2 {
			t.log.record(binary.BigEndian.Uint16(ext), now(), h.MarshalSize()+len(payload))
		}
		return w.Write(h, payload, a)
	})
}

func (t *twccTap) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err != nil {
			return n, a, err
		}
		if a == nil {
			a = interceptor.Attributes{}
		}
		pkts, perr := a.GetRTCPPackets(b[:n])
		if perr != nil {
			return n, a, nil // not ours to judge: the next reader reports it
		}
		for _, p := range pkts {
			if fb, ok := p.(*rtcp.TransportLayerCC); ok {
				t.log.feedback(fb, now())
			}
		}
		return n, a, nil
	})
}
