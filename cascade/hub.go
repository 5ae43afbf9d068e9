package cascade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"sanji/auth"
	"sanji/call"
	"sanji/sfu"
)

// Path is where a node accepts the links of other nodes.
const Path = "/internal/v1/cascade"

// Relay is this node's end of a room's media relay with another node (sfu.Relay): it sends its
// messages through the function it was opened with and takes the peer's with Deliver.
type Relay interface {
	Deliver(msg json.RawMessage) error
	Close()
}

// Config is what a Hub runs on.
type Config struct {
	// Node is this node's name in the cluster (known once the node has started).
	Node func() string
	SFU  *sfu.SFU
	// Tokens signs the node tokens this node opens links with, and checks those it accepts
	// (the installation's shared token_secret).
	Tokens *auth.Signer
	// URL is the HTTP base URL of another node ("" when it is unknown or gone).
	URL func(node string) string
	// OpenRelay opens this node's end of a room's media relay with peer (SFURelays), under the
	// call's policy when one is known (nil: an ordinary room, or not known yet). nil: no media
	// crosses between nodes (commands and events still do).
	OpenRelay func(room, peer string, pol sfu.Policy, send func(json.RawMessage)) (Relay, error)
	// Grace is how long what rides on a lost link is kept for the link to come back (the owner
	// dials again meanwhile): the participants held for the owner, their Remotes, the relays.
	// Default 30 s; after it they end (EventClosed "link_lost").
	Grace  time.Duration
	Logger *zap.Logger
	// Registerer receives the hub's metrics (nil = not registered).
	Registerer prometheus.Registerer
}

// DefaultGrace is Config.Grace's default.
const DefaultGrace = 30 * time.Second

type heldKey struct{ owner, room, p string }
type remoteKey struct{ node, room, p string }
type relayKey struct{ room, peer string }

// Hub is a node's part in cascades: the owner's side of participants whose media other nodes
// hold (Join, Enforce), and the side that holds media for other owners (ServeHTTP).
type Hub struct {
	cfg      Config
	log      *zap.Logger
	metrics  *metrics
	upgrader websocket.Upgrader

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	links    map[string]*link         // by peer node
	dialing  map[string]chan struct{} // a dial under way to a node, closed when it ends
	remotes  map[remoteKey]*Remote    // owner: participants held elsewhere
	held     map[heldKey]*sfu.Participant
	policies map[string]*call.Policy // holder: each room's owner policy
	relays   map[relayKey]Relay
	opening  map[relayKey]chan struct{} // relays being opened, closed when they are
	policy   map[string]json.RawMessage // owner: each room's policy as last sent
	awaiting map[string]bool            // peers whose link is lost and awaited
	closed   bool
}

// New returns a Hub; Close ends it.
func New(cfg Config) *Hub {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{cfg: cfg, policy: map[string]json.RawMessage{}, awaiting: map[string]bool{}, log: log.Named("cascade"), ctx: ctx, cancel: cancel,
		upgrader: websocket.Upgrader{ReadBufferSize: 16 << 10, WriteBufferSize: 16 << 10},
		links:    map[string]*link{}, dialing: map[string]chan struct{}{}, remotes: map[remoteKey]*Remote{},
		held: map[heldKey]*sfu.Participant{}, policies: map[string]*call.Policy{}, relays: map[relayKey]Relay{}, opening: map[relayKey]chan struct{}{}}
	h.metrics = newMetrics(h, cfg.Registerer)
	return h
}

// Close ends every link and what rides on it.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	links := make([]*link, 0, len(h.links))
	for _, l := range h.links {
		links = append(links, l)
	}
	h.mu.Unlock()
	h.cancel()
	for _, l := range links {
		l.close()
	}
	h.wg.Wait()
}

// nodeToken is the token this node opens a link to peer with.
func (h *Hub) nodeToken(peer string) (string, error) {
	now := time.Now()
	return h.cfg.Tokens.Sign(auth.Claims{Room: "cascade:" + peer, Subject: h.cfg.Node(), Role: auth.RoleNode,
		IssuedAt: now, ExpiresAt: now.Add(time.Minute)})
}

// ServeHTTP accepts the link of another node that owns calls with media here.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	c, err := h.cfg.Tokens.Verify(tok, time.Now())
	if !ok || err != nil || c.Role != auth.RoleNode || c.Room != "cascade:"+h.cfg.Node() || c.Subject == h.cfg.Node() {
		h.log.Warn("cascade link refused", zap.Error(err))
		http.Error(w, "节点令牌无效 / bad node token", http.StatusUnauthorized)
		return
	}
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	l := newLink(c.Subject, c.Subject, conn, h.log, h.metrics, h.handle)
	if !h.addLink(l) {
		l.close()
		_ = conn.Close()
		return
	}
	h.log.Info("cascade link accepted", zap.String("peer", l.peer))
	l.run()
	h.linkEnded(l)
}

// addLink registers l as the link with its peer, replacing an older one. When both nodes opened
// one at once, both keep the one the node of the smaller name opened, so they agree on one.
func (h *Hub) addLink(l *link) bool {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return false
	}
	old := h.links[l.peer]
	if old != nil && !old.closed() && old.dialer != l.dialer && old.dialer == min(h.cfg.Node(), l.peer) {
		h.mu.Unlock()
		return false
	}
	h.links[l.peer] = l
	h.mu.Unlock()
	if old != nil {
		old.close()
	}
	return true
}

// current is the open link with peer, nil when there is none.
func (h *Hub) current(peer string) *link {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l := h.links[peer]; l != nil && !l.closed() {
		return l
	}
	return nil
}

// sendTo queues f on the link with peer; while there is none, f is dropped (what matters is sent
// again when the link is back: the policy, the outstanding offers).
func (h *Hub) sendTo(peer string, f frame) bool {
	if l := h.current(peer); l != nil {
		return l.send(f)
	}
	return false
}

// linkTo returns the link to node, opening it if there is none.
func (h *Hub) linkTo(ctx context.Context, node string) (*link, error) {
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return nil, ErrLink
		}
		if l := h.links[node]; l != nil && !l.closed() {
			h.mu.Unlock()
			return l, nil
		}
		if wait := h.dialing[node]; wait != nil {
			h.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %w", ErrLink, ctx.Err())
			}
		}
		wait := make(chan struct{})
		h.dialing[node] = wait
		h.mu.Unlock()
		l, err := h.dial(ctx, node)
		h.mu.Lock()
		delete(h.dialing, node)
		close(wait)
		h.mu.Unlock()
		return l, err
	}
}

func (h *Hub) dial(ctx context.Context, node string) (*link, error) {
	base := h.cfg.URL(node)
	if base == "" {
		return nil, fmt.Errorf("%w: node %q is not in the registry", ErrLink, node)
	}
	tok, err := h.nodeToken(node)
	if err != nil {
		return nil, err
	}
	u := "ws" + strings.TrimPrefix(strings.TrimSuffix(base, "/"), "http") + Path
	hdr := http.Header{"Authorization": {"Bearer " + tok}}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, resp, err := websocket.DefaultDialer.DialContext(dctx, u, hdr)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %w", ErrLink, node, err)
	}
	l := newLink(node, h.cfg.Node(), conn, h.log, h.metrics, h.handle)
	if !h.addLink(l) {
		_ = conn.Close()
		if cur := h.current(node); cur != nil {
			return cur, nil // the other node's link, opened at the same time, is the one
		}
		return nil, ErrLink
	}
	h.log.Info("cascade link opened", zap.String("peer", node))
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		l.run()
		h.linkEnded(l)
	}()
	return l, nil
}

// linkEnded: what rode on l waits for a link with its peer again, for the grace, and the owner
// dials meanwhile (await). A link replaced by a newer one leaves nothing waiting.
func (h *Hub) linkEnded(l *link) {
	h.mu.Lock()
	if h.links[l.peer] != l {
		h.mu.Unlock()
		return
	}
	delete(h.links, l.peer)
	closed, awaiting := h.closed, h.awaiting[l.peer]
	if !closed && !awaiting {
		h.awaiting[l.peer] = true
	}
	h.mu.Unlock()
	if closed {
		h.dropPeer(l.peer)
		return
	}
	if awaiting {
		return
	}
	h.log.Warn("cascade link lost; waiting for it", zap.String("peer", l.peer), zap.Duration("grace", h.cfg.Grace))
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.await(l.peer)
	}()
}

// await waits for a link with peer for the grace, dialing it while this node owns participants
// whose media peer holds; it drops what rode on the link when none came.
func (h *Hub) await(peer string) {
	deadline := time.NewTimer(h.cfg.Grace)
	defer deadline.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-h.ctx.Done():
			h.dropPeer(peer)
			return
		case <-deadline.C:
			h.log.Warn("cascade link not back within the grace", zap.String("peer", peer))
			h.dropPeer(peer)
			return
		case <-tick.C:
		}
		if h.current(peer) == nil && h.owns(peer) {
			ctx, cancel := context.WithTimeout(h.ctx, time.Second)
			_, _ = h.linkTo(ctx, peer)
			cancel()
		}
		if h.current(peer) != nil {
			h.relinked(peer)
			return
		}
	}
}

// owns reports whether this node drives participants whose media peer holds.
func (h *Hub) owns(peer string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.remotes {
		if k.node == peer {
			return true
		}
	}
	return false
}

// relinked resumes what waited for the link with peer: the owner sends each room's policy again
// and has the held participants' outstanding offers sent again (their events were dropped while
// the link was down).
func (h *Hub) relinked(peer string) {
	h.mu.Lock()
	delete(h.awaiting, peer)
	var remotes []*Remote
	policies := map[string]json.RawMessage{}
	for k, r := range h.remotes {
		if k.node == peer {
			remotes = append(remotes, r)
			if p := h.policy[k.room]; p != nil {
				policies[k.room] = p
			}
		}
	}
	h.mu.Unlock()
	h.log.Info("cascade link back", zap.String("peer", peer), zap.Int("remotes", len(remotes)))
	for room, p := range policies {
		h.sendTo(peer, frame{T: framePolicy, Room: room, Data: p})
	}
	for _, r := range remotes {
		r.ResendOffer()
	}
}

// dropPeer ends what rode on the links with peer: on the owner its Remotes end (their sessions
// see the media closed and their clients come back), on the holder the participants held for
// that owner leave; both sides close the relays with that peer.
func (h *Hub) dropPeer(peer string) {
	h.mu.Lock()
	delete(h.awaiting, peer)
	var remotes []*Remote
	for k, r := range h.remotes {
		if k.node == peer {
			remotes = append(remotes, r)
			delete(h.remotes, k)
		}
	}
	var held []*sfu.Participant
	for k, p := range h.held {
		if k.owner == peer {
			held = append(held, p)
			delete(h.held, k)
		}
	}
	var relays []Relay
	for k, r := range h.relays {
		if k.peer == peer {
			relays = append(relays, r)
			delete(h.relays, k)
		}
	}
	h.mu.Unlock()
	for _, r := range relays {
		r.Close()
	}
	for _, p := range held {
		p.Close(evLinkClosed)
	}
	for _, r := range remotes {
		if r.gone.CompareAndSwap(false, true) {
			r.sink.OnEvent(sfu.EventClosed{Reason: evLinkClosed})
		}
	}
}

// handle runs one frame of l, on its reader.
func (h *Hub) handle(l *link, f frame) {
	switch f.T {
	case frameReq:
		out, err := h.command(l, f)
		l.reply(f, out, err)
	case frameEvent:
		h.mu.Lock()
		r := h.remotes[remoteKey{l.peer, f.Room, f.P}]
		h.mu.Unlock()
		if r == nil {
			return
		}
		e, err := decodeEvent(f.Op, f.Data)
		if err != nil {
			h.log.Warn("cascade: bad event", zap.String("op", f.Op), zap.Error(err))
			return
		}
		if _, last := e.(sfu.EventClosed); last {
			h.forget(r)
			if !r.gone.CompareAndSwap(false, true) {
				return
			}
		}
		r.sink.OnEvent(e)
	case framePolicy:
		h.setPolicy(f.Room, f.Data)
	case frameRelay:
		if rl := h.relay(l, f.Room, h.policyOf(f.Room)); rl != nil {
			if err := rl.Deliver(f.Data); err != nil {
				h.log.Debug("cascade: relay message refused", zap.String("room", f.Room), zap.Error(err))
			}
		}
	case frameRelayClose:
		h.closeRelay(f.Room, l.peer)
		h.mu.Lock()
		delete(h.policies, f.Room)
		h.mu.Unlock()
	default:
		h.log.Warn("cascade: unknown frame", zap.String("t", f.T))
	}
}

// relay returns this node's end of the room's relay with l's peer, opening it if needed. It is
// opened without h.mu held (opening announces the room's tracks through send at once), and once:
// a relay frame that comes while a Join opens it (the peer answers the announcements at once)
// waits for that one rather than opening a second.
func (h *Hub) relay(l *link, room string, pol *call.Policy) Relay {
	if h.cfg.OpenRelay == nil {
		return nil
	}
	k := relayKey{room, l.peer}
	h.mu.Lock()
	for {
		if r := h.relays[k]; r != nil || h.closed {
			h.mu.Unlock()
			return r
		}
		wait := h.opening[k]
		if wait == nil {
			break
		}
		h.mu.Unlock()
		<-wait
		h.mu.Lock()
	}
	done := make(chan struct{})
	h.opening[k] = done
	h.mu.Unlock()
	peer := l.peer
	var sp sfu.Policy
	if pol != nil {
		sp = pol
	}
	r, err := h.cfg.OpenRelay(room, peer, sp, func(m json.RawMessage) {
		h.sendTo(peer, frame{T: frameRelay, Room: room, Data: m})
	})
	h.mu.Lock()
	delete(h.opening, k)
	close(done)
	if err == nil && !h.closed {
		h.relays[k] = r
	}
	closed := h.closed
	h.mu.Unlock()
	switch {
	case err != nil:
		h.log.Warn("cascade: open relay", zap.String("room", room), zap.String("peer", peer), zap.Error(err))
		return nil
	case closed:
		r.Close()
		return nil
	}
	return r
}

func (h *Hub) closeRelay(room, peer string) {
	h.mu.Lock()
	r := h.relays[relayKey{room, peer}]
	delete(h.relays, relayKey{room, peer})
	h.mu.Unlock()
	if r != nil {
		r.Close()
	}
}

// setPolicy stores the owner's policy of room on this node from the snapshot in data (none when
// data is empty: an ordinary room) and has the room enforce it.
func (h *Hub) setPolicy(room string, data json.RawMessage) (*call.Policy, error) {
	if len(data) == 0 || string(data) == "null" {
		return nil, nil
	}
	snap := &call.Snapshot{}
	if err := json.Unmarshal(data, snap); err != nil {
		return nil, err
	}
	h.mu.Lock()
	pol := h.policies[room]
	fresh := pol == nil
	if fresh {
		pol = call.NewPolicy(snap)
		h.policies[room] = pol
	} else {
		pol.Set(snap)
	}
	h.mu.Unlock()
	if r := h.cfg.SFU.Room(room); r != nil {
		r.SetPolicy(pol) // ends what the owner no longer allows here
	}
	return pol, nil
}

// policyOf is the owner's policy of room as this node holds it, nil when none came yet.
func (h *Hub) policyOf(room string) *call.Policy {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.policies[room]
}

// command runs one of the owner's commands on a participant held here.
func (h *Hub) command(l *link, f frame) (any, error) {
	if f.Op == opJoin {
		return nil, h.hold(l, f)
	}
	h.mu.Lock()
	p := h.held[heldKey{l.peer, f.Room, f.P}]
	h.mu.Unlock()
	if p == nil {
		return nil, sfu.ErrClosed
	}
	switch f.Op {
	case opPublish:
		var d sdpData
		if err := json.Unmarshal(f.Data, &d); err != nil {
			return nil, fmt.Errorf("%w: %w", sfu.ErrBadSDP, err)
		}
		answer, err := p.Publish(d.SDP)
		return sdpData{SDP: answer}, err
	case opAnswer:
		var d sdpData
		if err := json.Unmarshal(f.Data, &d); err != nil {
			return nil, fmt.Errorf("%w: %w", sfu.ErrBadSDP, err)
		}
		return nil, p.SetSubscriberAnswer(d.SDP)
	case opCandidate:
		var d candidateData
		if err := json.Unmarshal(f.Data, &d); err != nil {
			return nil, err
		}
		return nil, p.AddICECandidate(d.Target, d.Candidate)
	case opSubscribe:
		var d tracksData
		if err := json.Unmarshal(f.Data, &d); err != nil {
			return nil, err
		}
		return nil, h.subscribe(p, d.IDs)
	case opUnsubscribe:
		var d tracksData
		if err := json.Unmarshal(f.Data, &d); err != nil {
			return nil, err
		}
		return nil, p.Unsubscribe(d.IDs...)
	case opSettings:
		var d settingsData
		if err := json.Unmarshal(f.Data, &d); err != nil {
			return nil, err
		}
		return nil, p.SetTrackSettings(d.Track, d.Settings)
	case opMute:
		var d muteData
		if err := json.Unmarshal(f.Data, &d); err != nil {
			return nil, err
		}
		return nil, p.SetMuted(d.Track, d.Muted)
	case opUnpublish:
		var d trackData
		if err := json.Unmarshal(f.Data, &d); err != nil {
			return nil, err
		}
		return nil, p.Unpublish(d.Track)
	case opRestartICE:
		return okData{OK: p.RestartICE()}, nil
	case opResendOffer:
		return okData{OK: p.ResendOffer()}, nil
	case opClose:
		var d closeData
		_ = json.Unmarshal(f.Data, &d)
		h.mu.Lock()
		if h.held[heldKey{l.peer, f.Room, f.P}] == p {
			delete(h.held, heldKey{l.peer, f.Room, f.P})
		}
		h.mu.Unlock()
		p.Close(d.Reason)
		return nil, nil
	}
	return nil, fmt.Errorf("cascade: unknown command %q", f.Op)
}

// subscribeWait is how long a subscription to a track not yet here waits for the relay to
// announce it: the owner may learn of a track (and subscribe a participant held here to it)
// before the relay's announcement has crossed.
const subscribeWait = 2 * time.Second

func (h *Hub) subscribe(p *sfu.Participant, ids []string) error {
	deadline := time.Now().Add(subscribeWait)
	for {
		err := p.Subscribe(ids...)
		if !errors.Is(err, sfu.ErrTrackNotFound) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-h.ctx.Done():
			return err
		}
	}
}

// hold seats a participant's media here for the owner at the other end of l.
func (h *Hub) hold(l *link, f frame) error {
	var d joinData
	if err := json.Unmarshal(f.Data, &d); err != nil {
		return fmt.Errorf("cascade: join: %w", err)
	}
	pol, err := h.setPolicy(f.Room, d.Policy)
	if err != nil {
		return fmt.Errorf("cascade: join: policy: %w", err)
	}
	k := heldKey{l.peer, f.Room, f.P}
	sink := sfu.EventSinkFunc(func(e sfu.Event) {
		op, data, ok := encodeEvent(e)
		if ok {
			h.sendTo(k.owner, frame{T: frameEvent, Room: f.Room, P: f.P, Op: op, Data: data})
		}
		if _, last := e.(sfu.EventClosed); last {
			h.mu.Lock()
			if h.held[k] != nil && h.held[k].ID() == f.P {
				delete(h.held, k)
			}
			h.mu.Unlock()
		}
	})
	var sp sfu.Policy
	if pol != nil {
		sp = pol
	}
	h.relay(l, f.Room, pol)
	p, err := h.cfg.SFU.JoinWithPolicy(f.Room, f.P, sink, sp)
	if errors.Is(err, sfu.ErrDuplicate) {
		// The owner replaced the participant's connection; the older media goes.
		h.mu.Lock()
		old := h.held[k]
		delete(h.held, k)
		h.mu.Unlock()
		if old != nil {
			old.Close("replaced")
		}
		p, err = h.cfg.SFU.JoinWithPolicy(f.Room, f.P, sink, sp)
	}
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.held[k] = p
	h.mu.Unlock()
	return nil
}

// Join seats a participant's media on node for this node's call in room (signaling.Cascade):
// the commands of the Remote go to that node, the participant's events come back to sink.
func (h *Hub) Join(node, room, participantID string, sink sfu.EventSink, pol *call.Policy) (*Remote, error) {
	ctx, cancel := context.WithTimeout(h.ctx, requestWait)
	defer cancel()
	l, err := h.linkTo(ctx, node)
	if err != nil {
		return nil, err
	}
	var d joinData
	if pol != nil {
		if d.Policy, err = json.Marshal(pol.Snapshot()); err != nil {
			return nil, fmt.Errorf("cascade: join: %w", err)
		}
	}
	r := &Remote{hub: h, node: node, room: room, id: participantID, sink: sink}
	k := remoteKey{node, room, participantID}
	h.mu.Lock()
	old := h.remotes[k]
	h.remotes[k] = r // before the join: its first events may come before the result
	h.mu.Unlock()
	if old != nil {
		old.gone.Store(true)
	}
	h.relay(l, room, pol)
	if err := l.request(ctx, room, participantID, opJoin, d, nil); err != nil {
		h.forget(r)
		return nil, err
	}
	return r, nil
}

// forget drops r from the owner's table and, when it was the room's last participant on its node,
// closes the room's relay with that node on both ends.
func (h *Hub) forget(r *Remote) {
	k := remoteKey{r.node, r.room, r.id}
	h.mu.Lock()
	if h.remotes[k] != r {
		h.mu.Unlock()
		return
	}
	delete(h.remotes, k)
	last := true
	for o := range h.remotes {
		if o.node == r.node && o.room == r.room {
			last = false
			break
		}
	}
	h.mu.Unlock()
	if last {
		h.closeRelay(r.room, r.node)
		h.sendTo(r.node, frame{T: frameRelayClose, Room: r.room})
	}
}

// Enforce sends the call's policy now to every node holding media of its room.
func (h *Hub) Enforce(room string, snap *call.Snapshot) {
	data, err := json.Marshal(snap)
	if err != nil {
		h.log.Error("cascade: encode policy", zap.Error(err))
		return
	}
	h.mu.Lock()
	h.policy[room] = data
	peers := map[string]bool{}
	for k := range h.remotes {
		if k.room == room {
			peers[k.node] = true
		}
	}
	if len(peers) == 0 {
		delete(h.policy, room)
	}
	h.mu.Unlock()
	for peer := range peers {
		h.sendTo(peer, frame{T: framePolicy, Room: room, Data: data})
	}
}

// Stats counts what a Hub holds now.
type Stats struct {
	Links   int // open links to other nodes
	Remotes int // participants of this node's calls whose media other nodes hold
	Held    int // participants of other nodes' calls whose media this node holds
	Relays  int // relay ends with other nodes, one per room and peer
}

// Stats is what the hub holds now.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Stats{Links: len(h.links), Remotes: len(h.remotes), Held: len(h.held), Relays: len(h.relays)}
}
