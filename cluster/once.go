package cluster

import (
	"context"
	"fmt"
	"time"
)

// Marks used once cluster-wide (a reception call's seat token): one key per mark, written with
// SET NX and expiring with what it marks, so every node sees the first use.

func (n *Node) onceKey(name string) string { return n.cfg.Prefix + ":once:" + name }

// MarkOnce marks name used until until and reports whether it was unused (one SET NX). A time
// already past marks it for a second, which outlives any join racing with it.
func (n *Node) MarkOnce(ctx context.Context, name string, until time.Time) (bool, error) {
	ttl := max(until.Sub(n.now()), time.Second)
	ok, err := n.rdb.SetNX(ctx, n.onceKey(name), n.cfg.ID, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("%w: mark %s: %w", ErrUnavailable, name, err)
	}
	return ok, nil
}

// Unmark gives name back (one DEL).
func (n *Node) Unmark(ctx context.Context, name string) error {
	if err := n.rdb.Del(ctx, n.onceKey(name)).Err(); err != nil {
		return fmt.Errorf("%w: unmark %s: %w", ErrUnavailable, name, err)
	}
	return nil
}
