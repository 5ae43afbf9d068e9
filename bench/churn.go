package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"sanji/i18n"
)

// ScenarioChurn names the soak in which participants join and leave all the time.
const ScenarioChurn = "churn"

// Churn defaults: a join or a leave every 100 ms, a sample every 10 s, 5 % tolerance.
const (
	DefaultChurnInterval = 100 * time.Millisecond
	DefaultChurnSample   = 10 * time.Second
	DefaultChurnWarmup   = 30 * time.Second
	DefaultChurnTolerate = 5.0
	// settleTries bounds the wait, a second apart, for the server to come back to its level
	// once everyone has left: it frees what the last calls held in the background (timers of
	// closed connections, the runtime's scavenger).
	settleTries = 30
)

// ChurnConfig shapes the churn scenario. Rooms, Publishers and Subscribers of Config are the
// slots: every Interval one slot, picked at random among those not joining or leaving, is
// toggled (an empty slot joins, a taken one leaves), so about half are taken at any time.
type ChurnConfig struct {
	Interval    time.Duration
	SampleEvery time.Duration
	// TolerancePercent is how far above its level after the warm-up a resource may end.
	TolerancePercent float64
	// Collect, when set, asks the server to collect its garbage and return freed memory before
	// the level after the warm-up and the one at the end are read, so that both compare the
	// live heap rather than whatever the last collection left (the spawned server: SIGUSR2).
	Collect func()
}

func (c *ChurnConfig) defaults() {
	if c.Interval <= 0 {
		c.Interval = DefaultChurnInterval
	}
	if c.SampleEvery <= 0 {
		c.SampleEvery = DefaultChurnSample
	}
	if c.TolerancePercent <= 0 {
		c.TolerancePercent = DefaultChurnTolerate
	}
}

// ChurnSample is the server's resources at one moment. Goroutines and heap come from the
// server's /metrics (its Go runtime's own counts); RSS, descriptors and sockets from
// /proc/<pid> of its process.
type ChurnSample struct {
	Seconds      float64 `json:"seconds"` // since the soak started (negative: the warm-up level)
	Phase        string  `json:"phase"`   // "after-warmup", "soak", "end"
	Participants int     `json:"participants"`
	Goroutines   int64   `json:"goroutines"`
	HeapBytes    int64   `json:"heap_inuse_bytes"`
	RSSKB        int64   `json:"rss_kb"`
	FDs          int64   `json:"open_fds"`
	UDPSockets   int64   `json:"udp_sockets"`
	TCPSockets   int64   `json:"tcp_sockets"`
}

// ChurnCheck compares one resource at the end with its level after the warm-up.
type ChurnCheck struct {
	Resource string  `json:"resource"`
	Base     int64   `json:"after_warmup"`
	End      int64   `json:"end"`
	Percent  float64 `json:"change_percent"`
	// Slack is the absolute change allowed besides the percentage: a handful of goroutines or
	// descriptors on a small base is not a leak.
	Slack int64 `json:"slack"`
	OK    bool  `json:"ok"`
}

// ChurnReport is the churn scenario's result.
type ChurnReport struct {
	Scenario         string        `json:"scenario"`
	Started          time.Time     `json:"started"`
	Config           ConfigReport  `json:"config"`
	IntervalMs       float64       `json:"interval_ms"`
	SampleSeconds    float64       `json:"sample_seconds"`
	TolerancePercent float64       `json:"tolerance_percent"`
	PID              int           `json:"server_pid"`
	Source           string        `json:"source"`
	Joins            int64         `json:"joins"`
	Leaves           int64         `json:"leaves"`
	JoinFailures     int64         `json:"join_failures"`
	Samples          []ChurnSample `json:"samples"`
	Checks           []ChurnCheck  `json:"checks"`
	OK               bool          `json:"ok"`
	LoadStart        string        `json:"load_start"`
	LoadEnd          string        `json:"load_end"`
	Errors           []string      `json:"errors,omitempty"`
}

// churnSource says where the samples come from, for the report.
const churnSource = "goroutines, heap: the server's /metrics (Go runtime); RSS, fds, sockets: /proc/<pid>"

// slot is one place in a room: empty, taken, or busy joining or leaving.
type slot struct {
	room    string
	publish bool
	busy    bool
	p       *participant
	stop    context.CancelFunc // ends the publisher's send loop
}

// churner runs the scenario.
type churner struct {
	r                       *runner
	cc                      ChurnConfig
	mu                      sync.Mutex
	slots                   []*slot
	ops                     sync.WaitGroup // joins and leaves under way
	n                       int            // participants created, for names
	joins, leaves, failures atomic.Int64
}

// RunChurn runs the churn scenario: a warm-up of churn, everyone leaves and the level is read;
// then churn for the window with a sample every SampleEvery; everyone leaves again and every
// resource must come back to within TolerancePercent of its level after the warm-up.
func RunChurn(ctx context.Context, cfg Config, cc ChurnConfig) (*ChurnReport, error) {
	cfg.Scenario = ScenarioChurn
	if cfg.Warmup <= 0 {
		cfg.Warmup = DefaultChurnWarmup
	}
	cfg.defaults()
	cc.defaults()
	u, err := CheckLoopback(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.ServerPID <= 0 {
		return nil, errorT("bench.churn.needs_pid")
	}
	if cfg.Publishers < 0 || cfg.Subscribers < 0 || cfg.Publishers+cfg.Subscribers == 0 {
		return nil, errorT("bench.run.no_participant")
	}
	base := strings.TrimSuffix(u.String(), "/")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	r := &runner{cfg: cfg, base: base, wsURL: "ws" + strings.TrimPrefix(base, "http") + "/ws",
		hc: &http.Client{Transport: tr, Timeout: 15 * time.Second}, tag: fmt.Sprintf("churn-%06x", rand.IntN(1<<24))}
	ch := &churner{r: r, cc: cc}
	for room := range cfg.Rooms {
		for k := range cfg.Publishers + cfg.Subscribers {
			ch.slots = append(ch.slots, &slot{room: fmt.Sprintf("%s-%d", r.tag, room), publish: k < cfg.Publishers})
		}
	}
	pubCtx, stopPub := context.WithCancel(context.Background())
	defer func() {
		stopPub()
		ch.drain()
		r.pubWG.Wait()
	}()

	rep := &ChurnReport{Scenario: ScenarioChurn, Started: time.Now().UTC(), Config: configReport(cfg),
		IntervalMs: float64(cc.Interval) / float64(time.Millisecond), SampleSeconds: cc.SampleEvery.Seconds(),
		TolerancePercent: cc.TolerancePercent, PID: cfg.ServerPID, Source: churnSource, LoadStart: loadAvg()}
	finish := func(err error) (*ChurnReport, error) {
		rep.Joins, rep.Leaves, rep.JoinFailures = ch.joins.Load(), ch.leaves.Load(), ch.failures.Load()
		rep.LoadEnd = loadAvg()
		r.mu.Lock()
		rep.Errors = append(rep.Errors, r.errs...)
		r.mu.Unlock()
		return rep, err
	}

	r.progress("churn: warming up for %v (%d slots in %d rooms, one join or leave every %v)", cfg.Warmup, len(ch.slots), cfg.Rooms, cc.Interval)
	if err := ch.churn(ctx, pubCtx, cfg.Warmup, nil); err != nil {
		return finish(err)
	}
	ch.drain()
	tr.CloseIdleConnections()
	baseline, err := ch.settle(ctx, nil)
	if err != nil {
		return finish(err)
	}
	baseline.Phase, baseline.Seconds = "after-warmup", 0
	rep.Samples = append(rep.Samples, baseline)

	r.progress("churn: soaking for %v, a sample every %v", cfg.Duration, cc.SampleEvery)
	start := time.Now()
	err = ch.churn(ctx, pubCtx, cfg.Duration, func() {
		s, err := ch.sample(ctx)
		if err != nil {
			r.addErr(err)
			return
		}
		s.Phase, s.Seconds = "soak", time.Since(start).Round(time.Second).Seconds()
		rep.Samples = append(rep.Samples, s)
		r.progress("  %4.0f s: %d participants, %d goroutines, heap %.1f MiB, RSS %.1f MiB, %d fds, %d udp, %d tcp",
			s.Seconds, s.Participants, s.Goroutines, float64(s.HeapBytes)/(1<<20), float64(s.RSSKB)/1024, s.FDs, s.UDPSockets, s.TCPSockets)
	})
	if err != nil {
		return finish(err)
	}
	soakEnd := time.Since(start)
	r.progress("churn: everyone leaves; waiting for the server to come back to its level")
	ch.drain()
	tr.CloseIdleConnections()
	end, err := ch.settle(ctx, &baseline)
	if err != nil {
		return finish(err)
	}
	end.Phase, end.Seconds = "end", soakEnd.Round(time.Second).Seconds()
	rep.Samples = append(rep.Samples, end)
	rep.Checks = compareChurn(baseline, end, cc.TolerancePercent)
	rep.OK = true
	for _, c := range rep.Checks {
		rep.OK = rep.OK && c.OK
	}
	return finish(nil)
}

// churn toggles a slot every Interval for d; every SampleEvery it calls sample (when set).
func (ch *churner) churn(ctx, pubCtx context.Context, d time.Duration, sample func()) error {
	tick := time.NewTicker(ch.cc.Interval)
	defer tick.Stop()
	var sampleC <-chan time.Time
	if sample != nil {
		st := time.NewTicker(ch.cc.SampleEvery)
		defer st.Stop()
		sampleC = st.C
	}
	end := time.NewTimer(d)
	defer end.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-end.C:
			return nil
		case <-sampleC:
			sample()
		case <-tick.C:
			ch.toggle(ctx, pubCtx)
		}
	}
}

// toggle starts a join into a random empty slot or a leave of a random taken one (whichever the
// pick lands on), skipping slots still busy with their last change.
func (ch *churner) toggle(ctx, pubCtx context.Context) {
	ch.mu.Lock()
	var free []*slot
	for _, s := range ch.slots {
		if !s.busy {
			free = append(free, s)
		}
	}
	if len(free) == 0 {
		ch.mu.Unlock()
		return
	}
	s := free[rand.IntN(len(free))]
	s.busy = true
	leaving := s.p
	var p *participant
	var pctx context.Context
	if leaving == nil {
		ch.n++
		p = &participant{r: ch.r, room: s.room, name: fmt.Sprintf("c%d", ch.n), publish: s.publish}
		p.receive = !p.publish
		pctx, s.stop = context.WithCancel(pubCtx)
	}
	ch.ops.Add(1)
	ch.mu.Unlock()

	go func() {
		defer ch.ops.Done()
		if leaving != nil {
			ch.leave(s)
			return
		}
		err := p.join(ctx, pctx)
		ch.mu.Lock()
		s.p = p
		ch.mu.Unlock()
		if err != nil {
			ch.failures.Add(1)
			ch.r.addErr(err)
			ch.leave(s) // whatever part of the join succeeded
			return
		}
		ch.joins.Add(1)
		ch.mu.Lock()
		s.busy = false
		ch.mu.Unlock()
	}()
}

// leave closes the slot's participant and frees the slot.
func (ch *churner) leave(s *slot) {
	ch.mu.Lock()
	p, stop := s.p, s.stop
	ch.mu.Unlock()
	if stop != nil {
		stop()
	}
	if p != nil {
		p.close()
		ch.leaves.Add(1)
	}
	ch.mu.Lock()
	s.p, s.stop, s.busy = nil, nil, false
	ch.mu.Unlock()
}

// drain waits for the changes under way, then closes every participant still in a slot.
func (ch *churner) drain() {
	ch.ops.Wait()
	ch.mu.Lock()
	var taken []*slot
	for _, s := range ch.slots {
		if s.p != nil {
			s.busy = true
			taken = append(taken, s)
		}
	}
	ch.mu.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, closeParallel)
	for _, s := range taken {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ch.leave(s)
		}()
	}
	wg.Wait()
}

func (ch *churner) participants() int {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	n := 0
	for _, s := range ch.slots {
		if s.p != nil {
			n++
		}
	}
	return n
}

// settle reads the server's level once everyone has left: it asks the server to collect, then
// samples a second apart until two samples agree on the goroutines and descriptors and the heap
// no longer falls (nothing left shutting down) and, when against is set, until every resource is back within the tolerance of it — or
// settleTries samples passed, and the last one stands.
func (ch *churner) settle(ctx context.Context, against *ChurnSample) (ChurnSample, error) {
	var last ChurnSample
	for i := range settleTries {
		if ch.cc.Collect != nil {
			ch.cc.Collect()
		}
		if err := sleep(ctx, time.Second); err != nil {
			return last, err
		}
		s, err := ch.sample(ctx)
		if err != nil {
			return last, err
		}
		// Stable: what closed connections still held is gone (some of it goes on timers, after
		// the goroutines have ended), so the live heap has stopped falling.
		stable := i > 0 && s.Goroutines == last.Goroutines && s.FDs == last.FDs &&
			float64(s.HeapBytes) >= float64(last.HeapBytes)*0.98
		last = s
		if !stable {
			continue
		}
		if against == nil {
			return s, nil
		}
		ok := true
		for _, c := range compareChurn(*against, s, ch.cc.TolerancePercent) {
			ok = ok && c.OK
		}
		if ok {
			return s, nil
		}
	}
	return last, nil
}

// sample reads the server's resources now.
func (ch *churner) sample(ctx context.Context) (ChurnSample, error) {
	s := ChurnSample{Participants: ch.participants()}
	m, err := scrapeMetrics(ctx, ch.r.hc, ch.r.base)
	if err != nil {
		return s, fmt.Errorf("%s: %w", i18n.T("bench.run.metrics_unreadable"), err)
	}
	s.Goroutines, s.HeapBytes = int64(m["go_goroutines"]), int64(m["go_memstats_heap_inuse_bytes"])
	pid := ch.r.cfg.ServerPID
	ps, err := readProc(pid)
	if err != nil {
		return s, fmt.Errorf("%s: %w", i18n.T("bench.run.proc_unreadable", "pid", pid), err)
	}
	s.RSSKB = ps.RSSKB
	fds, udp, tcp, err := readSockets(pid)
	if err != nil {
		return s, fmt.Errorf("%s: %w", i18n.T("bench.run.proc_unreadable", "pid", pid), err)
	}
	s.FDs, s.UDPSockets, s.TCPSockets = fds, udp, tcp
	return s, nil
}

// readSockets counts a process's open descriptors and, among them, its UDP and TCP sockets: the
// socket inodes of /proc/PID/fd looked up in the process's /proc/PID/net/{udp,udp6,tcp,tcp6}.
func readSockets(pid int) (fds, udp, tcp int64, err error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("read %s: %w", dir, err)
	}
	inodes := map[string]bool{}
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed since the listing
		}
		fds++
		if ino, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	count := func(files ...string) (int64, error) {
		var n int64
		for _, f := range files {
			raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
			if err != nil {
				if os.IsNotExist(err) {
					continue // no IPv6
				}
				return 0, err
			}
			for i, line := range strings.Split(string(raw), "\n") {
				f := strings.Fields(line)
				if i == 0 || len(f) < 10 {
					continue
				}
				if inodes[f[9]] {
					n++
				}
			}
		}
		return n, nil
	}
	if udp, err = count("udp", "udp6"); err != nil {
		return 0, 0, 0, err
	}
	if tcp, err = count("tcp", "tcp6"); err != nil {
		return 0, 0, 0, err
	}
	return fds, udp, tcp, nil
}

// compareChurn checks each resource at the end against its level after the warm-up.
func compareChurn(base, end ChurnSample, tolerance float64) []ChurnCheck {
	var out []ChurnCheck
	add := func(name string, b, e, slack int64) {
		c := ChurnCheck{Resource: name, Base: b, End: e, Slack: slack}
		if b > 0 {
			c.Percent = float64(e-b) * 100 / float64(b)
		}
		c.OK = e <= b+slack || float64(e) <= float64(b)*(1+tolerance/100)
		out = append(out, c)
	}
	add("goroutines", base.Goroutines, end.Goroutines, 2)
	add("heap_inuse_bytes", base.HeapBytes, end.HeapBytes, 1<<20)
	add("rss_kb", base.RSSKB, end.RSSKB, 1024)
	add("open_fds", base.FDs, end.FDs, 1)
	add("udp_sockets", base.UDPSockets, end.UDPSockets, 0)
	add("tcp_sockets", base.TCPSockets, end.TCPSockets, 1)
	return out
}

// Err is the report's verdict as an error: nil when every resource came back.
func (r *ChurnReport) Err() error {
	if r.OK {
		return nil
	}
	var bad []string
	for _, c := range r.Checks {
		if !c.OK {
			bad = append(bad, fmt.Sprintf("%s %d → %d (%+.1f %%)", c.Resource, c.Base, c.End, c.Percent))
		}
	}
	return errorT("bench.churn.not_back", "tolerance", r.TolerancePercent, "resources", strings.Join(bad, ", "))
}

// WriteJSON writes the report to path.
func (r *ChurnReport) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("%s: %w", i18n.T("bench.report.write_failed", "path", path), err)
	}
	return nil
}

// WriteTable writes the samples and the checks for a person.
func (r *ChurnReport) WriteTable(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "scenario churn: %d room(s) × (%d publisher(s) + %d subscriber(s)) slots, a join or a leave every %.0f ms, %.1f Mbit/s %d fps video",
		c.Rooms, c.Publishers, c.Subscribers, r.IntervalMs, float64(c.Bitrate)/1e6, c.FPS)
	if c.Simulcast {
		fmt.Fprint(w, " in 3 simulcast layers")
	}
	if c.Audio {
		fmt.Fprint(w, " + audio")
	}
	fmt.Fprintf(w, "\nserver pid %d; %s\nload average: %s at start, %s at the end\njoins %d, leaves %d, join failures %d\n\n",
		r.PID, r.Source, r.LoadStart, r.LoadEnd, r.Joins, r.Leaves, r.JoinFailures)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\ts\tparticipants\tgoroutines\theap MiB\tRSS MiB\tfds\tudp\ttcp\t")
	for _, s := range r.Samples {
		fmt.Fprintf(tw, "%s\t%.0f\t%d\t%d\t%.1f\t%.1f\t%d\t%d\t%d\t\n", s.Phase, s.Seconds, s.Participants, s.Goroutines,
			float64(s.HeapBytes)/(1<<20), float64(s.RSSKB)/1024, s.FDs, s.UDPSockets, s.TCPSockets)
	}
	_ = tw.Flush()
	if len(r.Checks) > 0 {
		fmt.Fprintf(w, "\nafter the soak, against the level after the warm-up (tolerance %g %%):\n", r.TolerancePercent)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "resource\tafter warm-up\tend\tchange %\tslack\t\t")
		for _, c := range r.Checks {
			verdict := "ok"
			if !c.OK {
				verdict = i18n.T("bench.churn.grew").String()
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%+.1f\t%s\t%s\t\n", c.Resource, c.Base, c.End, c.Percent, strconv.FormatInt(c.Slack, 10), verdict)
		}
		_ = tw.Flush()
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
}
