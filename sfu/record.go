package sfu

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// RecordSink receives the packets of one recorded track, on the recording's own goroutine, in
// the order the SFU forwards them (which is not always sequence order: repaired packets come
// late). It may take its time: the forwarding path only fills a bounded queue in front of it.
type RecordSink interface {
	// WriteRTP takes one packet. p and its payload are reused once it returns, so a sink that
	// keeps a packet copies it. An error ends the recording (and is given to Close).
	WriteRTP(p *rtp.Packet) error
	// Close is the last call: err is nil when Stop ended the recording, ErrTrackEnded when the
	// track did, or the error WriteRTP returned.
	Close(err error)
}

// ErrTrackEnded is given to RecordSink.Close when the recorded track ended (its publisher
// unpublished it, left or lost its connection). A publisher that comes back publishes a new track.
var ErrTrackEnded = errors.New("sfu: recorded track ended")

// Recording is an in-process subscriber of one published track: the server's own recorder. It
// gets a down track like any subscriber's, so layer switching (on keyframes only), sequence and
// timestamp rewriting and mute splicing are the same, but the down track writes into a bounded
// queue instead of a PeerConnection. A goroutine owned by the publishing participant empties the
// queue into the sink. When the queue is full the packet is dropped and counted: the sink sees a
// sequence gap, and the forwarding path never waits for a disk.
//
// A simulcast track is recorded at its best layer that is being sent, and the recorder counts as
// wanting the top layer, so dynacast never pauses it while a recording runs. The subscription
// policy does not apply: the recorder is the server's, not a participant.
type Recording struct {
	track *publishedTrack
	down  *DownTrack
	q     *recordQueue
	sink  RecordSink
	log   *zap.Logger

	end     chan struct{} // closed to end the recording; reason holds why
	endOnce sync.Once
	reason  error
	done    chan struct{} // closed once sink.Close has returned
}

// Record starts recording a published track into sink. The recording runs until Stop, the end
// of the track, or an error from the sink; each ends with sink.Close. A keyframe is asked for at
// once, so that the recording starts with a decodable picture. Audio the publisher sends as RED
// (TrackInfo.Codec audio/red) reaches the sink as its Opus primary: plain Opus packets.
func (r *Room) Record(trackID string, sink RecordSink) (*Recording, error) {
	t := r.track(trackID)
	if t == nil {
		return nil, fmt.Errorf("%w: %s", ErrTrackNotFound, trackID)
	}
	p := r.participant(t.info.ParticipantID)
	if p == nil {
		return r.recordRelayed(t, sink) // a track of another node, or gone
	}
	rec := newRecording(t, sink, p.sfu.metrics, p.log)
	// The participant owns the goroutine, as it owns the track's read loops: Close waits for it.
	// endTrack takes the track out of published (under p.mu) before it ends the recordings, so a
	// recording added here, under p.mu, is always ended with the track.
	p.mu.Lock()
	if p.closing || p.published[trackID] != t {
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrTrackNotFound, trackID)
	}
	p.wg.Add(1)
	t.addRecording(rec)
	p.mu.Unlock()
	rec.start(p.wg.Done)
	return rec, nil
}

func newRecording(t *publishedTrack, sink RecordSink, m *metrics, log *zap.Logger) *Recording {
	rec := &Recording{track: t, sink: sink, log: log.With(zap.String("track", t.info.ID)),
		q: newRecordQueue(recordQueueSlots(t.remoteKind), m), end: make(chan struct{}), done: make(chan struct{})}
	rec.down = newDownTrack(t, nil, m)
	return rec
}

// start attaches the recording and runs its goroutine; done is called when the goroutine ends.
func (rec *Recording) start(done func()) {
	rec.attach()
	rec.log.Info("recording started", zap.String("codec", rec.track.info.Codec))
	go func() {
		defer done()
		rec.run()
	}()
}

// attach puts the recording's down track on the track, at the best layer being sent, and asks
// for a keyframe.
func (rec *Recording) attach() {
	t := rec.track
	rec.down.wanted.Store(int32(t.topQuality()))
	rec.down.target.Store(int32(t.bestActiveQuality(now())))
	rec.down.bind(rec.q, 1, uint8(t.codec.PayloadType), 0, 0, isRED(t.codec))
	t.addDown(rec.down)
	rec.down.metrics.recordings.Inc()
}

// Track describes the recorded track.
func (rec *Recording) Track() TrackInfo { return rec.track.Info() }

// Dropped is how many packets the queue in front of the sink had no room for.
func (rec *Recording) Dropped() uint64 { return rec.q.dropped.Load() }

// RequestKeyframe asks the publisher for a keyframe of the layer being recorded (throttled like
// every keyframe request): a sink that lost part of a picture cannot decode until the next one.
func (rec *Recording) RequestKeyframe() {
	q := rec.down.cur.Load()
	if q < 0 {
		q = rec.down.target.Load()
	}
	rec.track.requestKeyframe(int(q))
}

// Stop ends the recording and returns once the sink has been closed. It must not be called from
// the sink's own methods.
func (rec *Recording) Stop() {
	rec.finish(nil)
	<-rec.done
}

// finish asks the recording's goroutine to end with reason; the first reason wins.
func (rec *Recording) finish(reason error) {
	rec.endOnce.Do(func() {
		rec.reason = reason
		close(rec.end)
	})
}

// run empties the queue into the sink until the recording ends. What is queued when it ends is
// still written; after a sink error nothing more is.
func (rec *Recording) run() {
	defer close(rec.done)
	var pkt rtp.Packet
	var err error
	drain := func() {
		for err == nil && rec.q.pop(&pkt) {
			err = rec.sink.WriteRTP(&pkt)
			rec.q.release()
		}
	}
	for {
		select {
		case <-rec.q.wake:
			drain()
			if err == nil {
				continue
			}
			rec.log.Warn("recording stopped by its writer", zap.Error(err))
		case <-rec.end:
			rec.detach()
			drain()
			if err == nil {
				err = rec.reason
			}
		}
		rec.detach()
		rec.sink.Close(err)
		return
	}
}

// detach takes the recorder's down track off the track (twice is harmless).
func (rec *Recording) detach() {
	if !rec.down.bound.Swap(false) {
		return
	}
	rec.track.removeDown(rec.down)
	rec.track.removeRecording(rec)
	rec.down.metrics.recordings.Dec()
}

// Queue sizes: about a second of a 4 Mbit/s video layer, and of audio.
const (
	recordQueueVideo = 512
	recordQueueAudio = 64
)

func recordQueueSlots(kind webrtc.RTPCodecType) int {
	if kind == webrtc.RTPCodecTypeVideo {
		return recordQueueVideo
	}
	return recordQueueAudio
}

// recordQueue is a single-producer single-consumer ring of packet copies. The producer is the
// recorder's down track (its writes are serialised by the down track's lock), the consumer the
// recording's goroutine. Neither waits for the other and the producer allocates nothing.
type recordQueue struct {
	slots      []recordSlot
	head, tail atomic.Uint64 // head: next to read; tail: next to write
	wake       chan struct{}
	dropped    atomic.Uint64
	metrics    *metrics
}

type recordSlot struct {
	hdr  rtp.Header
	n    int
	data [maxPacketSize]byte
}

var (
	errRecordQueueFull = errors.New("sfu: recording queue full")
	errRecordRTPOnly   = errors.New("sfu: recording queue takes RTP only")
)

func newRecordQueue(n int, m *metrics) *recordQueue {
	return &recordQueue{slots: make([]recordSlot, n), wake: make(chan struct{}, 1), metrics: m}
}

// WriteRTP queues a copy of the packet, or drops it when the queue is full.
func (q *recordQueue) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	tail := q.tail.Load()
	if tail-q.head.Load() >= uint64(len(q.slots)) || len(payload) > maxPacketSize {
		q.dropped.Add(1)
		q.metrics.recordDropped.Inc()
		return 0, errRecordQueueFull
	}
	s := &q.slots[tail%uint64(len(q.slots))]
	s.hdr.Version, s.hdr.PayloadType, s.hdr.SSRC = 2, h.PayloadType, h.SSRC
	s.hdr.SequenceNumber, s.hdr.Timestamp, s.hdr.Marker = h.SequenceNumber, h.Timestamp, h.Marker
	s.n = copy(s.data[:], payload)
	q.tail.Store(tail + 1)
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return len(payload), nil
}

// Write is never called: down tracks write with WriteRTP.
func (q *recordQueue) Write([]byte) (int, error) { return 0, errRecordRTPOnly }

// pop points p at the oldest queued packet; release frees its slot once p is no longer used.
func (q *recordQueue) pop(p *rtp.Packet) bool {
	head := q.head.Load()
	if head == q.tail.Load() {
		return false
	}
	s := &q.slots[head%uint64(len(q.slots))]
	p.Header = s.hdr
	p.Payload = s.data[:s.n]
	return true
}

func (q *recordQueue) release() { q.head.Add(1) }

func (t *publishedTrack) addRecording(rec *Recording) {
	t.mu.Lock()
	t.recordings = append(t.recordings, rec)
	t.mu.Unlock()
}

func (t *publishedTrack) removeRecording(rec *Recording) {
	t.mu.Lock()
	for i, x := range t.recordings {
		if x == rec {
			t.recordings = append(t.recordings[:i], t.recordings[i+1:]...)
			break
		}
	}
	t.mu.Unlock()
}

func (t *publishedTrack) recordingList() []*Recording {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*Recording(nil), t.recordings...)
}

// endRecordings ends the track's recordings (the track ended); their goroutines finish on their own.
func (t *publishedTrack) endRecordings() {
	for _, rec := range t.recordingList() {
		rec.finish(ErrTrackEnded)
	}
}

// steerRecordings keeps each recording on the best layer being sent (housekeeping): a layer that
// appears later, or comes back, is switched to at its keyframe.
func (t *publishedTrack) steerRecordings(at int64) {
	for _, rec := range t.recordingList() {
		rec.down.wanted.Store(int32(t.topQuality()))
		rec.down.setTarget(t.bestActiveQuality(at))
	}
}

// bestActiveQuality is the best layer that sent a packet lately, or the top layer when none did.
func (t *publishedTrack) bestActiveQuality(at int64) int {
	best := -1
	for _, l := range *t.layers.Load() {
		if last := l.lastPacket.Load(); last != 0 && at-last <= int64(layerActiveFor) {
			best = l.quality
		}
	}
	if best < 0 {
		return t.topQuality()
	}
	return best
}
