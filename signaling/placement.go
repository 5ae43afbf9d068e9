package signaling

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Placer says which node of a cluster hosts a room. Config.Placement is nil on a single node,
// which hosts every room.
type Placer interface {
	// Place returns "" when this node hosts room (claiming it if no node has), else the URL of
	// the node that does. sessionID is the reception session of a call's room, 0 for a plain
	// room. An error means the cluster cannot say now.
	Place(ctx context.Context, room string, sessionID int64) (ownerURL string, err error)
}

// placeTimeout bounds the placement of one join: a slow cluster fails the join, never hangs it.
const placeTimeout = 3 * time.Second

// Error codes of placement (docs/protocol.md).
const (
	// CodeWrongNode: the room lives on another node; node_url says which.
	CodeWrongNode = "wrong_node"
	// CodeUnavailable: no node can take the room now (the cluster's Redis is away, or every
	// node drains).
	CodeUnavailable = "unavailable"
)

// place asks the cluster where room lives; nil when this node hosts it.
func (s *session) place(room string, sessionID int64) *Error {
	pl := s.srv.cfg.Placement
	if pl == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), placeTimeout)
	defer cancel()
	url, err := pl.Place(ctx, room, sessionID)
	if err != nil {
		s.logger().Warn("placement failed", zap.Error(err))
		return newError(CodeUnavailable, "signaling.cluster.unavailable")
	}
	if url != "" {
		s.logger().Info("join refused: the room lives on another node", zap.String("node_url", url))
		e := newError(CodeWrongNode, "signaling.cluster.wrong_node", "url", url)
		e.NodeURL = url
		return e
	}
	return nil
}

// Rooms lists the rooms that have members on this server (joined or kept for a resume), for
// the cluster to renew their claims.
func (srv *Server) Rooms() []string {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	out := make([]string, 0, len(srv.rooms))
	for r := range srv.rooms {
		out = append(out, r)
	}
	return out
}
