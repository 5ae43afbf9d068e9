package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"sanji/cluster"
	"sanji/i18n"
	"sanji/scheduler"
	"sanji/scheduler/api"
)

// redisConfig is how the node reaches Redis; without an address the node runs alone.
type redisConfig struct {
	// Addr is one Redis server, host:port.
	Addr string `yaml:"addr"`
	// SentinelAddrs and MasterName: a Sentinel group instead of Addr.
	SentinelAddrs []string `yaml:"sentinel_addrs"`
	MasterName    string   `yaml:"master_name"`
	// ClusterAddrs: a Redis Cluster's seed nodes instead of Addr.
	ClusterAddrs []string `yaml:"cluster_addrs"`
	Username     string   `yaml:"username"`
	Password     string   `yaml:"password"`
	DB           int      `yaml:"db"`
	// TLS connects with TLS; TLSCAFile is the CA that signed the server's certificate (empty:
	// the system's roots).
	TLS       bool   `yaml:"tls"`
	TLSCAFile string `yaml:"tls_ca_file"`
	// Timeouts of each operation; a join waits no longer for Redis than these.
	DialTimeout  time.Duration `yaml:"dial_timeout"`
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	PoolSize     int           `yaml:"pool_size"`
	// KeyPrefix starts every key, so several installations can share one Redis.
	KeyPrefix string `yaml:"key_prefix"`
}

func (r redisConfig) on() bool {
	return r.Addr != "" || len(r.SentinelAddrs) > 0 || len(r.ClusterAddrs) > 0
}

// clusterConfig is this node as the others see it.
type clusterConfig struct {
	// NodeID names the node; default: the host name and the HTTP port.
	NodeID string `yaml:"node_id"`
	// URL is where clients reach this node (a join refused elsewhere names it); default: the
	// address it listens on.
	URL string `yaml:"url"`
	// Serves are the unit codes whose reception calls this node hosts (a studio at or below one of
	// them), e.g. a district's code for the node in its machine room.
	Serves []string `yaml:"serves"`
	// Cascade: in a call owned by another node, the media of a hall or a unit below Serves is
	// held here, and one relay links it to the owner (package cascade).
	Cascade bool `yaml:"cascade"`
	// Heartbeat is how often the node announces itself; NodeTTL how long its entry outlives its
	// last heartbeat (a dead node's calls are taken over after it). Zero: the cluster package's
	// defaults.
	Heartbeat time.Duration `yaml:"heartbeat"`
	NodeTTL   time.Duration `yaml:"node_ttl"`
}

// beats are the node's heartbeat and entry TTL with the defaults applied.
func (c clusterConfig) beats() (heartbeat, ttl time.Duration) {
	return or(c.Heartbeat, cluster.DefaultHeartbeat), or(c.NodeTTL, cluster.DefaultNodeTTL)
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func init() {
	settings = append(settings, clusterSettings...)
}

func durationSetting(dst func(c *config) *time.Duration, example string) func(c *config, v string) error {
	return func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errMsg("cmd.config.not_duration", "value", strconv.Quote(v), "example", example)
		}
		*dst(c) = d
		return nil
	}
}

var clusterSettings = []setting{
	{key: "redis.addr", usage: "Redis host:port; set, nodes form a cluster (needs store.dsn: PostgreSQL)", set: func(c *config, v string) error {
		c.Redis.Addr = v
		return nil
	}},
	{key: "redis.sentinel_addrs", usage: "comma-separated Redis Sentinel addresses (with redis.master_name)", set: func(c *config, v string) error {
		c.Redis.SentinelAddrs = splitList(v)
		return nil
	}},
	{key: "redis.master_name", usage: "the Sentinel group's master name", set: func(c *config, v string) error {
		c.Redis.MasterName = v
		return nil
	}},
	{key: "redis.cluster_addrs", usage: "comma-separated Redis Cluster seed addresses", set: func(c *config, v string) error {
		c.Redis.ClusterAddrs = splitList(v)
		return nil
	}},
	{key: "redis.username", usage: "Redis ACL user name", set: func(c *config, v string) error {
		c.Redis.Username = v
		return nil
	}},
	{key: "redis.password", usage: "Redis password", noFlag: true, set: func(c *config, v string) error {
		c.Redis.Password = v
		return nil
	}},
	{key: "redis.db", usage: "Redis database number (one server or Sentinel)", set: func(c *config, v string) error {
		return parseInt(v, &c.Redis.DB)
	}},
	{key: "redis.tls", usage: "connect to Redis with TLS", isBool: true, set: func(c *config, v string) error {
		return parseBool(v, &c.Redis.TLS)
	}},
	{key: "redis.tls_ca_file", usage: "PEM CA of the Redis server's certificate (default: system roots)", set: func(c *config, v string) error {
		c.Redis.TLSCAFile = v
		return nil
	}},
	{key: "redis.dial_timeout", usage: "Redis connect timeout, e.g. 2s", set: durationSetting(func(c *config) *time.Duration { return &c.Redis.DialTimeout }, "2s")},
	{key: "redis.read_timeout", usage: "Redis read timeout, e.g. 1s", set: durationSetting(func(c *config) *time.Duration { return &c.Redis.ReadTimeout }, "1s")},
	{key: "redis.write_timeout", usage: "Redis write timeout, e.g. 1s", set: durationSetting(func(c *config) *time.Duration { return &c.Redis.WriteTimeout }, "1s")},
	{key: "redis.pool_size", usage: "Redis connections per node (0 = 10 per CPU)", set: func(c *config, v string) error {
		return parseInt(v, &c.Redis.PoolSize)
	}},
	{key: "redis.key_prefix", usage: "prefix of every Redis key (default sanji)", set: func(c *config, v string) error {
		c.Redis.KeyPrefix = v
		return nil
	}},
	{key: "cluster.node_id", usage: "this node's id (default: host name and HTTP port)", set: func(c *config, v string) error {
		c.Cluster.NodeID = v
		return nil
	}},
	{key: "cluster.url", usage: "URL clients reach this node at (default: the listen address)", set: func(c *config, v string) error {
		c.Cluster.URL = v
		return nil
	}},
	{key: "cluster.serves", usage: "comma-separated unit codes whose reception calls this node hosts", set: func(c *config, v string) error {
		c.Cluster.Serves = splitList(v)
		return nil
	}},
	{key: "cluster.cascade", usage: "hold the media of halls and units below cluster.serves here in calls another node owns (default true)", isBool: true, set: func(c *config, v string) error {
		return parseBool(v, &c.Cluster.Cascade)
	}},
	{key: "cluster.heartbeat", usage: "how often this node announces itself in Redis, e.g. 1s", set: durationSetting(func(c *config) *time.Duration { return &c.Cluster.Heartbeat }, "1s")},
	{key: "cluster.node_ttl", usage: "how long a silent node stays in the registry, at least 2.5 heartbeats, e.g. 3s", set: durationSetting(func(c *config) *time.Duration { return &c.Cluster.NodeTTL }, "3s")},
}

// validateCluster checks the Redis and cluster settings.
func (c config) validateCluster() []error {
	var errs []error
	bad := func(k i18n.Key, args ...any) { errs = append(errs, errMsg(k, args...)) }
	r := c.Redis
	if !r.on() {
		if c.Cluster.NodeID != "" || c.Cluster.URL != "" || len(c.Cluster.Serves) > 0 || c.Cluster.Heartbeat != 0 || c.Cluster.NodeTTL != 0 {
			bad("cmd.cluster.without_redis")
		}
		return errs
	}
	if c.Store.DSN == "" {
		bad("cmd.cluster.sqlite_with_redis")
	}
	kinds := 0
	for _, on := range []bool{r.Addr != "", len(r.SentinelAddrs) > 0, len(r.ClusterAddrs) > 0} {
		if on {
			kinds++
		}
	}
	if kinds > 1 {
		bad("cmd.cluster.one_topology")
	}
	if (len(r.SentinelAddrs) > 0) != (r.MasterName != "") {
		bad("cmd.cluster.sentinel_master")
	}
	for _, a := range append(append([]string{r.Addr}, r.SentinelAddrs...), r.ClusterAddrs...) {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("cmd.cluster.redis_addr", "addr", strconv.Quote(a))
		}
	}
	if r.DialTimeout < 0 || r.ReadTimeout < 0 || r.WriteTimeout < 0 || r.PoolSize < 0 || r.DB < 0 {
		bad("cmd.cluster.negative")
	}
	if len(r.ClusterAddrs) > 0 && r.DB != 0 {
		bad("cmd.cluster.cluster_db")
	}
	if c.TokenSecret == "" {
		// Each node would generate a secret of its own: a token minted on one node (a join
		// token, a TURN credential) would be refused by the node it is sent to.
		bad("cmd.redirect.token_secret")
	}
	if c.Cluster.Heartbeat < 0 || c.Cluster.NodeTTL < 0 {
		bad("cmd.heartbeat.negative")
	} else if hb, ttl := c.Cluster.beats(); float64(ttl) < cluster.MinTTLBeats*float64(hb) {
		// A shorter TTL declares a live node dead after one slow or lost beat.
		bad("cmd.heartbeat.node_ttl", "node_ttl", ttl.String(), "heartbeat", hb.String(),
			"min", time.Duration(cluster.MinTTLBeats*float64(hb)).String())
	}
	if u := c.Cluster.URL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		bad("cmd.cluster.url", "url", strconv.Quote(u))
	}
	return errs
}

// redisOptions turns the config into the cluster package's.
func (r redisConfig) options() (cluster.RedisConfig, error) {
	out := cluster.RedisConfig{Username: r.Username, Password: r.Password, DB: r.DB, MasterName: r.MasterName,
		DialTimeout: r.DialTimeout, ReadTimeout: r.ReadTimeout, WriteTimeout: r.WriteTimeout, PoolSize: r.PoolSize}
	switch {
	case len(r.SentinelAddrs) > 0:
		out.Addrs = r.SentinelAddrs
	case len(r.ClusterAddrs) > 0:
		out.Addrs = r.ClusterAddrs
	default:
		out.Addrs = []string{r.Addr}
	}
	if r.TLS {
		out.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if r.TLSCAFile != "" {
			pem, err := os.ReadFile(r.TLSCAFile)
			if err != nil {
				return out, wrapMsg(err, "cmd.cluster.ca_unreadable", "path", r.TLSCAFile)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return out, errMsg("cmd.cluster.ca_invalid", "path", r.TLSCAFile)
			}
			out.TLS.RootCAs = pool
		}
	}
	return out, nil
}

// clusterPart is the app's membership of a cluster: nil fields on a single node.
type clusterPart struct {
	rdb  redis.UniversalClient
	ops  atomic.Int64
	node atomic.Pointer[cluster.Node] // set by Start, before the first request
	cpu  cpuMeter
}

// openCluster connects the Redis client (lazily: a Redis down at start is retried by the
// heartbeat, not fatal) and registers the cluster's metrics.
func openCluster(cfg config, reg *prometheus.Registry) (*clusterPart, error) {
	if !cfg.Redis.on() {
		return nil, nil
	}
	opts, err := cfg.Redis.options()
	if err != nil {
		return nil, err
	}
	cp := &clusterPart{}
	cp.rdb = cluster.NewRedis(opts, &cp.ops)
	if err := reg.Register(cp); err != nil {
		_ = cp.rdb.Close()
		return nil, fmt.Errorf("register cluster metrics: %w", err)
	}
	return cp, nil
}

// startNode announces this node; called by Start once the listen address is known.
func (a *app) startNode() error {
	cp := a.cluster
	if cp == nil {
		return nil
	}
	c := a.cfg.Cluster
	url := c.URL
	if url == "" {
		url = a.urlLocked()
	}
	id := c.NodeID
	if id == "" {
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(a.ln.Addr().String())
		id = host + ":" + port
	}
	media := ""
	if u := a.sfu.UDPAddr(); u != nil {
		media = u.String()
		if len(a.cfg.RTC.PublicIPs) > 0 {
			media = net.JoinHostPort(a.cfg.RTC.PublicIPs[0], strconv.Itoa(u.Port))
		}
	}
	hb, ttl := c.beats()
	n, err := cluster.New(cluster.Config{Redis: cp.rdb, Prefix: a.cfg.Redis.KeyPrefix, ID: id, Version: version,
		Heartbeat: hb, NodeTTL: ttl,
		HTTPURL: url, MediaAddr: media, Serves: c.Serves, Load: a.load, Live: a.sig.Rooms, Logger: a.log, Ops: &cp.ops,
		// A room's live state (resume records, the call's snapshot) outlives a dead owner for
		// a resume's grace, and at least long enough for another node to take the room.
		LiveTTL: max(2*cluster.DefaultClaimTTL, a.cfg.ResumeGrace, a.cfg.ResumeGraceOnStage)})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	n.Start(ctx)
	cp.node.Store(n)
	a.log.Info("cluster node started", zap.String("node", id), zap.String("url", url), zap.Strings("serves", c.Serves))
	return nil
}

// closeNode drains and leaves the cluster, then closes the Redis client.
func (a *app) closeNode(ctx context.Context) error {
	cp := a.cluster
	if cp == nil {
		return nil
	}
	if n := cp.node.Load(); n != nil {
		// Best effort: with Redis away the entry and the claims expire by themselves.
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := n.Close(lctx)
		cancel()
		if err != nil {
			a.log.Warn("could not leave the cluster; its entry expires by itself", zap.Error(err))
		}
	}
	if err := cp.rdb.Close(); err != nil {
		return fmt.Errorf("redis close: %w", err)
	}
	return nil
}

// drainNode stops new placements here at once (SIGTERM); the others learn it at the next
// heartbeat or when this node leaves.
func (a *app) drainNode() {
	if a.cluster == nil {
		return
	}
	if n := a.cluster.node.Load(); n != nil {
		n.DrainLocal()
	}
}

// clusterUnready is why readiness fails because of the cluster, "" when it does not.
func (a *app) clusterUnready() i18n.Key {
	if a.cluster == nil {
		return ""
	}
	n := a.cluster.node.Load()
	switch {
	case n == nil:
		return ""
	case n.Healthy() != nil:
		return "cmd.cluster.redis_down"
	case n.Draining():
		return "cmd.cluster.draining"
	}
	return ""
}

// load is this node's load for the registry, read from the SFU's own metrics.
func (a *app) load() cluster.Load {
	var l cluster.Load
	mfs, err := a.registry.Gather()
	if err == nil {
		for _, mf := range mfs {
			sum := 0.0
			for _, m := range mf.GetMetric() {
				sum += m.GetGauge().GetValue()
			}
			switch mf.GetName() {
			case "sanji_sfu_participants":
				l.Participants = int(sum)
			case "sanji_sfu_published_tracks":
				l.Tracks = int(sum)
			case "sanji_sfu_room_forwarded_bitrate_bps":
				l.BitrateBps = int64(sum)
			}
		}
	}
	l.CPU = a.cluster.cpu.share()
	return l
}

// cpuMeter measures the process's CPU time between two readings, as a share of the cores.
type cpuMeter struct {
	mu       sync.Mutex
	lastCPU  time.Duration
	lastWall time.Time
}

func (m *cpuMeter) share() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() { m.lastCPU, m.lastWall = cpu, now }()
	if m.lastWall.IsZero() {
		return 0
	}
	wall := now.Sub(m.lastWall)
	if wall <= 0 {
		return 0
	}
	return min(1, float64(cpu-m.lastCPU)/float64(wall)/float64(runtime.NumCPU()))
}

// The cluster's view in the metrics: what this node saw at its last heartbeat.
var (
	descNodes        = prometheus.NewDesc("sanji_cluster_nodes", "Nodes in the cluster as the last heartbeat saw them.", nil, nil)
	descNodeParts    = prometheus.NewDesc("sanji_cluster_node_participants", "Participants of each node of the cluster.", []string{"node"}, nil)
	descNodeDraining = prometheus.NewDesc("sanji_cluster_node_draining", "1 for a node of the cluster that takes no new rooms.", []string{"node"}, nil)
	descRedisUp      = prometheus.NewDesc("sanji_cluster_redis_up", "1 while this node's heartbeat reaches Redis.", nil, nil)
	descRedisOps     = prometheus.NewDesc("sanji_cluster_redis_ops_total", "Commands this node sent to Redis.", nil, nil)
	descClaims       = prometheus.NewDesc("sanji_cluster_rooms_claimed", "Rooms this node owns.", nil, nil)
)

func (cp *clusterPart) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descNodes, descNodeParts, descNodeDraining, descRedisUp, descRedisOps, descClaims} {
		ch <- d
	}
}

func (cp *clusterPart) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descRedisOps, prometheus.CounterValue, float64(cp.ops.Load()))
	n := cp.node.Load()
	if n == nil {
		return
	}
	up := 1.0
	if n.Healthy() != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(descRedisUp, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(descClaims, prometheus.GaugeValue, float64(len(n.Claims())))
	view, _ := n.View()
	ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(len(view)))
	for _, in := range view {
		ch <- prometheus.MustNewConstMetric(descNodeParts, prometheus.GaugeValue, float64(in.Load.Participants), in.ID)
		d := 0.0
		if in.Draining {
			d = 1
		}
		ch <- prometheus.MustNewConstMetric(descNodeDraining, prometheus.GaugeValue, d, in.ID)
	}
}

// liveState is signaling's view of a room's live state in Redis (signaling.Shared) and of the
// seat tokens' used marks (signaling.SeatMarks).
type liveState struct{ cp *clusterPart }

func (l liveState) node() (*cluster.Node, error) {
	if n := l.cp.node.Load(); n != nil {
		return n, nil
	}
	return nil, cluster.ErrUnavailable
}

func (l liveState) SetLive(ctx context.Context, room, field string, val []byte) error {
	n, err := l.node()
	if err != nil {
		return err
	}
	return n.SetLive(ctx, room, field, val)
}

func (l liveState) DelLive(ctx context.Context, room, field string) error {
	n, err := l.node()
	if err != nil {
		return err
	}
	return n.DelLive(ctx, room, field)
}

func (l liveState) GetLive(ctx context.Context, room, field string) ([]byte, error) {
	n, err := l.node()
	if err != nil {
		return nil, err
	}
	return n.GetLive(ctx, room, field)
}

func (l liveState) TakeLive(ctx context.Context, room, field, prefix string) ([]byte, error) {
	n, err := l.node()
	if err != nil {
		return nil, err
	}
	return n.TakeLive(ctx, room, field, prefix)
}

func (l liveState) MarkOnce(ctx context.Context, name string, until time.Time) (bool, error) {
	n, err := l.node()
	if err != nil {
		return false, err
	}
	return n.MarkOnce(ctx, name, until)
}

func (l liveState) Unmark(ctx context.Context, name string) error {
	n, err := l.node()
	if err != nil {
		return err
	}
	return n.Unmark(ctx, name)
}

// placer is signaling's view of placement: where a room lives, by the studio's part of the tree
// for a reception call.
type placer struct {
	cp *clusterPart
	st scheduler.Store
}

func (p placer) Place(ctx context.Context, room string, sessionID int64) (string, error) {
	n := p.cp.node.Load()
	if n == nil {
		return "", cluster.ErrUnavailable
	}
	w := cluster.Want{Room: room}
	if sessionID != 0 {
		// A session the store cannot find is placed as a plain room: the call's own join then
		// says what is wrong with it, which is clearer than a cluster error.
		codes, err := studioCodes(ctx, p.st, sessionID)
		if err == nil {
			w.Codes = codes
		}
	}
	pl, err := n.Place(ctx, w)
	if err != nil {
		return "", err
	}
	if pl.Local {
		return "", nil
	}
	return pl.Node.HTTPURL, nil
}

// studioCodes are the unit codes of a session's studio and of every unit above it. A session
// without a studio has none (placed as a plain room).
func studioCodes(ctx context.Context, st scheduler.Store, sessionID int64) ([]string, error) {
	s, err := st.GetReceptionSession(ctx, sessionID)
	if err != nil {
		return nil, fmt.Errorf("placement: session %d: %w", sessionID, err)
	}
	if s.StudioID == 0 {
		return nil, nil
	}
	h, err := st.GetHall(ctx, s.StudioID)
	if err != nil {
		return nil, fmt.Errorf("placement: studio %d: %w", s.StudioID, err)
	}
	codes, err := unitCodes(ctx, st, h.UnitID)
	if err != nil {
		return nil, fmt.Errorf("placement: %w", err)
	}
	return codes, nil
}

// apiCluster is the API's view of the cluster.
type apiCluster struct{ cp *clusterPart }

func (c apiCluster) Nodes(r *http.Request) ([]api.NodeView, error) {
	n := c.cp.node.Load()
	if n == nil {
		return nil, api.ErrClusterUnavailable
	}
	infos, err := n.Nodes(r.Context())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrClusterUnavailable, err)
	}
	out := make([]api.NodeView, 0, len(infos))
	for _, in := range infos {
		out = append(out, api.NodeView{ID: in.ID, Version: in.Version, HTTPURL: in.HTTPURL, MediaAddr: in.MediaAddr,
			Serves: append([]string{}, in.Serves...), Participants: in.Load.Participants, Tracks: in.Load.Tracks,
			BitrateBps: in.Load.BitrateBps, CPU: in.Load.CPU, Rooms: in.Rooms, Draining: in.Draining,
			Started: in.Started, Seen: in.Seen, Self: in.ID == n.ID()})
	}
	return out, nil
}

func (c apiCluster) Drain(r *http.Request, id string, on bool) error {
	n := c.cp.node.Load()
	if n == nil {
		return api.ErrClusterUnavailable
	}
	infos, err := n.Nodes(r.Context())
	if err != nil {
		return fmt.Errorf("%w: %w", api.ErrClusterUnavailable, err)
	}
	found := false
	for _, in := range infos {
		found = found || in.ID == id
	}
	if !found {
		return api.ErrNoSuchNode
	}
	if on {
		err = n.Drain(r.Context(), id)
	} else {
		err = n.Undrain(r.Context(), id)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", api.ErrClusterUnavailable, err)
	}
	return nil
}

// checkOrigin lets a page served by any node of the cluster open this node's WebSocket: a join
// refused with wrong_node sends the page's socket to the room's owner, another origin. Pages of
// this host pass as on a single node; the nodes known are those of the last heartbeat's view,
// so the check costs no Redis command.
func (cp *clusterPart) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a browser: the token is the authority
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	n := cp.node.Load()
	if n == nil {
		return false
	}
	view, _ := n.View()
	for _, in := range view {
		if nu, err := url.Parse(in.HTTPURL); err == nil && strings.EqualFold(nu.Scheme, u.Scheme) && strings.EqualFold(nu.Host, u.Host) {
			return true
		}
	}
	return false
}

// peerHosts are the host:port of the cluster's nodes as the last heartbeat saw them: the pages'
// policy lets them open those nodes' WebSockets.
func (cp *clusterPart) peerHosts() []string {
	n := cp.node.Load()
	if n == nil {
		return nil
	}
	view, _ := n.View()
	out := make([]string, 0, len(view))
	for _, in := range view {
		if u, err := url.Parse(in.HTTPURL); err == nil && u.Host != "" {
			out = append(out, u.Host)
		}
	}
	return out
}

// loginLimiter counts login attempts per address in Redis, the API's own limiter its fallback.
func (cp *clusterPart) loginLimiter(prefix string) func(local api.RateLimiter) api.RateLimiter {
	return func(local api.RateLimiter) api.RateLimiter {
		// The API's defaults: 10 a minute, 10 at once.
		l := cluster.NewLimiter(cp.rdb, prefix, "login", 10, 10)
		l.Local = local
		return l
	}
}
