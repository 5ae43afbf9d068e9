package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"sanji/client"
)

// The binary of the multi-process tests, built once per test run (TestMain removes its directory).
var (
	sharedBinOnce sync.Once
	sharedBinDir  string
	sharedBin     string
	sharedBinErr  error
)

// sharedBinary is buildBinary once for every test of the run that runs nodes as processes.
func sharedBinary(t *testing.T) string {
	t.Helper()
	sharedBinOnce.Do(func() {
		if sharedBinDir, sharedBinErr = os.MkdirTemp("", "sanji-bin-"); sharedBinErr != nil {
			return
		}
		sharedBin = filepath.Join(sharedBinDir, "sanji")
		args := []string{"build", "-ldflags", "-X main.version=v0.0.0-test", "-o", sharedBin}
		if raceBuild {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			sharedBinErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if sharedBinErr != nil {
		t.Fatal(sharedBinErr)
	}
	return sharedBin
}

// removeSharedBinary is TestMain's cleanup.
func removeSharedBinary() {
	if sharedBinDir != "" {
		_ = os.RemoveAll(sharedBinDir)
	}
}

// procCluster is n `sanji serve` processes on loopback ports: one PostgreSQL schema of their
// own, one Redis (or a proxy in front of it) with a key prefix of the test's own.
type procCluster struct {
	t        *testing.T
	nodes    []*serverProcess
	password string // the first admin's first password
}

// startProcCluster starts the nodes n1..nN one after the other (the first creates the schema
// and the first admin). redisAddr may be a cutProxy's.
func startProcCluster(t *testing.T, n int, redisAddr string) *procCluster {
	t.Helper()
	if os.Getenv("SANJI_TEST_REDIS") == "" {
		t.Skip("SANJI_TEST_REDIS is not set (CI sets it)")
	}
	dsn := testPGSchema(t)
	bin := sharedBinary(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	env := []string{"SANJI_STORE_DSN=" + dsn, "SANJI_TOKEN_SECRET=" + testClusterSecret, "SANJI_IDENTITY_KEYS=" + testIdentityKeys(t),
		// The demo admin logs in with a password alone here (TOTP has its own tests).
		"SANJI_AUTH_TOTP_ROLES=none",
		// The tests join many times from one address.
		"SANJI_LIMITS_JOINS_PER_SECOND=1000", "SANJI_LIMITS_JOIN_BURST=1000",
		// Short Redis timeouts: a cut Redis is noticed at the next heartbeat.
		"SANJI_REDIS_READ_TIMEOUT=300ms", "SANJI_REDIS_DIAL_TIMEOUT=300ms", "SANJI_REDIS_WRITE_TIMEOUT=300ms"}
	pc := &procCluster{t: t}
	re := regexp.MustCompile(`^\s+admin\s+(\S+)`)
	for i := 1; i <= n; i++ {
		p := startServerEnv(t, bin, env, "--redis-addr", redisAddr, "--redis-key-prefix", "sanjitest-"+hex.EncodeToString(b),
			"--cluster-node-id", fmt.Sprintf("n%d", i))
		pc.nodes = append(pc.nodes, p)
		// Before startServerEnv's kill: a node ends by SIGTERM, and a race it found fails the test.
		t.Cleanup(func() {
			if p.reaped {
				return
			}
			p.signal(syscall.SIGTERM)
			p.wait(time.Minute)
			if strings.Contains(p.stderr.String(), "DATA RACE") {
				t.Errorf("%s: the race detector: %s", p.url, p.stderr.String())
			}
		})
		if i > 1 {
			continue
		}
		for _, l := range p.stdout {
			if m := re.FindStringSubmatch(l); m != nil {
				pc.password = m[1]
			}
		}
		if pc.password == "" {
			p.waitLine(5*time.Second, func(l string) bool {
				if m := re.FindStringSubmatch(l); m != nil {
					pc.password = m[1]
				}
				return pc.password != ""
			})
		}
	}
	// Every node sees every other before the test places anything.
	for end := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		all := true
		for _, p := range pc.nodes {
			all = all && len(pc.view(p.url)) == n
		}
		if all {
			return pc
		}
		if time.Now().After(end) {
			t.Fatalf("the nodes never saw each other")
		}
	}
}

// view is the node list of a node's metrics (no login needed): ids seen at its last heartbeat.
func (pc *procCluster) view(base string) []string {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return regexp.MustCompile(`sanji_cluster_node_participants\{node="([^"]+)"\}`).FindAllString(buf.String(), -1)
}

// staffSession is a logged-in staff member's client and CSRF token.
type staffSession struct {
	c    *http.Client
	csrf string
}

// admin sets the first admin's password on node 0, then logs in on node `on`.
func (pc *procCluster) admin(on int) staffSession {
	t := pc.t
	t.Helper()
	adminClient(t, pc.nodes[0].url, pc.password)
	jar, _ := cookiejar.New(nil)
	c := testHTTPClient(t)
	c.Jar = jar
	var me map[string]any
	code := postJSON(t, c, pc.nodes[on].url+"/api/v1/session", "", map[string]string{"username": "admin", "password": "a-long-new-password-for-the-cluster"}, &me)
	if code != http.StatusOK {
		t.Fatalf("login on node %d: %d %v", on, code, me)
	}
	csrf, _ := me["csrf_token"].(string)
	return staffSession{c: c, csrf: csrf}
}

func postJSON(t *testing.T, c *http.Client, u, csrf string, body, out any) int {
	t.Helper()
	bs, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", u, bytes.NewReader(bs))
	req.Header.Set("Content-Type", "application/json")
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// drain drains (or resumes) node id through the API of the node s is logged in on, and waits
// until every node's heartbeat has seen it.
func (pc *procCluster) drain(s staffSession, via int, id string, on bool) {
	t := pc.t
	t.Helper()
	if code := postJSON(t, s.c, pc.nodes[via].url+"/api/v1/nodes/"+id+"/drain", s.csrf, map[string]bool{"draining": on}, nil); code != http.StatusOK {
		t.Fatalf("drain %s=%v: %d", id, on, code)
	}
	want := fmt.Sprintf(`sanji_cluster_node_draining{node=%q} %d`, id, map[bool]int{false: 0, true: 1}[on])
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		seen := 0
		for _, p := range pc.nodes {
			resp, err := http.Get(p.url + "/metrics")
			if err != nil {
				continue
			}
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(resp.Body)
			resp.Body.Close()
			if strings.Contains(buf.String(), want) {
				seen++
			}
		}
		if seen == len(pc.nodes) {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("not every node saw %s", want)
		}
	}
}

func wsOf(base string) string { return "ws" + strings.TrimPrefix(base, "http") + "/ws" }

// joinFollowing joins room through the node at base as a browser does: a wrong_node answer
// sends it to the owner, where it joins again. It returns the open socket (the caller closes
// it) and the node it joined on; err is the refusal when the join failed.
func joinFollowing(t testing.TB, hc *http.Client, base, room string) (*websocket.Conn, string, error) {
	return joinWithToken(base, devToken(t, hc, base, room, "观察员"))
}

// joinWithToken is joinFollowing's join, with a token in hand.
func joinWithToken(base, tok string) (*websocket.Conn, string, error) {
	for hop := 0; hop < 3; hop++ {
		conn, _, err := websocket.DefaultDialer.Dial(wsOf(base), nil)
		if err != nil {
			return nil, "", err
		}
		if err := conn.WriteJSON(map[string]any{"v": 1, "type": "join", "id": "j", "data": map[string]any{"token": tok}}); err != nil {
			conn.Close()
			return nil, "", err
		}
		for {
			_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
			var m struct {
				Type string       `json:"type"`
				Data client.Error `json:"data"`
			}
			if err := conn.ReadJSON(&m); err != nil {
				conn.Close()
				return nil, "", err
			}
			if m.Type == "joined" {
				_ = conn.SetReadDeadline(time.Time{})
				return conn, base, nil
			}
			if m.Type != "error" {
				continue
			}
			conn.Close()
			if m.Data.Code != "wrong_node" {
				return nil, "", &m.Data
			}
			base = m.Data.NodeURL
			break
		}
	}
	return nil, "", fmt.Errorf("join: more than 3 redirects")
}

// TestClusterProcMediaAcrossNodes: three processes. A room placed on n1 (n2 and n3 drain) is
// joined through n2 by a publisher and through n3 by a subscriber; both are sent to n1 and the
// media flows. Then Redis goes away: the call goes on, every node says so in /readyz, a join that
// needs the cluster fails with `unavailable`; Redis back, the nodes recover by themselves.
func TestClusterProcMediaAcrossNodes(t *testing.T) {
	px := newCutProxy(t, os.Getenv("SANJI_TEST_REDIS"))
	pc := startProcCluster(t, 3, px.ln.Addr().String())
	n1, n2, n3 := pc.nodes[0], pc.nodes[1], pc.nodes[2]

	// A login on n2 is valid on n3: drain through n3 with n2's session.
	s := pc.admin(1)
	pc.drain(s, 2, "n2", true)
	pc.drain(s, 2, "n3", true)

	hc := testHTTPClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var got atomic.Int64
	sub, err := client.Dial(ctx, wsOf(n3.url), devToken(t, hc, n3.url, "room-far", "sub"), client.Options{AutoSubscribe: true,
		OnTrack: func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					return
				}
				got.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub, err := client.Dial(ctx, wsOf(n2.url), devToken(t, hc, n2.url, "room-far", "pub"), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if sub.URL() != wsOf(n1.url) || pub.URL() != wsOf(n1.url) {
		t.Fatalf("joined on %s and %s, want n1 %s", sub.URL(), pub.URL(), n1.url)
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "pub")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(track); err != nil {
		t.Fatal(err)
	}
	// Audio, one packet per 20 ms, until the test ends.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		clock := time.NewTicker(20 * time.Millisecond)
		defer clock.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-stop:
				return
			case <-clock.C:
			}
			_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq,
				Timestamp: uint32(seq) * 960, SSRC: 1}, Payload: []byte{0xf8, 0xff, 0xfe}})
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	flowing := func(what string) {
		t.Helper()
		from := got.Load()
		for end := time.Now().Add(15 * time.Second); got.Load() < from+25; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("%s: media stopped (%d packets)", what, got.Load())
			}
		}
	}
	flowing("through n2 and n3 to n1")

	readyz := func(base string, want int) {
		t.Helper()
		for end := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			resp, err := hc.Get(base + "/readyz")
			if err == nil {
				var buf bytes.Buffer
				_, _ = buf.ReadFrom(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == want && (want == 200 || strings.Contains(buf.String(), "Redis")) {
					return
				}
			}
			if time.Now().After(end) {
				t.Fatalf("%s/readyz never answered %d", base, want)
			}
		}
	}
	px.cut()
	for _, p := range pc.nodes {
		readyz(p.url, http.StatusServiceUnavailable)
	}
	flowing("while Redis is away")
	if _, _, err := joinFollowing(t, hc, n2.url, "room-new"); err == nil || !strings.Contains(err.Error(), "unavailable") {
		t.Fatalf("join of a new room while Redis is away: %v", err)
	}

	px.restore()
	pc.drain(s, 0, "n2", false)
	pc.drain(s, 0, "n3", false)
	for _, p := range pc.nodes {
		readyz(p.url, http.StatusOK)
	}
	flowing("after Redis came back")
	conn, _, err := joinFollowing(t, hc, n2.url, "room-new")
	if err != nil {
		t.Fatalf("join after Redis came back: %v", err)
	}
	conn.Close()
}

// TestClusterProcPlacement: 100 clients join 10 new rooms at once, each through one of three
// processes; every room ends up on exactly one node, and the rooms spread. Then a drained node
// takes no new rooms, however many joins reach it.
func TestClusterProcPlacement(t *testing.T) {
	pc := startProcCluster(t, 3, os.Getenv("SANJI_TEST_REDIS"))
	hc := testHTTPClient(t)
	type result struct {
		room, node string
		conn       *websocket.Conn
		err        error
	}
	joinAll := func(prefix string, rooms, clients int) []result {
		out := make([]result, clients)
		var wg sync.WaitGroup
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				room := fmt.Sprintf("%s-%d", prefix, i%rooms)
				conn, node, err := joinFollowing(t, hc, pc.nodes[i%len(pc.nodes)].url, room)
				out[i] = result{room, node, conn, err}
			}()
		}
		wg.Wait()
		t.Cleanup(func() {
			for _, r := range out {
				if r.conn != nil {
					r.conn.Close()
				}
			}
		})
		return out
	}

	owner := map[string]string{}
	perNode := map[string]int{}
	for _, r := range joinAll("burst", 10, 100) {
		if r.err != nil {
			t.Fatalf("join of %s: %v", r.room, r.err)
		}
		if o, ok := owner[r.room]; ok && o != r.node {
			t.Fatalf("room %s on two nodes: %s and %s", r.room, o, r.node)
		}
		if _, ok := owner[r.room]; !ok {
			perNode[r.node]++
		}
		owner[r.room] = r.node
	}
	if len(owner) != 10 {
		t.Fatalf("rooms by node %v", perNode)
	}
	// Where they land is the load's business (cluster's lessLoaded): a burst that comes before any
	// heartbeat has carried a load may put every room on the node that looked least loaded.
	t.Logf("rooms by node %v", perNode)

	// n3 drains: 30 joins of 10 new rooms, a third of them through n3, land elsewhere.
	s := pc.admin(0)
	pc.drain(s, 0, "n3", true)
	for _, r := range joinAll("drained", 10, 30) {
		if r.err != nil {
			t.Fatalf("join of %s: %v", r.room, r.err)
		}
		if r.node == pc.nodes[2].url {
			t.Fatalf("room %s placed on the draining node", r.room)
		}
	}
}
