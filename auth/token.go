// Package auth issues and checks the join tokens of the signaling protocol (docs/protocol.md,
// "Tokens"): base64url(payload) "." base64url(HMAC-SHA256(secret, base64url(payload))).
package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MinSecretLen is the shortest secret NewSigner accepts: HMAC-SHA256 wants at least its output size.
const MinSecretLen = 32

// maxTokenLen bounds the work Verify does on hostile input; real tokens are a few hundred bytes.
const maxTokenLen = 4096

var (
	// ErrBadToken is returned for a token that is malformed, badly signed or lacks a claim.
	ErrBadToken = errors.New("auth: bad token")
	// ErrExpired is returned for a well-signed token past its expiry.
	ErrExpired = errors.New("auth: token expired")
)

// Claims are what a join token says about its bearer.
type Claims struct {
	Room      string
	Subject   string // the participant id
	Name      string
	Role      string
	ExpiresAt time.Time
	IssuedAt  time.Time

	// A reception call's token also says where its bearer sits (0 = not given): the user
	// account, the reception session, and the one place the bearer joins from — the studio, a
	// hall (HallID), a unit's office (UnitID) or the observers' seats (Seat "observer"). The
	// signaling server derives who may see and hear whom from these, never from the client.
	UserID    int64
	SessionID int64
	Seat      string // "studio", "hall", "unit", "observer"
	HallID    int64
	UnitID    int64
}

// Seats of a reception call.
const (
	SeatStudio   = "studio"
	SeatHall     = "hall"
	SeatUnit     = "unit"
	SeatObserver = "observer"
)

// payload is the wire form of Claims.
type payload struct {
	Room string `json:"room"`
	Sub  string `json:"sub"`
	Name string `json:"name"`
	Role string `json:"role"`
	Exp  int64  `json:"exp"`
	Iat  int64  `json:"iat"`
	UID  int64  `json:"uid,omitempty"`
	Ses  int64  `json:"ses,omitempty"`
	Seat string `json:"seat,omitempty"`
	Hall int64  `json:"hall,omitempty"`
	Unit int64  `json:"unit,omitempty"`
}

// Roles, as the domain names them (docs/architecture.md, identity and access).
const (
	RoleLeader         = "leader"
	RoleHallOperator   = "hall_operator"
	RoleIntakeOfficer  = "intake_officer"
	RoleCaseHandler    = "case_handler"
	RoleUnitHead       = "unit_head"
	RoleSupervisor     = "supervisor"
	RoleSchedulerStaff = "scheduler_staff"
	RolePetitioner     = "petitioner"
	RoleObserver       = "observer"
	RoleAdmin          = "admin"
	RoleAuditor        = "auditor"
	RoleHallTerminal   = "hall_terminal" // a hall's terminal device account
	// RoleNode is another node of the installation opening a cascade link (package cascade):
	// never a person, never a seat in a room.
	RoleNode = "node"
)

var roles = map[string]bool{
	RoleLeader: true, RoleHallOperator: true, RoleIntakeOfficer: true, RoleCaseHandler: true,
	RoleUnitHead: true, RoleSupervisor: true, RoleSchedulerStaff: true, RolePetitioner: true,
	RoleObserver: true, RoleAdmin: true, RoleAuditor: true, RoleHallTerminal: true, RoleNode: true,
}

// ValidRole reports whether r is one of the known roles.
func ValidRole(r string) bool { return roles[r] }

// Signer signs and verifies tokens with one secret.
type Signer struct{ secret []byte }

// NewSigner returns a Signer for secret. It panics if the secret is shorter than MinSecretLen:
// a weak secret is a configuration mistake that must stop the server at start, not a runtime case.
func NewSigner(secret []byte) *Signer {
	if len(secret) < MinSecretLen {
		panic(fmt.Sprintf("auth: secret of %d bytes, need at least %d", len(secret), MinSecretLen))
	}
	return &Signer{secret: append([]byte(nil), secret...)}
}

var b64 = base64.RawURLEncoding

// Sign returns the token for c. Room, Subject, a known Role and ExpiresAt are required.
func (s *Signer) Sign(c Claims) (string, error) {
	if c.Room == "" || c.Subject == "" || !ValidRole(c.Role) || c.ExpiresAt.IsZero() {
		return "", fmt.Errorf("auth: sign: room, subject, a known role and expiry are required")
	}
	p, err := json.Marshal(payload{
		Room: c.Room, Sub: c.Subject, Name: c.Name, Role: c.Role,
		Exp: c.ExpiresAt.Unix(), Iat: unixOrZero(c.IssuedAt),
		UID: c.UserID, Ses: c.SessionID, Seat: c.Seat, Hall: c.HallID, Unit: c.UnitID,
	})
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	body := b64.EncodeToString(p)
	return body + "." + b64.EncodeToString(s.mac(body)), nil
}

// Verify checks the token's signature (in constant time) and expiry at now, and returns its claims.
// The error is ErrBadToken or ErrExpired (wrapped with detail).
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	if len(token) > maxTokenLen {
		return Claims{}, fmt.Errorf("%w: too long", ErrBadToken)
	}
	body, sig, ok := strings.Cut(token, ".")
	if !ok || body == "" || strings.Contains(sig, ".") {
		return Claims{}, fmt.Errorf("%w: not two parts", ErrBadToken)
	}
	got, err := b64.DecodeString(sig)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: signature encoding", ErrBadToken)
	}
	if !hmac.Equal(got, s.mac(body)) {
		return Claims{}, fmt.Errorf("%w: signature mismatch", ErrBadToken)
	}
	raw, err := b64.DecodeString(body)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: payload encoding", ErrBadToken)
	}
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil {
		return Claims{}, fmt.Errorf("%w: payload: %v", ErrBadToken, err)
	}
	if p.Room == "" || p.Sub == "" || !ValidRole(p.Role) || p.Exp == 0 {
		return Claims{}, fmt.Errorf("%w: missing claim", ErrBadToken)
	}
	c := Claims{
		Room: p.Room, Subject: p.Sub, Name: p.Name, Role: p.Role,
		ExpiresAt: time.Unix(p.Exp, 0),
		UserID:    p.UID, SessionID: p.Ses, Seat: p.Seat, HallID: p.Hall, UnitID: p.Unit,
	}
	if p.Iat != 0 {
		c.IssuedAt = time.Unix(p.Iat, 0)
	}
	if !now.Before(c.ExpiresAt) {
		return Claims{}, fmt.Errorf("%w at %s", ErrExpired, c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return c, nil
}

func (s *Signer) mac(body string) []byte {
	h := hmac.New(sha256.New, s.secret)
	h.Write([]byte(body))
	return h.Sum(nil)
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
