package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// The scripts of a claim. Each touches the one key of its room, so a Redis Cluster runs them
// anywhere.
var (
	// renewScript keeps a claim of ARGV[1]: extends it when it is ARGV[1]'s, takes it back when
	// it expired meanwhile (Redis was away longer than the claim's TTL, the room still lives
	// here), and leaves another node's claim alone (returns 0).
	renewScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)
	// releaseScript deletes a claim only when it is ARGV[1]'s.
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
	// stealScript moves a claim from ARGV[1] (a node gone from the registry) to ARGV[2]; it does
	// nothing when the claim changed hands meanwhile.
	stealScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`)
)

// Want is what placement knows of a room.
type Want struct {
	Room string
	// Codes are the unit codes of a reception call's studio and of every unit above it; empty
	// for a plain room.
	Codes []string
}

// Placement is where a room lives.
type Placement struct {
	Node  Info // the owner
	Local bool // the owner is this node
}

// Place answers "where does this room live", claiming it if nobody has: for an unclaimed room
// it picks a node by the rules (a reception call on a node serving its studio's part of the
// tree, else the least loaded; a plain room on the least loaded; never a draining node) and
// claims the room for it with SET NX. A claim for another node lasts ClaimTTL unless that node
// adopts it (a client sent there joins). Redis trouble is ErrUnavailable.
//
// Cost: one GET for a room that is claimed; GET and SET NX for a new one (the registry comes
// from the last heartbeat, not from Redis).
func (n *Node) Place(ctx context.Context, w Want) (Placement, error) {
	key := n.roomKey(w.Room)
	for attempt := 0; attempt < 3; attempt++ {
		owner, err := n.rdb.Get(ctx, key).Result()
		switch {
		case errors.Is(err, redis.Nil):
			owner = ""
		case err != nil:
			return Placement{}, fmt.Errorf("%w: read claim of %s: %w", ErrUnavailable, w.Room, err)
		}
		if owner != "" {
			p, ok, err := n.owned(ctx, w, owner)
			if err != nil || ok {
				return p, err
			}
			continue // the owner was gone and its claim moved (or moved again): read it anew
		}
		target, err := n.choose(w)
		if err != nil {
			return Placement{}, err
		}
		ok, err := n.rdb.SetNX(ctx, key, target.ID, n.cfg.ClaimTTL).Result()
		if err != nil {
			return Placement{}, fmt.Errorf("%w: claim %s: %w", ErrUnavailable, w.Room, err)
		}
		if !ok {
			continue // another node claimed it first: its claim stands
		}
		if target.ID == n.cfg.ID {
			n.adoptListed(ctx, w.Room)
			return Placement{Node: n.self(), Local: true}, nil
		}
		return Placement{Node: target}, nil
	}
	return Placement{}, fmt.Errorf("%w: the claim of %s kept changing", ErrUnavailable, w.Room)
}

// owned handles a claimed room: this node's (adopted, renewed with the others), another live
// node's, or a node's that left the registry, whose claim this node takes over if it may take
// new rooms. ok false: read the claim again.
func (n *Node) owned(ctx context.Context, w Want, owner string) (Placement, bool, error) {
	if owner == n.cfg.ID {
		// A room already here stays here, draining or not: calls in progress go on.
		n.adopt(w.Room)
		return Placement{Node: n.self(), Local: true}, true, nil
	}
	view, _ := n.View()
	for _, in := range view {
		if in.ID == owner {
			return Placement{Node: in}, true, nil
		}
	}
	// Not in the last view: ask Redis, the node may have started since.
	vals, err := n.read(ctx, []string{owner})
	if err != nil {
		return Placement{}, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if len(vals) == 1 {
		return Placement{Node: vals[0]}, true, nil
	}
	// The owner is gone (its entry expired) but its claim has not yet: a node that may take new
	// rooms takes it over now, instead of refusing joins until the claim expires.
	if n.draining.Load() {
		return Placement{}, false, ErrNoNode
	}
	took, err := stealScript.Run(ctx, n.rdb, []string{n.roomKey(w.Room)}, owner, n.cfg.ID, n.cfg.ClaimTTL.Milliseconds()).Int()
	if err != nil {
		return Placement{}, false, fmt.Errorf("%w: take over %s: %w", ErrUnavailable, w.Room, err)
	}
	if took == 1 {
		n.log.Info("took over the room of a node gone", zap.String("room", w.Room), zap.String("gone", owner))
		n.adoptListed(ctx, w.Room)
		return Placement{Node: n.self(), Local: true}, true, nil
	}
	return Placement{}, false, nil
}

// choose picks the node for a new room from the last heartbeat's view (this node as it is now).
func (n *Node) choose(w Want) (Info, error) {
	view, _ := n.View()
	cands := make([]Info, 0, len(view)+1)
	for _, in := range view {
		if in.ID == n.cfg.ID {
			continue
		}
		if !in.Draining {
			cands = append(cands, in)
		}
	}
	if !n.draining.Load() {
		cands = append(cands, n.self())
	}
	if len(cands) == 0 {
		return Info{}, ErrNoNode
	}
	if len(w.Codes) > 0 {
		var serving []Info
		for _, in := range cands {
			if servesAny(in.Serves, w.Codes) {
				serving = append(serving, in)
			}
		}
		if len(serving) > 0 {
			cands = serving
		}
	}
	return slices.MinFunc(cands, lessLoaded), nil
}

func servesAny(serves, codes []string) bool {
	for _, s := range serves {
		if slices.Contains(codes, s) {
			return true
		}
	}
	return false
}

// lessLoaded orders nodes by participants, then forwarded bit rate, CPU, rooms and id (so that
// equal nodes are chosen the same way by every node).
func lessLoaded(a, b Info) int {
	switch {
	case a.Load.Participants != b.Load.Participants:
		return a.Load.Participants - b.Load.Participants
	case a.Load.BitrateBps != b.Load.BitrateBps:
		if a.Load.BitrateBps < b.Load.BitrateBps {
			return -1
		}
		return 1
	case a.Load.CPU != b.Load.CPU:
		if a.Load.CPU < b.Load.CPU {
			return -1
		}
		return 1
	case a.Rooms != b.Rooms:
		return a.Rooms - b.Rooms
	}
	return strings.Compare(a.ID, b.ID)
}

// adopt records that this node owns room, so its heartbeat renews the claim.
func (n *Node) adopt(room string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.claims[room] = n.now()
}

// adoptListed adopts room and, when it is new here, lists it at once among this node's rooms
// (the next renewal would, some seconds later): a node that dies right after a placement does
// not strand the room. A failure is left to that renewal.
func (n *Node) adoptListed(ctx context.Context, room string) {
	n.mu.Lock()
	_, had := n.claims[room]
	n.claims[room] = n.now()
	n.mu.Unlock()
	if had {
		return
	}
	pipe := n.rdb.Pipeline()
	pipe.SAdd(ctx, n.roomsKey(n.cfg.ID), room)
	pipe.PExpire(ctx, n.roomsKey(n.cfg.ID), n.cfg.LiveTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		n.log.Debug("list a room of this node", zap.String("room", room), zap.Error(err))
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Release gives up this node's claim of room (its last member left).
func (n *Node) Release(ctx context.Context, room string) error {
	n.mu.Lock()
	delete(n.claims, room)
	n.mu.Unlock()
	n.rdb.SRem(ctx, n.roomsKey(n.cfg.ID), room) // the renewal rewrites the list anyway
	if err := releaseScript.Run(ctx, n.rdb, []string{n.roomKey(room)}, n.cfg.ID).Err(); err != nil {
		return fmt.Errorf("%w: release %s: %w", ErrUnavailable, room, err)
	}
	return nil
}

// Claims are the rooms this node owns, sorted.
func (n *Node) Claims() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.claims))
	for r := range n.claims {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// renew extends this node's claims every third of ClaimTTL (force: now), in one pipeline, and
// releases those of rooms no longer live here for a ClaimTTL. A claim another node holds (it
// took the room while Redis was away from us) is dropped from ours and logged.
func (n *Node) renew(ctx context.Context, force bool) error {
	now := n.now()
	var live map[string]bool
	if n.cfg.Live != nil {
		live = map[string]bool{}
		for _, r := range n.cfg.Live() {
			live[r] = true
		}
	}
	n.mu.Lock()
	if !force && now.Sub(n.lastRenew) < n.cfg.ClaimTTL/3 {
		n.mu.Unlock()
		return nil
	}
	var keep, drop []string
	for r, seen := range n.claims {
		if live == nil || live[r] {
			n.claims[r] = now
			keep = append(keep, r)
			continue
		}
		if now.Sub(seen) >= n.cfg.ClaimTTL {
			drop = append(drop, r)
			delete(n.claims, r)
			continue
		}
		keep = append(keep, r) // claimed for a join that has not arrived yet
	}
	n.mu.Unlock()
	if len(keep)+len(drop) == 0 {
		n.mu.Lock()
		n.lastRenew = now
		n.mu.Unlock()
		return nil
	}
	pipe := n.rdb.Pipeline()
	res := make([]*redis.Cmd, len(keep))
	for i, r := range keep {
		res[i] = renewScript.Eval(ctx, pipe, []string{n.roomKey(r)}, n.cfg.ID, n.cfg.ClaimTTL.Milliseconds())
		pipe.PExpire(ctx, n.liveKey(r), n.cfg.LiveTTL)
	}
	for _, r := range drop {
		releaseScript.Eval(ctx, pipe, []string{n.roomKey(r)}, n.cfg.ID)
	}
	// The list of this node's rooms, for whoever takes them over if this node dies.
	pipe.Del(ctx, n.roomsKey(n.cfg.ID))
	if len(keep) > 0 {
		pipe.SAdd(ctx, n.roomsKey(n.cfg.ID), toAny(keep)...)
		pipe.PExpire(ctx, n.roomsKey(n.cfg.ID), n.cfg.LiveTTL)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("renew claims: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lastRenew = now
	for i, r := range keep {
		if v, _ := res[i].Int(); v == 0 {
			delete(n.claims, r)
			n.log.Warn("a room of this node is claimed by another", zap.String("room", r))
		}
	}
	return nil
}

// Nearest is the node, of the last heartbeat's view and this one, that serves the deepest of
// codes (a unit's codes from the root of the tree down to it): where the media of a hall or a
// unit at that place in the tree is best held (package cascade). ok is false when no node serves
// any of them; a draining node takes nothing new.
func (n *Node) Nearest(codes []string) (Info, bool) {
	view, _ := n.View()
	cands := []Info{}
	for _, in := range view {
		if in.ID != n.cfg.ID && !in.Draining {
			cands = append(cands, in)
		}
	}
	if !n.draining.Load() {
		cands = append(cands, n.self())
	}
	for i := len(codes) - 1; i >= 0; i-- {
		var best []Info
		for _, in := range cands {
			if slices.Contains(in.Serves, codes[i]) {
				best = append(best, in)
			}
		}
		if len(best) > 0 {
			return slices.MinFunc(best, lessLoaded), true
		}
	}
	return Info{}, false
}
