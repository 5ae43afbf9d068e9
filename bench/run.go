// Package bench is the load generator behind `sanji bench`: publishers and subscribers built on
// pion that join a Sanji server through its real signaling (package client) with real join
// tokens, send VP8 and Opus-sized media stamped with their send time, and measure what arrives:
// loss after NACK repair, jitter, one-way latency, bitrate and time to the first keyframe. With
// the server's PID it also measures the server's CPU and memory over the window, and derives the
// cost per forwarded packet and per forwarded gigabit. docs/benchmarks.md has the method.
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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"sanji/client"
)

// Config describes one run. The zero values of the optional fields take the defaults below.
type Config struct {
	// URL is the server's base URL (http://127.0.0.1:PORT). Only loopback servers are accepted:
	// the bench sends hundreds of megabits and must not be pointed at someone else's machine.
	URL string
	// Scenario names the run in the report ("fanout", "rooms", "idle").
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
	if c.Settle <= 0 {
		joins := c.Rooms * (c.Publishers + c.Subscribers)
		c.Settle = defaultSettleBase + time.Duration(float64(joins)/c.JoinRate*float64(time.Second))
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
}

// CheckLoopback refuses a URL whose host is not a loopback address or "localhost".
func CheckLoopback(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("服务器地址 %q 无效，应为 http://127.0.0.1:端口 / server URL %q is invalid; use http://127.0.0.1:PORT", raw, raw)
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("压测只能针对本机回环地址（127.0.0.1、::1、localhost），拒绝 %q / the bench only targets loopback servers (127.0.0.1, ::1, localhost); refusing %q", host, host)
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
	if cfg.Publishers < 0 || cfg.Subscribers < 0 || cfg.Publishers+cfg.Subscribers == 0 {
		return nil, errors.New("每个房间至少需要一个参与者 / each room needs at least one participant (publishers + subscribers)")
	}
	base := strings.TrimSuffix(u.String(), "/")
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/ws"

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	r := &runner{cfg: cfg, base: base, wsURL: wsURL, hc: &http.Client{Transport: tr, Timeout: 15 * time.Second},
		tag: fmt.Sprintf("bench-%06x", rand.IntN(1<<24))}
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
			return nil, fmt.Errorf("无法读取服务器进程 %d 的状态 / cannot read the server process %d: %w", cfg.ServerPID, cfg.ServerPID, err)
		}
		before = s
	}
	m0, err := scrapeMetrics(ctx, r.hc, r.base)
	if err != nil {
		return nil, fmt.Errorf("无法读取服务器指标，请确认服务器已启动 / cannot read the server's metrics; is it running?: %w", err)
	}

	// Joins, paced.
	total := cfg.Rooms * (cfg.Publishers + cfg.Subscribers)
	r.progress("joining %d participants in %d room(s) at %.0f/s", total, cfg.Rooms, cfg.JoinRate)
	var joinWG sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.JoinRate))
	defer tick.Stop()
	i := 0
joins:
	for room := range cfg.Rooms {
		for k := range cfg.Publishers + cfg.Subscribers {
			if i > 0 {
				select {
				case <-tick.C:
				case <-ctx.Done():
					break joins
				}
			}
			i++
			p := &participant{r: r, room: fmt.Sprintf("%s-%d", r.tag, room), name: fmt.Sprintf("p%d", i),
				publish: k < cfg.Publishers}
			p.receive = !p.publish || cfg.PublishersReceive
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
	}
	joinWG.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Everyone who receives should see every other publisher of the room, with a keyframe.
	r.progress("waiting for media (at most %v)", cfg.Settle)
	deadline := time.Now().Add(cfg.Settle)
	for !r.allHaveMedia() && time.Now().Before(deadline) {
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
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

	werr := sleep(ctx, cfg.Duration)

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
	r.mu.Lock()
	rep.Errors = append(rep.Errors, r.errs...)
	r.mu.Unlock()
	return rep, werr
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

func (r *runner) allHaveMedia() bool {
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

	joinStart time.Duration // since the epoch, before asking for the token
	joinTime  time.Duration // join request → joined
	c         *client.Client

	sentPackets, sentBytes, plis, nacks atomic.Uint64
	forceKey                            atomic.Bool

	mu      sync.Mutex
	closed  bool
	streams []*Stream
	readers sync.WaitGroup // track readers
}

func (p *participant) join(ctx, pubCtx context.Context) error {
	p.joinStart = Now()
	tok, err := p.token(ctx)
	if err != nil {
		return err
	}
	// pion's own log lines (a write to a socket closing at the end, say) would bury the report;
	// what the bench measures says whether media flowed.
	se := client.LoopbackSettingEngine()
	se.LoggerFactory = &logging.DefaultLoggerFactory{DefaultLogLevel: logging.LogLevelDisabled, Writer: io.Discard}
	opt := client.Options{AutoSubscribe: p.receive, Logger: p.r.cfg.Logger, OnTrack: p.onTrack, SettingEngine: se}
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
	p.mu.Unlock()
	if !p.publish {
		return nil
	}
	video, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		"video", p.name)
	if err != nil {
		return fmt.Errorf("video track: %w", err)
	}
	tracks := []webrtc.TrackLocal{video}
	var audio *webrtc.TrackLocalStaticRTP
	if p.r.cfg.Audio {
		audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
			"audio", p.name)
		if err != nil {
			return fmt.Errorf("audio track: %w", err)
		}
		tracks = append(tracks, audio)
	}
	if _, err := c.Publish(tracks...); err != nil {
		return fmt.Errorf("publish %s/%s: %w", p.room, p.name, err)
	}
	p.r.pubWG.Add(1)
	go func() {
		defer p.r.pubWG.Done()
		p.send(pubCtx, video, audio)
	}()
	return nil
}

func (p *participant) token(ctx context.Context) (string, error) {
	body, _ := json.Marshal(map[string]string{"room": p.room, "name": p.name, "role": "observer"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.r.base+"/dev/token", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.r.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("POST /dev/token: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", fmt.Errorf("POST /dev/token: %s %s（服务器需以 --dev 运行 / the server must run with --dev)", resp.Status, bytes.TrimSpace(msg))
	}
	var tr struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.Token == "" {
		return "", fmt.Errorf("POST /dev/token: no token in the answer: %v", err)
	}
	return tr.Token, nil
}

// onSenderRTCP counts the feedback a publisher gets and turns PLI/FIR into a keyframe. NACKs
// are answered by pion's NACK responder interceptor, which keeps the packets sent.
func (p *participant) onSenderRTCP(_ *webrtc.RTPSender, pkts []rtcp.Packet) {
	for _, pkt := range pkts {
		switch n := pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			p.plis.Add(1)
			p.forceKey.Store(true)
		case *rtcp.TransportLayerNack:
			for _, pair := range n.Nacks {
				p.nacks.Add(uint64(len(pair.PacketList())))
			}
		}
	}
}

// send is a publisher's media loop: one VP8 frame every 1/FPS and, with audio, one Opus packet
// every 20 ms, until ctx ends.
func (p *participant) send(ctx context.Context, video, audio *webrtc.TrackLocalStaticRTP) {
	cfg := p.r.cfg
	frameEvery := time.Second / time.Duration(cfg.FPS)
	frameBytes := cfg.Bitrate / 8 / cfg.FPS
	keyEvery := max(1, int(cfg.KeyframeInterval/frameEvery))
	vt := time.NewTicker(frameEvery)
	defer vt.Stop()
	var at <-chan time.Time
	if audio != nil {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		at = t.C
	}
	vpkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(rand.Uint32()),
		Timestamp: rand.Uint32(), SSRC: rand.Uint32()}}
	apkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(rand.Uint32()),
		Timestamp: rand.Uint32(), SSRC: rand.Uint32()}}
	abuf := make([]byte, opusBytes)
	var frames [][]byte
	frame := 0
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
			key := frame%keyEvery == 0 || p.forceKey.Swap(false)
			frame++
			frames = vp8Frame(frames, frameBytes, key)
			for i, pl := range frames {
				vpkt.Payload = pl
				vpkt.Marker = i == len(frames)-1
				write(video, &vpkt)
				vpkt.SequenceNumber++
			}
			vpkt.Timestamp += uint32(90000 / cfg.FPS)
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
		readTrack(t, s)
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

// readTrack counts every packet of t into s until the track ends.
func readTrack(t *webrtc.TrackRemote, s *Stream) {
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
		s.Add(Packet{Seq: h.SequenceNumber, Timestamp: h.Timestamp, Size: len(payload), Arrival: at,
			SentAt: sent, Stamped: ok, IsKeyframe: isVP8 && isVP8KeyframeStart(payload)})
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
