// Package cluster lets several Sanji processes serve one installation: each node announces itself
// in Redis (the registry), every room and reception call is claimed by exactly one node
// (placement), a node can be drained, and the login limiter counts across nodes. Redis holds only
// live state that expires by itself; the store (PostgreSQL) stays the system of record. There is
// no consensus of our own: a claim is one key written with SET NX and an expiry, renewed by its
// owner with a compare-and-renew script.
//
// Without Redis configured nothing here runs: a single node needs none of it.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Load is what a node carries, as placement compares nodes.
type Load struct {
	Participants int     `json:"participants"`
	Tracks       int     `json:"tracks"`
	BitrateBps   int64   `json:"bitrate_bps"` // forwarded to subscribers
	CPU          float64 `json:"cpu"`         // share of the machine's cores this process used, 0..1
}

// Info is a node as the registry shows it.
type Info struct {
	ID        string `json:"id"`
	Version   string `json:"version"`
	HTTPURL   string `json:"http_url"`
	MediaAddr string `json:"media_addr"`
	// Serves are the unit codes of the parts of the tier tree this node hosts the reception calls
	// of (a studio whose unit or any unit above it is listed); empty: none in particular.
	Serves   []string  `json:"serves"`
	Load     Load      `json:"load"`
	Draining bool      `json:"draining"`
	Started  time.Time `json:"started"`
	Seen     time.Time `json:"seen"` // the node's last heartbeat, by its own clock
	Rooms    int       `json:"rooms"`
}

// Config configures a Node.
type Config struct {
	Redis redis.UniversalClient
	// Prefix starts every key (default "sanji"), so installations can share a Redis.
	Prefix    string
	ID        string
	Version   string
	HTTPURL   string
	MediaAddr string
	Serves    []string
	// Load reports this node's load at each heartbeat; nil reports none.
	Load func() Load
	// Live lists the rooms that have members on this node; a claim of a room not live here for
	// ClaimTTL is released. nil: claims are kept until Close.
	Live func() []string

	// Heartbeat is how often the node writes its entry; between two beats it looks at the
	// registry for nodes gone. Default 1 s.
	Heartbeat time.Duration
	// NodeTTL is the entry's expiry: a node that stops heartbeating is gone within it. Default
	// 3 s; at least MinTTLBeats heartbeats (the configuration checks it), so that one beat lost
	// to a Redis blip does not declare a live node dead.
	NodeTTL  time.Duration
	ClaimTTL time.Duration // default 15 s; renewed every third of it
	// LiveTTL is how long a room's live state (live.go) outlives its owner's last renewal:
	// long enough for another node to take the room and its clients to resume. Default
	// 2×ClaimTTL.
	LiveTTL time.Duration
	Logger  *zap.Logger
	// Ops counts the commands sent to Redis (the same counter given to NewRedis), for the metrics.
	Ops *atomic.Int64
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Defaults of Config. A 1 s heartbeat with a 3 s TTL puts a dead node's takeover 2–3.5 s after
// its death (the entry outlives its last beat by the TTL, then at most half a heartbeat to the
// next look), leaving the clients' resume and new media connections 2.5 s of the 6 s target;
// a live node may lose one whole beat and still be seen, with a second to spare (docs/operations.md,
// "The registry").
const (
	DefaultHeartbeat = time.Second
	DefaultNodeTTL   = 3 * time.Second
	DefaultClaimTTL  = 15 * time.Second
)

// MinTTLBeats is the least NodeTTL in heartbeats: one beat may fail (it gets a heartbeat to
// finish), and the next, up to half a heartbeat late, still lands before the entry expires.
const MinTTLBeats = 2.5

// ErrUnavailable wraps every failure to reach Redis: the cluster cannot answer now.
var ErrUnavailable = errors.New("cluster: redis unavailable")

// ErrNoNode is returned by Place when no node takes new rooms (all draining, or none seen).
var ErrNoNode = errors.New("cluster: no node takes new rooms")

// Node is this process in the cluster. New builds it, Start runs its heartbeat, Close ends it.
type Node struct {
	cfg Config
	rdb redis.UniversalClient
	log *zap.Logger
	now func() time.Time

	started time.Time
	// draining is set by Drain (SIGTERM, an admin) or by the drain flag in Redis.
	draining atomic.Bool
	// drainedLocally is DrainLocal's: the process is ending, whatever Redis says.
	drainedLocally atomic.Bool
	// lastErr is the last heartbeat's failure, nil when Redis answered.
	lastErr atomic.Pointer[error]
	// takeovers counts the rooms taken from nodes gone.
	takeovers atomic.Int64

	mu        sync.Mutex
	view      []Info               // the cluster as the last heartbeat read it
	viewAt    time.Time            // when
	claims    map[string]time.Time // rooms this node owns → when they were last seen live here
	lastRenew time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

// New builds a node; nothing is sent to Redis before Start.
func New(cfg Config) (*Node, error) {
	if cfg.Redis == nil {
		return nil, errors.New("cluster: no redis client")
	}
	if cfg.ID == "" {
		return nil, errors.New("cluster: node id is empty")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "sanji"
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.NodeTTL <= 0 {
		cfg.NodeTTL = DefaultNodeTTL
	}
	if cfg.ClaimTTL <= 0 {
		cfg.ClaimTTL = DefaultClaimTTL
	}
	if cfg.LiveTTL <= 0 {
		cfg.LiveTTL = 2 * cfg.ClaimTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	n := &Node{cfg: cfg, rdb: cfg.Redis, log: log.Named("cluster"), now: cfg.Now, claims: map[string]time.Time{}}
	notStarted := errors.New("cluster: no heartbeat yet")
	n.lastErr.Store(&notStarted)
	return n, nil
}

// ID is this node's id.
func (n *Node) ID() string { return n.cfg.ID }

// Keys. Node keys share one hash tag so that a Redis Cluster keeps them in one slot (MGET).
func (n *Node) nodeKey(id string) string  { return n.cfg.Prefix + ":{nodes}:node:" + id }
func (n *Node) drainKey(id string) string { return n.cfg.Prefix + ":{nodes}:drain:" + id }
func (n *Node) indexKey() string          { return n.cfg.Prefix + ":{nodes}:index" }
func (n *Node) roomKey(room string) string {
	return n.cfg.Prefix + ":room:" + room
}

// Start announces the node at once and then every Heartbeat until Close. A Redis that does not
// answer now is not fatal: the node keeps trying, /readyz says so meanwhile.
func (n *Node) Start(ctx context.Context) {
	n.started = n.now()
	if err := n.beat(ctx); err != nil {
		n.log.Warn("first heartbeat failed; retrying", zap.Error(err))
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.done = make(chan struct{})
	go n.loop(loopCtx)
}

func (n *Node) loop(ctx context.Context) {
	defer close(n.done)
	// Twice per heartbeat: a beat when one is due, else a look at the registry alone, so that a
	// dead node's rooms are taken within half a heartbeat of its entry's expiry.
	hb := n.cfg.Heartbeat
	t := time.NewTicker(hb / 2)
	defer t.Stop()
	failing := false
	lastBeat := time.Now() // Start beat once
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// The beat is chosen by the clock, not by counting ticks: after a slow call the next
		// beat is not pushed back by a look. A beat gets at most a heartbeat and a look half of
		// one (the client honours these deadlines), so a slow Redis never delays the next beat
		// by more than half a heartbeat: the entry's TTL allows for it (MinTTLBeats).
		var err error
		if now := time.Now(); now.Sub(lastBeat) >= hb-hb/4 {
			lastBeat = now
			bctx, cancel := context.WithTimeout(ctx, hb)
			err = n.beat(bctx)
			cancel()
		} else {
			wctx, cancel := context.WithTimeout(ctx, hb/2)
			err = n.watch(wctx)
			cancel()
		}
		switch {
		case err != nil && !failing:
			n.log.Warn("heartbeat failed; calls in progress go on", zap.Error(err))
			failing = true
		case err == nil && failing:
			n.log.Info("heartbeat recovered")
			failing = false
		}
	}
}

// Close stops the heartbeat, releases this node's claims and removes it from the registry, so
// the others see it gone at once rather than after NodeTTL.
func (n *Node) Close(ctx context.Context) error {
	if n.cancel != nil {
		n.cancel()
		<-n.done
	}
	n.mu.Lock()
	rooms := make([]string, 0, len(n.claims))
	for r := range n.claims {
		rooms = append(rooms, r)
	}
	n.claims = map[string]time.Time{}
	n.mu.Unlock()
	pipe := n.rdb.Pipeline()
	for _, r := range rooms {
		releaseScript.Eval(ctx, pipe, []string{n.roomKey(r)}, n.cfg.ID)
	}
	pipe.Del(ctx, n.nodeKey(n.cfg.ID))
	pipe.Del(ctx, n.roomsKey(n.cfg.ID))
	pipe.ZRem(ctx, n.indexKey(), n.cfg.ID)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("cluster: leave: %w", err)
	}
	return nil
}

// Healthy is nil while the last heartbeat reached Redis, else why not.
func (n *Node) Healthy() error {
	if p := n.lastErr.Load(); p != nil && *p != nil {
		return *p
	}
	return nil
}

// Drain stops new placements on node id (this node or another): the flag lives in Redis so
// that every node's placement sees it; this node also stops at once.
func (n *Node) Drain(ctx context.Context, id string) error {
	if id == n.cfg.ID {
		n.draining.Store(true)
	}
	if err := n.rdb.Set(ctx, n.drainKey(id), "1", 0).Err(); err != nil {
		return fmt.Errorf("%w: drain %s: %w", ErrUnavailable, id, err)
	}
	return nil
}

// Undrain lets node id take new rooms again.
func (n *Node) Undrain(ctx context.Context, id string) error {
	if err := n.rdb.Del(ctx, n.drainKey(id)).Err(); err != nil {
		return fmt.Errorf("%w: undrain %s: %w", ErrUnavailable, id, err)
	}
	if id == n.cfg.ID {
		n.draining.Store(n.drainedLocally.Load())
	}
	return nil
}

// DrainLocal stops new placements on this node without Redis (SIGTERM: the flag is announced
// with the next heartbeat, if Redis answers).
func (n *Node) DrainLocal() {
	n.drainedLocally.Store(true)
	n.draining.Store(true)
}

// Draining reports whether this node takes no new rooms.
func (n *Node) Draining() bool { return n.draining.Load() }

// beat is one heartbeat: announce, read the drain flag and the cluster's view, renew claims.
func (n *Node) beat(ctx context.Context) error {
	err := n.heartbeat(ctx)
	if err == nil {
		err = n.renew(ctx, false)
	}
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	n.lastErr.Store(&err)
	return err
}

func (n *Node) self() Info {
	var l Load
	if n.cfg.Load != nil {
		l = n.cfg.Load()
	}
	n.mu.Lock()
	rooms := len(n.claims)
	n.mu.Unlock()
	return Info{ID: n.cfg.ID, Version: n.cfg.Version, HTTPURL: n.cfg.HTTPURL, MediaAddr: n.cfg.MediaAddr,
		Serves: n.cfg.Serves, Load: l, Draining: n.draining.Load(), Started: n.started, Seen: n.now(), Rooms: rooms}
}

// heartbeat writes this node's entry with its TTL and reads the whole registry back: two round
// trips per node per Heartbeat, whatever the number of calls.
func (n *Node) heartbeat(ctx context.Context) error {
	// The drain flag first, so the entry written below says the truth.
	flag, err := n.rdb.Exists(ctx, n.drainKey(n.cfg.ID)).Result()
	if err != nil {
		return fmt.Errorf("read drain flag: %w", err)
	}
	// Redis's flag is the admin's word both ways (an undrain from another node must reach
	// this one); a local drain (SIGTERM) holds until the process ends.
	n.draining.Store(flag > 0 || n.drainedLocally.Load())
	me := n.self()
	body, err := json.Marshal(me)
	if err != nil {
		return fmt.Errorf("encode node: %w", err)
	}
	now := n.now()
	pipe := n.rdb.Pipeline()
	pipe.Set(ctx, n.nodeKey(n.cfg.ID), body, n.cfg.NodeTTL)
	pipe.ZAdd(ctx, n.indexKey(), redis.Z{Score: float64(now.Add(n.cfg.NodeTTL).UnixMilli()), Member: n.cfg.ID})
	// The index is only a list of names; entries of nodes gone for a minute are swept.
	pipe.ZRemRangeByScore(ctx, n.indexKey(), "-inf", fmt.Sprint(now.Add(-time.Minute).UnixMilli()))
	ids := pipe.ZRange(ctx, n.indexKey(), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("announce: %w", err)
	}
	return n.look(ctx, ids.Val(), now)
}

// look reads the registry's entries of ids as the new view and takes the rooms of the nodes
// gone.
func (n *Node) look(ctx context.Context, ids []string, now time.Time) error {
	view, err := n.read(ctx, ids)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.view, n.viewAt = view, now
	n.mu.Unlock()
	return n.takeOver(ctx, ids, view)
}

// watch is the look between two beats: the registry read again, a gone node's rooms taken.
func (n *Node) watch(ctx context.Context) error {
	now := n.now()
	ids, err := n.rdb.ZRange(ctx, n.indexKey(), 0, -1).Result()
	if err != nil {
		return fmt.Errorf("%w: list nodes: %w", ErrUnavailable, err)
	}
	if err := n.look(ctx, ids, now); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// read loads the entries of ids; an expired entry (a node gone) is left out.
func (n *Node) read(ctx context.Context, ids []string) ([]Info, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = n.nodeKey(id)
	}
	vals, err := n.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("read nodes: %w", err)
	}
	out := make([]Info, 0, len(vals))
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		var in Info
		if err := json.Unmarshal([]byte(s), &in); err != nil {
			n.log.Warn("unreadable node entry", zap.Error(err))
			continue
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Nodes reads the registry now (the admin's view).
func (n *Node) Nodes(ctx context.Context) ([]Info, error) {
	ids, err := n.rdb.ZRange(ctx, n.indexKey(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: list nodes: %w", ErrUnavailable, err)
	}
	view, err := n.read(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return view, nil
}

// View is the cluster as the last successful heartbeat saw it, and when.
func (n *Node) View() ([]Info, time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Info(nil), n.view...), n.viewAt
}
