// Command sanji is the Sanji server: one binary that serves the three-tier video reception
// (三级视频接访) — the web client, the signaling WebSocket and the WebRTC SFU.
//
//	sanji serve [flags]   run the server until SIGINT or SIGTERM
//	sanji verify DIR      check a hearing's recording against its hash chain
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
		return verifyMain(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
		return exitOK
	case "help", "--help", "-help", "-h":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "未知命令 %q，请运行 `sanji help` 查看用法 / unknown command %q; run `sanji help` for usage\n", args[0], args[0])
		return exitUsage
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Sanji — 三级视频接访 / three-tier video reception server

用法 / Usage:
  sanji serve [flags]   启动服务 / run the server (web client, signaling, SFU) until SIGINT/SIGTERM
  sanji bench [flags]   负载测试（仅限本机）/ load generator against a loopback server, see docs/benchmarks.md
  sanji verify DIR      校验庭审录像的哈希链 / check a hearing's recording against its hash chain, see docs/recording.md
  sanji version         显示版本 / print the version
  sanji help            显示本帮助 / show this help

Run "sanji serve --help" for the settings; see docs/operations.md.
`)
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
				fmt.Fprintln(stderr, "再次收到信号，立即退出 / second signal received, exiting now")
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
		fmt.Fprintf(stderr, "配置有误 / configuration error:\n%v\n", err)
		return exitUsage
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "无法创建日志 / cannot create the logger: %v\n", err)
		return exitError
	}
	defer func() { _ = log.Sync() }()
	log.Info("starting", zap.String("version", version), zap.String("data_dir", cfg.DataDir))

	a, err := newApp(cfg, log)
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		fmt.Fprintf(stderr, "启动失败 / cannot start: %v\n", err)
		return exitError
	}
	if err := a.Start(); err != nil {
		log.Error("cannot start", zap.Error(err))
		fmt.Fprintf(stderr, "启动失败 / cannot start: %v\n", err)
		_ = a.Shutdown(context.Background())
		return exitError
	}

	u := a.URL()
	fmt.Fprintf(stdout, "Sanji 已启动，请在浏览器中打开 / Sanji is running, open in a browser: %s\n", u)
	if !cfg.RTC.LoopbackOnly {
		// Browsers grant camera and microphone only to https:// pages or to localhost.
		fmt.Fprintln(stdout, "其他电脑上的浏览器需经 HTTPS 反向代理访问，见 docs/operations.md / browsers on other machines need HTTPS through a reverse proxy, see docs/operations.md")
	}
	if cfg.Dev {
		fmt.Fprintf(stdout, "开发模式：令牌接口已开启 / dev mode: token endpoint is on at POST %s/dev/token\n", u)
		fmt.Fprintf(stdout, "开发用通话页：在两个 Chromium/Chrome 窗口中打开 %s/dev.html，加入同一房间即可通话 / development call page: open %s/dev.html in two Chromium/Chrome windows and join the same room\n", u, u)
	}
	fmt.Fprintf(stdout, "登录页面 / log in at: %s/login.html\n", u)
	printLogins(stdout, a.logins)

	code := exitOK
	select {
	case <-ctx.Done():
		log.Info("stop requested")
	case <-a.Done():
		log.Error("http server failed", zap.Error(a.Err()))
		fmt.Fprintf(stderr, "HTTP 服务意外停止 / the HTTP server stopped unexpectedly: %v\n", a.Err())
		code = exitError
	}
	if onStop != nil {
		onStop()
	}
	fmt.Fprintln(stdout, "正在关闭，等待通话结束 / shutting down, ending calls")
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
			fmt.Fprintf(stderr, "关闭时出错 / shutdown finished with errors: %v\n", err)
			return exitError
		}
	case <-time.After(cfg.ShutdownTimeout + shutdownGrace):
		log.Error("shutdown did not finish after its timeout; exiting anyway",
			zap.Duration("shutdown_timeout", cfg.ShutdownTimeout))
		fmt.Fprintf(stderr, "关闭未能在 %v 内完成，强制退出 / shutdown did not finish within %v; exiting anyway\n",
			cfg.ShutdownTimeout, cfg.ShutdownTimeout)
		return exitError
	}
	fmt.Fprintln(stdout, "已关闭 / stopped")
	return code
}

// printLogins shows the passwords created at this start, once: they are stored only as hashes.
func printLogins(w io.Writer, logins []scheduler.Login) {
	if len(logins) == 0 {
		return
	}
	fmt.Fprintln(w, "以下账号密码只显示这一次，请妥善保存 / these passwords are shown only this once; keep them safe:")
	for _, l := range logins {
		note := ""
		if l.Username == scheduler.AdminUsername {
			note = "  （首次登录须修改密码 / must be changed at first login）"
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
