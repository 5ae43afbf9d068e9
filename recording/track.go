package recording

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
)

// TrackStats counts what happened to one track segment's packets and frames.
type TrackStats struct {
	Packets       uint64 `json:"packets"`
	LostPackets   uint64 `json:"lost_packets"`   // never arrived, or came too late for the jitter buffer
	LatePackets   uint64 `json:"late_packets"`   // arrived after their place was given up
	Reordered     uint64 `json:"reordered"`      // arrived after a later packet and were put back in place
	Frames        uint64 `json:"frames"`         // written to the file
	DroppedFrames uint64 `json:"dropped_frames"` // incomplete, or undecodable until the next keyframe
	Bytes         int64  `json:"bytes"`
}

// TrackWriter writes one track segment, from RTP packets, to one WebM (Matroska for H.264) file:
// packets are put back in sequence order by a small jitter buffer, depacketized into frames and
// written with their RTP timestamps turned into milliseconds from the segment's first frame.
// Lost packets leave gaps: a lost audio packet is missing from the file, a video frame with a
// missing packet is dropped together with the frames up to the next keyframe, and the timestamps
// after a gap jump by the time that was lost. Timestamps never go back.
//
// The file is created when the first decodable frame is ready (the header needs the picture
// size, and for H.264 the parameter sets), never over an existing file. A TrackWriter is used by
// one goroutine at a time.
type TrackWriter struct {
	path       string
	spec       codecSpec
	create     func(path string) (*os.File, error)
	onKeyframe func()

	jb    *jitterBuffer
	asm   assembler
	video *videoFrames // the assembler's video state, nil for audio
	h264  *h264Assembler
	file  *mediaFile

	started bool
	start   time.Time // arrival of the first frame written
	firstTS int64     // its RTP timestamp, extended
	lastTS  int64
	lastMS  int64
	stats   TrackStats
	err     error
}

// TrackOptions tune a TrackWriter; the zero value is usable.
type TrackOptions struct {
	// Latency is how long a missing packet is waited for (default 500 ms).
	Latency time.Duration
	// RequestKeyframe is called when a picture was lost and the video cannot go on until the
	// next keyframe (the recorder asks the publisher; the SFU throttles).
	RequestKeyframe func()
}

const defaultLatency = 500 * time.Millisecond

// Jitter buffer sizes: about a second of a 4 Mbit/s video layer, and of audio.
const (
	jitterSlotsVideo = 512
	jitterSlotsAudio = 64
)

// NewTrackWriter prepares a writer for a track of the given codec (a MIME type: video/VP8,
// video/H264, audio/opus; audio/red for a RED track the SFU delivers as Opus) into the file at path.
func NewTrackWriter(path, mimeType string, opts TrackOptions) (*TrackWriter, error) {
	spec, ok := codecSpecs[strings.ToLower(mimeType)]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedCodec, mimeType)
	}
	if opts.Latency <= 0 {
		opts.Latency = defaultLatency
	}
	w := &TrackWriter{path: path, spec: spec, create: createExclusive, onKeyframe: opts.RequestKeyframe}
	latency := uint32(opts.Latency.Seconds() * float64(spec.clockRate))
	switch spec.codecID {
	case "V_VP8":
		a := newVP8Assembler()
		w.asm, w.video = a, &a.videoFrames
		w.jb = newJitterBuffer(jitterSlotsVideo, latency)
	case "V_MPEG4/ISO/AVC":
		a := newH264Assembler()
		w.asm, w.video, w.h264 = a, &a.videoFrames, a
		w.jb = newJitterBuffer(jitterSlotsVideo, latency)
	default:
		w.asm = &opusAssembler{}
		w.jb = newJitterBuffer(jitterSlotsAudio, latency)
	}
	return w, nil
}

// createExclusive creates a recording file; an existing file is an error, never overwritten.
func createExclusive(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
}

// WriteRTP takes one packet (copied: p may be reused). After a write error every call returns it.
func (w *TrackWriter) WriteRTP(p *rtp.Packet) error {
	if w.err != nil {
		return w.err
	}
	w.stats.Packets++
	w.jb.push(p, time.Now(), w.release)
	return w.err
}

// Close writes what the jitter buffer still holds and finishes the file. It returns the first
// error the writer met.
func (w *TrackWriter) Close() error {
	if w.err == nil {
		w.jb.flush(w.release)
	}
	if w.file != nil {
		if err := w.file.close(); err != nil && w.err == nil {
			w.err = err
		}
		w.stats.Bytes = w.file.size()
	}
	return w.err
}

// Err is the error that stopped the writer, if any.
func (w *TrackWriter) Err() error { return w.err }

// Stats counts the segment's packets and frames so far.
func (w *TrackWriter) Stats() TrackStats {
	s := w.stats
	s.LostPackets, s.LatePackets, s.Reordered = w.jb.lost, w.jb.late, w.jb.reordered
	if w.video != nil {
		s.DroppedFrames = w.video.dropped
	}
	if w.file != nil {
		s.Bytes = w.file.size()
	}
	return s
}

// Started reports when the first frame arrived (false while no frame has been written).
func (w *TrackWriter) Started() (time.Time, bool) { return w.start, w.started }

// Duration is the timestamp of the last frame written: the segment's length, gaps included.
func (w *TrackWriter) Duration() time.Duration { return time.Duration(w.lastMS) * time.Millisecond }

// Path is the file the writer writes (it exists once Started).
func (w *TrackWriter) Path() string { return w.path }

// release takes the next packet in sequence order from the jitter buffer.
func (w *TrackWriter) release(hp *heldPacket, lost bool) {
	if w.err != nil {
		return
	}
	f, needKey := w.asm.push(hp, lost)
	if needKey && w.onKeyframe != nil {
		w.onKeyframe()
	}
	if f == nil {
		return
	}
	if !w.started {
		if w.h264 != nil && (len(w.h264.sps) < 4 || len(w.h264.pps) == 0) {
			// A keyframe without parameter sets cannot start the file: wait for one with them.
			w.video.waitKey = true
			w.video.dropped++
			if w.onKeyframe != nil {
				w.onKeyframe()
			}
			return
		}
		if err := w.open(f); err != nil {
			w.err = err
			return
		}
		w.started, w.start, w.firstTS, w.lastTS = true, f.at, int64(f.ts), int64(f.ts)
	}
	ext := w.lastTS + int64(int32(f.ts-uint32(w.lastTS)))
	w.lastTS = ext
	ms := (ext - w.firstTS) * 1000 / int64(w.spec.clockRate)
	if ms < w.lastMS {
		ms = w.lastMS // never back: a frame stamped before its predecessor is written at its time
	}
	w.lastMS = ms
	if err := w.file.write(f.key, ms, append([]byte(nil), f.data...)); err != nil {
		w.err = err
		return
	}
	w.stats.Frames++
}

// open creates the file with a header made from the first frame.
func (w *TrackWriter) open(f *frame) error {
	entry := webm.TrackEntry{Name: w.spec.mime, TrackNumber: webmTrackNum, TrackUID: 1, CodecID: w.spec.codecID}
	switch {
	case w.spec.codecID == "A_OPUS":
		entry.TrackType = 2
		entry.CodecPrivate = opusHead()
		entry.SeekPreRoll = 80_000_000 // ns, as RFC 7845 recommends
		entry.Audio = &webm.Audio{SamplingFrequency: 48000, Channels: 2}
	case w.h264 != nil:
		width, height, err := spsSize(w.h264.sps)
		if err != nil {
			return err
		}
		entry.TrackType = 1
		entry.CodecPrivate = avcConfig(w.h264.sps, w.h264.pps)
		entry.Video = &webm.Video{PixelWidth: uint64(width), PixelHeight: uint64(height)}
	default:
		width, height, ok := vp8Size(f.data)
		if !ok {
			return errors.New("recording: the first VP8 keyframe has no picture size")
		}
		entry.TrackType = 1
		entry.Video = &webm.Video{PixelWidth: uint64(width), PixelHeight: uint64(height)}
	}
	file, err := w.create(w.path)
	if err != nil {
		return fmt.Errorf("create recording file: %w", err)
	}
	m, err := newMediaFile(file, w.spec, entry, f.at)
	if err != nil {
		return err
	}
	w.file = m
	return nil
}
