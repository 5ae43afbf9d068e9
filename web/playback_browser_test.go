package web

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/webrtc/v4/pkg/media"

	"sanji/client/testpeer"
	"sanji/recording"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/sfu"
)

// encodeScript makes real media with Chromium's own encoders (WebCodecs): four seconds of VP8 at
// 25 frames a second, a keyframe every ten, of a picture that changes every frame, and of Opus in
// 20 ms packets of a tone. The recorder's own test sources are numbered stand-ins that no decoder
// accepts; a playback test needs frames a browser decodes.
const encodeScript = `(async () => {
  const W = 320, H = 240, FPS = 25, FRAMES = 100, PACKETS = 200;
  const b64 = (chunk) => {
    const b = new Uint8Array(chunk.byteLength);
    chunk.copyTo(b);
    let s = '';
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return btoa(s);
  };
  const out = { video: [], audio: [] };
  let failure = null;
  const canvas = new OffscreenCanvas(W, H);
  const g = canvas.getContext('2d');
  const venc = new VideoEncoder({ output: (c) => out.video.push({ key: c.type === 'key', data: b64(c) }), error: (e) => { failure = String(e); } });
  venc.configure({ codec: 'vp8', width: W, height: H, bitrate: 400000, framerate: FPS });
  for (let i = 0; i < FRAMES; i++) {
    g.fillStyle = 'hsl(' + ((i * 7) % 360) + ', 70%, 45%)';
    g.fillRect(0, 0, W, H);
    g.fillStyle = '#fff';
    g.fillRect((i * 6) % (W - 40), 100, 40, 40);
    const f = new VideoFrame(canvas, { timestamp: i * 1e6 / FPS });
    venc.encode(f, { keyFrame: i % 10 === 0 });
    f.close();
  }
  await venc.flush();
  const aenc = new AudioEncoder({ output: (c) => out.audio.push({ key: true, data: b64(c) }), error: (e) => { failure = String(e); } });
  aenc.configure({ codec: 'opus', sampleRate: 48000, numberOfChannels: 1, bitrate: 32000 });
  for (let i = 0; i < PACKETS; i++) {
    const data = new Float32Array(960);
    for (let k = 0; k < 960; k++) data[k] = 0.2 * Math.sin(2 * Math.PI * 440 * (i * 960 + k) / 48000);
    const a = new AudioData({ format: 'f32', sampleRate: 48000, numberOfFrames: 960, numberOfChannels: 1, timestamp: i * 20000, data });
    aenc.encode(a);
    a.close();
  }
  await aenc.flush();
  if (failure) throw new Error(failure);
  return JSON.stringify(out);
})()`

// encodeInChromium runs encodeScript in the tab and returns the samples, 40 ms of video and
// 20 ms of audio each.
func encodeInChromium(t *testing.T, p *tab) (video, audio []media.Sample) {
	t.Helper()
	var out struct {
		Video, Audio []struct {
			Key  bool
			Data []byte
		}
	}
	if err := json.Unmarshal([]byte(p.text(encodeScript)), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Video) < 90 || len(out.Audio) < 190 || !out.Video[0].Key {
		t.Fatalf("encoded %d video frames (first a keyframe: %v), %d audio packets", len(out.Video), len(out.Video) > 0 && out.Video[0].Key, len(out.Audio))
	}
	for _, f := range out.Video {
		video = append(video, media.Sample{Data: f.Data, Duration: 40 * time.Millisecond})
	}
	for _, f := range out.Audio {
		audio = append(audio, media.Sample{Data: f.Data, Duration: 20 * time.Millisecond})
	}
	return video, audio
}

// recordHearing records a hearing of case c as the call does: a publisher sends the samples
// through the SFU into the hearing's recording, a stage change and a slip happen on its way, and
// the sealed recording is noted on the case's timeline with its chain head.
func (a *receptionApp) recordHearing(c casework.Case, video, audio []media.Sample) recording.Seal {
	t := a.t
	t.Helper()
	started := time.Now()
	s := testpeer.NewSFU(t)
	pub := testpeer.PublishSamples(t, s, "call-1", "pet-1", video, audio)
	room := s.Room("call-1")
	vt, at := pub.Tracks(t, room)
	rec, err := recording.New(recording.Config{Dir: a.recordings})
	if err != nil {
		t.Fatal(err)
	}
	h, err := rec.StartHearing(recording.HearingInfo{SessionID: 1, CaseID: c.ID, Room: "call-1",
		Participants: []recording.Participant{{ID: "leader-1", Role: "leader"}, {ID: "pet-1", Role: "petitioner"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []sfu.TrackInfo{vt, at} {
		if err := h.Record(room, tr); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	if err := h.StageChanged(time.Now(), []string{"leader-1", "pet-1"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if _, err := h.SlipCreated(time.Now(), 31, "JB-2026-0031", "assign"); err != nil {
		t.Fatal(err)
	}
	// The rest of the samples, and the packets on their way.
	time.Sleep(time.Until(started.Add(time.Duration(len(video))*40*time.Millisecond + 300*time.Millisecond)))
	seal, err := h.Close()
	if err != nil {
		t.Fatal(err)
	}
	pub.Close()
	ev := casework.CaseEvent{CaseID: c.ID, Actor: "system", UnitID: c.UnitID, Kind: casework.EvRecording,
		Ref: "recording:" + seal.Hearing, Reason: "录像已封存 / recording sealed: " + seal.Algorithm + " " + seal.Head}
	if err := a.st.AddCaseNote(context.Background(), &ev); err != nil {
		t.Fatal(err)
	}
	return seal
}

// TestE2EPlayback plays a real recorded hearing in Chromium against the real API: the hall
// operator of the case's district finds the recording on the case page, must state a purpose,
// then plays it: the hearing's clock and the video advance together, frames are decoded, the
// slip's marker jumps there, and the seal verifies. Every view is in the audit log.
func TestE2EPlayback(t *testing.T) {
	a := startReceptionApp(t)
	ctx := context.Background()
	a.person("sc-operator", "上城区接访员", org.RoleHallOperator, "330102")
	p := a.login(t, "sc-operator")
	video, audio := encodeInChromium(t, p)

	cats, _ := a.st.ListCategories(ctx)
	_, hash, _ := casework.NewQueryCode()
	c := casework.Case{UnitID: a.unit("330102").ID, Territory: "330102", Form: casework.FormVideo, Type: casework.TypeClaim,
		CategoryID: cats[0].ID, Title: "拖欠工资", Content: "某建筑公司拖欠工资三个月", QueryCodeHash: hash,
		Petitioners: []casework.Petitioner{{Name: "赵六", Role: casework.PetitionerSelf}}}
	if err := a.st.CreateCase(ctx, &c, casework.CaseEvent{Actor: "intake", Reason: "登记"}); err != nil {
		t.Fatal(err)
	}
	seal := a.recordHearing(c, video, audio)
	m, err := recording.ReadManifest(seal.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Tracks) != 2 || m.Tracks[0].Stats.Frames < 25 {
		t.Fatalf("recorded: %+v", m.Tracks)
	}

	p.do("open the case", chromedp.Navigate(fmt.Sprintf("%s/cases.html#%d", a.url, c.ID)))
	p.wait("the case's recordings", `!!document.querySelector('#d-recordings a')`)
	if got := p.text(`document.getElementById('d-recordings').textContent`); !strings.Contains(got, "已封存 sha256 "+seal.Head[:12]) {
		t.Errorf("recordings list %q", got)
	}
	p.do("open the playback page", chromedp.Click(chromedp.CSS(`#d-recordings a`)))
	p.wait("the playback page", `location.pathname.endsWith('/playback.html') && window.sanjiPlayback && window.sanjiPlayback.ready`)
	p.do("open without a purpose", chromedp.Click(chromedp.CSS(`#purpose-form button`)))
	p.wait("the purpose asked", `!document.getElementById('pb-error').hidden && document.getElementById('player').hidden`)
	p.do("state the purpose", chromedp.SendKeys(chromedp.ID("purpose"), "复查调阅"), chromedp.Click(chromedp.CSS(`#purpose-form button`)))
	p.wait("the player", `!document.getElementById('player').hidden && document.querySelectorAll('#pb-stage video').length === 1 && document.querySelectorAll('#pb-audio audio').length === 1`)
	if got := p.text(`document.getElementById('pb-heading').textContent + document.getElementById('pb-facts').textContent`); !strings.Contains(got, c.Number) || !strings.Contains(got, "信访人 pet-1") {
		t.Errorf("hearing facts %q", got)
	}
	if got := p.text(`document.getElementById('pb-seal').textContent`); !strings.Contains(got, seal.Head) {
		t.Errorf("seal shown: %q", got)
	}
	if n := p.text(`String(document.querySelectorAll('.pb-marker').length)`); n != "2" {
		t.Errorf("%s markers, want the stage change and the slip", n)
	}

	p.do("play", chromedp.Click(chromedp.ID("pb-play")))
	p.wait("the video playing", `(s => s.playing && s.currentTime > 1.2 && s.videos[0].currentTime > 0.6 && s.videos[0].framesDecoded > 10)(window.sanjiPlayback.state())`)
	var st struct {
		CurrentTime float64
		Videos      []struct {
			Start, CurrentTime float64
			FramesDecoded      int
			Error              string
		}
	}
	state := func() {
		t.Helper()
		if err := json.Unmarshal([]byte(p.text(`JSON.stringify(window.sanjiPlayback.state())`)), &st); err != nil {
			t.Fatal(err)
		}
	}
	state()
	v := st.Videos[0]
	if v.Error != "" {
		t.Errorf("video error: %s", v.Error)
	}
	// In sync: the video is where the hearing's clock puts it.
	if d := st.CurrentTime - v.Start - v.CurrentTime; d > 0.5 || d < -0.5 {
		t.Errorf("hearing clock %.2f s, the video (from %.2f s) at %.2f s", st.CurrentTime, v.Start, v.CurrentTime)
	}
	before := v.FramesDecoded
	time.Sleep(500 * time.Millisecond)
	state()
	if st.Videos[0].FramesDecoded <= before {
		t.Errorf("no frames decoded in half a second: %d then %d", before, st.Videos[0].FramesDecoded)
	}

	// The slip's marker moves the clock to the slip.
	slipAt := float64(m.Slips[0].OffsetMS) / 1000
	p.do("jump to the slip", chromedp.Click(chromedp.CSS(`.pb-marker[data-kind="slip"]`)))
	state()
	if d := st.CurrentTime - slipAt; d < -0.05 || d > 0.5 {
		t.Errorf("after the slip's marker the clock is at %.2f s, the slip at %.2f s", st.CurrentTime, slipAt)
	}

	p.do("verify", chromedp.Click(chromedp.ID("pb-verify")))
	p.wait("verified", `document.getElementById('pb-verified').dataset.ok === 'true'`)
	if got := p.text(`document.getElementById('pb-verified').textContent`); !strings.Contains(got, "校验通过") {
		t.Errorf("verify banner %q", got)
	}

	views, err := a.st.SearchAudit(ctx, org.AuditQuery{Action: "recording.view"})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, e := range views {
		if e.Purpose != "复查调阅" || e.Target != "recording:"+seal.Hearing || e.Actor != "sc-operator" {
			t.Errorf("audit entry %+v", e)
		}
		for _, tr := range append(m.Tracks, recording.Track{File: recording.ManifestName}) {
			if strings.Contains(e.After, `"file":"`+tr.File+`"`) {
				files[tr.File] = true
			}
		}
	}
	if len(files) != 3 {
		t.Errorf("views audited of %v, want the manifest and both files", files)
	}
}
