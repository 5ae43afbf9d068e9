package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"sanji/client"
)

// A hall process is this test binary started again as one participant: it joins, publishes an
// audio stream, receives the others' and reports on stdout what happens, until its stdin closes.
// Tests need a process of its own for two things an in-process client cannot have: a network
// namespace of its own (the hall behind a firewall, started under `ip netns exec`), and roots of
// its own — pion's TURN client checks a turns: server against the system roots, which Go reads
// once per process from SSL_CERT_FILE, so only a fresh process can trust a test's CA there.

// hallEnv carries the hall process's spec (JSON); TestMain runs runHall when it is set.
const hallEnv = "SANJI_TEST_HALL"

// hallSpec is what a hall process does.
type hallSpec struct {
	WS    string `json:"ws"`
	Token string `json:"token"`
	// CAFile is trusted for wss:// and, as SSL_CERT_FILE, for turns:.
	CAFile string `json:"ca_file,omitempty"`
	// LocalIP is the one address ICE gathers on; empty: loopback.
	LocalIP string `json:"local_ip,omitempty"`
	// TCP adds ICE over TCP to UDP.
	TCP bool `json:"tcp,omitempty"`
	// RelayOnly keeps the ICE servers whose URL contains it, with the relay-only policy.
	RelayOnly string `json:"relay_only,omitempty"`
	// Keepalive pings the server every second; when a ping goes unanswered the process takes the
	// socket down, resumes on a new one as soon as the link lets it and restarts the ICE of a
	// connection not up again, as the web client's reconnect does.
	Keepalive bool `json:"keepalive,omitempty"`
}

// The hall process's report lines: "<event> <unix ns> [value]".
const (
	hallDial     = "dial"     // about to open the socket
	hallJoined   = "joined"   // joined and publishing
	hallMediaIn  = "media-in" // media arrived, the first or after a second or more without (value: the gap in ms)
	hallReceived = "rx"       // every second: packets received so far, and packets sent to us so far (by sequence number)
	hallLinkDown = "link-down"
	hallResumed  = "resumed" // resumed on a new socket and restarted ICE
	hallFailed   = "failed"  // value: why
)

// hallGap is the silence after which arriving media is reported again.
const hallGap = time.Second

// runHall is the hall process; it returns the exit code.
func runHall(specJSON string) int {
	var spec hallSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "hall spec:", err)
		return 2
	}
	var outMu sync.Mutex
	report := func(event string, value ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Println(append([]any{event, time.Now().UnixNano()}, value...)...)
	}
	if err := hall(spec, report); err != nil {
		report(hallFailed, strconv.Quote(err.Error()))
		return 1
	}
	return 0
}

func hall(spec hallSpec, report func(string, ...any)) error {
	se := &webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if spec.LocalIP == "" {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	} else {
		local := net.ParseIP(spec.LocalIP)
		se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(local) })
	}
	nets := []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	if spec.TCP {
		nets = append(nets, webrtc.NetworkTypeTCP4)
	}
	se.SetNetworkTypes(nets)
	opt := client.Options{SettingEngine: se, AutoSubscribe: true}
	if spec.CAFile != "" {
		pem, err := os.ReadFile(spec.CAFile)
		if err != nil {
			return fmt.Errorf("read the CA: %w", err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		opt.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if spec.RelayOnly != "" {
		opt.RelayOnly = onlyURL(spec.RelayOnly)
	}
	// What arrived: packets, and the span of sequence numbers they cover (what was sent, lost
	// or not), unwrapped. One track is received: the other participant's.
	var (
		rxMu           sync.Mutex
		received, span int64
		last           time.Time
		lastSeq        uint16
	)
	counts := func() (int64, int64) {
		rxMu.Lock()
		defer rxMu.Unlock()
		return received, span
	}
	opt.OnTrack = func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			now := time.Now()
			rxMu.Lock()
			gap := now.Sub(last)
			first := last.IsZero()
			if first {
				span = 1
			} else if d := int64(int16(p.SequenceNumber - lastSeq)); d > 0 {
				span += d
			}
			if first || int16(p.SequenceNumber-lastSeq) > 0 {
				lastSeq = p.SequenceNumber
			}
			received++
			last = now
			rxMu.Unlock()
			if first || gap >= hallGap {
				report(hallMediaIn, gap.Milliseconds())
			}
		}
	}

	report(hallDial)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	c, err := client.Dial(ctx, spec.WS, spec.Token, opt)
	cancel()
	if err != nil {
		return err
	}
	defer c.Close()
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "hall")
	if err != nil {
		return fmt.Errorf("track: %w", err)
	}
	if _, err := c.Publish(track); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	report(hallJoined)

	// Until stdin closes: one packet per 20 ms as audio is sent, a count every second, and the
	// keepalive. Each loop ends when stop closes.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		clock := time.NewTicker(20 * time.Millisecond)
		defer clock.Stop()
		second := time.NewTicker(time.Second)
		defer second.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-stop:
				return
			case <-second.C:
				n, sent := counts()
				report(hallReceived, n, sent)
			case <-clock.C:
				_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq,
					Timestamp: uint32(seq) * 960, SSRC: 1}, Payload: []byte{0xf8, 0xff, 0xfe}})
			}
		}
	}()
	go func() {
		defer wg.Done()
		if spec.Keepalive {
			keepalive(c, spec.WS, stop, report)
		}
	}()
	_, _ = io.Copy(io.Discard, os.Stdin)
	close(stop)
	wg.Wait()
	return nil
}

// keepalive pings every second; a ping unanswered within two seconds means the link is down:
// the socket is dropped and a resume tried every second (each dial bounded by three) until one
// succeeds; then the ICE of a connection not up again restarts.
func keepalive(c *client.Client, ws string, stop <-chan struct{}, report func(string, ...any)) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	wait := func() bool {
		select {
		case <-stop:
			return false
		case <-tick.C:
			return true
		}
	}
	for wait() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.Request(ctx, "ping", struct{}{})
		cancel()
		if err == nil {
			continue
		}
		report(hallLinkDown)
		c.DropSocket()
		for {
			if !wait() {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			err := c.Resume(ctx, ws)
			cancel()
			if err == nil {
				break
			}
		}
		// As the web client: the server sends again an offer of its own that the lost socket
		// carried and asks for the publisher's restart when it saw the link go; what is still
		// not up after that is restarted here.
		if !settle(c, stop, settleFor) {
			return
		}
		pub, sub := c.ConnectionStates()
		if pub != webrtc.PeerConnectionStateConnected {
			if err := c.RestartPublisherICE(); err != nil {
				report(hallFailed, strconv.Quote("restart the publisher's ICE: "+err.Error()))
				return
			}
		}
		if sub != webrtc.PeerConnectionStateConnected {
			if err := c.RestartSubscriberICE(); err != nil {
				report(hallFailed, strconv.Quote("restart the subscriber's ICE: "+err.Error()))
				return
			}
		}
		report(hallResumed)
	}
}

// settleFor is how long the hall process lets the server's own restarts work after a resume
// before it restarts what is still not up. Restarting the publisher at once, while the server's
// request for the same restart is on its way, left the publisher down in 1 of 3 trials of a 30 s
// outage (docs/benchmarks.md): the wait keeps the two restarts apart.
const settleFor = 2 * time.Second

// settle waits up to d for both connections to be connected after a resume; false when stop
// closed meanwhile.
func settle(c *client.Client, stop <-chan struct{}, d time.Duration) bool {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for range int(d / (100 * time.Millisecond)) {
		if pub, sub := c.ConnectionStates(); pub == webrtc.PeerConnectionStateConnected && sub == webrtc.PeerConnectionStateConnected {
			return true
		}
		select {
		case <-stop:
			return false
		case <-tick.C:
		}
	}
	return true
}

// hallEvent is one report line of a hall process.
type hallEvent struct {
	Name  string
	At    time.Time
	Value string
}

// hallProc is a running hall process, stopped at the test's end.
type hallProc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *lockedBuffer
	events chan hallEvent
	done   chan struct{} // the reader's end
	once   sync.Once
}

// startHall starts a hall process; netns non-empty runs it in that network namespace.
func startHall(t testing.TB, name string, spec hallSpec, netns string) *hallProc {
	t.Helper()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	if netns != "" {
		cmd = exec.Command("ip", "netns", "exec", netns, self)
	} else {
		cmd = exec.Command(self)
	}
	cmd.Env = append(os.Environ(), hallEnv+"="+string(b))
	if spec.CAFile != "" {
		cmd.Env = append(cmd.Env, "SSL_CERT_FILE="+spec.CAFile)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	h := &hallProc{name: name, cmd: cmd, stderr: stderr, events: make(chan hallEvent, 1024), done: make(chan struct{})}
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the hall process %s: %v", name, err)
	}
	go func() {
		defer close(h.done)
		defer close(h.events)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.SplitN(sc.Text(), " ", 3)
			if len(f) < 2 {
				continue
			}
			ns, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				continue
			}
			e := hallEvent{Name: f[0], At: time.Unix(0, ns)}
			if len(f) == 3 {
				e.Value = f[2]
			}
			switch e.Name {
			case hallLinkDown, hallResumed, hallFailed:
				t.Logf("hall process %s: %s at %s %s", name, e.Name, e.At.Format("15:04:05.000"), e.Value)
			}
			select {
			case h.events <- e:
			default: // a second a report, for minutes: nobody lets this many wait
			}
		}
	}()
	t.Cleanup(func() { h.stop(t) })
	return h
}

// stop closes the process's stdin and waits for it to end (killing it after 15 s); the test's end
// calls it too.
func (h *hallProc) stop(t testing.TB) {
	h.once.Do(func() {
		_ = h.stdin.Close()
		exited := make(chan error, 1)
		go func() { <-h.done; exited <- h.cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("hall process %s: %v; its stderr:\n%s", h.name, err, h.stderr.String())
			}
		case <-time.After(15 * time.Second):
			_ = h.cmd.Process.Kill()
			<-exited
			t.Errorf("hall process %s did not end within 15 s of its stdin closing; its stderr:\n%s", h.name, h.stderr.String())
		}
	})
}

// waitEvent waits up to limit for the next event called name at or after from, failing the
// test on the process's failure or end.
func (h *hallProc) waitEvent(t testing.TB, name string, from time.Time, limit time.Duration) hallEvent {
	t.Helper()
	timeout := time.After(limit)
	for {
		select {
		case e, ok := <-h.events:
			if !ok {
				t.Fatalf("hall process %s ended before %s", h.name, name)
			}
			if e.Name == hallFailed {
				t.Fatalf("hall process %s: %s", h.name, e.Value)
			}
			if e.Name == name && !e.At.Before(from) {
				return e
			}
		case <-timeout:
			t.Fatalf("hall process %s: no %s within %v", h.name, name, limit)
		}
	}
}

// lockedBuffer is a bytes buffer for a process's stderr, read after it ends or on failure.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
