// Package bench is the load generator behind `sanji bench`: publishers and subscribers built on
// pion that join a Sanji server through its real signaling (package client) with real join
// tokens, send VP8 and Opus-sized media stamped with their send time, and measure what arrives:
// loss after NACK repair, jitter, one-way latency, bitrate and time to the first keyframe. With
// the server's PID it also measures the server's CPU and memory over the window, and derives the
// cost per forwarded packet and per forwarded gigabit. The impaired scenario puts the
// publishers behind a lossy, slow or capped uplink (Impairment) for part of the window and
// measures what the subscribers could show: frames decoded per second, freezes, audio gaps and
// how soon the top simulcast layer comes back. docs/benchmarks.md has the method.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"sanji/client"
	"sanji/i18n"
	"sanji/signaling"
)

// Config describes one run. The zero values of the optional fields take the defaults below.
type Config struct {
	// URL is the server's base URL (http://127.0.0.1:PORT). Only loopback servers are accepted:
	// the bench sends hundreds of megabits and must not be pointed at someone else's machine.
	URL string
	// Scenario names the run in the report ("fanout", "rooms", "idle", "impaired",
	// "reception").
	Scenario string
	// Rooms, each with Publishers publishers and Subscribers subscribers. Publishers send one
	// VP8 and (with Audio) one Opus track and receive nothing unless PublishersReceive.
	Rooms, Publishers, Subscribers int
	PublishersReceive              bool
	// Duration is the measured window; Warmup runs after everyone has media and before it;
	// Settle bounds the wait for everyone's first keyframe after the joins.
	Duration, Warmup, Settle time.Duration
	// JoinRate is the joins started per second.
	JoinRate float64
	// Bitrate (bit/s) and FPS of each video track; a keyframe every KeyframeInterval and on PLI.
	Bitrate          int
	FPS              int
	KeyframeInterval time.Duration
	Audio            bool
	// Simulcast sends each publisher's video in three layers (RIDs q, h, f) of Bitrate/10,
	// Bitrate/3 and Bitrate, as a browser does; each layer has its own keyframes and answers the
	// PLIs for its own SSRC.
	Simulcast bool
	// Reception shapes the reception scenario (Scenario "reception"); Rooms, Publishers and
	// Subscribers do not apply to it.
	Reception ReceptionConfig
	// Uplink impairs the publishers' links in the impaired scenario (ScenarioImpaired), from
	// the window's start for Uplink.For (0 = the whole window).
	Uplink Impairment
	// ServerPID, when set, is the server process whose CPU and memory are measured.
	ServerPID int
	// OnWindow, when set, is called as the measured window starts (true) and ends (false).
	OnWindow func(start bool)
	// Progress gets a line per phase; nil = quiet.
	Progress io.Writer
	Logger   *zap.Logger
}

// Defaults.
const (
	DefaultDuration         = 20 * time.Second
	DefaultWarmup           = 2 * time.Second
	DefaultJoinRate         = 20
	DefaultBitrate          = 1_500_000
	DefaultFPS              = 30
	DefaultKeyframeInterval = 2 * time.Second
	defaultSettleBase       = 10 * time.Second
	// closeParallel bounds the clients closing at once at the end: each waits for its bye.
	closeParallel = 32
	// freezeGrace lets the repair of packets lost just before the window's end arrive before the
	// final count.
	freezeGrace = time.Second
)

func (c *Config) defaults() {
	if c.Scenario == "" {
		c.Scenario = "fanout"
	}
	if c.Rooms <= 0 {
		c.Rooms = 1
	}
	if c.Duration <= 0 {
		c.Duration = DefaultDuration
	}
	if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.JoinRate <= 0 {
		c.JoinRate = DefaultJoinRate
	}
	if c.Bitrate <= 0 {
		c.Bitrate = DefaultBitrate
	}
	if c.FPS <= 0 {
		c.FPS = DefaultFPS
	}
	if c.KeyframeInterval <= 0 {
		c.KeyframeInterval = DefaultKeyframeInterval
	}
	if c.Scenario == ScenarioReception {
		c.Reception.defaults(c.Duration)
	}
	if c.Settle <= 0 {
		joins := c.participants()
		c.Settle = defaultSettleBase + time.Duration(float64(joins)/c.JoinRate*float64(time.Second))
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
}

// ScenarioReception names the reception scenario.
const ScenarioReception = "reception"

// ScenarioImpaired names the fan-out whose publishers are behind an impaired uplink; its
// subscribers show the publishers' video as the stage's main tile (priority stagePriority) and
// account for every frame they could decode.
const ScenarioImpaired = "impaired"

// stagePriority is the track_settings priority the leader's console gives the hall on stage.
const stagePriority = 2

// participants is how many clients the run joins.
func (c *Config) participants() int {
	if c.Scenario == ScenarioReception {
		return 1 + c.Reception.Halls + c.Reception.Units
	}
	return c.Rooms * (c.Publishers + c.Subscribers)
}

// CheckLoopback refuses a URL whose host is not a loopback address or "localhost".
func CheckLoopback(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errorT("bench.run.bad_url", "url", strconv.Quote(raw))
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, errorT("bench.run.not_loopback", "host", strconv.Quote(host))
	}
	return u, nil
}

// Run runs one scenario and returns its report. It ends by itself after the window, or early
// when ctx ends (then with ctx's error and what was measured so far).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	u, err := CheckLoopback(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Scenario == ScenarioReception {
		if err := cfg.Reception.check(cfg.Duration); err != nil {
			return nil, err
		}
	} else if cfg.Scenario == ScenarioImpaired && (cfg.Uplink.For < 0 || cfg.Uplink.For > cfg.Duration ||
		cfg.Uplink.LossPercent < 0 || cfg.Uplink.LossPercent > 100 || cfg.Uplink.Delay < 0 || cfg.Uplink.RateBits < 0) {
		return nil, errorT("bench.run.uplink_bounds", "window", cfg.Duration)
	} else if cfg.Publishers < 0 || cfg.Subscribers < 0 || cfg.Publishers+cfg.Subscribers == 0 {
		return nil, errorT("bench.run.no_participant")
	}
	base := strings.TrimSuffix(u.String(), "/")
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/ws"

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	r := &runner{cfg: cfg, base: base, wsURL: wsURL, hc: &http.Client{Transport: tr, Timeout: 15 * time.Second},
		tag: fmt.Sprintf("bench-%06x", rand.IntN(1<<24))}
	if cfg.Scenario == ScenarioImpaired {
		if cfg.Uplink.For == 0 {
			r.cfg.Uplink.For = cfg.Duration
		}
		r.imp = newImpairer(r.cfg.Uplink, rand.Uint64())
		defer r.imp.active.Store(false)
	}
	pubCtx, stopPub := context.WithCancel(context.Background())
	defer r.closeAll(stopPub)
	return r.run(ctx, pubCtx)
}

type runner struct {
	cfg   Config
	base  string
	wsURL string
	hc    *http.Client
	tag   string // room name prefix, unique per run

	rec *reception // the reception scenario's call and accounting; nil in the others
	// imp is the impaired scenario's uplink, shared by its publishers; nil in the others.
	// impFrom and impTo are when it was on, since the bench epoch.
	imp            *impairer
	impFrom, impTo time.Duration

	mu    sync.Mutex
	parts []*participant
	errs  []string

	pubWG sync.WaitGroup // publishers' send loops
}

func (r *runner) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, format+"\n", args...)
	}
}

func (r *runner) addErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) < 20 {
		r.errs = append(r.errs, err.Error())
	}
}

func (r *runner) run(ctx, pubCtx context.Context) (*Report, error) {
	cfg := r.cfg
	rep := &Report{Scenario: cfg.Scenario, Started: time.Now().UTC(), LoadStart: loadAvg(), Config: configReport(cfg)}
	var before procSample
	if cfg.ServerPID > 0 {
		s, err := readProc(cfg.ServerPID)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", i18n.T("bench.run.proc_unreadable", "pid", cfg.ServerPID), err)
		}
		before = s
	}
	m0, err := scrapeMetrics(ctx, r.hc, r.base)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", i18n.T("bench.run.metrics_unreadable"), err)
	}

	// Joins, paced.
	plan, err := r.plan(ctx)
	if err != nil {
		return nil, err
	}
	r.progress("joining %d participants at %.0f/s", len(plan), cfg.JoinRate)
	var joinWG sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.JoinRate))
	defer tick.Stop()
joins:
	for i, p := range plan {
		if i > 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
				break joins
			}
		}
		r.mu.Lock()
		r.parts = append(r.parts, p)
		r.mu.Unlock()
		joinWG.Add(1)
		go func() {
			defer joinWG.Done()
			if err := p.join(ctx, pubCtx); err != nil {
				p.failed.Store(true)
				r.addErr(err)
			}
		}()
	}
	joinWG.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Everyone who receives should see every other publisher of the room, with a keyframe; in
	// the reception call, where nobody receives anything between hearings, everyone should know
	// of everyone's tracks.
	r.progress("waiting for media (at most %v)", cfg.Settle)
	deadline := time.Now().Add(cfg.Settle)
	for !r.ready() && time.Now().Before(deadline) {
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if r.imp != nil {
		if err := r.stageTracks(ctx); err != nil {
			return nil, err
		}
	}
	if cfg.Warmup > 0 {
		r.progress("warming up for %v", cfg.Warmup)
		if err := sleep(ctx, cfg.Warmup); err != nil {
			return nil, err
		}
	}

	// The window.
	r.progress("measuring for %v", cfg.Duration)
	rep.LoadWindowStart = loadAvg()
	if cfg.OnWindow != nil {
		cfg.OnWindow(true)
	}
	r.eachStream(func(s *Stream) { s.Reset() })
	pubStart := r.publisherTotals()
	m1, err := scrapeMetrics(ctx, r.hc, r.base)
	if err != nil {
		return nil, err
	}
	var p1 procSample
	if cfg.ServerPID > 0 {
		if p1, err = readProc(cfg.ServerPID); err != nil {
			return nil, err
		}
	}
	g1, t1 := selfCPU(), time.Now()

	var werr error
	if r.rec != nil {
		// The studio runs the call through the window: hearing after hearing.
		werr = r.rec.drive(ctx, cfg.Duration)
	} else if r.imp != nil {
		r.impFrom = Now()
		r.imp.active.Store(true)
		r.progress("uplink impaired for %v (loss %g %%, delay %v each way, rate cap %d bit/s), then clean",
			r.cfg.Uplink.For, r.cfg.Uplink.LossPercent, r.cfg.Uplink.Delay, r.cfg.Uplink.RateBits)
		werr = sleep(ctx, r.cfg.Uplink.For)
		r.imp.active.Store(false)
		r.impTo = Now()
		if werr == nil {
			werr = sleep(ctx, cfg.Duration-r.cfg.Uplink.For)
		}
	} else {
		werr = sleep(ctx, cfg.Duration)
	}

	g2, t2 := selfCPU(), time.Now()
	var p2 procSample
	if cfg.ServerPID > 0 {
		if p2, err = readProc(cfg.ServerPID); err != nil {
			return nil, err
		}
	}
	m2, err := scrapeMetrics(context.Background(), r.hc, r.base)
	if err != nil {
		return nil, err
	}
	pubEnd := r.publisherTotals()
	r.eachStream(func(s *Stream) { s.Freeze() })
	if cfg.OnWindow != nil {
		cfg.OnWindow(false)
	}
	rep.LoadWindowEnd = loadAvg()
	if werr == nil {
		werr = sleep(ctx, freezeGrace)
	}

	window := t2.Sub(t1)
	r.fill(rep, window, pubEnd.minus(pubStart))
	rep.Generator = GeneratorReport{CPUSeconds: (g2 - g1).Seconds(), Cores: (g2 - g1).Seconds() / window.Seconds()}
	rep.Server = serverReport(cfg, window, before, p1, p2, m0, m1, m2, rep.receivers(), rep.Participants)
	if r.rec != nil {
		rep.Reception = r.rec.report()
	}
	if r.imp != nil {
		rep.Uplink = r.uplinkReport(Now() - freezeGrace)
	}
	r.mu.Lock()
	rep.Errors = append(rep.Errors, r.errs...)
	r.mu.Unlock()
	if werr == nil && rep.Reception != nil {
		werr = rep.Reception.err()
	}
	return rep, werr
}

// plan is who joins, in order: the rooms' publishers and subscribers (each fetches a dev token
// as it joins), or the reception call's seats.
func (r *runner) plan(ctx context.Context) ([]*participant, error) {
	if r.cfg.Scenario == ScenarioReception {
		rec, parts, err := newReception(ctx, r)
		if err != nil {
			return nil, err
		}
		r.rec = rec
		return parts, nil
	}
	var plan []*participant
	for room := range r.cfg.Rooms {
		for k := range r.cfg.Publishers + r.cfg.Subscribers {
			p := &participant{r: r, room: fmt.Sprintf("%s-%d", r.tag, room), name: fmt.Sprintf("p%d", len(plan)+1),
				publish: k < r.cfg.Publishers}
			p.receive = !p.publish || r.cfg.PublishersReceive
			plan = append(plan, p)
		}
	}
	return plan, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *runner) snapshot() []*participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*participant(nil), r.parts...)
}

func (r *runner) eachStream(f func(*Stream)) {
	for _, p := range r.snapshot() {
		for _, s := range p.streamList() {
			f(s)
		}
	}
}

// expectedVideo is how many video streams participant p should receive.
func (r *runner) expectedVideo(p *participant) int {
	if !p.receive {
		return 0
	}
	n := r.cfg.Publishers
	if p.publish {
		n-- // not its own
	}
	return n
}

// ready says whether the measured part can start: everyone has the media they should have.
func (r *runner) ready() bool {
	if r.rec != nil {
		return r.rec.ready()
	}
	for _, p := range r.snapshot() {
		if p.failed.Load() {
			continue
		}
		if p.keyframes() < r.expectedVideo(p) {
			return false
		}
	}
	return true
}

type pubTotals struct{ packets, bytes, plis, nacks uint64 }

func (a pubTotals) minus(b pubTotals) pubTotals {
	return pubTotals{a.packets - b.packets, a.bytes - b.bytes, a.plis - b.plis, a.nacks - b.nacks}
}

func (r *runner) publisherTotals() pubTotals {
	var t pubTotals
	for _, p := range r.snapshot() {
		t.packets += p.sentPackets.Load()
		t.bytes += p.sentBytes.Load()
		t.plis += p.plis.Load()
		t.nacks += p.nacks.Load()
	}
	return t
}

// closeAll stops the publishers and closes every client, a few at a time, and waits for every
// goroutine the run started.
func (r *runner) closeAll(stopPub context.CancelFunc) {
	stopPub()
	r.pubWG.Wait()
	parts := r.snapshot()
	sem := make(chan struct{}, closeParallel)
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p.close()
		}()
	}
	wg.Wait()
}

// participant is one bench client: a publisher, a subscriber or both.
type participant struct {
	r                *runner
	room, name       string
	publish, receive bool
	failed           atomic.Bool
	// tok, when set, is the participant's join token (a seat in the reception call); otherwise
	// it asks /dev/token for one.
	tok string
	// seat is the participant's index in the reception call (reception.parts).
	seat int

	joinStart time.Duration // since the epoch, before asking for the token
	joinTime  time.Duration // join request → joined
	c         *client.Client

	sentPackets, sentBytes, plis, nacks atomic.Uint64
	layers                              []*videoLayer // the video encodings sent: one, or three with simulcast

	mu      sync.Mutex
	closed  bool
	streams []*Stream
	readers sync.WaitGroup // track readers
	// tracks are the ids of the other participants' tracks this one was told of; video those
	// of them that are video.
	tracks map[string]bool
	video  map[string]bool
}

// videoLayer is one video encoding a publisher sends: its only one, or a simulcast layer.
type videoLayer struct {
	track      *webrtc.TrackLocalStaticRTP
	rid        string
	ssrc       webrtc.SSRC
	frameBytes int
	desc       vp8Desc
	pkt        rtp.Packet
	frames     [][]byte
	forceKey   atomic.Bool   // a PLI or FIR asked this layer for a keyframe
	plis       atomic.Uint64 // PLIs and FIRs for this layer
}

// Simulcast layers as browsers send them for a 720p camera: quarter, half and full size, at
// about a tenth, a third and all of the top bitrate.
var simulcastLayers = []struct {
	rid           string
	divisor       int
	width, height uint16
}{{"q", 10, 320, 180}, {"h", 3, 640, 360}, {"f", 1, 1280, 720}}

func (p *participant) join(ctx, pubCtx context.Context) error {
	p.joinStart = Now()
	tok := p.tok
	if tok == "" {
		var err error
		if tok, err = p.token(ctx); err != nil {
			return err
		}
	}
	// pion's own log lines (a write to a socket closing at the end, say) would bury the report;
	// what the bench measures says whether media flowed.
	se := client.LoopbackSettingEngine()
	se.LoggerFactory = &logging.DefaultLoggerFactory{DefaultLogLevel: logging.LogLevelDisabled, Writer: io.Discard}
	if p.publish && p.r.imp != nil {
		// The hall's link: both of the publisher's PeerConnections go through it. ICE stays on
		// loopback (the setting engine's filters still apply).
		nw, err := stdnet.NewNet()
		if err != nil {
			return fmt.Errorf("%s: %w", i18n.T("bench.run.network_failed"), err)
		}
		se.SetNet(&impairedNet{Net: nw, im: p.r.imp})
	}
	opt := client.Options{AutoSubscribe: p.receive, Logger: p.r.cfg.Logger, OnTrack: p.onTrack, OnMessage: p.onMessage,
		SettingEngine: se}
	if p.publish {
		opt.OnSenderRTCP = p.onSenderRTCP
	}
	t0 := Now()
	c, err := client.Dial(ctx, p.r.wsURL, tok, opt)
	if err != nil {
		return fmt.Errorf("join %s/%s: %w", p.room, p.name, err)
	}
	p.joinTime = Now() - t0
	p.mu.Lock()
	p.c = c
	for _, o := range c.Joined().Participants {
		for _, t := range o.Tracks {
			p.knowTrackLocked(o.ID, t.ID, t.Kind)
		}
	}
	p.mu.Unlock()
	if !p.publish {
		return nil
	}
	if err := p.publishVideo(c); err != nil {
		return err
	}
	var audio *webrtc.TrackLocalStaticRTP
	if p.r.cfg.Audio {
		audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
			"audio", p.name)
		if err != nil {
			return fmt.Errorf("audio track: %w", err)
		}
		if _, err := c.Publish(audio); err != nil {
			return fmt.Errorf("publish %s/%s audio: %w", p.room, p.name, err)
		}
	}
	p.r.pubWG.Add(1)
	go func() {
		defer p.r.pubWG.Done()
		p.send(pubCtx, audio)
	}()
	return nil
}

// publishVideo publishes the video track: one encoding at the configured bitrate, or three
// simulcast layers. The layers are ready before the first RTCP can arrive for them.
func (p *participant) publishVideo(c *client.Client) error {
	cfg := p.r.cfg
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	newLayer := func(opts ...func(*webrtc.TrackLocalStaticRTP)) (*videoLayer, error) {
		t, err := webrtc.NewTrackLocalStaticRTP(codec, "video", p.name, opts...)
		if err != nil {
			return nil, fmt.Errorf("video track: %w", err)
		}
		return &videoLayer{track: t, rid: t.RID(), pkt: rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96,
			SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32()}}}, nil
	}
	if !cfg.Simulcast {
		l, err := newLayer()
		if err != nil {
			return err
		}
		l.frameBytes, l.desc = cfg.Bitrate/8/cfg.FPS, plainVP8
		p.mu.Lock()
		p.layers = []*videoLayer{l}
		p.mu.Unlock()
		if _, err := c.Publish(l.track); err != nil {
			return fmt.Errorf("publish %s/%s: %w", p.room, p.name, err)
		}
		return nil
	}
	var layers []*videoLayer
	var tracks []*webrtc.TrackLocalStaticRTP
	for _, sl := range simulcastLayers {
		l, err := newLayer(webrtc.WithRTPStreamID(sl.rid))
		if err != nil {
			return err
		}
		l.frameBytes = cfg.Bitrate / sl.divisor / 8 / cfg.FPS
		l.desc = vp8Desc{ext: true, picID: uint16(rand.Uint32()) & 0x7fff, tl0: uint8(rand.Uint32()), width: sl.width, height: sl.height}
		layers = append(layers, l)
		tracks = append(tracks, l.track)
	}
	p.mu.Lock()
	p.layers = layers
	p.mu.Unlock()
	sc, err := c.PublishSimulcast(tracks...)
	if err != nil {
		return fmt.Errorf("publish %s/%s simulcast: %w", p.room, p.name, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.layers {
		l.ssrc = sc.SSRC(l.rid)
		if err := sc.Mark(&l.pkt.Header, l.rid); err != nil {
			return err
		}
	}
	return nil
}

func (p *participant) token(ctx context.Context) (string, error) {
	var tr struct {
		Token string `json:"token"`
	}
	if err := p.r.postJSON(ctx, "/dev/token", map[string]string{"room": p.room, "name": p.name, "role": "observer"}, &tr); err != nil {
		return "", err
	}
	if tr.Token == "" {
		return "", errors.New("POST /dev/token: no token in the answer")
	}
	return tr.Token, nil
}

// postJSON posts body to the server's dev endpoint path and decodes its answer into out.
func (r *runner) postJSON(ctx context.Context, path string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("POST %s: %s %s（%s)", path, resp.Status, bytes.TrimSpace(msg), i18n.T("bench.run.needs_dev"))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("POST %s: bad answer: %w", path, err)
	}
	return nil
}

// onMessage notes the tracks other participants publish, and hands the reception call's
// messages to its accounting.
func (p *participant) onMessage(m client.Message) {
	if m.Type == signaling.TypeTrackPublished {
		var d signaling.TrackPublishedData
		if m.Decode(&d) == nil {
			p.mu.Lock()
			p.knowTrackLocked(d.Track.ParticipantID, d.Track.ID, d.Track.Kind)
			p.mu.Unlock()
		}
	}
	if p.r.rec != nil {
		p.r.rec.onMessage(p, m)
	}
}

func (p *participant) knowTrackLocked(owner, id, kind string) {
	if p.c != nil && owner == p.c.ID() {
		return
	}
	if p.tracks == nil {
		p.tracks, p.video = map[string]bool{}, map[string]bool{}
	}
	p.tracks[id] = true
	if kind == "video" {
		p.video[id] = true
	}
}

// knownTracks is how many tracks of others this participant was told of.
func (p *participant) knownTracks() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.tracks)
}

// onSenderRTCP counts the feedback a publisher gets and turns PLI/FIR into a keyframe of the
// layer asked (by SSRC; with one layer, of that layer). NACKs are answered by pion's NACK
// responder interceptor, which keeps the packets sent.
func (p *participant) onSenderRTCP(_ *webrtc.RTPSender, pkts []rtcp.Packet) {
	for _, pkt := range pkts {
		switch n := pkt.(type) {
		case *rtcp.PictureLossIndication:
			p.keyframeAsked(webrtc.SSRC(n.MediaSSRC))
		case *rtcp.FullIntraRequest:
			for _, e := range n.FIR {
				p.keyframeAsked(webrtc.SSRC(e.SSRC))
			}
		case *rtcp.TransportLayerNack:
			for _, pair := range n.Nacks {
				p.nacks.Add(uint64(len(pair.PacketList())))
			}
		}
	}
}

func (p *participant) keyframeAsked(ssrc webrtc.SSRC) {
	p.plis.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.layers {
		if len(p.layers) == 1 || l.ssrc == ssrc {
			l.plis.Add(1)
			l.forceKey.Store(true)
		}
	}
}

// send is a publisher's media loop: one VP8 frame per layer every 1/FPS and, with audio, one
// Opus packet every 20 ms, until ctx ends.
func (p *participant) send(ctx context.Context, audio *webrtc.TrackLocalStaticRTP) {
	cfg := p.r.cfg
	frameEvery := time.Second / time.Duration(cfg.FPS)
	keyEvery := max(1, int(cfg.KeyframeInterval/frameEvery))
	vt := time.NewTicker(frameEvery)
	defer vt.Stop()
	var at <-chan time.Time
	if audio != nil {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		at = t.C
	}
	apkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(rand.Uint32()),
		Timestamp: rand.Uint32(), SSRC: rand.Uint32()}}
	abuf := make([]byte, opusBytes)
	frame := 0
	sending := len(p.layers) // the layers sent now: all, or under a rate cap those that fit it
	write := func(t *webrtc.TrackLocalStaticRTP, pkt *rtp.Packet) {
		putStamp(pkt.Payload, Now())
		if err := t.WriteRTP(pkt); err != nil {
			return // not connected yet, or closing: the next packet tries again
		}
		p.sentPackets.Add(1)
		p.sentBytes.Add(uint64(len(pkt.Payload)))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-vt.C:
			periodic := frame%keyEvery == 0
			frame++
			n := p.r.layersThatFit(p.layers)
			for k, l := range p.layers {
				if k >= n {
					continue
				}
				// A layer taken up again starts with a keyframe, as a browser's encoder does.
				key := l.forceKey.Swap(false) || periodic || k >= sending
				l.frames = vp8Frame(l.frames, l.frameBytes, key, l.desc)
				for i, pl := range l.frames {
					l.pkt.Payload = pl
					l.pkt.Marker = i == len(l.frames)-1
					putLayer(pl, k)
					write(l.track, &l.pkt)
					l.pkt.SequenceNumber++
				}
				l.pkt.Timestamp += uint32(90000 / cfg.FPS)
				l.desc.picID = (l.desc.picID + 1) & 0x7fff
				l.desc.tl0++ // no temporal layers: every frame is a base-layer frame
			}
			sending = n
		case <-at:
			apkt.Payload = opusPayload(abuf)
			write(audio, &apkt)
			apkt.SequenceNumber++
			apkt.Timestamp += 960
		}
	}
}

// onTrack starts reading a delivered track into a new Stream.
func (p *participant) onTrack(t *webrtc.TrackRemote, rcv *webrtc.RTPReceiver) {
	kind := t.Kind().String()
	s := NewStream(kind, t.Codec().ClockRate)
	if p.r.imp != nil && kind == "video" {
		s.TrackFrames()
	}
	var tap func(Packet)
	if p.r.rec != nil {
		tap = p.r.rec.tap(p, t.StreamID(), kind)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.streams = append(p.streams, s)
	p.readers.Add(2)
	p.mu.Unlock()
	go func() {
		defer p.readers.Done()
		readTrack(t, s, tap)
	}()
	go func() {
		// Read the receiver's RTCP (sender reports) so its interceptors see it.
		defer p.readers.Done()
		for {
			if _, _, err := rcv.ReadRTCP(); err != nil {
				return
			}
		}
	}()
}

// readTrack counts every packet of t into s until the track ends; tap, when set, sees each
// packet too.
func readTrack(t *webrtc.TrackRemote, s *Stream, tap func(Packet)) {
	isVP8 := strings.EqualFold(t.Codec().MimeType, webrtc.MimeTypeVP8)
	buf := make([]byte, 1500)
	var h rtp.Header
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		at := Now()
		hl, err := h.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		end := n
		if h.Padding && n > hl {
			end -= int(buf[n-1])
		}
		if end < hl {
			continue
		}
		payload := buf[hl:end]
		sent, ok := readStamp(payload)
		pkt := Packet{Seq: h.SequenceNumber, Timestamp: h.Timestamp, Size: len(payload), Arrival: at,
			SentAt: sent, Stamped: ok, IsKeyframe: isVP8 && isVP8KeyframeStart(payload),
			FrameStart: isVP8 && isVP8FrameStart(payload), Marker: h.Marker, Layer: -1}
		if isVP8 {
			pkt.Layer = readLayer(payload)
		}
		s.Add(pkt)
		if tap != nil {
			tap(pkt)
		}
	}
}

func (p *participant) streamList() []*Stream {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*Stream(nil), p.streams...)
}

// keyframes is the number of video streams that have had a keyframe.
func (p *participant) keyframes() int {
	n := 0
	for _, s := range p.streamList() {
		if s.Kind == "video" && s.Stats().FirstKeyframe >= 0 {
			n++
		}
	}
	return n
}

func (p *participant) close() {
	p.mu.Lock()
	p.closed = true
	c := p.c
	p.mu.Unlock()
	if c != nil {
		if err := c.Close(); err != nil {
			p.r.cfg.Logger.Debug("bench client close", zap.Error(err))
		}
	}
	p.readers.Wait()
}
