package api

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"sanji/scheduler/org"
)

// fakeCluster is a cluster of two nodes; down makes it answer as when Redis is away.
type fakeCluster struct {
	mu      sync.Mutex
	drained map[string]bool
	down    bool
}

func (c *fakeCluster) Nodes(*http.Request) ([]NodeView, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, ErrClusterUnavailable
	}
	return []NodeView{{ID: "a", HTTPURL: "http://10.0.0.1:8080", Participants: 3, Self: true, Draining: c.drained["a"]},
		{ID: "b", HTTPURL: "http://10.0.0.2:8080", Draining: c.drained["b"]}}, nil
}

func (c *fakeCluster) Drain(_ *http.Request, id string, on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return ErrClusterUnavailable
	}
	if id != "a" && id != "b" {
		return ErrNoSuchNode
	}
	if c.drained == nil {
		c.drained = map[string]bool{}
	}
	c.drained[id] = on
	return nil
}

func init() {
	matrix["GET /api/v1/nodes"] = matrixRow{grantAtRoot: true, call: func(f *fixture, c *client, in bool) (string, any) {
		return "/api/v1/nodes", nil
	}}
	matrix["POST /api/v1/nodes/{id}/drain"] = matrixRow{grantAtRoot: true, call: func(f *fixture, c *client, in bool) (string, any) {
		f.api.cluster = &fakeCluster{}
		return "/api/v1/nodes/b/drain", map[string]bool{"draining": true}
	}}
}

func TestNodesListAndDrain(t *testing.T) {
	f := newFixture(t, Config{})
	admin := f.loginUser(f.user(org.RoleAdmin, f.root))

	// A single node: not clustered, no nodes, nothing to drain.
	resp, body := admin.do("GET", "/api/v1/nodes", nil)
	wantStatus(t, resp, body, 200)
	var single NodesResponse
	if err := json.Unmarshal(body, &single); err != nil || single.Clustered || single.Nodes == nil || len(single.Nodes) != 0 {
		t.Fatalf("single node: %s", body)
	}
	resp, body = admin.do("POST", "/api/v1/nodes/a/drain", map[string]bool{"draining": true})
	wantStatus(t, resp, body, 409)

	fc := &fakeCluster{}
	f.api.cluster = fc
	resp, body = admin.do("POST", "/api/v1/nodes/b/drain", map[string]any{})
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); e.Field != "draining" {
		t.Fatalf("no draining: %+v", e)
	}
	resp, body = admin.do("POST", "/api/v1/nodes/zz/drain", map[string]bool{"draining": true})
	wantStatus(t, resp, body, 404)
	resp, body = admin.do("POST", "/api/v1/nodes/b/drain", map[string]bool{"draining": true})
	wantStatus(t, resp, body, 200)
	resp, body = admin.do("GET", "/api/v1/nodes", nil)
	wantStatus(t, resp, body, 200)
	var got NodesResponse
	if err := json.Unmarshal(body, &got); err != nil || !got.Clustered || len(got.Nodes) != 2 || !got.Nodes[1].Draining || got.Nodes[0].Draining {
		t.Fatalf("clustered: %s", body)
	}
	entries, err := f.st.SearchAudit(bg, org.AuditQuery{Action: "node.drain", Limit: 10})
	if err != nil || len(entries) != 1 || entries[0].Target != "node:b" {
		t.Fatalf("audit: %+v, %v", entries, err)
	}

	// Redis away: a clear 503.
	fc.mu.Lock()
	fc.down = true
	fc.mu.Unlock()
	resp, body = admin.do("GET", "/api/v1/nodes", nil)
	wantStatus(t, resp, body, 503)

	// An admin below the root does not see the machines.
	district := f.loginUser(f.user(org.RoleAdmin, f.d1))
	resp, body = district.do("GET", "/api/v1/nodes", nil)
	wantStatus(t, resp, body, 403)
}

// countingLimiter is a shared limiter that refuses after n attempts and records refunds.
type countingLimiter struct {
	mu       sync.Mutex
	left     int
	refunded int
	local    RateLimiter
}

func (c *countingLimiter) Allow(string, time.Time) (bool, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left == 0 {
		return false, 5 * time.Second
	}
	c.left--
	return true, 0
}

func (c *countingLimiter) Refund(string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refunded++
	c.left++
}

func TestLoginLimiterCanBeShared(t *testing.T) {
	shared := &countingLimiter{left: 2}
	f := newFixture(t, Config{LoginLimiter: func(local RateLimiter) RateLimiter { shared.local = local; return shared }})
	if shared.local == nil {
		t.Fatal("the shared limiter got no local fallback")
	}
	f.login("admin", f.admin) // refunded: a good login does not count
	for i := 0; i < 2; i++ {
		resp, _ := f.anon().do("POST", "/api/v1/session", map[string]string{"username": "nobody", "password": "x"})
		if resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
	}
	// The other nodes used up the address's attempts: refused here.
	resp, body := f.anon().do("POST", "/api/v1/session", map[string]string{"username": "admin", "password": f.admin})
	wantStatus(t, resp, body, 429)
	if shared.refunded != 1 {
		t.Fatalf("refunds: %d", shared.refunded)
	}
	// The local fallback limits too (Redis away).
	if ok, _ := shared.local.Allow("x", time.Now()); !ok {
		t.Fatal("local fallback refused a first attempt")
	}
}
