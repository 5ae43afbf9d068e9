package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"sanji/client/testpeer"
	"sanji/recording"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/sfu"
)

// recorded is a hearing recorded for a case in the test.
type recorded struct {
	seal  recording.Seal
	c     casework.Case
	video string // the files
	audio string
}

// recordHearing records a short hearing for case c the way the call does: a pion publisher's
// frames through the SFU into a recording hearing, with a stage change, a mute and a slip on its
// timeline, sealed, and its chain head noted on the case's timeline when note is set.
func (f *fixture) recordHearing(c casework.Case, note bool) recorded {
	f.t.Helper()
	s := testpeer.NewSFU(f.t)
	pub := testpeer.Publish(f.t, s, "call", "pet-1")
	defer pub.Close()
	room := s.Room("call")
	video, audio := pub.Tracks(f.t, room)
	rec, err := recording.New(recording.Config{Dir: f.api.recordings})
	if err != nil {
		f.t.Fatal(err)
	}
	h, err := rec.StartHearing(recording.HearingInfo{SessionID: 7, CaseID: c.ID, Room: "call",
		Participants: []recording.Participant{{ID: "leader-1", Role: "leader"}, {ID: "pet-1", Role: "petitioner"}}})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, tr := range []sfu.TrackInfo{video, audio} {
		if err := h.Record(room, tr); err != nil {
			f.t.Fatal(err)
		}
	}
	time.Sleep(400 * time.Millisecond)
	if err := h.StageChanged(time.Now(), []string{"leader-1", "pet-1"}); err != nil {
		f.t.Fatal(err)
	}
	if _, err := h.SlipCreated(time.Now(), 31, "JB-2026-0031", "assign"); err != nil {
		f.t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	seal, err := h.Close()
	if err != nil {
		f.t.Fatal(err)
	}
	m, err := recording.ReadManifest(seal.Dir)
	if err != nil {
		f.t.Fatal(err)
	}
	r := recorded{seal: seal, c: c}
	for _, t := range m.Tracks {
		if t.Status != recording.StatusSealed {
			f.t.Fatalf("track %s: %s", t.File, t.Status)
		}
		if t.Kind == "video" {
			r.video = t.File
		} else {
			r.audio = t.File
		}
	}
	if r.video == "" || r.audio == "" {
		f.t.Fatalf("recorded tracks: %+v", m.Tracks)
	}
	if note {
		ev := casework.CaseEvent{CaseID: c.ID, Actor: "system", UnitID: c.UnitID, Kind: casework.EvRecording,
			Ref: "recording:" + seal.Hearing, Reason: "录像已封存 / recording sealed: " + seal.Algorithm + " " + seal.Head}
		if err := f.st.AddCaseNote(bg, &ev); err != nil {
			f.t.Fatal(err)
		}
	}
	return r
}

func (r recorded) url(suffix string) string { return "/api/v1/recordings/" + r.seal.Hearing + suffix }

func withPurpose(path, purpose string) string { return path + "?purpose=" + url.QueryEscape(purpose) }

// assigned makes a case registered at unit and assigned to responsible, with co-handling units.
func (f *fixture) assigned(unit, responsible org.Unit, mod func(*casework.Case), co ...int64) casework.Case {
	f.t.Helper()
	c := f.newCase(unit, mod)
	ev := casework.CaseEvent{CaseID: c.ID, From: casework.StRegistered, To: casework.StAssigned, Reason: "属地", ResponsibleUnitID: responsible.ID,
		CoUnitIDs: co}
	if err := f.st.TransitionCase(bg, &ev); err != nil {
		f.t.Fatal(err)
	}
	return c
}

// matrixRecordings are the hearings the matrix's callers share, one per fixture and side.
var matrixRecordings = map[*fixture]map[bool]recorded{}

// matrixRecording is a hearing of a case registered at and assigned to t1 (inside) or d2.
func (f *fixture) matrixRecording(inside bool) recorded {
	if r, ok := matrixRecordings[f][inside]; ok {
		return r
	}
	u := pick(inside, f.t1, f.d2)
	r := f.recordHearing(f.assigned(u, u, nil), true)
	if matrixRecordings[f] == nil {
		matrixRecordings[f] = map[bool]recorded{}
	}
	matrixRecordings[f][inside] = r
	return r
}

func init() {
	matrix["GET /api/v1/cases/{id}/recordings"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return caseURL(f.matrixRecording(in).c, "/recordings"), nil
	}}
	matrix["GET /api/v1/recordings/{hearing}/manifest"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return withPurpose(f.matrixRecording(in).url("/manifest"), "复查调阅"), nil
	}}
	matrix["GET /api/v1/recordings/{hearing}/files/{name}"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		r := f.matrixRecording(in)
		return withPurpose(r.url("/files/"+r.audio), "复查调阅"), nil
	}}
	matrix["POST /api/v1/recordings/{hearing}/verify"] = matrixRow{call: func(f *fixture, c *client, in bool) (string, any) {
		return f.matrixRecording(in).url("/verify"), nil
	}}
}

func recordingViews(f *fixture) []org.AuditEntry {
	f.t.Helper()
	es, err := f.st.SearchAudit(bg, org.AuditQuery{Action: "recording.view"})
	if err != nil {
		f.t.Fatal(err)
	}
	return es
}

// TestRecordingAccess: the hall operator of the case's unit lists, opens and plays its recording,
// each view audited with its purpose; an observer, a handler with only the masked view, the unit
// complained about and a leader are refused with a reason, and leave nothing to audit.
func TestRecordingAccess(t *testing.T) {
	f := newFixture(t, Config{})
	// Registered at d1, assigned to t1, which is the unit complained about, with d2 co-handling.
	c := f.assigned(f.d1, f.t1, func(c *casework.Case) { c.ComplainedUnitID = f.t1.ID }, f.d2.ID)
	r := f.recordHearing(c, true)

	hall := f.loginUser(f.user(org.RoleHallOperator, f.d1))
	resp, body := hall.do("GET", caseURL(c, "/recordings"), nil)
	wantStatus(t, resp, body, 200)
	var list struct{ Recordings []RecordingView }
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Recordings) != 1 {
		t.Fatalf("recordings: %s", body)
	}
	got := list.Recordings[0]
	if got.Hearing != r.seal.Hearing || got.Head != r.seal.Head || !got.Sealed || got.Retention != "kept" || got.Algorithm != "sha256" ||
		len(got.Tracks) != 2 || got.DurationMS < 500 || got.StartedAt == nil || got.SessionID != 7 || got.Problem != "" {
		t.Errorf("listed: %+v", got)
	}
	for _, tr := range got.Tracks {
		if tr.Bytes <= 0 || tr.Status != "sealed" || tr.Role != "petitioner" {
			t.Errorf("listed track: %+v", tr)
		}
	}
	if n := len(recordingViews(f)); n != 0 {
		t.Errorf("listing is no view of the media, but %d views were audited", n)
	}

	resp, body = hall.do("GET", r.url("/manifest"), nil)
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); e.Field != "purpose" || !strings.Contains(e.Message, "用途") {
		t.Errorf("no purpose: %+v", e)
	}
	resp, body = hall.do("GET", withPurpose(r.url("/manifest"), "复查调阅"), nil)
	wantStatus(t, resp, body, 200)
	var man ManifestResponse
	if err := json.Unmarshal(body, &man); err != nil {
		t.Fatal(err)
	}
	if man.Manifest.Hearing != r.seal.Hearing || man.CaseID != c.ID || man.CaseHead != r.seal.Head || man.Manifest.Chain.Head != r.seal.Head ||
		len(man.Manifest.Slips) != 1 || len(man.Manifest.StageChanges) != 1 || man.DurationMS != got.DurationMS || man.MediaDeleted {
		t.Errorf("manifest: %+v", man)
	}
	resp, body = hall.do("GET", withPurpose(r.url("/files/"+r.video), "复查调阅"), nil)
	wantStatus(t, resp, body, 200)
	onDisk, err := os.ReadFile(filepath.Join(r.seal.Dir, r.video))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, onDisk) {
		t.Errorf("served %d bytes, the file has %d", len(body), len(onDisk))
	}
	views := recordingViews(f)
	if len(views) != 2 {
		t.Fatalf("views audited: %+v", views)
	}
	for _, e := range views {
		if e.Target != "recording:"+r.seal.Hearing || e.Purpose != "复查调阅" || e.UnitID != f.d1.ID || e.ActorID == 0 {
			t.Errorf("audit entry %+v", e)
		}
	}
	if !strings.Contains(views[0].After+views[1].After, r.video) {
		t.Errorf("the file view does not name the file: %+v", views)
	}

	refused := map[string]*client{
		"observer":                         f.loginUser(f.user(org.RoleObserver, f.d1)),
		"leader":                           f.loginUser(f.user(org.RoleLeader, f.d1)),
		"the unit complained about":        f.loginUser(f.user(org.RoleCaseHandler, f.t1)),
		"a handler with the masked view":   f.loginUser(f.user(org.RoleCaseHandler, f.d2)), // co-handling
		"a hall operator of another place": f.loginUser(f.user(org.RoleHallOperator, f.d2)),
	}
	for who, cl := range refused {
		for _, path := range []string{caseURL(c, "/recordings"), withPurpose(r.url("/manifest"), "看看"),
			withPurpose(r.url("/files/"+r.video), "看看")} {
			resp, body := cl.do("GET", path, nil)
			if resp.StatusCode != 403 {
				t.Errorf("%s GET %s: %d %.300s", who, path, resp.StatusCode, body)
			}
		}
		resp, body := cl.do("POST", r.url("/verify"), nil)
		if resp.StatusCode != 403 {
			t.Errorf("%s verify: %d %s", who, resp.StatusCode, body)
		}
	}
	// Those who reach the case but may not see the petitioner are told why, in both languages.
	for _, who := range []string{"the unit complained about", "a handler with the masked view"} {
		cl := refused[who]
		_, body := cl.do("GET", withPurpose(r.url("/manifest"), "看看"), nil)
		if e := errCode(t, body); !strings.Contains(e.Message, "面容和声音") {
			t.Errorf("%s: %+v", who, e)
		}
		cl.lang = "en"
		_, body = cl.do("GET", caseURL(c, "/recordings"), nil)
		if e := errCode(t, body); !strings.Contains(e.Message, "face and voice") {
			t.Errorf("%s in English: %+v", who, e)
		}
	}
	if n := len(recordingViews(f)); n != 2 {
		t.Errorf("refused requests were audited as views: %d entries", n)
	}
}

// recordedAtD1 is a fixture with a recorded hearing of a case registered at d1, and that
// district's hall operator logged in.
func recordedAtD1(t *testing.T) (*fixture, recorded, *client) {
	f := newFixture(t, Config{})
	r := f.recordHearing(f.newCase(f.d1, nil), true)
	return f, r, f.loginUser(f.user(org.RoleHallOperator, f.d1))
}

// TestRecordingFiles: the browser's video element gets ranges (206) with the right headers, and
// nothing but a file the manifest lists is ever served.
func TestRecordingFiles(t *testing.T) {
	f, r, hall := recordedAtD1(t)
	onDisk, err := os.ReadFile(filepath.Join(r.seal.Dir, r.video))
	if err != nil {
		t.Fatal(err)
	}

	path := withPurpose(r.url("/files/"+r.video), "复查调阅")
	resp, body := hall.doWith("GET", path, nil, http.Header{"Range": {"bytes=0-99"}})
	wantStatus(t, resp, body, http.StatusPartialContent)
	if !bytes.Equal(body, onDisk[:100]) || resp.Header.Get("Content-Range") != "bytes 0-99/"+strconv.Itoa(len(onDisk)) {
		t.Errorf("range 0-99: %d bytes, Content-Range %q", len(body), resp.Header.Get("Content-Range"))
	}
	resp, body = hall.doWith("GET", path, nil, http.Header{"Range": {"bytes=100-"}})
	wantStatus(t, resp, body, http.StatusPartialContent)
	if !bytes.Equal(body, onDisk[100:]) {
		t.Errorf("range 100-: %d bytes", len(body))
	}
	for k, want := range map[string]string{"Content-Type": "video/webm", "X-Content-Type-Options": "nosniff",
		"Cache-Control": "private, no-store", "Accept-Ranges": "bytes"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `inline; filename=`+r.seal.Hearing+"-"+r.video {
		t.Errorf("Content-Disposition %q", cd)
	}
	resp, body = hall.do("GET", withPurpose(r.url("/files/"+r.audio), "复查调阅"), nil)
	wantStatus(t, resp, body, 200)
	if resp.Header.Get("Content-Type") != "audio/webm" {
		t.Errorf("audio Content-Type %q", resp.Header.Get("Content-Type"))
	}
	views := recordingViews(f)
	if len(views) != 3 || !strings.Contains(views[0].After+views[1].After+views[2].After, `"range":"bytes=0-99"`) {
		t.Errorf("each request is an audited view, with its range: %+v", views)
	}

	// A file beside the recording that the manifest does not list, and names that climb out.
	if err := os.WriteFile(filepath.Join(r.seal.Dir, "extra.webm"), onDisk, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(r.seal.Dir), "outside.webm"), onDisk, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"extra.webm", "manifest.json", "..%2Foutside.webm", "%2E%2E%2F%2E%2E%2Fapi.db", "..%5Coutside.webm",
		url.PathEscape(r.video + "\x00"), url.PathEscape("./" + r.video), "%2F" + r.video} {
		resp, body := hall.do("GET", withPurpose(r.url("/files/")+name, "复查调阅"), nil)
		if resp.StatusCode != 404 {
			t.Errorf("file %q: %d %s", name, resp.StatusCode, body)
		}
	}
	for _, hearing := range []string{"..", "%2E%2E", "..%2F" + r.seal.Hearing, "%2Fetc", ".hidden"} {
		resp, body := hall.do("GET", withPurpose("/api/v1/recordings/"+hearing+"/manifest", "复查调阅"), nil)
		if resp.StatusCode != 400 && resp.StatusCode != 404 {
			t.Errorf("hearing %q: %d %s", hearing, resp.StatusCode, body)
		}
	}
	if n := len(recordingViews(f)); n != 3 {
		t.Errorf("refused names were audited as views: %d entries", n)
	}
}

// TestRecordingVerify: verification against the head recorded with the case passes on a fresh
// recording, names the file after one byte of it changed, and a head the case never recorded
// is no verification; each run is audited.
func TestRecordingVerify(t *testing.T) {
	f, r, hall := recordedAtD1(t)
	c := r.c
	verify := func(r recorded) VerifyView {
		t.Helper()
		resp, body := hall.do("POST", r.url("/verify"), nil)
		wantStatus(t, resp, body, 200)
		var v VerifyView
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := verify(r)
	if !v.OK || v.Files != 2 || v.Head != r.seal.Head || v.CaseHead != r.seal.Head || v.Mismatch != "" || !strings.Contains(v.Message, "校验通过") {
		t.Fatalf("fresh recording: %+v", v)
	}
	path := filepath.Join(r.seal.Dir, r.audio)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	v = verify(r)
	if v.OK || v.Mismatch != r.audio || !strings.Contains(v.Message, "文件内容与封存时不符") {
		t.Errorf("after one byte changed: %+v", v)
	}

	// The same chain rewritten from scratch would pass on its own: only the case's head tells.
	unnoted := f.recordHearing(c, false)
	v = verify(unnoted)
	if v.OK || v.CaseHead != "" || v.Mismatch != "" || !strings.Contains(v.Message, "链头尚未记入案件") {
		t.Errorf("no head recorded with the case: %+v", v)
	}
	ev := casework.CaseEvent{CaseID: c.ID, Actor: "system", UnitID: c.UnitID, Kind: casework.EvRecording,
		Ref: "recording:" + unnoted.seal.Hearing, Reason: "录像已封存 / recording sealed: sha256 " + strings.Repeat("ab", 32)}
	if err := f.st.AddCaseNote(bg, &ev); err != nil {
		t.Fatal(err)
	}
	v = verify(unnoted)
	if v.OK || v.Mismatch != recording.ManifestName || !strings.Contains(v.Message, "链头与案件记录不符") {
		t.Errorf("another head recorded with the case: %+v", v)
	}
	es, err := f.st.SearchAudit(bg, org.AuditQuery{Action: "recording.verify"})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 4 || !strings.Contains(es[2].After+es[1].After, r.audio) {
		t.Errorf("verify audit: %+v", es)
	}
}

// TestRecordingRetention: once retention deleted the media, the manifest and the seal stay
// visible and the files answer 410 Gone with the reason.
func TestRecordingRetention(t *testing.T) {
	f, r, hall := recordedAtD1(t)
	c := r.c
	rec, err := recording.New(recording.Config{Dir: f.api.recordings, Retention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	closed := func(ctx context.Context, id int64) (time.Time, bool, error) {
		return time.Now().Add(-48 * time.Hour), id == c.ID, nil
	}
	purged, err := rec.Purge(bg, time.Now(), closed)
	if err != nil || len(purged) != 1 {
		t.Fatalf("purge: %+v %v", purged, err)
	}
	resp, body := hall.do("GET", withPurpose(r.url("/files/"+r.video), "复查调阅"), nil)
	wantStatus(t, resp, body, http.StatusGone)
	if e := errCode(t, body); e.Code != CodeGone || !strings.Contains(e.Message, "按保存期限删除") {
		t.Errorf("gone: %+v", e)
	}
	resp, body = hall.do("GET", withPurpose(r.url("/manifest"), "复查调阅"), nil)
	wantStatus(t, resp, body, 200)
	var man ManifestResponse
	_ = json.Unmarshal(body, &man)
	if !man.MediaDeleted || man.Manifest.Chain.Head != r.seal.Head {
		t.Errorf("manifest after deletion: %+v", man)
	}
	resp, body = hall.do("GET", caseURL(c, "/recordings"), nil)
	wantStatus(t, resp, body, 200)
	if !strings.Contains(string(body), `"retention":"deleted"`) || !strings.Contains(string(body), `"deleted_at"`) {
		t.Errorf("listed after deletion: %s", body)
	}
	resp, body = hall.do("POST", r.url("/verify"), nil)
	wantStatus(t, resp, body, 200)
	if !strings.Contains(string(body), `"media_deleted":true`) || strings.Contains(string(body), `"ok":true`) {
		t.Errorf("verify after deletion: %s", body)
	}
}

// TestRecordingsNotConfigured: without a recordings directory the routes say so.
func TestRecordingsNotConfigured(t *testing.T) {
	f := newFixture(t, Config{})
	f.api.recordings = ""
	c := f.newCase(f.d1, nil)
	hall := f.loginUser(f.user(org.RoleHallOperator, f.d1))
	for _, path := range []string{caseURL(c, "/recordings"), withPurpose("/api/v1/recordings/20260302T010000Z-0a0b0c0d/manifest", "复查调阅")} {
		resp, body := hall.do("GET", path, nil)
		wantStatus(t, resp, body, http.StatusServiceUnavailable)
		if e := errCode(t, body); !strings.Contains(e.Message, "未配置录像目录") {
			t.Errorf("%s: %+v", path, e)
		}
	}
}

// TestRecordingEventsFindTheHead: the chain head is read from the notes as the call, recovery and
// retention write them, once per hearing, the first head named counting.
func TestRecordingEventsFindTheHead(t *testing.T) {
	h1, h2 := strings.Repeat("9f", 32), strings.Repeat("AB", 32)
	evs := []casework.CaseEvent{
		{Kind: casework.EvStatus, To: casework.StRegistered},
		{Kind: "recording", Ref: "recording:20260317T013000Z-5c1e9a02",
			Reason: "视频接访录像已封存，sha256 链头 " + h1 + " / the hearing's recording is sealed, sha256 chain head " + h1},
		{Kind: "recording", Ref: "recording:s2-a1",
			Reason: "服务器重启后封存视频接访录像（录制被中断），sm3 链头 " + h2 + " / the hearing's recording, cut short by a restart, sealed as found, sm3 chain head " + h2},
		{Kind: "recording_deleted", Ref: "recording:20260317T013000Z-5c1e9a02", Reason: "录像保存期满，已删除 2 个文件"},
		{Kind: "recording", Ref: "recording:20260317T013000Z-5c1e9a02", Reason: "another head " + strings.Repeat("00", 32)},
		{Kind: "recording", Ref: "recording:../etc", Reason: h1},
		{Kind: "recording_error", Reason: "录像出错 / recording failed: disk full"},
	}
	got := recordingEvents(evs)
	if len(got) != 2 || got[0].hearing != "20260317T013000Z-5c1e9a02" || got[0].head != h1 || got[1].hearing != "s2-a1" ||
		got[1].head != strings.ToLower(h2) {
		t.Errorf("recordings found: %+v", got)
	}
}
