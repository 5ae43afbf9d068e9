package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap/zaptest"

	"sanji/scheduler"
	"sanji/scheduler/api"
	"sanji/scheduler/postgres"
)

func TestConfigRedisNeedsPostgres(t *testing.T) {
	_, err := loadConfig(nil, envMap(map[string]string{"SANJI_REDIS_ADDR": "127.0.0.1:6379"}), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "SQLite") || !strings.Contains(err.Error(), "store.dsn") {
		t.Fatalf("Redis with SQLite: %v", err)
	}
	cfg, err := loadConfig(nil, envMap(map[string]string{"SANJI_REDIS_ADDR": "127.0.0.1:6379",
		"SANJI_STORE_DSN": "postgres://u@127.0.0.1/x", "SANJI_CLUSTER_SERVES": "330102, 330105", "SANJI_TOKEN_SECRET": testClusterSecret,
		"SANJI_REDIS_READ_TIMEOUT": "250ms", "SANJI_REDIS_PASSWORD": "pw"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Redis.on() || cfg.Redis.ReadTimeout != 250*time.Millisecond || cfg.Redis.Password != "pw" || len(cfg.Cluster.Serves) != 2 {
		t.Fatalf("cluster config: %+v %+v", cfg.Redis, cfg.Cluster)
	}
	// The same from a YAML file, as docs/operations.md shows it.
	path := filepath.Join(t.TempDir(), "sanji.yaml")
	yml := "token_secret: " + testClusterSecret + "\nstore:\n  dsn: postgres://sanji@db.internal:5432/sanji\nredis:\n  addr: redis.internal:6379\n  read_timeout: 250ms\n" +
		"cluster:\n  node_id: shangcheng-1\n  url: https://shangcheng-1.example.cn\n  serves: [\"330102\"]\n"
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = loadConfig([]string{"--config", path}, envMap(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Redis.Addr != "redis.internal:6379" || cfg.Redis.ReadTimeout != 250*time.Millisecond || cfg.Cluster.NodeID != "shangcheng-1" ||
		len(cfg.Cluster.Serves) != 1 || cfg.Cluster.Serves[0] != "330102" {
		t.Fatalf("from YAML: %+v %+v", cfg.Redis, cfg.Cluster)
	}
	for _, env := range []map[string]string{
		{"SANJI_REDIS_ADDR": "nohost", "SANJI_STORE_DSN": "postgres://u@h/x"},
		{"SANJI_REDIS_SENTINEL_ADDRS": "10.0.0.1:26379", "SANJI_STORE_DSN": "postgres://u@h/x"},
		{"SANJI_REDIS_ADDR": "h:1", "SANJI_REDIS_CLUSTER_ADDRS": "h:2", "SANJI_STORE_DSN": "postgres://u@h/x"},
		{"SANJI_CLUSTER_SERVES": "330102"},
		{"SANJI_REDIS_ADDR": "h:1", "SANJI_STORE_DSN": "postgres://u@h/x", "SANJI_CLUSTER_URL": "ftp://x"},
		// Without a shared secret a token minted on one node would not open another.
		{"SANJI_REDIS_ADDR": "h:1", "SANJI_STORE_DSN": "postgres://u@h/x"},
	} {
		if _, err := loadConfig(nil, envMap(env), &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
}

// TestServeRefusesSQLiteWithRedis: the binary says why and stops, before opening anything.
func TestServeRefusesSQLiteWithRedis(t *testing.T) {
	var out, errOut bytes.Buffer
	code := serve(context.Background(), []string{"--redis-addr", "127.0.0.1:6379", "--data-dir", t.TempDir()},
		&out, &errOut, envMap(nil), func() {})
	if code != exitUsage || !strings.Contains(errOut.String(), "PostgreSQL") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

// testClusterSecret is the token secret every node of a test cluster shares.
const testClusterSecret = "a-test-cluster-secret-of-32-characters-or-more"

// testPGSchema makes a schema of its own on SANJI_TEST_PG and returns the DSN that uses it.
func testPGSchema(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("SANJI_TEST_PG")
	if dsn == "" {
		t.Skip("SANJI_TEST_PG is not set (CI sets it)")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "sanji_cluster_" + hex.EncodeToString(b)
	db, err := postgres.DB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		db.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestThreeNodesSeeEachOther runs three `sanji serve` processes on loopback ports, one
// PostgreSQL and one Redis, and asks each for the cluster's nodes.
func TestThreeNodesSeeEachOther(t *testing.T) {
	redisAddr := os.Getenv("SANJI_TEST_REDIS")
	if redisAddr == "" {
		t.Skip("SANJI_TEST_REDIS is not set (CI sets it)")
	}
	dsn := testPGSchema(t)
	bin := sharedBinary(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	env := []string{"SANJI_STORE_DSN=" + dsn, "SANJI_IDENTITY_KEYS=" + testIdentityKeys(t), "SANJI_TOKEN_SECRET=" + testClusterSecret,
		"SANJI_AUTH_TOTP_ROLES=none"} // the first admin logs in with a password alone here
	args := func(id string) []string {
		return []string{"--redis-addr", redisAddr, "--redis-key-prefix", "sanjitest-" + hex.EncodeToString(b), "--cluster-node-id", id,
			"--cluster-serves", "330102"}
	}
	// One after the other: the first creates the schema and the admin.
	n1 := startServerEnv(t, bin, env, args("n1")...)
	var password string
	re := regexp.MustCompile(`^\s+admin\s+(\S+)`)
	for _, l := range n1.stdout {
		if m := re.FindStringSubmatch(l); m != nil {
			password = m[1]
		}
	}
	if password == "" {
		n1.waitLine(5*time.Second, func(l string) bool {
			if m := re.FindStringSubmatch(l); m != nil {
				password = m[1]
			}
			return password != ""
		})
	}
	if password == "" {
		t.Fatalf("no admin password printed: %s", n1.output())
	}
	n2 := startServerEnv(t, bin, env, args("n2")...)
	n3 := startServerEnv(t, bin, env, args("n3")...)

	c := adminClient(t, n1.url, password)
	want := map[string]string{"n1": n1.url, "n2": n2.url, "n3": n3.url}
	for _, base := range []string{n1.url, n2.url, n3.url} {
		nodes := listNodes(t, c, base)
		if !nodes.Clustered || len(nodes.Nodes) != 3 {
			t.Fatalf("%s sees %+v", base, nodes)
		}
		for _, n := range nodes.Nodes {
			if want[n.ID] != n.HTTPURL || n.Version != "v0.0.0-test" || len(n.Serves) != 1 || n.Serves[0] != "330102" || n.MediaAddr == "" {
				t.Fatalf("%s sees node %+v", base, n)
			}
			if n.Self != (n.HTTPURL == base) {
				t.Fatalf("%s: self flag of %s", base, n.ID)
			}
		}
	}

	// SIGTERM: n2 drains, ends its calls and leaves the registry.
	n2.signal(syscall.SIGTERM)
	if code, ok := n2.wait(time.Minute); !ok || code != 0 {
		t.Fatalf("n2 exit %d (%v): %s", code, ok, n2.output())
	}
	nodes := listNodes(t, c, n3.url)
	if len(nodes.Nodes) != 2 {
		t.Fatalf("after n2 left: %+v", nodes)
	}

	// Failed logins count across the nodes: ten from this address, alternating, use up its
	// attempts (10 at once, 10 a minute) on both.
	anon := testHTTPClient(t)
	login := func(base string) int {
		resp, err := anon.Post(base+"/api/v1/session", "application/json", strings.NewReader(`{"username":"nobody","password":"wrong"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := 0; i < 10; i++ {
		if code := login([]string{n1.url, n3.url}[i%2]); code != http.StatusUnauthorized {
			t.Fatalf("failed login %d: %d", i+1, code)
		}
	}
	for _, base := range []string{n1.url, n3.url} {
		if code := login(base); code != http.StatusTooManyRequests {
			t.Fatalf("11th failed login on %s: %d, want 429", base, code)
		}
	}
}

// waitView waits until ap's last heartbeat has seen n nodes.
func waitView(t testing.TB, ap *app, n int) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if v, _ := ap.cluster.node.Load().View(); len(v) == n {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s never saw %d nodes", ap.URL(), n)
		}
	}
}

// adminClient logs in as the first admin and sets the permanent password it must choose.
func adminClient(t *testing.T, base, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := testHTTPClient(t)
	c.Jar = jar
	post := func(path, csrf string, body any) map[string]any {
		var out map[string]any
		if code := postJSON(t, c, base+path, csrf, body, &out); code/100 != 2 {
			t.Fatalf("POST %s: %d %v", path, code, out)
		}
		return out
	}
	me := post("/api/v1/session", "", map[string]string{"username": "admin", "password": password})
	csrf, _ := me["csrf_token"].(string)
	post("/api/v1/me/password", csrf, map[string]string{"old_password": password, "new_password": "a-long-new-password-for-the-cluster"})
	return c
}

func listNodes(t *testing.T, c *http.Client, base string) api.NodesResponse {
	t.Helper()
	// The session cookie came from the first node; cookies ignore ports, and every node reads
	// sessions from the one store.
	resp, err := c.Get(base + "/api/v1/nodes")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out api.NodesResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s/api/v1/nodes: %d %v", base, resp.StatusCode, err)
	}
	return out
}

// wsJoin joins room on the node at base with a dev token and returns the server's answer:
// the type of the message ("joined" or "error") and its data.
func wsJoin(t *testing.T, base, room string) (string, map[string]any) {
	t.Helper()
	tok := devToken(t, testHTTPClient(t), base, room, "观察员")
	return wsAsk(t, base, "join", map[string]any{"token": tok}, "joined")
}

// wsAsk sends one message on a new socket to base and returns the first answer of type want or
// error, with its data.
func wsAsk(t *testing.T, base, typ string, data any, want string) (string, map[string]any) {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteJSON(map[string]any{"v": 1, "type": typ, "id": "j", "data": data}); err != nil {
		t.Fatal(err)
	}
	for {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		var m struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := conn.ReadJSON(&m); err != nil {
			t.Fatalf("read: %v", err)
		}
		if m.Type == want || m.Type == "error" {
			return m.Type, m.Data
		}
	}
}

func clusterTestConfig(t testing.TB, redisAddr, prefix, id string) config {
	cfg := testConfig(t)
	// newApp takes the config as given: SQLite here is each node's own scheduler store, which
	// plain rooms do not touch (a real cluster shares PostgreSQL; loadConfig insists on it).
	cfg.Redis = redisConfig{Addr: redisAddr, KeyPrefix: prefix, ReadTimeout: 300 * time.Millisecond, DialTimeout: 300 * time.Millisecond}
	cfg.Cluster.NodeID = id
	return cfg
}

// twoTestNodes starts two nodes in process, a and b, on the test Redis with a prefix of their own.
func twoTestNodes(t *testing.T) (a, b *app) {
	t.Helper()
	redisAddr := os.Getenv("SANJI_TEST_REDIS")
	if redisAddr == "" {
		t.Skip("SANJI_TEST_REDIS is not set (CI sets it)")
	}
	r := make([]byte, 6)
	_, _ = rand.Read(r)
	prefix := "sanjitest-" + hex.EncodeToString(r)
	return startTestApp(t, clusterTestConfig(t, redisAddr, prefix, "a")), startTestApp(t, clusterTestConfig(t, redisAddr, prefix, "b"))
}

// TestJoinOnTheWrongNodeNamesTheOwner: two nodes in process; a room placed on one is refused on
// the other with the owner's URL, and joins there.
func TestJoinOnTheWrongNodeNamesTheOwner(t *testing.T) {
	a, bn := twoTestNodes(t)
	// b drains, so every new room goes to a.
	bn.cluster.node.Load().DrainLocal()
	waitReady := func(ap *app, want int) {
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			rec := httptest.NewRecorder()
			ap.readyz(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code == want {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("readyz %d, want %d: %s", rec.Code, want, rec.Body)
			}
		}
	}
	waitReady(a, 200)
	waitReady(bn, 503) // draining: load balancers send new clients elsewhere
	waitView(t, a, 2)

	// The metrics carry the cluster's view: both nodes, b draining.
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := testHTTPClient(t).Get(a.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := string(body)
		if strings.Contains(m, "sanji_cluster_nodes 2") && strings.Contains(m, `sanji_cluster_node_draining{node="b"} 1`) &&
			strings.Contains(m, "sanji_cluster_redis_up 1") && strings.Contains(m, "sanji_cluster_redis_ops_total") {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("metrics without the cluster's view:\n%s", m)
		}
	}

	// A page of b may open a's socket (where wrong_node sends it); a page of another site may not.
	for origin, ok := range map[string]bool{bn.URL(): true, a.URL(): true, "http://evil.example": false, "": true} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.URL(), "http")+"/ws", h)
		if (err == nil) != ok {
			t.Fatalf("origin %q: %v (want accepted %v)", origin, err, ok)
		}
		if err == nil {
			conn.Close()
		} else if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("origin %q: status %d", origin, resp.StatusCode)
		}
	}

	typ, data := wsJoin(t, bn.URL(), "room-x")
	if typ != "error" || data["code"] != "wrong_node" || data["node_url"] != a.URL() {
		t.Fatalf("join on b: %s %v (a is %s)", typ, data, a.URL())
	}
	if typ, data := wsJoin(t, a.URL(), "room-x"); typ != "joined" {
		t.Fatalf("join on a: %s %v", typ, data)
	}
}

// TestRedisDownAtStart: a node whose Redis does not answer starts, says so in /readyz, refuses
// joins with a clear error, and keeps serving the rest.
func TestRedisDownAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now
	a := startTestApp(t, clusterTestConfig(t, dead, "sanjitest-dead", "lonely"))
	rec := httptest.NewRecorder()
	a.readyz(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "Redis") {
		t.Fatalf("readyz with Redis down: %d %s", rec.Code, rec.Body)
	}
	typ, data := wsJoin(t, a.URL(), "room-y")
	if typ != "error" || data["code"] != "unavailable" {
		t.Fatalf("join with Redis down: %s %v", typ, data)
	}
	resp, err := testHTTPClient(t).Get(a.URL() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestStudioCodes: a reception call is placed by its studio's unit and every unit above it.
func TestStudioCodes(t *testing.T) {
	st, _, err := openStore(testConfig(t), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hash := func(string) (string, error) { return "not a password", nil }
	gen := func() (string, error) { return "pw", nil }
	if _, err := scheduler.SeedDemo(context.Background(), st, hash, gen); err != nil {
		t.Fatal(err)
	}
	x, _, err := scheduler.SeedDemoReception(context.Background(), st, time.Now())
	if err != nil || x.StudioID == 0 {
		t.Fatalf("demo reception %+v: %v", x, err)
	}
	codes, err := studioCodes(context.Background(), st, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	h, err := st.GetHall(context.Background(), x.StudioID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.GetUnit(context.Background(), h.UnitID)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) < 2 || codes[0] != "000000" || codes[len(codes)-1] != u.Code || !slices.Contains(codes, scheduler.DemoCityCode) {
		t.Fatalf("studio codes %v (studio's unit %s)", codes, u.Code)
	}
	if _, err := studioCodes(context.Background(), st, 999999); err == nil {
		t.Fatal("codes of a session that does not exist")
	}
}

// cutProxy forwards TCP to a target until cut: then it closes every connection and refuses new
// ones, until restore. The test's Redis, as a network outage would take it away.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	refuse bool
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px := &cutProxy{ln: ln, target: target}
	px.wg.Add(1)
	go func() {
		defer px.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			px.mu.Lock()
			up, err := net.Dial("tcp", px.target)
			if px.refuse || err != nil {
				px.mu.Unlock()
				c.Close()
				if up != nil {
					up.Close()
				}
				continue
			}
			px.conns = append(px.conns, c, up)
			px.mu.Unlock()
			px.wg.Add(2)
			go func() { defer px.wg.Done(); _, _ = io.Copy(up, c); up.Close() }()
			go func() { defer px.wg.Done(); _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); px.cut(); px.wg.Wait() })
	return px
}

func (px *cutProxy) cut() {
	px.mu.Lock()
	defer px.mu.Unlock()
	px.refuse = true
	for _, c := range px.conns {
		c.Close()
	}
	px.conns = nil
}

func (px *cutProxy) restore() {
	px.mu.Lock()
	defer px.mu.Unlock()
	px.refuse = false
}

// TestCallGoesOnWhileRedisIsAway: a participant in a room stays joined while the node loses
// Redis; meanwhile readiness fails and new joins are refused; when Redis is back the node is
// ready and takes joins again, without a restart.
func TestCallGoesOnWhileRedisIsAway(t *testing.T) {
	redisAddr := os.Getenv("SANJI_TEST_REDIS")
	if redisAddr == "" {
		t.Skip("SANJI_TEST_REDIS is not set (CI sets it)")
	}
	px := newCutProxy(t, redisAddr)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	a := startTestApp(t, clusterTestConfig(t, px.ln.Addr().String(), "sanjitest-"+hex.EncodeToString(b), "a"))
	ready := func(want int) {
		t.Helper()
		for end := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			rec := httptest.NewRecorder()
			a.readyz(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code == want {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("readyz %d, want %d: %s", rec.Code, want, rec.Body)
			}
		}
	}
	ready(200)

	// A participant joins and stays connected.
	tok := devToken(t, testHTTPClient(t), a.URL(), "room-live", "发言人")
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.URL(), "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(typ, id string, data any) {
		if err := conn.WriteJSON(map[string]any{"v": 1, "type": typ, "id": id, "data": data}); err != nil {
			t.Fatal(err)
		}
	}
	await := func(typ, re string) {
		t.Helper()
		for {
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			var m struct {
				Type string `json:"type"`
				Re   string `json:"re"`
			}
			if err := conn.ReadJSON(&m); err != nil {
				t.Fatalf("waiting for %s: %v", typ, err)
			}
			if m.Type == typ && m.Re == re {
				return
			}
		}
	}
	send("join", "j", map[string]any{"token": tok})
	await("joined", "j")

	px.cut()
	ready(503)
	if typ, data := wsJoin(t, a.URL(), "room-new"); typ != "error" || data["code"] != "unavailable" {
		t.Fatalf("join while Redis is away: %s %v", typ, data)
	}
	// The participant is still there and answered.
	send("ping", "p1", map[string]any{})
	await("pong", "p1")
	if rooms := a.sig.Rooms(); len(rooms) != 1 || rooms[0] != "room-live" {
		t.Fatalf("rooms while Redis is away: %v", rooms)
	}

	px.restore()
	ready(200)
	if typ, data := wsJoin(t, a.URL(), "room-new"); typ != "joined" {
		t.Fatalf("join after Redis came back: %s %v", typ, data)
	}
	send("ping", "p2", map[string]any{})
	await("pong", "p2")
}
