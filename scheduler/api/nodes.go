package api

import (
	"errors"
	"net/http"
	"time"

	"sanji/scheduler/org"
)

// The cluster's nodes, for admins (docs/operations.md, "Several nodes"). The API knows the
// cluster through Cluster only: cmd/sanji adapts the cluster package to it.

// NodeView is one node of the cluster as an admin sees it.
type NodeView struct {
	ID           string    `json:"id"`
	Version      string    `json:"version"`
	HTTPURL      string    `json:"http_url"`
	MediaAddr    string    `json:"media_addr"`
	Serves       []string  `json:"serves"`
	Participants int       `json:"participants"`
	Tracks       int       `json:"tracks"`
	BitrateBps   int64     `json:"bitrate_bps"`
	CPU          float64   `json:"cpu"`
	Rooms        int       `json:"rooms"`
	Draining     bool      `json:"draining"`
	Started      time.Time `json:"started"`
	Seen         time.Time `json:"seen"`
	Self         bool      `json:"self"` // the node that answered
}

// NodesResponse is GET /api/v1/nodes.
type NodesResponse struct {
	// Clustered is false on a single node (no Redis configured); Nodes is then empty.
	Clustered bool       `json:"clustered"`
	Nodes     []NodeView `json:"nodes"`
}

// Cluster is the cluster as the API asks it.
type Cluster interface {
	Nodes(r *http.Request) ([]NodeView, error)
	// Drain stops (or, with on false, resumes) new placements on node id.
	Drain(r *http.Request, id string, on bool) error
}

// ErrClusterUnavailable is what a Cluster returns when Redis does not answer.
var ErrClusterUnavailable = errors.New("cluster unavailable")

// ErrNoSuchNode is what Drain returns for a node the registry does not list.
var ErrNoSuchNode = errors.New("no such node")

// RateLimiter counts attempts per key (a client address); a cluster's counts across nodes.
type RateLimiter interface {
	Allow(key string, now time.Time) (bool, time.Duration)
	Refund(key string)
}

// attemptLimiter is the login limiter as the handlers use it.
type attemptLimiter interface {
	allow(key string, now time.Time) (bool, time.Duration)
	refund(key string)
}

// Allow and Refund make the local limiter a RateLimiter (the shared one's fallback).
func (l *limiter) Allow(key string, now time.Time) (bool, time.Duration) { return l.allow(key, now) }
func (l *limiter) Refund(key string)                                     { l.refund(key) }

type sharedLimiter struct{ RateLimiter }

func (s sharedLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	return s.Allow(key, now)
}
func (s sharedLimiter) refund(key string) { s.Refund(key) }

func (s *Server) rootPath(r *http.Request) (string, error) {
	root, err := s.st.GetUnitByCode(r.Context(), org.RootCode)
	if err != nil {
		return "", err
	}
	return root.Path, nil
}

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	root, err := s.rootPath(r)
	if err != nil {
		return err
	}
	if err := rc.require(root); err != nil {
		return err
	}
	out := NodesResponse{Nodes: []NodeView{}}
	if s.cluster != nil {
		nodes, err := s.cluster.Nodes(r)
		if err != nil {
			return clusterErr(err)
		}
		out.Clustered, out.Nodes = true, append(out.Nodes, nodes...)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type drainRequest struct {
	Draining *bool `json:"draining"`
}

// drainNode stops or resumes new placements on a node (audited).
func (s *Server) drainNode(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	root, err := s.st.GetUnitByCode(r.Context(), org.RootCode)
	if err != nil {
		return err
	}
	if err := rc.require(root.Path); err != nil {
		return err
	}
	var req drainRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Draining == nil {
		return invalidField("draining", "api.nodes.draining_required")
	}
	if s.cluster == nil {
		return newErr(http.StatusConflict, CodeConflict, "api.nodes.not_clustered")
	}
	id := r.PathValue("id")
	if err := s.cluster.Drain(r, id, *req.Draining); err != nil {
		return clusterErr(err)
	}
	if err := rc.audit("node.drain", "node:"+id, root, nil, req); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, req)
	return nil
}

func clusterErr(err error) error {
	switch {
	case errors.Is(err, ErrNoSuchNode):
		return newErr(http.StatusNotFound, CodeNotFound, "api.nodes.not_found")
	case errors.Is(err, ErrClusterUnavailable):
		return newErr(http.StatusServiceUnavailable, CodeInternal, "api.nodes.unavailable")
	}
	return err
}
