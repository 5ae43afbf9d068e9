package recording_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"

	"sanji/client/testpeer"
	"sanji/recording"
	"sanji/recording/recordingtest"
	"sanji/sfu"
)

// call is an SFU room with one publisher sending video and audio.
type call struct {
	sfu          *sfu.SFU
	pub          *testpeer.Publisher
	room         *sfu.Room
	video, audio sfu.TrackInfo
}

func newCall(t *testing.T, room, participant string) call {
	t.Helper()
	c := call{sfu: testpeer.NewSFU(t)}
	c.pub = testpeer.Publish(t, c.sfu, room, participant)
	c.room = c.sfu.Room(room)
	c.video, c.audio = c.pub.Tracks(t, c.room)
	return c
}

func newRecorder(t *testing.T, cfg recording.Config) *recording.Recorder {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	rec, err := recording.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func startHearing(t *testing.T, rec *recording.Recorder, info recording.HearingInfo) *recording.Hearing {
	t.Helper()
	h, err := rec.StartHearing(info)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func record(t *testing.T, h *recording.Hearing, room *sfu.Room, tracks ...sfu.TrackInfo) {
	t.Helper()
	for _, tr := range tracks {
		if err := h.Record(room, tr); err != nil {
			t.Fatal(err)
		}
	}
}

func readManifest(t *testing.T, dir string) *recording.Manifest {
	t.Helper()
	m, err := recording.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkFile reads a recorded track's file back and compares it with what the publisher sent:
// consecutive frames (loopback loses nothing), each at its RTP time from the first, the first
// one where the manifest says on the hearing's clock, and the manifest's duration.
func checkFile(t *testing.T, h *recording.Hearing, tr recording.Track, src *testpeer.Source) recordingtest.File {
	t.Helper()
	f := recordingtest.ReadFile(t, filepath.Join(h.Dir(), tr.File))
	if len(f.Blocks) < 10 {
		t.Fatalf("%s: %d frames", tr.File, len(f.Blocks))
	}
	recordingtest.CheckMonotonic(t, f.Blocks)
	first := recordingtest.Number(f.Blocks[0].Data)
	for i, b := range f.Blocks {
		n := recordingtest.Number(b.Data)
		if n != first+i {
			t.Fatalf("%s: frame %d where %d was due", tr.File, n, first+i)
		}
		if want := int64(i) * testpeer.FrameInterval.Milliseconds(); b.MS != want {
			t.Fatalf("%s: frame %d at %d ms, want %d", tr.File, n, b.MS, want)
		}
	}
	if tr.Kind == "video" && !f.Blocks[0].Key {
		t.Fatalf("%s does not start on a keyframe", tr.File)
	}
	sent := src.SentAt(first).Sub(h.Start()).Milliseconds()
	// The first frame arrived after it was sent: on loopback at once, on a loaded machine later.
	if d := tr.StartOffsetMS - sent; d < 0 || d > 300 {
		t.Fatalf("%s: manifest offset %d ms, its first frame was sent at %d ms", tr.File, tr.StartOffsetMS, sent)
	}
	last := f.Blocks[len(f.Blocks)-1].MS
	if tr.DurationMS != last || int64(f.DurationMS) != last {
		t.Fatalf("%s: duration %d ms in the manifest, %v in the file, last frame at %d ms", tr.File, tr.DurationMS, f.DurationMS, last)
	}
	if tr.Stats.Frames != uint64(len(f.Blocks)) || tr.Stats.LostPackets != 0 {
		t.Fatalf("%s: stats %+v for %d frames", tr.File, tr.Stats, len(f.Blocks))
	}
	return f
}

// TestHearingRecordsAPublisher: a pion publisher sends numbered frames through the SFU; the
// hearing's files decode back frame by frame, on the clock the manifest gives them, and a
// publisher who reconnects continues in a new segment of the same hearing.
func TestHearingRecordsAPublisher(t *testing.T) {
	c := newCall(t, "call", "pet-1")
	s, pub, room, video, audio := c.sfu, c.pub, c.room, c.video, c.audio
	reg := prometheus.NewRegistry()
	rec := newRecorder(t, recording.Config{Registerer: reg})
	acknowledged := time.Now().Add(-300 * time.Millisecond) // the hall acknowledged the notice a moment ago
	h := startHearing(t, rec, recording.HearingInfo{Start: acknowledged, SessionID: 7, CaseID: 9, Room: "call",
		Participants: []recording.Participant{{ID: "leader-1", Role: "leader"}, {ID: "pet-1", Role: "petitioner"}}})
	record(t, h, room, audio)
	time.Sleep(time.Second)
	videoAsked := time.Since(h.Start()).Milliseconds()
	record(t, h, room, video, audio) // the audio again: already recorded, nothing happens
	time.Sleep(1500 * time.Millisecond)
	if err := h.StageChanged(time.Now(), []string{"leader-1", "pet-1"}); err != nil {
		t.Fatal(err)
	}
	if err := h.MuteChanged(time.Now(), "pet-1", audio.ID, "audio", true); err != nil {
		t.Fatal(err)
	}
	slipAt := time.Now()
	slipOffset, err := h.SlipCreated(slipAt, 31, "JB-2026-0031", "assign")
	if err != nil {
		t.Fatal(err)
	}
	if want := slipAt.Sub(acknowledged).Milliseconds(); slipOffset != want || !h.Start().Equal(acknowledged) {
		t.Fatalf("slip offset %d, want %d", slipOffset, want)
	}

	// The publisher's connection drops; it comes back and publishes again.
	pub.Close()
	pub2 := testpeer.Publish(t, s, "call", "pet-1")
	room2 := s.Room("call")
	_, audio2 := pub2.Tracks(t, room2)
	record(t, h, room2, audio2)
	time.Sleep(800 * time.Millisecond)
	seal, err := h.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := h.AddNote(time.Now(), "late", ""); !errors.Is(err, recording.ErrHearingClosed) {
		t.Fatalf("an event after close: %v", err)
	}

	m := readManifest(t, h.Dir())
	if m.SessionID != 7 || m.CaseID != 9 || m.Chain.Head != seal.Head || m.Chain.Algorithm != recording.HashSHA256 || m.EndedAt.IsZero() {
		t.Fatalf("manifest %+v, seal %+v", m, seal)
	}
	if len(m.Tracks) != 3 {
		t.Fatalf("%d tracks in the manifest, want 3: %+v", len(m.Tracks), m.Tracks)
	}
	want := []struct {
		file, kind, end string
		segment         int
		src             *testpeer.Source
	}{
		{"001-audio.webm", "audio", recording.EndTrackEnded, 1, pub.Audio},
		{"002-video.webm", "video", recording.EndTrackEnded, 1, pub.Video},
		{"003-audio.webm", "audio", recording.EndStopped, 2, pub2.Audio},
	}
	var chain []int
	for i, w := range want {
		tr := m.Tracks[i]
		if tr.File != w.file || tr.Kind != w.kind || tr.End != w.end || tr.Segment != w.segment || tr.Role != "petitioner" ||
			tr.Participant != "pet-1" || tr.Status != recording.StatusSealed {
			t.Fatalf("track %d: %+v, want %s %s segment %d ended %s", i, tr, w.file, w.kind, w.segment, w.end)
		}
		chain = append(chain, tr.ChainIndex)
		checkFile(t, h, tr, w.src)
	}
	if slices.Sort(chain); !slices.Equal(chain, []int{1, 2, 3}) {
		t.Fatalf("chain indexes %v", chain)
	}
	if m.Tracks[1].StartOffsetMS < videoAsked {
		t.Fatalf("video starts at %d ms, before it was asked for at %d ms", m.Tracks[1].StartOffsetMS, videoAsked)
	}
	if m.Tracks[2].StartOffsetMS < m.Tracks[0].StartOffsetMS+m.Tracks[0].DurationMS {
		t.Fatal("the second audio segment starts before the first ended")
	}
	if len(m.StageChanges) != 1 || len(m.MuteEvents) != 1 || len(m.Slips) != 1 || m.Slips[0].OffsetMS != slipOffset ||
		m.MuteEvents[0].OffsetMS < m.Tracks[1].StartOffsetMS {
		t.Fatalf("events: %+v %+v %+v", m.StageChanges, m.MuteEvents, m.Slips)
	}
	rep, err := recording.Verify(h.Dir(), seal.Head)
	if err != nil || !rep.OK || rep.Files != 3 || rep.Head != seal.Head {
		t.Fatalf("verify a fresh hearing: %+v %v", rep, err)
	}
	if n := metric(t, reg, "sanji_recording_segments_sealed_total"); n != 3 {
		t.Fatalf("%v segments sealed by the metric", n)
	}
}

// metric reads a counter or gauge of the registry.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// recordShortly records a publisher's two tracks into new hearings of the given cases for a
// second and closes them.
func recordShortly(t *testing.T, rec *recording.Recorder, caseIDs ...int64) []recording.Seal {
	t.Helper()
	c := newCall(t, "r", "p")
	var hs []*recording.Hearing
	for _, id := range caseIDs {
		h := startHearing(t, rec, recording.HearingInfo{CaseID: id})
		record(t, h, c.room, c.video, c.audio)
		hs = append(hs, h)
	}
	time.Sleep(time.Second)
	var seals []recording.Seal
	for _, h := range hs {
		seal, err := h.Close()
		if err != nil {
			t.Fatal(err)
		}
		seals = append(seals, seal)
	}
	return seals
}

// TestVerifyNamesTheChangedFile: one changed byte in a file names that file; a changed manifest
// names the manifest; a head other than the case's names the manifest too.
func TestVerifyNamesTheChangedFile(t *testing.T) {
	rec := newRecorder(t, recording.Config{})
	seal := recordShortly(t, rec, 1)[0]
	m := readManifest(t, seal.Dir)
	var second recording.Track
	for _, tr := range m.Tracks {
		if tr.ChainIndex == 2 {
			second = tr
		}
	}
	path := filepath.Join(seal.Dir, second.File)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := slices.Clone(orig)
	changed[len(changed)/2] ^= 0x01
	if err := os.WriteFile(path, changed, 0o640); err != nil {
		t.Fatal(err)
	}
	rep, err := recording.Verify(seal.Dir, "")
	if err != nil || rep.OK || rep.Mismatch != second.File {
		t.Fatalf("verify after changing a byte of %s: %+v %v", second.File, rep, err)
	}
	// Changing the recorded hash to the new file's breaks the chain at the same file.
	if err := os.WriteFile(path, orig, 0o640); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(seal.Dir, recording.ManifestName)
	raw, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc["case_id"] = 2 // the recording claimed for another case
	edited, _ := json.Marshal(doc)
	if err := os.WriteFile(manifest, edited, 0o640); err != nil {
		t.Fatal(err)
	}
	if rep, err := recording.Verify(seal.Dir, ""); err != nil || rep.OK || rep.Mismatch != recording.ManifestName {
		t.Fatalf("verify after changing the manifest: %+v %v", rep, err)
	}
	doc["case_id"] = 1               // as it was
	doc["annotation"] = "not sealed" // a field outside the seal cannot slip in either
	edited, _ = json.Marshal(doc)
	if err := os.WriteFile(manifest, edited, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := recording.Verify(seal.Dir, ""); err == nil || !strings.Contains(err.Error(), "annotation") {
		t.Fatalf("verify with an unknown field in the manifest: %v", err)
	}
	if err := os.WriteFile(manifest, raw, 0o640); err != nil {
		t.Fatal(err)
	}
	if rep, err := recording.Verify(seal.Dir, strings.Repeat("0", 64)); err != nil || rep.OK || rep.Mismatch != recording.ManifestName {
		t.Fatalf("verify against another head: %+v %v", rep, err)
	}
	if rep, err := recording.Verify(seal.Dir, seal.Head); err != nil || !rep.OK {
		t.Fatalf("verify after restoring: %+v %v", rep, err)
	}
}

// TestSM3Chain: the 国密 hash seals as SHA-256 does, and is not SHA-256.
func TestSM3Chain(t *testing.T) {
	rec := newRecorder(t, recording.Config{Hash: recording.HashSM3})
	seal := recordShortly(t, rec, 1)[0]
	if rep, err := recording.Verify(seal.Dir, seal.Head); err != nil || !rep.OK || rep.Algorithm != recording.HashSM3 {
		t.Fatalf("verify an SM3 chain: %+v %v", rep, err)
	}
	manifest := filepath.Join(seal.Dir, recording.ManifestName)
	raw, _ := os.ReadFile(manifest)
	if err := os.WriteFile(manifest, []byte(strings.Replace(string(raw), `"algorithm": "sm3"`, `"algorithm": "sha256"`, 1)), 0o640); err != nil {
		t.Fatal(err)
	}
	if rep, err := recording.Verify(seal.Dir, ""); err != nil || rep.OK {
		t.Fatalf("an SM3 chain verified as SHA-256: %+v %v", rep, err)
	}
	if _, err := recording.New(recording.Config{Dir: t.TempDir(), Hash: "md5"}); err == nil {
		t.Fatal("an unknown hash was accepted")
	}
}

// TestRetentionDeletesAfterCaseClosure: only hearings whose case closed longer ago than the
// retention lose their files; the manifest and its chain head stay, with the deletion recorded.
func TestRetentionDeletesAfterCaseClosure(t *testing.T) {
	rec := newRecorder(t, recording.Config{Retention: 30 * 24 * time.Hour})
	now := time.Now()
	closedAt := map[int64]time.Time{1: now.Add(-40 * 24 * time.Hour), 2: now.Add(-10 * 24 * time.Hour)} // case 3 is open
	seals := recordShortly(t, rec, 1, 2, 3)
	open := startHearing(t, rec, recording.HearingInfo{CaseID: 1})
	t.Cleanup(func() { _, _ = open.Close() })
	closed := func(_ context.Context, id int64) (time.Time, bool, error) {
		at, ok := closedAt[id]
		return at, ok, nil
	}
	purged, err := rec.Purge(context.Background(), now, closed)
	if err != nil {
		t.Fatal(err)
	}
	if len(purged) != 1 || purged[0].Hearing != seals[0].Hearing || purged[0].CaseID != 1 || len(purged[0].Files) != 2 || purged[0].Bytes == 0 {
		t.Fatalf("purged %+v, want the hearing of case 1 with its two files", purged)
	}
	for _, f := range purged[0].Files {
		if _, err := os.Stat(filepath.Join(seals[0].Dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s still there: %v", f, err)
		}
	}
	m := readManifest(t, seals[0].Dir)
	if m.Purge == nil || m.Chain.Head != seals[0].Head || !slices.Equal(m.Purge.Files, purged[0].Files) {
		t.Fatalf("manifest after purge: %+v", m)
	}
	if rep, err := recording.Verify(seals[0].Dir, ""); err != nil || rep.OK || rep.Purged == nil {
		t.Fatalf("verify a purged hearing: %+v %v", rep, err)
	}
	for _, s := range seals[1:] {
		if rep, err := recording.Verify(s.Dir, s.Head); err != nil || !rep.OK {
			t.Fatalf("a hearing within retention: %+v %v", rep, err)
		}
	}
	if again, err := rec.Purge(context.Background(), now, closed); err != nil || len(again) != 0 {
		t.Fatalf("a second run purged %+v (%v)", again, err)
	}
	keep := newRecorder(t, recording.Config{Dir: filepath.Dir(seals[1].Dir)})
	if p, err := keep.Purge(context.Background(), now.Add(1000*24*time.Hour), closed); err != nil || len(p) != 0 {
		t.Fatalf("no retention configured, yet purged %+v (%v)", p, err)
	}
}

// countingSink is another in-process subscriber of a track: it shows the track is still forwarded.
type countingSink struct {
	mu sync.Mutex
	n  int
}

func (c *countingSink) WriteRTP(*rtp.Packet) error { c.mu.Lock(); c.n++; c.mu.Unlock(); return nil }
func (c *countingSink) Close(error)                {}
func (c *countingSink) count() int                 { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

// TestFullDiskStopsTheTrackLoudly: a track whose file cannot be written stops recording with an
// error (OnError, the metric, the manifest), the hearing's other track goes on, and the SFU goes
// on forwarding the failed track.
func TestFullDiskStopsTheTrackLoudly(t *testing.T) {
	c := newCall(t, "r", "p")
	room, video, audio := c.room, c.video, c.audio
	reg := prometheus.NewRegistry()
	rec := newRecorder(t, recording.Config{Registerer: reg})
	recording.SetCreateFile(rec, func(path string) (*os.File, error) {
		if strings.Contains(path, "video") {
			return os.OpenFile("/dev/full", os.O_WRONLY, 0)
		}
		return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	})
	errs := make(chan error, 4)
	h := startHearing(t, rec, recording.HearingInfo{CaseID: 1, OnError: func(err error) { errs <- err }})
	other := &countingSink{}
	watcher, err := room.Record(video.ID, other)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Stop()
	record(t, h, room, video, audio)
	var failure error
	select {
	case failure = <-errs:
	case <-time.After(10 * time.Second):
		t.Fatal("a full disk went unreported")
	}
	if !strings.Contains(failure.Error(), "no space left on device") || h.Err() == nil {
		t.Fatalf("reported %v (hearing error %v)", failure, h.Err())
	}
	// Forwarding goes on (the other sink keeps getting the video), and so does the audio's
	// recording; waited for by count, not time, since a loaded machine is slow.
	before := other.count()
	deadline := time.Now().Add(10 * time.Second)
	for other.count() < before+10 {
		if time.Now().After(deadline) {
			t.Fatalf("the video track stopped being forwarded after its recording failed (%d → %d packets)", before, other.count())
		}
		time.Sleep(20 * time.Millisecond)
	}
	seal, err := h.Close()
	if err == nil || seal.Head == "" {
		t.Fatalf("close: seal %+v, error %v: want the seal of what was written and the failure", seal, err)
	}
	m := readManifest(t, h.Dir())
	if v, a := m.Tracks[0], m.Tracks[1]; v.End != recording.EndError || !strings.Contains(v.Error, "no space left") ||
		a.Status != recording.StatusSealed || a.Stats.Frames < 5 {
		t.Fatalf("tracks after the failure: %+v", m.Tracks)
	}
	if n := metric(t, reg, "sanji_recording_write_errors_total"); n < 1 {
		t.Fatalf("write errors metric %v", n)
	}
	if rep, err := recording.Verify(h.Dir(), seal.Head); err != nil || !rep.OK || rep.Files != 1 {
		t.Fatalf("verify the hearing with a failed track: %+v %v", rep, err)
	}
}

// TestRecoverSealsAnInterruptedHearing: what a stopped server leaves (a copy of a hearing taken
// while it records) is sealed as found at the next start; a graceful shutdown seals the open
// hearings itself.
func TestRecoverSealsAnInterruptedHearing(t *testing.T) {
	c := newCall(t, "r", "p")
	rec := newRecorder(t, recording.Config{})
	h := startHearing(t, rec, recording.HearingInfo{CaseID: 4})
	record(t, h, c.room, c.video, c.audio)
	time.Sleep(700 * time.Millisecond)
	crashed := t.TempDir()
	if err := os.CopyFS(filepath.Join(crashed, h.ID()), os.DirFS(h.Dir())); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil { // the running server shuts down gracefully
		t.Fatal(err)
	}
	if m := readManifest(t, h.Dir()); m.Chain.Head == "" || m.Tracks[0].End != recording.EndStopped {
		t.Fatalf("after a graceful shutdown: %+v", m)
	}
	after := newRecorder(t, recording.Config{Dir: crashed})
	seals, err := after.Recover()
	if err != nil || len(seals) != 1 {
		t.Fatalf("recover: %+v %v", seals, err)
	}
	m := readManifest(t, seals[0].Dir)
	for _, tr := range m.Tracks {
		if tr.End != recording.EndInterrupted || tr.Status != recording.StatusSealed {
			t.Fatalf("recovered track %+v", tr)
		}
	}
	if rep, err := recording.Verify(seals[0].Dir, seals[0].Head); err != nil || !rep.OK || rep.Files != 2 {
		t.Fatalf("verify a recovered hearing: %+v %v", rep, err)
	}
	if again, err := after.Recover(); err != nil || len(again) != 0 {
		t.Fatalf("a second recovery: %+v %v", again, err)
	}
}
