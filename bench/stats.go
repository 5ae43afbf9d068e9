package bench

import (
	"math"
	"math/bits"
	"sync"
	"time"
)

// Histogram counts non-negative durations (nanoseconds) in log-linear buckets: values below
// 2^histSubBits exactly, above that 2^histSubBits buckets per power of two, so any percentile is
// within about 3 % of the true value while the histogram stays a fixed, small array. The bench
// keeps one per stream and merges them, instead of keeping every sample.
type Histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	sum      float64
	min, max int64
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	histMaxBits = 42 // ~73 minutes in ns; larger values are clamped into the last bucket
	histBuckets = (histMaxBits - histSubBits + 1) * histSub
)

func histIndex(v int64) int {
	if v < 0 {
		v = 0
	}
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - histSubBits - 1 // v>>e is in [histSub, 2*histSub)
	i := (e+1)*histSub + int(v>>e) - histSub
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// histBounds is the value range [lo, hi) of bucket i.
func histBounds(i int) (lo, hi int64) {
	if i < histSub {
		return int64(i), int64(i) + 1
	}
	e := i/histSub - 1
	m := int64(i%histSub + histSub)
	return m << e, (m + 1) << e
}

// Record adds one value.
func (h *Histogram) Record(v time.Duration) {
	ns := int64(v)
	if ns < 0 {
		ns = 0
	}
	if h.n == 0 || ns < h.min {
		h.min = ns
	}
	if ns > h.max {
		h.max = ns
	}
	h.n++
	h.sum += float64(ns)
	h.counts[histIndex(ns)]++
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
	for i, c := range o.counts {
		h.counts[i] += c
	}
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest recorded value.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean is the average recorded value.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the value below which a fraction q (0..1) of the values lie: the middle of
// the bucket holding it, clamped to the recorded minimum and maximum.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := histBounds(i)
			v := lo + (hi-lo-1)/2
			v = max(v, h.min)
			v = min(v, h.max)
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}

// Stream accounts for one received RTP stream: which sequence numbers arrived (loss is the
// numbers never repaired), interarrival jitter (RFC 3550 §6.4.1), one-way latency from the send
// stamp each bench packet carries, bytes, and when the first keyframe arrived. Its methods are
// safe for concurrent use: the track's reader adds packets while the runner resets and reads.
type Stream struct {
	Kind      string // "audio" or "video"
	clockRate float64

	mu        sync.Mutex
	started   bool  // base and highest are set
	base      int64 // first extended sequence number counted
	highest   int64 // highest extended sequence number seen
	limit     int64 // packets above this are not counted (after Freeze); -1 = no limit
	seen      []uint64
	received  uint64 // distinct counted packets
	dups      uint64
	bytes     uint64
	jitter    float64 // in RTP timestamp units
	haveTrans bool
	transit   float64
	latency   Histogram
	firstKey  time.Duration // arrival (since the bench epoch) of the first keyframe; -1 = none yet
	firstAt   time.Duration // arrival of the first counted packet
	lastAt    time.Duration
	maxGap    time.Duration // longest time between two counted packets' arrivals
	frames    *frameTracker // with TrackFrames: the frames a decoder would show
	windowAt  time.Duration // when Reset started the window
}

// NewStream returns a Stream for packets of the given kind and RTP clock rate.
func NewStream(kind string, clockRate uint32) *Stream {
	return &Stream{Kind: kind, clockRate: float64(clockRate), limit: -1, firstKey: -1, firstAt: -1}
}

// Packet is one received packet as the Stream needs it.
type Packet struct {
	Seq        uint16
	Timestamp  uint32
	Size       int           // RTP payload bytes
	Arrival    time.Duration // since the bench epoch (Now)
	SentAt     time.Duration // the sender's stamp, since the same epoch; valid when Stamped
	Stamped    bool
	IsKeyframe bool // the packet starts a keyframe
	// FrameStart and Marker delimit a video frame; Layer is its simulcast layer as the
	// publisher stamped it (-1 = not known).
	FrameStart, Marker bool
	Layer              int
}

// TrackFrames makes the Stream assemble video frames and note when each could be decoded
// (frameTracker); FrameStats and the report's uplink section read them.
func (s *Stream) TrackFrames() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frames == nil {
		s.frames = newFrameTracker()
	}
}

// Add counts one received packet.
func (s *Stream) Add(p Packet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.IsKeyframe && s.firstKey < 0 {
		s.firstKey = p.Arrival
	}
	var ext int64
	if !s.started {
		s.started = true
		ext = int64(p.Seq)
		s.base, s.highest = ext, ext
	} else {
		ext = s.highest + int64(int16(p.Seq-uint16(s.highest)))
	}
	if ext < s.base || (s.limit >= 0 && ext > s.limit) {
		return // from before the window (a late repair) or after it
	}
	off := ext - s.base
	word, bit := off/64, uint(off%64)
	for int64(len(s.seen)) <= word {
		s.seen = append(s.seen, 0)
	}
	if s.seen[word]&(1<<bit) != 0 {
		s.dups++
		return
	}
	s.seen[word] |= 1 << bit
	s.received++
	s.bytes += uint64(p.Size)
	if s.firstAt < 0 {
		s.firstAt = p.Arrival
	} else {
		s.maxGap = max(s.maxGap, p.Arrival-s.lastAt)
	}
	s.lastAt = p.Arrival
	if s.frames != nil {
		s.frames.add(p, ext)
	}
	if p.Stamped {
		s.latency.Record(p.Arrival - p.SentAt)
	}
	if ext >= s.highest {
		// Jitter only over packets in order: a retransmission's transit time says nothing about
		// the path's jitter.
		s.highest = ext
		arrival := p.Arrival.Seconds() * s.clockRate
		transit := arrival - float64(p.Timestamp)
		if s.haveTrans {
			d := math.Abs(transit - s.transit)
			s.jitter += (d - s.jitter) / 16
		}
		s.transit, s.haveTrans = transit, true
	}
}

// Reset starts a new measurement window: counts restart at the next sequence number; packets
// numbered before it (late repairs) are ignored from now on. The first keyframe time is kept.
func (s *Stream) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		s.base = s.highest + 1
	}
	s.seen = s.seen[:0]
	s.received, s.dups, s.bytes = 0, 0, 0
	s.latency = Histogram{}
	s.firstAt, s.lastAt, s.maxGap = -1, 0, 0
	s.limit = -1
	s.windowAt = Now()
	if s.frames != nil {
		s.frames.reset()
	}
}

// Freeze ends the window: packets numbered after the highest seen so far are ignored, while the
// repair of earlier ones may still arrive.
func (s *Stream) Freeze() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		s.limit = s.highest
	} else {
		s.limit = math.MaxInt64
	}
	// Silence up to the window's end is a gap too.
	if s.firstAt >= 0 {
		s.maxGap = max(s.maxGap, Now()-s.lastAt)
	} else {
		s.maxGap = Now() - s.windowAt
	}
}

// StreamStats is a snapshot of a Stream.
type StreamStats struct {
	Kind     string
	Expected uint64 // sequence numbers in the window
	Received uint64 // distinct ones that arrived
	Lost     uint64 // Expected - Received
	Dups     uint64
	Bytes    uint64
	Jitter   time.Duration
	Latency  Histogram
	// Span is from the first to the last counted packet's arrival.
	Span time.Duration
	// FirstKeyframe is the first keyframe's arrival since the bench epoch; -1 = none.
	FirstKeyframe time.Duration
	// LongestGap is the longest time between two counted packets' arrivals (after Freeze, also
	// from the last one to the window's end).
	LongestGap time.Duration
}

// Stats returns the current counts.
func (s *Stream) Stats() StreamStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := StreamStats{Kind: s.Kind, Received: s.received, Dups: s.dups, Bytes: s.bytes,
		Latency: s.latency, FirstKeyframe: s.firstKey, LongestGap: s.maxGap}
	if s.started && s.highest >= s.base {
		st.Expected = uint64(s.highest - s.base + 1)
	}
	if st.Expected > st.Received {
		st.Lost = st.Expected - st.Received
	}
	if s.clockRate > 0 {
		st.Jitter = time.Duration(s.jitter / s.clockRate * float64(time.Second))
	}
	if s.firstAt >= 0 {
		st.Span = s.lastAt - s.firstAt
	}
	return st
}

// decodedFrames returns a copy of the frames decoded in the window (with TrackFrames).
func (s *Stream) decodedFrames() []decodedFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frames == nil {
		return nil
	}
	return append([]decodedFrame(nil), s.frames.decoded...)
}
