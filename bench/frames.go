package bench

import "time"

// frameTracker plays a video decoder over one received VP8 stream: it assembles frames from
// their packets (the first has S = 1, the last the marker bit, the sequence numbers between
// them all arrived, repairs included) and "decodes" a complete frame when it continues the chain
// — its first packet follows the last decoded frame's last packet — or is a keyframe. A frame
// that never completes stops the chain until the next keyframe, as it stops a real decoder. The
// sequence numbers are the subscriber's, which the SFU keeps continuous across layer switches.
type frameTracker struct {
	pending map[uint32]*pendingFrame // by RTP timestamp
	next    int64                    // the first sequence number of the frame that continues the chain; -1 = none yet
	decoded []decodedFrame
}

type pendingFrame struct {
	first, last int64 // extended sequence numbers; -1 until the S and marker packets arrive
	have        int
	key         bool
	layer       int
}

// decodedFrame is when a frame became decodable, and its simulcast layer (-1 unknown).
type decodedFrame struct {
	at    time.Duration
	layer int
}

// maxPendingFrames bounds the frames held while the chain waits for a keyframe (about 3 s).
const maxPendingFrames = 100

func newFrameTracker() *frameTracker {
	return &frameTracker{pending: map[uint32]*pendingFrame{}, next: -1}
}

// reset starts a window: the first complete frame after it is taken as continuing the chain,
// since the decoder was in step before the window (its first packets may have been left out).
func (f *frameTracker) reset() {
	clear(f.pending)
	f.next = -1
	f.decoded = f.decoded[:0]
}

// add takes one new (not duplicate) packet with its extended sequence number.
func (f *frameTracker) add(p Packet, ext int64) {
	fr := f.pending[p.Timestamp]
	if fr == nil {
		if len(f.pending) >= maxPendingFrames {
			f.dropOldest()
		}
		fr = &pendingFrame{first: -1, last: -1, layer: -1}
		f.pending[p.Timestamp] = fr
	}
	fr.have++
	if p.FrameStart {
		fr.first = ext
		fr.key = p.IsKeyframe
	}
	if p.Marker {
		fr.last = ext
	}
	if p.Layer >= 0 {
		fr.layer = p.Layer
	}
	if fr.first < 0 || fr.last < fr.first || int64(fr.have) < fr.last-fr.first+1 {
		return
	}
	// Complete. Decodable if it continues the chain or is a keyframe ahead of it; then the
	// complete frames that follow it may be too.
	switch {
	case f.next < 0 || fr.first == f.next:
	case fr.key && fr.first > f.next:
		f.dropBefore(fr.first) // the frames skipped will never be shown
	case fr.first < f.next:
		delete(f.pending, p.Timestamp) // a late frame the decoder is past
		return
	default:
		return // waits for the frames before it
	}
	delete(f.pending, p.Timestamp)
	f.decode(fr, p.Arrival)
	for more := true; more; {
		more = false
		for ts, o := range f.pending {
			if o.first == f.next && o.last >= o.first && int64(o.have) >= o.last-o.first+1 {
				delete(f.pending, ts)
				f.decode(o, p.Arrival)
				more = true
				break
			}
		}
	}
}

func (f *frameTracker) decode(fr *pendingFrame, at time.Duration) {
	f.next = fr.last + 1
	f.decoded = append(f.decoded, decodedFrame{at: at, layer: fr.layer})
}

func (f *frameTracker) dropBefore(seq int64) {
	for ts, o := range f.pending {
		if (o.first >= 0 && o.first < seq) || (o.first < 0 && o.last >= 0 && o.last < seq) {
			delete(f.pending, ts)
		}
	}
}

func (f *frameTracker) dropOldest() {
	var oldest uint32
	best := int64(-1)
	for ts, o := range f.pending {
		s := max(o.first, o.last)
		if best < 0 || (s >= 0 && s < best) {
			oldest, best = ts, s
		}
	}
	delete(f.pending, oldest)
}

// FrameStats is how a received video stream played over a part of the window.
type FrameStats struct {
	// Frames decoded; per layer (q, h, f) when the publisher stamped them.
	Frames  int
	ByLayer [3]int
	// FPSMin and FPSMean over the whole 1-second windows of the part.
	FPSMin, FPSMean float64
	// LongestFreeze is the longest time without a decoded frame, the part's start and end
	// included.
	LongestFreeze time.Duration
}

// frameStats sums the frames decoded in [from, to).
func frameStats(decoded []decodedFrame, from, to time.Duration) FrameStats {
	var st FrameStats
	if to <= from {
		return st
	}
	secs := int((to - from) / time.Second)
	perSec := make([]int, max(secs, 1))
	last := from
	for _, d := range decoded {
		if d.at < from || d.at >= to {
			continue
		}
		st.Frames++
		if d.layer >= 0 && d.layer < len(st.ByLayer) {
			st.ByLayer[d.layer]++
		}
		if k := int((d.at - from) / time.Second); k < secs {
			perSec[k]++
		}
		st.LongestFreeze = max(st.LongestFreeze, d.at-last)
		last = d.at
	}
	st.LongestFreeze = max(st.LongestFreeze, to-last)
	if secs > 0 {
		st.FPSMin = float64(perSec[0])
		sum := 0
		for _, n := range perSec[:secs] {
			st.FPSMin = min(st.FPSMin, float64(n))
			sum += n
		}
		st.FPSMean = float64(sum) / float64(secs)
	}
	return st
}

// topLayerBack is the time from `from` to the first frame of layer top decoded at or after it
// and before `to`, or -1 if none. A stream still on the top layer at `from` (its last frame
// before it was of that layer) is back at once.
func topLayerBack(decoded []decodedFrame, top int, from, to time.Duration) time.Duration {
	onTop := false
	for _, d := range decoded {
		if d.at < from {
			onTop = d.layer == top
			continue
		}
		if onTop {
			return 0
		}
		if d.at >= to {
			break
		}
		if d.layer == top {
			return d.at - from
		}
	}
	if onTop {
		return 0
	}
	return -1
}
