package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"sanji/bench"
)

// cpuProfileEnv names the file a server spawned by `sanji bench --spawn --cpu-profile` writes
// its CPU profile to. The profile covers exactly the bench's measured window: the bench sends
// SIGUSR1 at its start and again at its end; a heap profile of the window's end goes next to it
// (<file>.heap).
const cpuProfileEnv = "SANJI_CPU_PROFILE"

// cpuProfileDone is the line the server prints once the profile is written.
const cpuProfileDone = "cpu profile written"

// collectEnv, set on a server spawned for the churn soak, makes it collect its garbage and
// return freed memory to the system on SIGUSR2: the soak compares the live heap and RSS after
// the warm-up with those at the end, not whatever the last collection happened to leave.
const collectEnv = "SANJI_BENCH_COLLECT"

func init() {
	if os.Getenv(collectEnv) == "" {
		return
	}
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	go func() {
		// Lives as long as the process, like the profile hook above.
		for range usr2 {
			debug.FreeOSMemory() // runs a collection first
		}
	}()
}

// The serve-side hook of `--cpu-profile`: only when the environment asks for it, a goroutine
// that lives as long as the process toggles the CPU profile on SIGUSR1. It needs nothing from
// serve itself, so the serve path stays as it is.
func init() {
	path := os.Getenv(cpuProfileEnv)
	if path == "" {
		return
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		var f *os.File
		for range usr1 {
			if f == nil {
				var err error
				if f, err = os.Create(path); err != nil {
					fmt.Fprintf(os.Stderr, "cpu profile: %v\n", err)
					return
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					fmt.Fprintf(os.Stderr, "cpu profile: %v\n", err)
					return
				}
				continue
			}
			pprof.StopCPUProfile()
			_ = f.Close()
			// And what the calls hold at the window's end, for the memory per subscriber.
			if h, err := os.Create(path + ".heap"); err == nil {
				runtime.GC()
				_ = pprof.Lookup("heap").WriteTo(h, 0)
				_ = h.Close()
			}
			fmt.Fprintln(os.Stdout, cpuProfileDone)
			return
		}
	}()
}

// benchMain runs `sanji bench`: the load generator (package bench) against a running server
// (--url) or one it starts itself (--spawn).
func benchMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	fs := flag.NewFlagSet("sanji bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg       bench.Config
		churn     bench.ChurnConfig
		spawn     = fs.Bool("spawn", false, "start a server (this binary, serve --dev on 127.0.0.1) for the run and stop it after")
		jsonPath  = fs.String("json", "", "write the JSON report to this file")
		tablePath = fs.String("table", "", "also write the human table to this file")
		profile   = fs.String("cpu-profile", "", "with --spawn: write the server's CPU profile over the measured window to this file (and a heap profile at its end to FILE.heap)")
	)
	fs.StringVar(&cfg.URL, "url", "", "server base URL, e.g. http://127.0.0.1:8080 (loopback only; the server must run with --dev)")
	fs.StringVar(&cfg.Scenario, "scenario", "fanout", "fanout (P publishers → N subscribers, one room), churn (R rooms of P publishers and N subscribers joining and leaving: a soak of the server's resources), rooms (R rooms of P publishers who see each other), idle (N participants, no media), impaired (a simulcast fan-out to 4 subscribers, the publisher behind an impaired uplink: --uplink-*), reception (a reception call: studio, halls, units, the stage moving)")
	fs.IntVar(&cfg.Rooms, "rooms", 0, "rooms (default: 1; rooms scenario 10)")
	fs.IntVar(&cfg.Publishers, "publishers", 0, "publishers per room (default: 1; rooms scenario 2; idle 0)")
	fs.IntVar(&cfg.Subscribers, "subscribers", 0, "subscribers per room (default: 10; rooms scenario 0)")
	fs.BoolVar(&cfg.PublishersReceive, "publishers-receive", false, "publishers also receive the room's other publishers (default in the rooms scenario)")
	fs.DurationVar(&cfg.Duration, "duration", bench.DefaultDuration, "measured window")
	fs.DurationVar(&cfg.Warmup, "warmup", bench.DefaultWarmup, "time after everyone has media, before the window")
	fs.Float64Var(&cfg.JoinRate, "join-rate", bench.DefaultJoinRate, "joins started per second")
	fs.IntVar(&cfg.Bitrate, "bitrate", bench.DefaultBitrate, "video bitrate per publisher, bit/s")
	fs.IntVar(&cfg.FPS, "fps", bench.DefaultFPS, "video frames per second")
	fs.DurationVar(&cfg.KeyframeInterval, "keyframe-interval", bench.DefaultKeyframeInterval, "keyframe interval (and on every PLI)")
	fs.BoolVar(&cfg.Audio, "audio", true, "publishers also send Opus-sized audio, 50 packets/s")
	fs.BoolVar(&cfg.Simulcast, "simulcast", false, "publishers send their video in three simulcast layers (RIDs q, h, f) of bitrate/10, bitrate/3 and bitrate")
	fs.IntVar(&cfg.Reception.Halls, "halls", bench.DefaultReceptionHalls, "reception: halls where petitioners wait")
	fs.IntVar(&cfg.Reception.Units, "units", 1, "reception: responsible units; one comes on stage in each hearing")
	fs.IntVar(&cfg.Reception.PetitionersPerHall, "petitioners", 0, "reception: petitioners booked per hall (default: enough for the window)")
	fs.DurationVar(&cfg.Reception.Hearing, "hearing", bench.DefaultHearing, "reception: how long each hearing lasts; the stage moves to the next hall this often")
	fs.BoolVar(&cfg.Reception.Record, "record", true, "reception: the hall on stage acknowledges the recording notice, so the server records every hearing")
	fs.Float64Var(&cfg.Uplink.LossPercent, "uplink-loss", 0, "impaired: percent of the publishers' RTP/RTCP packets lost on their uplink")
	fs.DurationVar(&cfg.Uplink.Delay, "uplink-delay", 0, "impaired: one-way delay of the publishers' link, each way (RTT = 2×)")
	uplinkRate := fs.String("uplink-rate", "", "impaired: the publishers' uplink rate cap in bit/s, e.g. 500k or 2M (a drop-tail queue of 150 ms)")
	fs.DurationVar(&cfg.Uplink.For, "impair-for", 0, "impaired: how long the impairment lasts from the window's start; the rest of the window measures the recovery (default: 20s)")
	fs.DurationVar(&churn.Interval, "interval", bench.DefaultChurnInterval, "churn: one join or leave this often, across the rooms")
	fs.DurationVar(&churn.SampleEvery, "sample-every", bench.DefaultChurnSample, "churn: the server's goroutines, heap, RSS, descriptors and sockets are sampled this often")
	fs.Float64Var(&churn.TolerancePercent, "tolerance", bench.DefaultChurnTolerate, "churn: percent above its level after the warm-up a resource may end at")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "server process to measure CPU and memory of (set by --spawn)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *uplinkRate != "" {
		r, err := parseRate(*uplinkRate)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitUsage
		}
		cfg.Uplink.RateBits = r
	}
	if err := scenarioDefaults(&cfg, set); err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if *spawn == (cfg.URL != "") {
		fmt.Fprintln(stderr, msg("cmd.bench.url_or_spawn"))
		return exitUsage
	}
	if *profile != "" && !*spawn {
		fmt.Fprintln(stderr, msg("cmd.bench.profile_needs_spawn"))
		return exitUsage
	}
	cfg.Progress = stderr
	isChurn := cfg.Scenario == bench.ScenarioChurn

	if *spawn {
		srv, err := spawnServer(ctx, *profile, isChurn, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.bench.spawn_failed"), err)
			return exitError
		}
		defer srv.stop(stderr)
		cfg.URL, cfg.ServerPID = srv.url, srv.cmd.Process.Pid
		if *profile != "" {
			cfg.OnWindow = func(bool) { _ = srv.cmd.Process.Signal(syscall.SIGUSR1) }
			defer srv.waitProfile(stderr)
		}
		if isChurn {
			churn.Collect = func() { _ = srv.cmd.Process.Signal(syscall.SIGUSR2) }
		}
	}
	if isChurn {
		return runChurn(ctx, cfg, churn, *jsonPath, *tablePath, stdout, stderr)
	}

	rep, err := bench.Run(ctx, cfg)
	if rep != nil {
		var tb strings.Builder
		rep.WriteTable(&tb)
		fmt.Fprint(stdout, tb.String())
		if *tablePath != "" {
			if werr := os.WriteFile(*tablePath, []byte(tb.String()), 0o644); werr != nil {
				fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.bench.table_failed"), werr)
				return exitError
			}
		}
		if *jsonPath != "" {
			if werr := rep.WriteJSON(*jsonPath); werr != nil {
				fmt.Fprintln(stderr, werr)
				return exitError
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.bench.failed"), err)
		return exitError
	}
	return exitOK
}

// runChurn runs the churn soak and writes its report; a resource that did not come back is a
// failure.
func runChurn(ctx context.Context, cfg bench.Config, cc bench.ChurnConfig, jsonPath, tablePath string, stdout, stderr io.Writer) int {
	rep, err := bench.RunChurn(ctx, cfg, cc)
	if rep != nil {
		var tb strings.Builder
		rep.WriteTable(&tb)
		fmt.Fprint(stdout, tb.String())
		if tablePath != "" {
			if werr := os.WriteFile(tablePath, []byte(tb.String()), 0o644); werr != nil {
				fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.bench.table_failed"), werr)
				return exitError
			}
		}
		if jsonPath != "" {
			if werr := rep.WriteJSON(jsonPath); werr != nil {
				fmt.Fprintln(stderr, werr)
				return exitError
			}
		}
		if err == nil {
			err = rep.Err()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.bench.failed"), err)
		return exitError
	}
	return exitOK
}

// scenarioDefaults fills the room shape of the named scenario where no flag set it.
func scenarioDefaults(cfg *bench.Config, set map[string]bool) error {
	def := func(name string, dst *int, v int) {
		if !set[name] {
			*dst = v
		}
	}
	if cfg.Scenario != bench.ScenarioImpaired {
		for _, f := range []string{"uplink-loss", "uplink-delay", "uplink-rate", "impair-for"} {
			if set[f] {
				return errMsg("cmd.bench.impaired_only", "flag", f)
			}
		}
	}
	if cfg.Scenario != bench.ScenarioChurn {
		for _, f := range []string{"interval", "sample-every", "tolerance"} {
			if set[f] {
				return errMsg("cmd.churn.only", "flag", f)
			}
		}
	}
	switch cfg.Scenario {
	case bench.ScenarioChurn:
		def("rooms", &cfg.Rooms, 10)
		def("publishers", &cfg.Publishers, 1)
		def("subscribers", &cfg.Subscribers, 2)
		// Many short calls rather than heavy ones: the soak looks for what joins and leaves leave
		// behind, not for the cost of forwarding.
		def("bitrate", &cfg.Bitrate, 300_000)
		def("fps", &cfg.FPS, 15)
		if !set["warmup"] {
			cfg.Warmup = bench.DefaultChurnWarmup
		}
	case "fanout":
		def("rooms", &cfg.Rooms, 1)
		def("publishers", &cfg.Publishers, 1)
		def("subscribers", &cfg.Subscribers, 10)
	case "rooms":
		def("rooms", &cfg.Rooms, 10)
		def("publishers", &cfg.Publishers, 2)
		def("subscribers", &cfg.Subscribers, 0)
		if !set["publishers-receive"] {
			cfg.PublishersReceive = true
		}
	case bench.ScenarioImpaired:
		def("rooms", &cfg.Rooms, 1)
		def("publishers", &cfg.Publishers, 1)
		def("subscribers", &cfg.Subscribers, 4)
		if !set["simulcast"] {
			cfg.Simulcast = true
		}
		if !set["duration"] {
			cfg.Duration = 30 * time.Second
		}
		if !set["impair-for"] {
			cfg.Uplink.For = 20 * time.Second
		}
		u := cfg.Uplink
		if u.LossPercent < 0 || u.LossPercent > 100 || u.Delay < 0 || u.For <= 0 || u.For > cfg.Duration {
			return errMsg("cmd.bench.uplink_bounds", "duration", cfg.Duration)
		}
	case "idle":
		def("rooms", &cfg.Rooms, 1)
		def("publishers", &cfg.Publishers, 0)
		def("subscribers", &cfg.Subscribers, 10)
	case bench.ScenarioReception:
		for _, f := range []string{"rooms", "publishers", "subscribers", "publishers-receive"} {
			if set[f] {
				return errMsg("cmd.bench.reception_flag", "flag", f)
			}
		}
		r := cfg.Reception
		if r.Halls < 1 || r.Halls > bench.MaxReceptionHalls || r.Units < 0 || r.Units > bench.MaxReceptionUnits ||
			r.PetitionersPerHall < 0 || r.PetitionersPerHall > bench.MaxPetitionersPerHall || r.Hearing <= 0 {
			return errMsg("cmd.bench.reception_bounds",
				"halls", bench.MaxReceptionHalls, "units", bench.MaxReceptionUnits, "petitioners", bench.MaxPetitionersPerHall)
		}
		return nil
	default:
		return errMsg("cmd.bench.unknown_scenario", "scenario", strconv.Quote(cfg.Scenario))
	}
	if cfg.Rooms < 1 || cfg.Publishers < 0 || cfg.Subscribers < 0 || cfg.Publishers+cfg.Subscribers == 0 {
		return errMsg("cmd.bench.room_shape")
	}
	return nil
}

// parseRate reads a rate in bit/s: a positive whole number, optionally with k (10³) or M (10⁶).
func parseRate(v string) (int64, error) {
	mult := int64(1)
	num := v
	switch {
	case strings.HasSuffix(v, "k"), strings.HasSuffix(v, "K"):
		mult, num = 1_000, v[:len(v)-1]
	case strings.HasSuffix(v, "M"):
		mult, num = 1_000_000, v[:len(v)-1]
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, errMsg("cmd.bench.bad_rate", "rate", strconv.Quote(v))
	}
	return n * mult, nil
}

// spawned is a `sanji serve --dev` child process started by the bench.
type spawned struct {
	cmd      *exec.Cmd
	url      string
	dataDir  string
	profiled chan struct{} // closed when the child says its profile is written
	readers  sync.WaitGroup
	exited   chan struct{}
}

// serverURLPattern finds the address `sanji serve` prints when it is up.
var serverURLPattern = regexp.MustCompile(`http://127\.0\.0\.1:\d+`)

// spawnServer re-executes this binary as `serve --dev` on loopback with a fresh data directory
// and waits for the address it prints.
func spawnServer(ctx context.Context, profile string, collect bool, stderr io.Writer) (*spawned, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	dir, err := os.MkdirTemp("", "sanji-bench-")
	if err != nil {
		return nil, fmt.Errorf("temp data dir: %w", err)
	}
	cmd := exec.Command(exe, "serve", "--dev", "--listen", "127.0.0.1:0", "--data-dir", dir,
		"--log-level", "warn", "--rtc-udp-port", "0", "--rtc-tcp-port", "-1")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SANJI_") { // the child's settings are the bench's, not the caller's
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if profile != "" {
		cmd.Env = append(cmd.Env, cpuProfileEnv+"="+profile)
	}
	if collect {
		cmd.Env = append(cmd.Env, collectEnv+"=1")
	}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s serve: %w", exe, err)
	}
	s := &spawned{cmd: cmd, dataDir: dir, profiled: make(chan struct{}), exited: make(chan struct{})}
	urls := make(chan string, 1)
	s.readers.Add(1)
	go func() {
		// Reads the child's stdout to its end (the child's exit), watching for its address and
		// the profile's completion.
		defer s.readers.Done()
		sc := bufio.NewScanner(out)
		sent, profiled := false, false
		for sc.Scan() {
			line := sc.Text()
			if u := serverURLPattern.FindString(line); u != "" && !sent {
				urls <- u
				sent = true
			}
			if strings.Contains(line, cpuProfileDone) && !profiled {
				close(s.profiled)
				profiled = true
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() {
		// Reaps the child once its stdout is drained (Wait must not run before that).
		s.readers.Wait()
		_ = cmd.Wait()
		close(s.exited)
	}()
	select {
	case s.url = <-urls:
		return s, nil
	case <-s.exited:
		_ = os.RemoveAll(dir)
		return nil, errMsg("cmd.bench.server_exited")
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	s.stop(stderr)
	return nil, errMsg("cmd.bench.server_not_ready")
}

// waitProfile waits a little for the child to finish writing its CPU profile.
func (s *spawned) waitProfile(stderr io.Writer) {
	select {
	case <-s.profiled:
	case <-s.exited:
	case <-time.After(10 * time.Second):
		fmt.Fprintln(stderr, msg("cmd.bench.no_profile"))
	}
}

// stop ends the child gracefully (SIGTERM), killing it if it does not exit in time, and removes
// its data directory.
func (s *spawned) stop(stderr io.Writer) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		fmt.Fprintln(stderr, msg("cmd.bench.server_killed"))
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	_ = os.RemoveAll(s.dataDir)
}
