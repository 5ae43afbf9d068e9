// Command sanji is the Sanji server: one binary that serves the three-tier video reception
// (三级视频接访) — the web client, the signaling WebSocket and the WebRTC SFU.
//
//	sanji serve [flags]   run the server until SIGINT or SIGTERM
//	sanji verify DIR      check a hearing's recording against its hash chain
//	sanji reset-password USERNAME   a new one-time password, on the server's machine
//	sanji keys rotate     re-seal the petitioners' identity with the current key
//	sanji version         print the version
//	sanji help            show usage
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"sanji/scheduler"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the server failed, or shut down with errors
	exitUsage = 2 // bad command line or config
)

// run dispatches the subcommand and returns the exit code; main is the only caller of os.Exit
// (besides the forced exit on a second signal).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return serveMain(ctx, args[1:], stdout, stderr, getenv)
	case "bench":
		return benchMain(ctx, args[1:], stdout, stderr)
	case "verify":
		return verifyMain(ctx, args[1:], stdout, stderr, getenv)
	case "reset-password":
		return resetPasswordMain(ctx, args[1:], stdout, stderr, getenv)
	case "keys":
		return keysMain(ctx, args[1:], stdout, stderr, getenv)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
		return exitOK
	case "help", "--help", "-help", "-h":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintln(stderr, msg("cmd.main.unknown_command", "command", strconv.Quote(args[0])))
		return exitUsage
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `Sanji — %s

%s:
  sanji serve [flags]   %s
  sanji bench [flags]   %s
  sanji verify DIR      %s
  sanji reset-password USERNAME
                        %s
  sanji keys rotate [--new]
                        %s
  sanji version         %s
  sanji help            %s

Run "sanji serve --help" for the settings; see docs/operations.md.
`, msg("cmd.usage.title"), msg("cmd.usage.label"), msg("cmd.usage.serve"), msg("cmd.usage.bench"),
		msg("cmd.usage.verify"), msg("cmd.password.usage"), msg("cmd.identity.rotate_about"), msg("cmd.usage.version"), msg("cmd.usage.help"))
}

func versionString() string {
	s := "sanji " + version + " " + runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" && kv.Value != "" {
				s += " " + kv.Value
			}
		}
	}
	return s
}

// serveMain runs `sanji serve` until SIGINT or SIGTERM (or ctx ends). A second signal during
// the graceful shutdown exits at once.
func serveMain(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	force := make(chan os.Signal, 1)
	done := make(chan struct{})
	defer close(done) // ends the watcher below once shutdown has finished
	return serve(sigCtx, args, stdout, stderr, getenv, func() {
		// Catch the next signal before releasing the first handler, so no signal falls
		// through to the default action in between.
		signal.Notify(force, os.Interrupt, syscall.SIGTERM)
		stop()
		go func() {
			defer signal.Stop(force)
			select {
			case <-force:
				fmt.Fprintln(stderr, msg("cmd.main.second_signal"))
				os.Exit(exitError)
			case <-done:
			}
		}()
	})
}

// serve is `sanji serve` without the signal wiring: it runs until ctx ends, then shuts down.
// onStop is called once ctx has ended, before the graceful shutdown starts.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, onStop func()) int {
	cfg, err := loadConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s:\n%v\n", msg("cmd.main.config_error"), err)
		return exitUsage
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.main.logger_failed"), err)
		return exitError
	}
	defer func() { _ = log.Sync() }()
	log.Info("starting", zap.String("version", version), zap.String("data_dir", cfg.DataDir))

	a, err := newApp(cfg, log)
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.main.start_failed"), err)
		return exitError
	}
	if err := a.Start(); err != nil {
		log.Error("cannot start", zap.Error(err))
		fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.main.start_failed"), err)
		_ = a.Shutdown(context.Background())
		return exitError
	}

	u := a.URL()
	fmt.Fprintf(stdout, "%s: %s\n", msg("cmd.main.running"), u)
	if !cfg.RTC.LoopbackOnly {
		// Browsers grant camera and microphone only to https:// pages or to localhost.
		fmt.Fprintln(stdout, msg("cmd.main.https_proxy"))
	}
	if cfg.Dev {
		fmt.Fprintln(stdout, msg("cmd.main.dev_token", "url", u+"/dev/token"))
		fmt.Fprintln(stdout, msg("cmd.main.dev_page", "url", u))
	}
	fmt.Fprintf(stdout, "%s: %s/login.html\n", msg("cmd.main.login_page"), u)
	printLogins(stdout, a.logins)
	if cfg.Demo {
		printDemo(stdout, u, cfg.DataDir, a.logins)
	}

	code := exitOK
	select {
	case <-ctx.Done():
		log.Info("stop requested")
	case <-a.Done():
		log.Error("http server failed", zap.Error(a.Err()))
		fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.main.http_stopped"), a.Err())
		code = exitError
	}
	if onStop != nil {
		onStop()
	}
	fmt.Fprintln(stdout, msg("cmd.main.shutting_down"))
	shCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Shutdown honours its context, but a component stuck in a call that does not (a deadlock,
	// say) must not keep the process alive past its timeout: an operator's stop has to stop it.
	// The goroutine is abandoned in that case and ends with the process.
	res := make(chan error, 1)
	go func() { res <- a.Shutdown(shCtx) }()
	select {
	case err := <-res:
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.main.shutdown_errors"), err)
			return exitError
		}
	case <-time.After(cfg.ShutdownTimeout + shutdownGrace):
		log.Error("shutdown did not finish after its timeout; exiting anyway",
			zap.Duration("shutdown_timeout", cfg.ShutdownTimeout))
		fmt.Fprintln(stderr, msg("cmd.main.shutdown_timeout", "timeout", cfg.ShutdownTimeout))
		return exitError
	}
	fmt.Fprintln(stdout, msg("cmd.main.stopped"))
	return code
}

// printLogins shows the passwords created at this start, once: they are stored only as hashes.
func printLogins(w io.Writer, logins []scheduler.Login) {
	if len(logins) == 0 {
		return
	}
	fmt.Fprintln(w, msg("cmd.main.logins_once")+":")
	for _, l := range logins {
		note := ""
		if l.Username == scheduler.AdminUsername {
			note = "  （" + msg("cmd.main.change_at_first_login") + "）"
		}
		fmt.Fprintf(w, "  %-22s %-16s %-16s %s%s\n", l.Username, l.Password, l.Role, l.Unit, note)
	}
}

// shutdownGrace is how long past shutdown_timeout serve waits for Shutdown to return after
// cutting connections, before giving up on it.
const shutdownGrace = 3 * time.Second

// newLogger builds the process logger: JSON lines for log collectors by default, console
// format for a person at a terminal. Logs go to w (stderr); stdout is for the human messages.
func newLogger(cfg config, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("log_level %q: %w", cfg.LogLevel, err)
	}
	var enc zapcore.Encoder
	switch cfg.LogFormat {
	case "console":
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		enc = zapcore.NewConsoleEncoder(ec)
	case "json", "":
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	default:
		return nil, fmt.Errorf("log_format %q: unknown", cfg.LogFormat)
	}
	out := zapcore.Lock(zapcore.AddSync(w))
	return zap.New(zapcore.NewCore(enc, out, level), zap.AddCaller(), zap.ErrorOutput(out)), nil
}
