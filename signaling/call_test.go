package signaling_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"sanji/auth"
	"sanji/client"
	"sanji/recording"
	"sanji/scheduler"
	"sanji/scheduler/api"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
	"sanji/scheduler/sqlite"
	"sanji/signaling"
)

// The reception call end to end in-process: the real scheduler (SQLite, the demo tree and the
// demo reception), the real API for slips, the real SFU, and pion clients in each seat.

type callEnv struct {
	*env
	recordings string // the recorder's directory
	st         scheduler.Store
	api        *httptest.Server
	session    reception.ReceptionSession
	users      map[string]org.User // by demo username
}

func newCallEnv(t *testing.T, opts ...func(*signaling.Config)) *callEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/sanji.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := scheduler.EnsureRoot(ctx, st); err != nil {
		t.Fatal(err)
	}
	quick := func(pw string) (string, error) { return "not-a-hash", nil }
	if _, err := scheduler.SeedDemo(ctx, st, quick, func() (string, error) { return "pw", nil }); err != nil {
		t.Fatal(err)
	}
	x, booked, err := scheduler.SeedDemoReception(ctx, st, time.Now())
	if err != nil || !booked {
		t.Fatalf("demo reception: %v %v", booked, err)
	}
	ce := &callEnv{st: st, session: x, users: map[string]org.User{}}
	apiSrv := api.New(api.Config{Store: st, Signer: auth.NewSigner(testSecret), Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Attachments: casework.Blobs{Dir: t.TempDir(), MaxSize: 1 << 20}})
	ce.recordings = t.TempDir()
	rec, err := recording.New(recording.Config{Dir: ce.recordings, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Close() })
	ce.env = newEnv(t, func(c *signaling.Config) {
		c.Calls, c.Recorder = apiSrv.CallBridge(), rec
		for _, o := range opts {
			o(c)
		}
	})
	apiSrv.SetCallHooks(ce.srv)
	ce.api = httptest.NewServer(apiSrv)
	t.Cleanup(ce.api.Close)
	for _, name := range []string{"demo-leader", "demo-operator", "demo-operator2", "demo-handler", "demo-observer"} {
		u, err := st.GetUserByUsername(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		ce.users[name] = u
	}
	return ce
}

func (ce *callEnv) unit(code string) org.Unit {
	u, err := ce.st.GetUnitByCode(context.Background(), code)
	if err != nil {
		ce.t.Fatal(err)
	}
	return u
}

// join seats a demo user in the call and publishes audio and video.
func (ce *callEnv) join(t *testing.T, id, username, seat string, hallID, unitID int64) *peer {
	t.Helper()
	return ce.joinWith(t, id, username, seat, hallID, unitID, client.Options{})
}

// joinWith is join with client options (AutoSubscribe, the logger and the inbox are set here).
func (ce *callEnv) joinWith(t *testing.T, id, username, seat string, hallID, unitID int64, opt client.Options) *peer {
	t.Helper()
	u := ce.users[username]
	now := time.Now()
	tok, err := ce.signer.Sign(auth.Claims{Room: api.CallRoom(ce.session.ID), Subject: id, Name: u.DisplayName, Role: "leader",
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), UserID: u.ID, SessionID: ce.session.ID, Seat: seat, HallID: hallID, UnitID: unitID})
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, id: id, tracks: map[string]*received{}, rrs: map[webrtc.SSRC]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opt.AutoSubscribe, opt.OnTrack, opt.OnMessage = true, p.onTrack, p.inbox.add
	opt.Logger = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	c, err := client.Dial(ctx, ce.wsURL, tok, opt)
	if err != nil {
		t.Fatalf("%s: dial: %v", id, err)
	}
	p.c = c
	t.Cleanup(p.close)
	if seat != auth.SeatObserver {
		p.publish()
	}
	return p
}

// packetsFrom is how many RTP packets p received from the tracks of publisher.
func (p *peer) packetsFrom(publisher string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.tracks {
		if r.publisher == publisher {
			n += r.packets
		}
	}
	return n
}

// lastState is the newest call_state p got.
func (p *peer) lastState() (signaling.CallState, bool) {
	p.inbox.mu.Lock()
	defer p.inbox.mu.Unlock()
	for i := len(p.inbox.msgs) - 1; i >= 0; i-- {
		if m := p.inbox.msgs[i]; m.Type == signaling.TypeCallState {
			var st signaling.CallState
			return st, json.Unmarshal(m.Data, &st) == nil
		}
	}
	return signaling.CallState{}, false
}

// lastPanel is the newest case panel p got (nil when none or cleared).
func (p *peer) lastPanel() *api.CasePanel {
	p.inbox.mu.Lock()
	defer p.inbox.mu.Unlock()
	for i := len(p.inbox.msgs) - 1; i >= 0; i-- {
		if m := p.inbox.msgs[i]; m.Type == signaling.TypeCasePanel {
			var d signaling.CasePanelData
			if json.Unmarshal(m.Data, &d) != nil || d.CaseID == 0 {
				return nil
			}
			var panel api.CasePanel
			if json.Unmarshal(d.Panel, &panel) != nil {
				return nil
			}
			return &panel
		}
	}
	return nil
}

func (p *peer) request(typ string, data any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := p.c.Request(ctx, typ, data)
	return err
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var e *signaling.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%s: %v, want error %s", what, err, code)
	}
	if e.MessageZH == "" || e.MessageEN == "" {
		t.Errorf("%s: error without both languages: %+v", what, e)
	}
}

// flowing waits until sub has received at least n more packets from pub.
func flowing(t *testing.T, what string, sub, pub *peer, n int) {
	t.Helper()
	base := sub.packetsFrom(pub.id)
	eventually(t, what, func() bool { return sub.packetsFrom(pub.id) >= base+n })
}

// stopped waits until sub receives nothing more from pub for a second.
func stopped(t *testing.T, what string, sub, pub *peer) {
	t.Helper()
	quiet(t, what, func() int { return sub.packetsFrom(pub.id) })
}

// quiet waits until count stays the same for a second.
func quiet(t *testing.T, what string, count func() int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last, since := count(), time.Now()
	for time.Since(since) < time.Second {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still receiving", what)
		}
		time.Sleep(50 * time.Millisecond)
		if n := count(); n != last {
			last, since = n, time.Now()
		}
	}
}

func TestCallStagePrivacyAndSlips(t *testing.T) {
	ce := newCallEnv(t)
	hallA, hallB := ce.session.HallIDs[0], ce.session.HallIDs[1] // 清波 (王建国 first in the queue), 湖滨
	rsj := ce.unit("330102-RSJ")

	leader := ce.join(t, "leader", "demo-leader", auth.SeatStudio, 0, 0)
	a := ce.join(t, "hallA", "demo-operator", auth.SeatHall, hallA, 0)
	b := ce.join(t, "hallB", "demo-operator2", auth.SeatHall, hallB, 0)
	unit := ce.join(t, "unit", "demo-handler", auth.SeatUnit, 0, rsj.ID)
	obs := ce.join(t, "observer", "demo-observer", auth.SeatObserver, 0, 0)
	for _, p := range []*peer{leader, a, b, unit} {
		p.ownTrack("video")
	}

	// Idle: the observer sees the studio, nobody else receives anything of anyone.
	flowing(t, "observer <- studio", obs, leader, 20)
	if n := a.packetsFrom(leader.id) + b.packetsFrom(leader.id) + leader.packetsFrom(a.id); n != 0 {
		t.Fatalf("idle call forwarded %d packets between studio and halls", n)
	}
	eventually(t, "hall B's queue position", func() bool {
		st, ok := b.lastState()
		return ok && st.Phase == "idle" && st.Me.Position == 2 && st.Me.Waiting == 2 && st.Stage == nil && len(st.Queue) == 2
	})

	// Only the studio runs the call.
	wantCode(t, "hall calls next", b.request(signaling.TypeCallNext, nil), signaling.CodeForbidden)
	if err := leader.request(signaling.TypeCallNext, nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "call while a hearing is under way", leader.request(signaling.TypeCallNext, nil), signaling.CodeWrongState)
	wantCode(t, "broadcast during a hearing", leader.request(signaling.TypeBroadcast, map[string]bool{"on": true}), signaling.CodeWrongState)
	if err := leader.request(signaling.TypeStageUnit, map[string]any{"unit_id": rsj.ID, "on": true}); err != nil {
		t.Fatal(err)
	}
	flowing(t, "hall A <- studio", a, leader, 30)
	flowing(t, "studio <- hall A", leader, a, 30)
	flowing(t, "unit <- hall A", unit, a, 30)
	flowing(t, "observer <- unit", obs, unit, 20)

	// Hall B waits and tries every way to get the hearing: it knows the track ids from
	// track_published, but the SFU refuses them, and a forged renegotiation gets nothing.
	var stageTracks []string
	eventually(t, "hall B told of the 6 tracks of the stage", func() bool {
		stageTracks = nil
		for _, o := range b.c.Joined().Participants { // published before hall B joined
			for _, tr := range o.Tracks {
				stageTracks = append(stageTracks, tr.ID)
			}
		}
		b.inbox.mu.Lock()
		defer b.inbox.mu.Unlock()
		for _, m := range b.inbox.msgs {
			var d signaling.TrackPublishedData
			if m.Type == signaling.TypeTrackPublished && json.Unmarshal(m.Data, &d) == nil && d.Track.ParticipantID != b.id {
				stageTracks = append(stageTracks, d.Track.ID)
			}
		}
		return len(stageTracks) >= 6
	})
	for _, id := range stageTracks {
		wantCode(t, "subscribe to "+id, b.request(signaling.TypeSubscribe, signaling.TrackIDsData{TrackIDs: []string{id}}), signaling.CodeForbidden)
		if err := b.request(signaling.TypeTrackSettings, signaling.TrackSettingsData{TrackID: id, Width: 1920, Height: 1080, Priority: 10}); err == nil {
			t.Errorf("track_settings for %s accepted from a waiting hall", id)
		}
	}
	wantCode(t, "forged track id", b.request(signaling.TypeSubscribe, signaling.TrackIDsData{TrackIDs: []string{"forged-" + stageTracks[0]}}), signaling.CodeNotFound)
	wantCode(t, "subscribe answer without an offer", b.request(signaling.TypeSubscribeAnswer, signaling.SDPData{SDP: "v=0\r\n"}), signaling.CodeWrongState)
	rogueBytes := rogueRenegotiation(t, b)
	wantCode(t, "hall B acknowledges another hall's recording notice", b.request(signaling.TypeAckRecording, nil), signaling.CodeForbidden)

	// The hearing: hall A acknowledges the recording notice; the leader assigns the case to the
	// unit over the API, on the call; the panel on stage shows it at once, with the call's offset.
	if err := a.request(signaling.TypeAckRecording, nil); err != nil {
		t.Fatal(err)
	}
	var caseID int64
	eventually(t, "hearing phase", func() bool {
		st, ok := leader.lastState()
		if ok && st.Stage != nil {
			caseID = st.Stage.CaseID
		}
		return ok && st.Phase == "hearing" && st.Stage != nil && st.Stage.RecordingAcknowledged && len(st.Stage.Units) == 1
	})
	eventually(t, "panels per role", func() bool {
		pl, pa, pu, po := leader.lastPanel(), a.lastPanel(), unit.lastPanel(), obs.lastPanel()
		return pl != nil && pa != nil && pu != nil && po != nil && b.lastPanel() == nil
	})
	if v := a.lastPanel().Case; v.View != "full" || len(v.Petitioners) == 0 || v.Petitioners[0].IDNumber == "" || v.Petitioners[0].IDNumber[6] == '*' {
		t.Errorf("hall operator's panel: %+v", v)
	}
	if v := leader.lastPanel().Case; v.View != "masked" || len(v.Petitioners) == 0 || v.Petitioners[0].IDNumber[6] != '*' {
		t.Errorf("leader's panel: %+v", v)
	}
	// Observers see the title of the matter heard, nothing else (docs/casework.md).
	if v := obs.lastPanel().Case; v.Title == "" || v.Content != "" || v.Number != "" || len(v.Petitioners) != 0 {
		t.Errorf("observer's panel: %+v", v)
	}
	if v := unit.lastPanel().Case; v.View != "redacted" || len(v.Petitioners) != 0 {
		t.Errorf("unit's panel before the assignment: %+v", v)
	}
	time.Sleep(50 * time.Millisecond) // a measurable offset into the hearing
	tok, session := ce.leaderAPI(t), strconv.FormatInt(ce.session.ID, 10)
	var assignment api.AssignmentView
	ce.post(t, tok, fmt.Sprintf("/api/v1/cases/%d/assignments", caseID), map[string]any{"assigner_unit_id": ce.users["demo-leader"].UnitID,
		"responsible_unit_id": rsj.ID, "method": casework.AssignOnVideoCall, "session_id": session, "instruction": "请区人社局十日内反馈"}, &assignment)
	if assignment.RecordingOffsetMS <= 0 || assignment.SessionID != session {
		t.Errorf("assignment on the call: %+v", assignment)
	}
	eventually(t, "assignment in the unit's panel", func() bool {
		p := unit.lastPanel()
		return p != nil && len(p.Assignments) == 1 && p.Case.View == "full" && len(p.Case.Petitioners) > 0
	})
	// 会商 with the unit on the call, and 包案 by the leader: both reach the panels at once.
	var consult api.ConsultationView
	ce.post(t, tok, fmt.Sprintf("/api/v1/cases/%d/consultations", caseID), map[string]any{"competent_unit_id": rsj.ID,
		"unit_ids": []int64{rsj.ID, ce.unit("330102-XFJ").ID}, "subject": "欠薪责任认定", "session_id": session}, &consult)
	if consult.RecordingOffsetMS <= assignment.RecordingOffsetMS {
		t.Errorf("consultation offset %d, after the assignment's %d", consult.RecordingOffsetMS, assignment.RecordingOffsetMS)
	}
	var owned api.CaseView
	ce.post(t, tok, fmt.Sprintf("/api/v1/cases/%d/owner", caseID), map[string]any{"session_id": session}, &owned)
	eventually(t, "会商 and 包案 in the panels", func() bool {
		pu, po := unit.lastPanel(), obs.lastPanel()
		return pu != nil && len(pu.Consultations) == 1 && pu.Consultations[0].Subject == "欠薪责任认定" &&
			pu.Case.OwnerLeaderID == ce.users["demo-leader"].ID && po != nil && len(po.Consultations) == 0 && len(po.Assignments) == 0
	})

	// The hall keeps the hearing record; the petitioner confirms it with a name and a drawn
	// signature; both are attached to the case as the signed record.
	wantCode(t, "confirm an empty record", a.request(signaling.TypeConfirmRecord, signaling.ConfirmRecordData{ConfirmedBy: "王建国"}), signaling.CodeInvalid)
	if err := a.request(signaling.TypeHearingRecord, signaling.HearingRecordData{Text: "信访人反映：企业拖欠工资八个月。领导答复：交办区人社局。"}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "another hall writes the record", b.request(signaling.TypeHearingRecord, signaling.HearingRecordData{Text: "x"}), signaling.CodeForbidden)
	wantCode(t, "a signature that is not a PNG", a.request(signaling.TypeConfirmRecord,
		signaling.ConfirmRecordData{ConfirmedBy: "王建国", Signature: "data:image/png;base64,AAAA"}), signaling.CodeInvalid)
	if err := a.request(signaling.TypeConfirmRecord, signaling.ConfirmRecordData{ConfirmedBy: "王建国", Signature: signaturePNG(t)}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "change a confirmed record", a.request(signaling.TypeHearingRecord, signaling.HearingRecordData{Text: "改"}), signaling.CodeWrongState)
	files, err := ce.st.ListAttachments(context.Background(), caseID, casework.AttachSignedRecord)
	if err != nil || len(files) != 2 || files[0].MIME != "text/plain" || files[1].MIME != "image/png" {
		t.Fatalf("signed record attachments: %+v %v", files, err)
	}
	eventually(t, "record confirmed in the studio's state", func() bool {
		st, ok := leader.lastState()
		return ok && st.Stage != nil && st.Stage.RecordConfirmed && st.Stage.Record != ""
	})

	if n := b.packetsFrom(leader.id) + b.packetsFrom(a.id) + b.packetsFrom(unit.id); n != 0 {
		t.Fatalf("waiting hall B received %d RTP packets of hall A's hearing", n)
	}

	// Ending the hearing cuts hall A and the unit off the studio at once; calling hall B's
	// petitioner moves the stage.
	if err := leader.request(signaling.TypeEndHearing, signaling.EndHearingData{Outcome: reception.OutcomeAssigned, Note: "交办区人社局"}); err != nil {
		t.Fatal(err)
	}
	stopped(t, "hall A <- studio after the hearing", a, leader)
	stopped(t, "unit <- studio after the hearing", unit, leader)
	if err := leader.request(signaling.TypeCallAppointment, map[string]int64{"appointment_id": ce.nextAppointment(t, hallB)}); err != nil {
		t.Fatal(err)
	}
	flowing(t, "hall B <- studio on its hearing", b, leader, 30)
	stopped(t, "hall A <- hall B", a, b)
	if n := a.packetsFrom(b.id); n != 0 {
		t.Errorf("hall A received %d packets of hall B's hearing", n)
	}
	if n := rogueBytes(); n != 0 {
		t.Errorf("the forged renegotiation received %d RTP packets", n)
	}
	eventually(t, "hall A's panel cleared", func() bool { return a.lastPanel() == nil })

	// The timeline of the case has the assignment (through the store, as the API shows it).
	evs, err := ce.st.ListCaseEvents(context.Background(), caseID)
	kinds := map[string]bool{}
	var sealed casework.CaseEvent
	for _, e := range evs {
		kinds[e.Kind+":"+string(e.To)] = true
		if e.Kind == "recording" {
			sealed = e
		}
	}
	if err != nil || !kinds["status:"+string(casework.StAssigned)] || !kinds["consultation:"] || !kinds["owner:"] {
		t.Errorf("timeline after the hearing: %+v %v", evs, err)
	}

	// The hearing was recorded from the notice to its end: the stage's tracks, the slips at their
	// offsets, sealed, the seal on the case's timeline, and the files check against it.
	hearing, ok := strings.CutPrefix(sealed.Ref, "recording:")
	if !ok {
		t.Fatalf("no recording note on the case: %+v", evs)
	}
	dir := filepath.Join(ce.recordings, hearing)
	m, err := recording.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.CaseID != caseID || m.SessionID != ce.session.ID || m.Chain.Head == "" || !strings.Contains(sealed.Reason, m.Chain.Head) {
		t.Errorf("manifest %+v, note %q", m, sealed.Reason)
	}
	recorded := map[string]bool{}
	for _, tr := range m.Tracks {
		recorded[tr.Participant+"/"+tr.Kind] = true
	}
	for _, want := range []string{"leader/video", "leader/audio", "hallA/video", "hallA/audio", "unit/video"} {
		if !recorded[want] {
			t.Errorf("recording lacks %s: %+v", want, m.Tracks)
		}
	}
	if recorded["hallB/video"] || recorded["hallB/audio"] || recorded["observer/video"] {
		t.Errorf("recording holds a track off the stage: %+v", m.Tracks)
	}
	slips := map[string]int64{}
	for _, sl := range m.Slips {
		slips[sl.Type] = sl.OffsetMS
	}
	// The manifest notes the slip when the recorder's goroutine gets to it, after the call's clock
	// stamped it: a loaded machine (CI with -race) puts tens of ms between them; a person seeking
	// to a slip in a hearing's video does not notice a quarter of a second.
	if d := slips["assignment"] - assignment.RecordingOffsetMS; d > 250 {
		t.Errorf("assignment at %d ms in the recording, %d ms on the slip", slips["assignment"], assignment.RecordingOffsetMS)
	}
	if _, ok := slips["consultation"]; !ok {
		t.Errorf("slips in the manifest: %+v", m.Slips)
	}
	if rep, err := recording.Verify(dir, m.Chain.Head); err != nil || !rep.OK {
		t.Errorf("verify: %+v %v", rep, err)
	}
}

// nextAppointment is the first appointment still waiting in a hall.
func (ce *callEnv) nextAppointment(t *testing.T, hall int64) int64 {
	t.Helper()
	q, err := ce.st.ListAppointments(context.Background(), ce.session.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range q {
		if a.HallID == hall && a.Status == reception.ApptBooked {
			return a.ID
		}
	}
	t.Fatalf("nobody waits in hall %d", hall)
	return 0
}

// leaderAPI is an API token of the demo leader for the case work of a call.
func (ce *callEnv) leaderAPI(t *testing.T) string {
	t.Helper()
	tok, err := auth.RandomToken(24)
	if err != nil {
		t.Fatal(err)
	}
	if err := ce.st.CreateAPIToken(context.Background(), &org.APIToken{UserID: ce.users["demo-leader"].ID, Name: "test",
		Hash: auth.HashToken(tok), Scopes: []string{org.ActCaseHandle, org.ActCaseRead, org.ActCaseOwn}}); err != nil {
		t.Fatal(err)
	}
	return tok
}

// post sends body to the API as the bearer of tok and decodes a 2xx answer into out.
func (ce *callEnv) post(t *testing.T, tok, path string, body, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", ce.api.URL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatal(err)
	}
}

// rogueRenegotiation sends the server a publish offer that asks to receive audio and video,
// from a connection of its own, and counts what ever arrives on it.
func rogueRenegotiation(t *testing.T, p *peer) func() int {
	t.Helper()
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(*client.LoopbackSettingEngine())).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	packets := 0
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			<-mu
			packets++
			mu <- struct{}{}
		}
	})
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if m, err := p.c.Request(ctx, signaling.TypePublishOffer, signaling.SDPData{SDP: offer.SDP}); err == nil {
		var d signaling.SDPData
		if m.Decode(&d) == nil {
			_ = pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: d.SDP})
		}
	}
	return func() int {
		<-mu
		defer func() { mu <- struct{}{} }()
		return packets
	}
}

func TestCallModeration(t *testing.T) {
	ce := newCallEnv(t)
	hallA := ce.session.HallIDs[0]
	leader := ce.join(t, "leader", "demo-leader", auth.SeatStudio, 0, 0)
	a := ce.join(t, "hallA", "demo-operator", auth.SeatHall, hallA, 0)
	obs := ce.join(t, "observer", "demo-observer", auth.SeatObserver, 0, 0)
	a.ownTrack("audio")

	// Between hearings the studio may broadcast to the waiting halls.
	if err := leader.request(signaling.TypeBroadcast, map[string]bool{"on": true}); err != nil {
		t.Fatal(err)
	}
	flowing(t, "waiting hall <- studio broadcast", a, leader, 20)
	if err := leader.request(signaling.TypeBroadcast, map[string]bool{"on": false}); err != nil {
		t.Fatal(err)
	}
	stopped(t, "broadcast off", a, leader)

	// 张海涛's collective visit (third in the queue, at hall A) comes on stage.
	q, _ := ce.st.ListAppointments(context.Background(), ce.session.ID)
	var collective reception.Appointment
	for _, x := range q {
		if len(x.Representatives) > 0 {
			collective = x
		}
	}
	if err := leader.request(signaling.TypeCallAppointment, map[string]int64{"appointment_id": collective.ID}); err != nil {
		t.Fatal(err)
	}
	flowing(t, "studio <- hall A", leader, a, 30)
	six := []string{"张海涛", "李明", "赵刚", "甲", "乙", "丙"}
	wantCode(t, "six speakers", a.request(signaling.TypeSetSpeakers, map[string][]string{"names": six}), signaling.CodeInvalid)
	wantCode(t, "a speaker not named in the booking", a.request(signaling.TypeSetSpeakers, map[string][]string{"names": {"张海涛", "路人"}}), signaling.CodeInvalid)
	if err := a.request(signaling.TypeSetSpeakers, map[string][]string{"names": {"张海涛", "李明"}}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "observer raises a hand", obs.request(signaling.TypeRaiseHand, map[string]bool{"on": true}), signaling.CodeForbidden)
	wantCode(t, "hall takes the floor of others", a.request(signaling.TypeSetFloor, signaling.FloorData{ParticipantID: leader.id}), signaling.CodeForbidden)

	// The moderator takes hall A's audio: the SFU stops forwarding it; the hall raises its hand
	// and is given the floor back.
	audioFromA := func() int {
		leader.mu.Lock()
		defer leader.mu.Unlock()
		n := 0
		for _, r := range leader.tracks {
			if r.publisher == a.id && r.kind == "audio" {
				n += r.packets
			}
		}
		return n
	}
	if err := leader.request(signaling.TypeSetFloor, signaling.FloorData{ParticipantID: a.id, Allow: false}); err != nil {
		t.Fatal(err)
	}
	a.inbox.waitFor(t, "floor_taken notice", func(m signaling.Message) bool { return m.Type == signaling.TypeCallNotice })
	quiet(t, "hall A's audio after its floor was taken", audioFromA) // packets already on the wire
	held := audioFromA()
	flowing(t, "hall A's video still flows", leader, a, 20)
	if n := audioFromA(); n != held {
		t.Errorf("hall A's audio went on after its floor was taken: %d -> %d", held, n)
	}
	if err := a.request(signaling.TypeRaiseHand, map[string]bool{"on": true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "hand in the studio's state", func() bool {
		st, ok := leader.lastState()
		return ok && len(st.Hands) == 1 && st.Hands[0] == a.id && len(st.Held) == 1
	})
	if err := leader.request(signaling.TypeSetFloor, signaling.FloorData{ParticipantID: a.id, Allow: true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "hall A heard again", func() bool { return audioFromA() > held+10 })

	// Removal.
	if err := leader.request(signaling.TypeRemoveParticipant, signaling.ParticipantData{ParticipantID: obs.id}); err != nil {
		t.Fatal(err)
	}
	obs.inbox.waitFor(t, "bye removed", func(m signaling.Message) bool {
		var d signaling.ByeData
		return m.Type == signaling.TypeBye && json.Unmarshal(m.Data, &d) == nil && d.Reason == "removed"
	})
	wantCode(t, "bad outcome", leader.request(signaling.TypeEndHearing, map[string]string{"outcome": "shrug"}), signaling.CodeInvalid)
	if err := leader.request(signaling.TypeNoShow, map[string]int64{"appointment_id": collective.ID}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "stage cleared by the no-show", func() bool {
		st, ok := leader.lastState()
		return ok && st.Phase == "idle"
	})
}

// signaturePNG is a small drawn signature as a data URL.
func signaturePNG(t *testing.T) string {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 120, 40))
	for x := 10; x < 110; x++ {
		img.SetGray(x, 20+(x%7), color.Gray{Y: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}
