package recording

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/at-wat/ebml-go/mkvcore"
	"github.com/at-wat/ebml-go/webm"
)

// Codec parameters a writer needs, by the MIME type the SFU reports.
type codecSpec struct {
	mime      string
	clockRate uint32
	video     bool
	codecID   string // Matroska CodecID
	docType   string // "webm", or "matroska" for H.264, which WebM does not define
	ext       string // file name extension
}

var codecSpecs = map[string]codecSpec{
	"video/vp8":  {mime: "video/VP8", clockRate: 90000, video: true, codecID: "V_VP8", docType: "webm", ext: ".webm"},
	"video/h264": {mime: "video/H264", clockRate: 90000, video: true, codecID: "V_MPEG4/ISO/AVC", docType: "matroska", ext: ".mkv"},
	"audio/opus": {mime: "audio/opus", clockRate: 48000, codecID: "A_OPUS", docType: "webm", ext: ".webm"},
	// The SFU's recorder delivers a RED track (RFC 2198) as its Opus primary.
	"audio/red": {mime: "audio/opus", clockRate: 48000, codecID: "A_OPUS", docType: "webm", ext: ".webm"},
}

// ErrUnsupportedCodec is returned for a track whose codec the recorder cannot write.
var ErrUnsupportedCodec = errors.New("recording: codec not supported")

// opusHead is the Ogg Opus identification header Matroska's A_OPUS keeps as CodecPrivate
// (RFC 7845 §5.1): stereo as WebRTC negotiates it, 48 kHz, no pre-skip, so that a block's
// timestamp is the time its audio was sent.
func opusHead() []byte {
	b := []byte("OpusHead")
	b = append(b, 1, 2)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 48000)
	b = binary.LittleEndian.AppendUint16(b, 0)
	return append(b, 0)
}

// Cluster and index layout: a cluster starts at a keyframe after 2 s, or after 5 s whatever
// comes; 64 KiB at the front of the file hold the cues (an index for seeking, thinned out by the
// muxer when a long recording has more clusters than fit).
const (
	minClusterMS  = 2000
	maxClusterMS  = 5000
	cuesReserved  = 64 << 10
	webmTrackNum  = 1
	timecodeScale = 1_000_000 // ns: block timestamps are milliseconds
)

// mediaFile is one track's Matroska/WebM file, written through at-wat/ebml-go. ebml-go writes
// from a goroutine of its own and would panic (or stop reading its channel) on a write error, so
// the file beneath it never reports one: the first error is kept (latched) and every later write
// is skipped. The writer asks for the error before each frame and stops the recording.
type mediaFile struct {
	f    *latchedFile
	bw   mkvcore.BlockWriteCloser
	once sync.Once
	cerr error
}

// newMediaFile writes the file header for one track into f; f belongs to the mediaFile from now on.
func newMediaFile(f *os.File, spec codecSpec, entry webm.TrackEntry, started time.Time) (*mediaFile, error) {
	lf := &latchedFile{f: f}
	header := *webm.DefaultEBMLHeader
	header.DocType = spec.docType
	ws, err := webm.NewSimpleBlockWriter(lf, []webm.TrackEntry{entry},
		mkvcore.WithEBMLHeader(&header),
		mkvcore.WithSegmentInfo(&webm.Info{TimecodeScale: timecodeScale, MuxingApp: "sanji", WritingApp: "sanji",
			DateUTC: started.UTC()}),
		mkvcore.WithBlockInterceptor(nil), // one track, already in order
		mkvcore.WithSeekHead(true),
		mkvcore.WithCues(cuesReserved),
		mkvcore.WithMinMaxClusterDuration(webmTrackNum, minClusterMS, maxClusterMS),
		mkvcore.WithOnFatalHandler(lf.latch),
		mkvcore.WithOnErrorHandler(lf.latch),
	)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write %s header: %w", f.Name(), err)
	}
	m := &mediaFile{f: lf, bw: ws[0]}
	if err := lf.err(); err != nil {
		_ = m.close() // ends ebml-go's goroutines and closes f
		return nil, err
	}
	return m, nil
}

// write adds one frame at ms milliseconds from the file's start. data must not be reused: the
// muxer keeps it until it is written.
func (m *mediaFile) write(key bool, ms int64, data []byte) error {
	if err := m.f.err(); err != nil {
		return err
	}
	_, err := m.bw.Write(key, ms, data)
	return err
}

// close finishes the file (last cluster, cues, duration), flushes it to disk and closes it; it
// returns the first error the file met, if any.
func (m *mediaFile) close() error {
	m.once.Do(func() {
		_ = m.bw.Close() // returns once ebml-go has closed lf
		m.cerr = m.f.err()
	})
	return m.cerr
}

func (m *mediaFile) size() int64 { return m.f.written() }

// latchedFile is the os.File under ebml-go: it keeps the first error and skips every write after it.
type latchedFile struct {
	f     *os.File
	mu    sync.Mutex
	first error
	n     int64
}

func (l *latchedFile) latch(err error) {
	l.mu.Lock()
	if l.first == nil {
		l.first = err
	}
	l.mu.Unlock()
}

func (l *latchedFile) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}

func (l *latchedFile) written() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func (l *latchedFile) Write(b []byte) (int, error) {
	if l.err() != nil {
		return len(b), nil
	}
	n, err := l.f.Write(b)
	if err != nil {
		l.latch(fmt.Errorf("write %s: %w", l.f.Name(), err))
	}
	l.mu.Lock()
	l.n += int64(n)
	l.mu.Unlock()
	return len(b), nil
}

func (l *latchedFile) WriteAt(b []byte, off int64) (int, error) {
	if l.err() != nil {
		return len(b), nil
	}
	if _, err := l.f.WriteAt(b, off); err != nil {
		l.latch(fmt.Errorf("write %s: %w", l.f.Name(), err))
	}
	return len(b), nil
}

// Close flushes the file to disk before closing it: a sealed recording must be on the disk.
func (l *latchedFile) Close() error {
	if err := l.f.Sync(); err != nil {
		l.latch(fmt.Errorf("sync %s: %w", l.f.Name(), err))
	}
	if err := l.f.Close(); err != nil {
		l.latch(fmt.Errorf("close %s: %w", l.f.Name(), err))
	}
	return nil
}
