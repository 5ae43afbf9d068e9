package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"sanji/auth"
	"sanji/cascade"
	"sanji/recording"
	"sanji/scheduler"
	"sanji/scheduler/api"
	"sanji/scheduler/casework"
	"sanji/scheduler/notify"
	"sanji/scheduler/postgres"
	"sanji/scheduler/reception"
	"sanji/scheduler/sqlite"
	"sanji/sfu"
	"sanji/signaling"
	"sanji/web"
)

// devTokenTTL is how long a token from POST /dev/token lasts: a working day of testing.
const devTokenTTL = 12 * time.Hour

// HTTP server limits. WebSocket connections are hijacked, and gorilla/websocket clears the
// deadlines these set, so calls are not cut by them.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// app is one running Sanji: the SFU's sockets, the signaling server and the HTTP server in
// front of them. newApp builds it, Start listens, Shutdown ends it; the app owns every
// goroutine it starts and Shutdown waits for them.
type app struct {
	cfg      config
	log      *zap.Logger
	registry *prometheus.Registry
	sfu      *sfu.SFU
	sig      *signaling.Server
	srv      *http.Server
	store    scheduler.Store
	// logins are the one-time passwords created at this start (the bootstrap admin, the demo
	// users), for serve to print once; never logged.
	logins []scheduler.Login

	mu        sync.Mutex
	ln        net.Listener
	serveDone chan struct{} // closed when the HTTP serve loop has returned
	serveErr  error         // why it returned, when not because of Shutdown

	// The background jobs (overdue cases, reminders, recording retention): started by Start,
	// ended by shutdown before the store closes.
	jobs     []job
	notifier reception.Notifier
	recorder *recording.Recorder
	// fw is TLS, the one port and the TURN relay (firewall.go).
	fw *firewall
	// cluster is this node's part in a cluster (cluster.go); nil on a single node.
	cluster *clusterPart
	// cascade holds media of other nodes' calls here and of this node's calls there
	// (cascade.go); nil on a single node or with cluster.cascade off.
	cascade *cascadePart

	shuttingDown atomic.Bool
	shutdownOnce sync.Once
	shutdownErr  error
}

// newApp builds the app and opens the SFU's sockets; it does not listen for HTTP yet.
func newApp(cfg config, log *zap.Logger) (*app, error) {
	if log == nil {
		log = zap.NewNop()
	}
	secret, err := tokenSecret(cfg, log)
	if err != nil {
		return nil, err
	}
	xkeys, err := exchangeKeys(cfg, log)
	if err != nil {
		return nil, err
	}

	reg := prometheus.NewRegistry()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "sanji_build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}

	st, logins, err := openStore(cfg, log)
	if err != nil {
		return nil, err
	}

	fw, err := openFirewall(cfg, log)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	relayLo, relayHi, _ := cfg.RTC.relayPorts() // checked with the configuration
	media, err := sfu.New(sfu.Config{
		RelayPortMin: relayLo,
		RelayPortMax: relayHi,
		ListenIP:     cfg.RTC.ListenIP,
		UDPPort:      cfg.RTC.UDPPort,
		TCPPort:      cfg.RTC.TCPPort,
		TCPListener:  fw.iceListener(),
		PublicIPs:    cfg.RTC.PublicIPs,
		LoopbackOnly: cfg.RTC.LoopbackOnly,
		MaxDelay:     cfg.RTC.MaxDelay,
		Logger:       log.Named("sfu"),
		Registerer:   reg,
	})
	if err != nil {
		fw.close()
		_ = st.Close()
		return nil, wrapMsg(err, "cmd.app.media_ports", "udp", cfg.RTC.UDPPort, "tcp", cfg.RTC.TCPPort)
	}
	if err := fw.startRelay(cfg, secret, media, log, reg); err != nil {
		_ = media.Close()
		fw.close()
		_ = st.Close()
		return nil, err
	}

	recorder, err := openRecorder(cfg, st, log, reg)
	if err != nil {
		fw.closeRelay()
		_ = media.Close()
		fw.close()
		_ = st.Close()
		return nil, err
	}

	cp, err := openCluster(cfg, reg)
	if err != nil {
		fw.closeRelay()
		_ = media.Close()
		fw.close()
		_ = st.Close()
		return nil, err
	}

	signer := auth.NewSigner(secret)
	notices := notifier(cfg.Notify, log)
	apiCfg := api.Config{Store: st, Signer: signer, Logger: log, Notifier: notices, Exchange: xkeys, Registerer: reg,
		Attachments: casework.Blobs{Dir: filepath.Join(cfg.DataDir, "attachments"), MaxSize: int64(cfg.Limits.UploadMiB) << 20},
		Uploads:     cfg.Limits.uploads(), Bundles: cfg.Limits.bundles(),
		Recordings: recordingsDir(cfg), ForwardDaysPerLevel: cfg.Casework.ForwardDaysPerLevel,
		TwoFactor: api.TwoFactor{Roles: cfg.Auth.totpRoles()}, Cases: cfg.Cases.settings(), LogClientIP: cfg.Log.ClientIP}
	var placement signaling.Placer
	var checkOrigin func(*http.Request) bool
	var shared signaling.Shared
	var seatMarks signaling.SeatMarks
	if cp != nil {
		checkOrigin = cp.checkOrigin
		shared = liveState{cp}
		seatMarks = liveState{cp}
		apiCfg.Cluster = apiCluster{cp}
		apiCfg.LoginLimiter = cp.loginLimiter(cfg.Redis.KeyPrefix)
		placement = placer{cp: cp, st: st}
	}
	var cas *cascadePart
	var sigCascade signaling.Cascade
	if cp != nil && cfg.Cluster.Cascade {
		cas = newCascade(cfg, cp, st, media, signer, reg, log)
		sigCascade = cas
	}
	schedAPI := api.New(apiCfg)
	sig := signaling.New(signaling.Config{
		Placement:     placement,
		Cascade:       sigCascade,
		CheckOrigin:   checkOrigin,
		Shared:        shared,
		SeatMarks:     seatMarks,
		SFU:           media,
		Tokens:        signer,
		Logger:        log, // it names its own logger
		Registerer:    reg,
		Calls:         schedAPI.CallBridge(),
		Recorder:      recorder,
		ICEServersFor: fw.ice.For,
		// 0 in the configuration turns resume off, which signaling spells negative.
		ResumeGrace:        cmp.Or(cfg.ResumeGrace, -1),
		ResumeGraceOnStage: cfg.ResumeGraceOnStage,
		LogClientIP:        cfg.Log.ClientIP,
		RateLimit:          cfg.Limits.WSMessagesPerSecond,
		JoinRate:           cfg.Limits.JoinsPerSecond,
		JoinBurst:          cfg.Limits.JoinBurst,
	})
	schedAPI.SetCallHooks(sig) // slips and bookings reach the live calls

	a := &app{cfg: cfg, log: log, registry: reg, sfu: media, sig: sig, store: st, logins: logins, notifier: notices, recorder: recorder, fw: fw, cluster: cp, cascade: cas}

	mux := http.NewServeMux()
	if cp != nil {
		mux.Handle("/", web.HandlerForCluster(cp.peerHosts))
	} else {
		mux.Handle("/", web.Handler())
	}
	mux.Handle("/api/", schedAPI)
	mux.Handle("/ws", sig)
	if cas != nil {
		mux.Handle(cascade.Path, cas.hub)
	}
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: zap.NewStdLog(log.Named("metrics")),
		Registry: reg, // reports its own scrape errors as promhttp_metric_handler_errors_total
	}))
	if cfg.Dev {
		mux.Handle("POST /dev/token", signaling.DevTokenHandler(signer, devTokenTTL))
		mux.Handle("POST /dev/reception", devReceptionHandler(st, signer, devTokenTTL, log.Named("dev")))
	}

	errLog, err := zap.NewStdLogAt(log.Named("http"), zap.WarnLevel)
	if err != nil {
		fw.closeRelay()
		_ = media.Close()
		fw.close()
		_ = st.Close()
		if cp != nil {
			_ = cp.rdb.Close()
		}
		return nil, fmt.Errorf("http error log: %w", err)
	}
	a.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          errLog,
	}
	return a, nil
}

// Start listens on cfg.Listen and serves HTTP in the background; it returns once the socket is
// open, so URL is valid and a listen error is returned here rather than logged later.
func (a *app) Start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ln != nil {
		return errors.New("app already started")
	}
	if a.shuttingDown.Load() {
		return errors.New("app is shut down")
	}
	ln, err := a.fw.listen(a.cfg.Listen)
	if err != nil {
		return err
	}
	a.ln = ln
	a.serveDone = make(chan struct{})
	go func() {
		defer close(a.serveDone)
		if err := a.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http server stopped", zap.Error(err))
			a.mu.Lock()
			a.serveErr = err
			a.mu.Unlock()
		}
	}()
	a.startJobs()
	if err := a.startNode(); err != nil {
		return err
	}
	addr := ln.Addr().String()
	fields := []zap.Field{zap.String("http", addr), zap.Bool("dev", a.cfg.Dev)}
	if u := a.sfu.UDPAddr(); u != nil {
		fields = append(fields, zap.String("ice_udp", u.String()))
	}
	if t := a.sfu.TCPAddr(); t != nil {
		fields = append(fields, zap.String("ice_tcp", t.String()))
	}
	fields = append(fields, a.fw.logFields()...)
	a.log.Info("listening", fields...)
	return nil
}

// job is a background goroutine of the app: cancel ends it, done closes when it has.
type job struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startJob runs run every interval until shutdown. Called with a.mu held, by Start.
func (a *app) startJob(every time.Duration, run func(ctx context.Context, tick <-chan time.Time)) {
	ctx, cancel := context.WithCancel(context.Background())
	j := job{cancel: cancel, done: make(chan struct{})}
	a.jobs = append(a.jobs, j)
	go func() {
		defer close(j.done)
		t := time.NewTicker(every)
		defer t.Stop()
		run(ctx, t.C)
	}()
}

// Job intervals: the overdue job looks for cases past their legal period, the reminder job for
// sessions starting within a day, the retention job for recordings past their keeping period.
const (
	overdueEvery   = 10 * time.Minute
	remindEvery    = 10 * time.Minute
	retentionEvery = 24 * time.Hour
	auditHeadEvery = 24 * time.Hour
)

// noteAuditHead logs the audit chain's head: a line a day (and one at start) that an auditor can
// keep outside the database and later compare with `sanji verify --audit --head` or the export.
func (a *app) noteAuditHead(ctx context.Context, log *zap.Logger) {
	h, err := a.store.AuditHead(ctx)
	if err != nil {
		log.Warn("audit chain head", zap.Error(err))
		return
	}
	log.Info("audit chain head", zap.Int64("entry", h.ID), zap.Int64("records", h.Records),
		zap.String("algorithm", h.Algorithm), zap.String("head", h.Hash))
}

// startJobs starts the background jobs. Called with a.mu held, once, by Start.
func (a *app) startJobs() {
	auditLog := a.log.Named("audit")
	a.startJob(auditHeadEvery, func(ctx context.Context, tick <-chan time.Time) {
		a.noteAuditHead(ctx, auditLog)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick:
				a.noteAuditHead(ctx, auditLog)
			}
		}
	})
	overdue, reminders := a.log.Named("overdue"), a.log.Named("reminders")
	a.startJob(overdueEvery, func(ctx context.Context, tick <-chan time.Time) {
		casework.RunOverdueJob(ctx, a.store, casework.DefaultRules(), tick, func(n int, err error) {
			if err != nil {
				overdue.Warn("overdue job", zap.Error(err))
			}
			if n > 0 {
				overdue.Info("supervision opened on overdue cases", zap.Int("opened", n))
			}
		}, func(e casework.Escalation) {
			// The office the item climbed to hears of it; a failed delivery is logged, the climb stays.
			sv := e.Supervision
			overdue.Info("supervision escalated", zap.Int64("supervision", sv.ID), zap.String("to", e.To), zap.Int64("office", sv.EscalatedUnitID))
			if a.notifier == nil {
				return
			}
			text := e.Notice()
			n := reception.Notice{Kind: reception.NoticeSupervisionEscalated, UnitID: sv.EscalatedUnitID, ZH: text.ZH, EN: text.EN, At: time.Now()}
			if err := a.notifier.Notify(ctx, n); err != nil {
				overdue.Warn("escalation notice not delivered", zap.Int64("supervision", sv.ID), zap.Error(err))
			}
		})
	})
	a.startJob(remindEvery, func(ctx context.Context, tick <-chan time.Time) {
		reception.RunReminderJob(ctx, a.store, a.notifier, tick, func(n int, err error) {
			if err != nil {
				reminders.Warn("reminder job", zap.Error(err))
			}
			if n > 0 {
				reminders.Info("sessions reminded", zap.Int("sessions", n))
			}
		})
	})
	a.startJob(retentionEvery, func(ctx context.Context, tick <-chan time.Time) {
		for {
			a.purgeRecordings(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick:
			}
		}
	})
}

// Done is closed when the HTTP server has stopped serving, by Shutdown or by a failure (Err).
// It is nil before Start.
func (a *app) Done() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.serveDone
}

// Err is why the HTTP server stopped on its own; nil while it serves and after Shutdown.
func (a *app) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.serveErr
}

// URL is the address a person opens in the browser, e.g. "http://127.0.0.1:43123"; "" before
// Start. A wildcard listen address is shown as loopback, the address that works on this machine.
func (a *app) URL() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.urlLocked()
}

// urlLocked is URL with a.mu held.
func (a *app) urlLocked() string {
	if a.ln == nil {
		return ""
	}
	scheme := "http://"
	if a.cfg.TLS.on() {
		scheme = "https://"
	}
	tcp, ok := a.ln.Addr().(*net.TCPAddr)
	if !ok {
		return scheme + a.ln.Addr().String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		// Go listens dual-stack on a wildcard, so IPv4 loopback reaches it either way.
		host = "127.0.0.1"
	}
	return scheme + net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

// Shutdown ends the app gracefully: readiness turns 503, every signaling client gets `bye`, the
// HTTP server stops taking requests and finishes the ones in flight, then the SFU closes its
// sockets. When ctx ends first, remaining connections are cut. Calling it again returns the
// first call's result.
func (a *app) Shutdown(ctx context.Context) error {
	a.shutdownOnce.Do(func() { a.shutdownErr = a.shutdown(ctx) })
	return a.shutdownErr
}

func (a *app) shutdown(ctx context.Context) error {
	a.shuttingDown.Store(true)
	a.log.Info("shutting down")
	// No new rooms here from now on; the calls still here end below.
	a.drainNode()
	var errs []error

	// Signaling first: its sockets are hijacked, so http.Server.Shutdown would not wait for them,
	// and clients should hear `bye` before the HTTP side goes away.
	if err := a.sig.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("signaling shutdown: %w", err))
	}
	// Its sessions have let their remote media go; the links and what other nodes hold here go
	// now, before the SFU closes.
	if a.cascade != nil {
		a.cascade.hub.Close()
	}

	a.mu.Lock()
	ln, done := a.ln, a.serveDone
	a.mu.Unlock()
	if ln != nil {
		if err := a.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
			_ = a.srv.Close() // out of time: cut what is left
		}
		<-done
	}
	// The calls have ended: give their rooms up and leave the registry at once.
	if err := a.closeNode(ctx); err != nil {
		errs = append(errs, fmt.Errorf("cluster leave: %w", err))
	}
	// The one port's other users (ICE-TCP, TURN) stop with it; the relay before the SFU it
	// relays to.
	a.fw.closeRelay()

	a.mu.Lock()
	jobs := a.jobs
	a.mu.Unlock()
	for _, j := range jobs {
		j.cancel()
		<-j.done
	}
	// The calls sealed their hearings' recordings as they ended (signaling above); what is
	// still open is sealed here.
	if err := a.recorder.Close(); err != nil {
		errs = append(errs, fmt.Errorf("recorder close: %w", err))
	}
	if err := a.sfu.Close(); err != nil {
		errs = append(errs, fmt.Errorf("sfu close: %w", err))
	}
	a.fw.close()
	// Last: requests in flight above may still have been writing.
	if err := a.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("store close: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		a.log.Error("shutdown finished with errors", zap.Error(err))
		return err
	}
	a.log.Info("shutdown complete")
	return nil
}

// healthz answers while the process can serve HTTP at all; a failing liveness probe means restart.
func (a *app) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 200 while the app takes new calls: the SFU's sockets are open and no shutdown
// has begun. During shutdown it answers 503 so a load balancer sends new clients elsewhere.
func (a *app) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case a.shuttingDown.Load():
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(msg("cmd.app.shutting_down") + "\n"))
	case a.clusterUnready() != "":
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(msg(a.clusterUnready()) + "\n"))
	case a.sfu.UDPAddr() == nil:
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(msg("cmd.app.media_closed") + "\n"))
	default:
		_, _ = w.Write([]byte("ready\n"))
	}
}

// storeFile is the SQLite database under the data directory.
const storeFile = "sanji.db"

// openStore opens the scheduler's store (PostgreSQL when store.dsn is set, else SQLite under
// data_dir), migrates it, creates the first admin on a new store and, with --demo, the demo tree.
// It returns the one-time logins created now.
func openStore(cfg config, log *zap.Logger) (scheduler.Store, []scheduler.Login, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := connectStore(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	// The audit chain: entries written before it existed are chained now (migration 0010), and
	// new ones are sealed with the suite's hash (the recordings' too).
	if s, ok := st.(interface {
		SealAudit(context.Context, string) (int, error)
	}); ok {
		n, err := s.SealAudit(ctx, cfg.sealHash())
		if err != nil {
			_ = st.Close()
			return nil, nil, wrapMsg(err, "cmd.store.init_failed")
		}
		if n > 0 {
			log.Info("audit log: existing entries chained", zap.Int("entries", n))
		}
	}
	gen := func() (string, error) { return auth.RandomPassword(14) }
	var logins []scheduler.Login
	admin, err := scheduler.Bootstrap(ctx, st, auth.HashPassword, gen)
	if err != nil {
		_ = st.Close()
		return nil, nil, wrapMsg(err, "cmd.store.init_failed")
	}
	if admin != nil {
		logins = append(logins, *admin)
		log.Info("created the first admin account", zap.String("username", admin.Username))
	}
	if cfg.Demo {
		demo, err := scheduler.SeedDemo(ctx, st, auth.HashPassword, gen)
		if err != nil {
			_ = st.Close()
			return nil, nil, wrapMsg(err, "cmd.store.demo_failed")
		}
		if demo != nil {
			log.Info("seeded the demo tree", zap.Int("users", len(demo)))
		}
		logins = append(logins, demo...)
		if x, booked, err := scheduler.SeedDemoReception(ctx, st, time.Now()); err != nil {
			_ = st.Close()
			return nil, nil, wrapMsg(err, "cmd.store.demo_reception_failed")
		} else if booked {
			log.Info("booked today's demo reception", zap.Int64("session", x.ID), zap.Time("start", x.Start))
		}
	}
	return st, logins, nil
}

// connectStore opens and migrates the store cfg names: PostgreSQL when store.dsn is set, else
// SQLite under data_dir (created when missing).
func connectStore(ctx context.Context, cfg config, log *zap.Logger) (scheduler.Store, error) {
	var st scheduler.Store
	keys, err := identityKeys(cfg, log)
	if err != nil {
		return nil, err
	}
	if cfg.Store.DSN != "" {
		st, err = postgres.Open(ctx, cfg.Store.DSN, keys)
		log.Info("store", zap.String("kind", "postgres"))
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, wrapMsg(err, "cmd.store.create_dir", "dir", cfg.DataDir)
		}
		path := filepath.Join(cfg.DataDir, storeFile)
		st, err = sqlite.OpenKeys(ctx, path, keys)
		log.Info("store", zap.String("kind", "sqlite"), zap.String("path", path))
	}
	if err != nil {
		return nil, wrapMsg(err, "cmd.store.open_failed")
	}
	if s, ok := st.(interface{ SealedAtOpen() int }); ok && s.SealedAtOpen() > 0 {
		log.Info("identity: rows kept in clear by an older version sealed", zap.Int("rows", s.SealedAtOpen()))
	}
	return st, nil
}

// notifier delivers the scheduler's notices: texts to people go to the SMS gateway (without one
// configured, to the log, masked), and every notice to the webhook when one is set.
func notifier(c notifyConfig, log *zap.Logger) reception.Notifier {
	n := notify.Fanout{notify.SMS{Gateway: notify.LogSMS{Log: log.Named("sms")}}}
	if c.WebhookURL != "" {
		n = append(n, &notify.Webhook{URL: c.WebhookURL, Secret: []byte(c.WebhookSecret)})
	}
	return n
}
