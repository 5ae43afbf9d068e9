package recording_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"sanji/recording"
)

// tornManifest is what a server leaves when it stops mid-hearing: a sealed audio segment and a
// video segment still recording.
const tornManifest = `{"version":1,"hearing":"H1","session_id":3,"case_id":4,"started_at":"2026-03-02T01:00:00Z",
"participants":[{"id":"p","role":"hall"}],
"tracks":[{"file":"p-video-1.webm","participant":"p","role":"hall","kind":"video","codec":"video/VP8","track_id":"TR_v","segment":1,"status":"recording","stats":{}},
{"file":"p-audio-1.webm","participant":"p","role":"hall","kind":"audio","codec":"audio/opus","track_id":"TR_a","segment":1,"status":"recording","stats":{}}],
"stage_changes":[],"mute_events":[],"slips":[],"notes":[],"chain":{"algorithm":"sha256"}}`

// webmStart is the start of a WebM file (EBML header, Segment of unknown size, a Cluster): a
// file cut anywhere after it is what a crash leaves.
var webmStart = []byte{0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0xf7, 0x81, 0x01, 0x42, 0xf2, 0x81, 0x04,
	0x42, 0xf3, 0x81, 0x08, 0x42, 0x82, 0x84, 'w', 'e', 'b', 'm', 0x42, 0x87, 0x81, 0x04, 0x42, 0x85, 0x81, 0x02,
	0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0x1f, 0x43, 0xb6, 0x75, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe7, 0x81, 0x00,
	0xa3, 0x86, 0x81, 0x00, 0x00, 0x80, 0x10, 0x00}

// FuzzRecoverTornRecording lays out a hearing as a stopped process left it — any manifest, a
// media file cut at any length — and recovers it. Invariants: no panic; a manifest Recover
// refuses is left byte for byte as it was; a recovered hearing has no segment still recording,
// its seal verifies against the files as found (when the
// manifest held no sealed segment of its own to doubt), and a second recovery finds nothing to do.
func FuzzRecoverTornRecording(f *testing.F) {
	f.Add([]byte(tornManifest), webmStart, uint16(len(webmStart)))
	f.Add([]byte(tornManifest), webmStart, uint16(17))
	f.Add([]byte(tornManifest), []byte{}, uint16(0))
	f.Add(bytes.Replace([]byte(tornManifest), []byte(`"sha256"`), []byte(`"sm3"`), 1), webmStart, uint16(40))
	f.Add(bytes.Replace([]byte(tornManifest), []byte(`"sha256"`), []byte(`"md5"`), 1), webmStart, uint16(40))
	f.Add(bytes.Replace([]byte(tornManifest), []byte(`"status":"recording","stats":{}},`),
		[]byte(`"status":"sealed","file_hash":"00","chain_index":7,"link":"zz","stats":{}},`), 1), webmStart, uint16(9))
	f.Add([]byte(`{"version":2}`), webmStart, uint16(1))
	f.Add([]byte(`{"version":1,"hearing":"H1","tracks":[{"file":"../outside","status":"recording"}],"chain":{"algorithm":"sha256"}}`), webmStart, uint16(3))

	f.Fuzz(func(t *testing.T, manifest, media []byte, cut uint16) {
		root := t.TempDir()
		dir := filepath.Join(root, "H1")
		if err := os.Mkdir(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		torn := media[:min(int(cut), len(media))]
		if err := os.WriteFile(filepath.Join(dir, recording.ManifestName), manifest, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "p-video-1.webm"), torn, 0o640); err != nil {
			t.Fatal(err)
		}
		rec, err := recording.New(recording.Config{Dir: root})
		if err != nil {
			t.Fatal(err)
		}
		seals, err := rec.Recover()
		if err != nil || len(seals) == 0 {
			now, rerr := os.ReadFile(filepath.Join(dir, recording.ManifestName))
			if rerr != nil || !bytes.Equal(now, manifest) {
				t.Fatalf("a hearing not recovered (%v) had its manifest changed", err)
			}
			return
		}
		if len(seals) != 1 || seals[0].Dir != dir || seals[0].Head == "" {
			t.Fatalf("seals %+v", seals)
		}
		m, err := recording.ReadManifest(dir)
		if err != nil {
			t.Fatalf("the recovered manifest does not read back: %v", err)
		}
		for _, tr := range m.Tracks {
			if tr.Status == recording.StatusRecording {
				t.Fatalf("a segment still recording after recovery: %+v", tr)
			}
		}
		// Segments the manifest already called sealed are taken as they are: if they do not hold
		// (a damaged manifest), the seal covers that and Verify is what names it.
		rep, err := recording.Verify(dir, seals[0].Head)
		if err != nil || (!rep.OK && !bytes.Contains(manifest, []byte(recording.StatusSealed))) {
			t.Fatalf("the recovered hearing does not verify: %+v %v", rep, err)
		}
		if again, err := rec.Recover(); err != nil || len(again) != 0 {
			t.Fatalf("a second recovery: %+v %v", again, err)
		}
	})
}
