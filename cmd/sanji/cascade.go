package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"sanji/auth"
	"sanji/call"
	"sanji/cascade"
	"sanji/scheduler"
	"sanji/sfu"
	"sanji/signaling"
)

// cascadePart puts the media of a reception call's halls and units on the node that serves their
// part of the tier tree (package cascade; docs/architecture.md, "Cascade"): signaling's
// Cascade, on the cluster's registry and the store's tree.
type cascadePart struct {
	hub *cascade.Hub
	cp  *clusterPart
	st  scheduler.Store
	log *zap.Logger
}

func newCascade(cfg config, cp *clusterPart, st scheduler.Store, media *sfu.SFU, signer *auth.Signer, reg prometheus.Registerer, log *zap.Logger) *cascadePart {
	c := &cascadePart{cp: cp, st: st, log: log}
	c.hub = cascade.New(cascade.Config{
		Node: func() string {
			if n := cp.node.Load(); n != nil {
				return n.ID()
			}
			return ""
		},
		SFU:       media,
		Tokens:    signer,
		URL:       c.url,
		OpenRelay: cascade.SFURelays(media),
		// A held participant outlives a lost link as long as its session would outlive its
		// client's lost socket.
		Grace:      max(cfg.ResumeGrace, cfg.ResumeGraceOnStage),
		Logger:     log,
		Registerer: reg,
	})
	return c
}

// url is a node's HTTP base URL from the registry.
func (c *cascadePart) url(node string) string {
	n := c.cp.node.Load()
	if n == nil {
		return ""
	}
	view, _ := n.View()
	for _, in := range view {
		if in.ID == node {
			return in.HTTPURL
		}
	}
	return ""
}

// MediaNode implements signaling.Cascade: a hall's or a unit's media goes to the node serving
// the deepest part of the tree above it, when that is another node.
func (c *cascadePart) MediaNode(cl auth.Claims) string {
	n := c.cp.node.Load()
	if n == nil || cl.SessionID == 0 {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var unit int64
	switch cl.Seat {
	case auth.SeatHall:
		h, err := c.st.GetHall(ctx, cl.HallID)
		if err != nil {
			c.log.Warn("cascade: hall of a seat", zap.Int64("hall", cl.HallID), zap.Error(err))
			return ""
		}
		unit = h.UnitID
	case auth.SeatUnit:
		unit = cl.UnitID
	default:
		return "" // the studio and the observers are the owner's own
	}
	codes, err := unitCodes(ctx, c.st, unit)
	if err != nil {
		c.log.Warn("cascade: codes of a seat's unit", zap.Int64("unit", unit), zap.Error(err))
		return ""
	}
	in, ok := n.Nearest(codes)
	if !ok || in.ID == n.ID() {
		return ""
	}
	return in.ID
}

// Join implements signaling.Cascade.
func (c *cascadePart) Join(node, room, participantID string, sink sfu.EventSink, pol *call.Policy) (signaling.Media, error) {
	r, err := c.hub.Join(node, room, participantID, sink, pol)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Enforce implements signaling.Cascade.
func (c *cascadePart) Enforce(room string, snap *call.Snapshot) { c.hub.Enforce(room, snap) }

// unitCodes are the codes of a unit and of every unit above it, from the root down.
func unitCodes(ctx context.Context, st scheduler.Store, unitID int64) ([]string, error) {
	u, err := st.GetUnit(ctx, unitID)
	if err != nil {
		return nil, fmt.Errorf("unit %d: %w", unitID, err)
	}
	var codes []string
	for _, part := range strings.Split(strings.Trim(u.Path, "/"), "/") {
		id, err := strconv.ParseInt(part, 10, 64)
		if err != nil {
			continue
		}
		anc := u
		if id != u.ID {
			if anc, err = st.GetUnit(ctx, id); err != nil {
				return nil, fmt.Errorf("unit %d: %w", id, err)
			}
		}
		codes = append(codes, anc.Code)
	}
	return codes, nil
}
