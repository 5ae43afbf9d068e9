package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Live state: what a room's owner keeps in Redis so that another node can take the room over
// when the owner dies (docs/operations.md, Failover). One hash per room, `<prefix>:live:<room>`:
// the reception call's snapshot and each participant's resume record. It is written on change,
// never per packet, and expires LiveTTL after its owner last renewed it with the room's claim.

// liveKey is the hash of a room's live state.
func (n *Node) liveKey(room string) string { return n.cfg.Prefix + ":live:" + room }

// roomsKey lists the rooms a node owns, so that a node that sees it gone knows what to take.
func (n *Node) roomsKey(id string) string { return n.cfg.Prefix + ":{nodes}:rooms:" + id }

// takeLiveScript returns and deletes field KEYS[1]/ARGV[1] when its value starts with ARGV[2]
// (a resume record, which starts with its token's hash): a token is used once, cluster-wide.
var takeLiveScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and string.sub(v, 1, string.len(ARGV[2])) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return v
end
return false`)

// SetLive writes one field of a room's live state (two commands: HSET and its expiry).
func (n *Node) SetLive(ctx context.Context, room, field string, val []byte) error {
	pipe := n.rdb.Pipeline()
	pipe.HSet(ctx, n.liveKey(room), field, val)
	pipe.PExpire(ctx, n.liveKey(room), n.cfg.LiveTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("%w: write live state of %s: %w", ErrUnavailable, room, err)
	}
	return nil
}

// DelLive deletes one field of a room's live state.
func (n *Node) DelLive(ctx context.Context, room, field string) error {
	if err := n.rdb.HDel(ctx, n.liveKey(room), field).Err(); err != nil {
		return fmt.Errorf("%w: delete live state of %s: %w", ErrUnavailable, room, err)
	}
	return nil
}

// GetLive reads one field of a room's live state; nil when there is none.
func (n *Node) GetLive(ctx context.Context, room, field string) ([]byte, error) {
	v, err := n.rdb.HGet(ctx, n.liveKey(room), field).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read live state of %s: %w", ErrUnavailable, room, err)
	}
	return v, nil
}

// TakeLive reads and deletes one field of a room's live state when its value starts with
// prefix; nil when there is none or it does not.
func (n *Node) TakeLive(ctx context.Context, room, field, prefix string) ([]byte, error) {
	v, err := takeLiveScript.Run(ctx, n.rdb, []string{n.liveKey(room)}, field, prefix).Text()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: take live state of %s: %w", ErrUnavailable, room, err)
	}
	return []byte(v), nil
}

// takeOver takes the rooms of the nodes that left the registry (listed in the index, their entry
// expired) without leaving it: a dead node's calls are re-placed here within a heartbeat of its
// entry's expiry, not when a client first comes back. Every live node tries; the steal script
// lets one win per room. A draining node takes nothing.
func (n *Node) takeOver(ctx context.Context, ids []string, view []Info) error {
	if n.draining.Load() {
		return nil
	}
	alive := map[string]bool{}
	for _, in := range view {
		alive[in.ID] = true
	}
	for _, id := range ids {
		if alive[id] || id == n.cfg.ID {
			continue
		}
		rooms, err := n.rdb.SMembers(ctx, n.roomsKey(id)).Result()
		if err != nil {
			return fmt.Errorf("rooms of gone node %s: %w", id, err)
		}
		for _, r := range rooms {
			took, err := stealScript.Run(ctx, n.rdb, []string{n.roomKey(r)}, id, n.cfg.ID, n.cfg.ClaimTTL.Milliseconds()).Int()
			if err != nil {
				return fmt.Errorf("take over %s: %w", r, err)
			}
			if took == 1 {
				n.log.Info("took over the room of a node gone", zap.String("room", r), zap.String("gone", id))
				n.adoptListed(ctx, r)
				n.takeovers.Add(1)
			}
			// Taken here or by another node, or claimed anew: the gone node's list forgets it.
			if err := n.rdb.SRem(ctx, n.roomsKey(id), r).Err(); err != nil {
				return fmt.Errorf("forget %s of gone node %s: %w", r, id, err)
			}
		}
	}
	return nil
}

// Takeovers counts the rooms this node took from nodes gone.
func (n *Node) Takeovers() int64 { return n.takeovers.Load() }
