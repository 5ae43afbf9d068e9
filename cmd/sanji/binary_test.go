package main

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary compiles this command into a temporary directory, as an operator would get it.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is not in PATH, cannot build the binary under test: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "sanji")
	cmd := exec.Command(goTool, "build", "-ldflags", "-X main.version=v0.0.0-test", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cleanEnv is the process environment without SANJI_* variables, so a developer's or CI's
// settings (SANJI_CONFIG, say) do not change what the test runs.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SANJI_") {
			env = append(env, kv)
		}
	}
	return env
}

// serverProcess is a running `sanji serve`.
type serverProcess struct {
	t       *testing.T
	cmd     *exec.Cmd
	url     string
	dataDir string
	stderr  *strings.Builder // read only after the process has exited
	lines   chan string      // stdout, closed at EOF
	exited  chan error       // the Wait result, after stdout's EOF
	stdout  []string
	reaped  bool
}

// startServer runs `bin serve` with loopback-only settings plus extra, waits for the address it
// prints and for /readyz to answer 200. The process is killed when the test ends, if still running.
func startServer(t *testing.T, bin string, extra ...string) *serverProcess {
	t.Helper()
	return startServerEnv(t, bin, nil, extra...)
}

// startServerEnv is startServer with env added to the process's clean environment.
func startServerEnv(t *testing.T, bin string, env []string, extra ...string) *serverProcess {
	t.Helper()
	p := &serverProcess{t: t, dataDir: filepath.Join(t.TempDir(), "data"), stderr: &strings.Builder{},
		lines: make(chan string, 100), exited: make(chan error, 1)}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", p.dataDir,
		"--rtc-udp-port", "0", "--rtc-tcp-port", "0", "--dev"}, extra...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(cleanEnv(), env...)
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// One goroutine owns the process's end: it reads stdout until the process closes it, then
	// reaps the process (Wait must follow the last read of the pipe).
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if !p.reaped { // a failed test must not leave sanji running
			_ = p.cmd.Process.Kill()
			p.wait(time.Minute)
		}
	})

	if !p.waitLine(30*time.Second, func(l string) bool {
		p.url = regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(l)
		return p.url != ""
	}) {
		t.Fatalf("sanji printed no address; stdout %q", p.stdout)
	}

	c := testHTTPClient(t)
	defer c.Transport.(*http.Transport).CloseIdleConnections()
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := c.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(end) {
			t.Fatalf("%s/readyz never answered 200 (last error %v)", p.url, err)
		}
	}
}

// waitLine reads stdout until match accepts a line; false on timeout or EOF.
func (p *serverProcess) waitLine(d time.Duration, match func(string) bool) bool {
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return false
			}
			p.stdout = append(p.stdout, l)
			if match(l) {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

// wait waits up to d for the process to exit, collecting the rest of stdout.
func (p *serverProcess) wait(d time.Duration) (exitCode int, ok bool) {
	timeout := time.After(d)
	for {
		select {
		case l, more := <-p.lines:
			if more {
				p.stdout = append(p.stdout, l)
			} else {
				p.lines = nil // drained; now the exit status
			}
		case <-p.exited:
			p.reaped = true
			return p.cmd.ProcessState.ExitCode(), true
		case <-timeout:
			return 0, false
		}
	}
}

func (p *serverProcess) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("send %v: %v", sig, err)
	}
}

// holdShutdown opens a TCP connection to the HTTP port and sends nothing. http.Server.Shutdown
// counts a connection that has not sent a request header for 5 s as busy, so the graceful
// shutdown lasts about 5 s: long enough to act during it.
func (p *serverProcess) holdShutdown() net.Conn {
	p.t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { conn.Close() })
	// Half a request: the server counts the connection as active (not idle) once it has read a
	// byte, so the graceful shutdown waits for it.
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: sanji\r\n")); err != nil {
		p.t.Fatal(err)
	}
	// Connections are accepted in order: once a later one has been served, this one has been
	// accepted too, so a loaded machine cannot let the shutdown overtake it.
	resp, err := http.Get(p.url + "/healthz")
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	return conn
}

// output is what the process printed; stderr only once it has exited (exec writes it meanwhile).
func (p *serverProcess) output() string {
	s := "stdout:\n" + strings.Join(p.stdout, "\n")
	if p.reaped {
		s += "\nstderr:\n" + p.stderr.String()
	}
	return s
}

// TestBinary runs the real binary as an operator would.
func TestBinary(t *testing.T) {
	bin := buildBinary(t)

	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(bin, "version").Output()
		if err != nil || !strings.Contains(string(out), "sanji v0.0.0-test") {
			t.Fatalf("sanji version = %q, %v", out, err)
		}
	})

	t.Run("bad config exits 2", func(t *testing.T) {
		cmd := exec.Command(bin, "serve", "--rtc-udp-port", "70000")
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "rtc.udp_port 70000") {
			t.Fatalf("exit %v, output %q; want status 2 naming the setting", err, out)
		}
	})

	// SIGTERM: readiness, then a clean exit with status 0 within the deadline.
	t.Run("SIGTERM exits 0", func(t *testing.T) {
		p := startServer(t, bin)
		p.signal(syscall.SIGTERM)
		code, ok := p.wait(15 * time.Second)
		if !ok {
			t.Fatalf("sanji did not exit within 15s of SIGTERM\n%s", p.output())
		}
		if code != 0 {
			t.Fatalf("exit status %d after SIGTERM, want 0\n%s", code, p.output())
		}
		out := p.output()
		for _, want := range []string{"已关闭 / stopped", `"msg":"shutting down"`, `"msg":"shutdown complete"`} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %s\n%s", want, out)
			}
		}
		if fi, err := os.Stat(filepath.Join(p.dataDir, "token.secret")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("token secret in the data directory: %v, %v", fi, err)
		}
	})

	// A second signal during a slow graceful shutdown exits at once with status 1.
	t.Run("second signal forces exit", func(t *testing.T) {
		p := startServer(t, bin, "--shutdown-timeout", "1m")
		p.holdShutdown()
		start := time.Now()
		p.signal(syscall.SIGINT)
		if !p.waitLine(10*time.Second, func(l string) bool { return strings.Contains(l, "shutting down") }) {
			t.Fatalf("no shutdown message after SIGINT\n%s", p.output())
		}
		p.signal(syscall.SIGINT)
		code, ok := p.wait(10 * time.Second)
		if !ok {
			t.Fatalf("sanji did not exit after a second signal\n%s", p.output())
		}
		if code != 1 || !strings.Contains(p.stderr.String(), "second signal") {
			t.Fatalf("exit status %d after %v; want 1 and a note of the second signal (status 0 would mean "+
				"the graceful shutdown finished first: the held connection did not delay it)\n%s",
				code, time.Since(start), p.output())
		}
	})

	// When the graceful shutdown outlasts shutdown_timeout, connections are cut and the status is 1.
	t.Run("shutdown timeout", func(t *testing.T) {
		p := startServer(t, bin, "--shutdown-timeout", "500ms")
		p.holdShutdown()
		start := time.Now()
		p.signal(syscall.SIGTERM)
		code, ok := p.wait(10 * time.Second)
		if !ok {
			t.Fatalf("sanji did not exit after its shutdown timeout\n%s", p.output())
		}
		if code != 1 || !strings.Contains(p.stderr.String(), "shutdown finished with errors") {
			t.Fatalf("exit status %d after %v; want 1 with the shutdown error logged\n%s", code, time.Since(start), p.output())
		}
		if elapsed := time.Since(start); elapsed > 4*time.Second {
			t.Errorf("exit took %v, want about the 500ms timeout", elapsed)
		}
	})
}
