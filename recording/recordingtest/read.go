package recordingtest

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
)

// Block is one frame read back from a recording file: its time from the file's start and its bytes.
type Block struct {
	MS   int64
	Key  bool
	Data []byte
}

// File is a recording file read back with ebml-go's reader.
type File struct {
	DocType    string
	Track      webm.TrackEntry
	Blocks     []Block
	DurationMS float64
	Cues       int
}

// ReadFile parses a one-track WebM or Matroska file; it fails the test when the file is not one.
func ReadFile(t testing.TB, path string) File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var doc struct {
		Header  webm.EBMLHeader `ebml:"EBML"`
		Segment webm.Segment    `ebml:"Segment"`
	}
	if err := ebml.Unmarshal(f, &doc); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if len(doc.Segment.Tracks.TrackEntry) != 1 {
		t.Fatalf("%s: %d tracks, want 1", path, len(doc.Segment.Tracks.TrackEntry))
	}
	out := File{DocType: doc.Header.DocType, Track: doc.Segment.Tracks.TrackEntry[0], DurationMS: doc.Segment.Info.Duration}
	if doc.Segment.Cues != nil {
		out.Cues = len(doc.Segment.Cues.CuePoint)
	}
	for _, c := range doc.Segment.Cluster {
		for _, b := range c.SimpleBlock {
			out.Blocks = append(out.Blocks, Block{MS: int64(c.Timecode) + int64(b.Timecode), Key: b.Keyframe, Data: b.Data[0]})
		}
	}
	return out
}

// CheckMonotonic fails the test when a block's time goes back.
func CheckMonotonic(t testing.TB, blocks []Block) {
	t.Helper()
	for i := 1; i < len(blocks); i++ {
		if blocks[i].MS < blocks[i-1].MS {
			t.Fatalf("block %d at %d ms after one at %d ms", i, blocks[i].MS, blocks[i-1].MS)
		}
	}
}

// Number reads the frame number a test source wrote in the last two bytes of a frame.
func Number(frame []byte) int { return int(binary.BigEndian.Uint16(frame[len(frame)-2:])) }
