package api

import (
	"time"

	"sanji/scheduler/org"
)

// JSON shapes of the API (docs/api/openapi.yaml). Password hashes never leave the store.

// UnitView is a unit.
type UnitView struct {
	ID       int64  `json:"id"`
	ParentID int64  `json:"parent_id,omitempty"`
	Kind     string `json:"kind"`
	Code     string `json:"code"`
	Name     string `json:"name"`
	Path     string `json:"path"`
}

func unitView(u org.Unit) UnitView {
	return UnitView{ID: u.ID, ParentID: u.ParentID, Kind: string(u.Kind), Code: u.Code, Name: u.Name, Path: u.Path}
}

// HallView is a hall or studio.
type HallView struct {
	ID     int64  `json:"id"`
	UnitID int64  `json:"unit_id"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
}

func hallView(h org.Hall) HallView {
	return HallView{ID: h.ID, UnitID: h.UnitID, Kind: string(h.Kind), Name: h.Name}
}

// UserView is a user without secrets.
type UserView struct {
	ID                 int64       `json:"id"`
	Kind               string      `json:"kind"`
	Username           string      `json:"username"`
	DisplayName        string      `json:"display_name"`
	UnitID             int64       `json:"unit_id"`
	HallID             int64       `json:"hall_id,omitempty"`
	Disabled           bool        `json:"disabled"`
	MustChangePassword bool        `json:"must_change_password"`
	Locked             bool        `json:"locked"`
	Grants             []GrantView `json:"grants,omitempty"`
}

func userView(u org.User) UserView {
	return UserView{ID: u.ID, Kind: string(u.Kind), Username: u.Username, DisplayName: u.DisplayName, UnitID: u.UnitID,
		HallID: u.HallID, Disabled: u.Disabled, MustChangePassword: u.MustChangePassword, Locked: u.LockedUntil.After(time.Now())}
}

// GrantView is a role at a unit.
type GrantView struct {
	ID     int64  `json:"id"`
	Role   string `json:"role"`
	UnitID int64  `json:"unit_id"`
}

func grantView(g org.Grant) GrantView {
	return GrantView{ID: g.ID, Role: g.Role, UnitID: g.UnitID}
}

// TokenView is an API token without its secret.
type TokenView struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func tokenView(t org.APIToken) TokenView {
	v := TokenView{ID: t.ID, Name: t.Name, Scopes: t.Scopes, CreatedAt: t.CreatedAt}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	if !t.ExpiresAt.IsZero() {
		e := t.ExpiresAt
		v.ExpiresAt = &e
	}
	if !t.RevokedAt.IsZero() {
		e := t.RevokedAt
		v.RevokedAt = &e
	}
	return v
}

// AuditView is an audit entry.
type AuditView struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	ActorID   int64     `json:"actor_id"`
	Actor     string    `json:"actor"`
	UnitID    int64     `json:"unit_id"`
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Before    string    `json:"before,omitempty"`
	After     string    `json:"after,omitempty"`
	Purpose   string    `json:"purpose,omitempty"`
	IP        string    `json:"ip,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
}

func auditView(e org.AuditEntry) AuditView {
	return AuditView{ID: e.ID, At: e.At, ActorID: e.ActorID, Actor: e.Actor, UnitID: e.UnitID, Action: e.Action,
		Target: e.Target, Before: e.Before, After: e.After, Purpose: e.Purpose, IP: e.IP, RequestID: e.RequestID}
}
