package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"sanji/auth"
	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// Join tokens for the signaling WebSocket: the rooms of halls and units, and seats in a
// reception session's call.

type joinRequest struct {
	HallID int64 `json:"hall_id"`
	UnitID int64 `json:"unit_id"`
}

// JoinToken is a signed token for the signaling WebSocket (docs/protocol.md).
type JoinToken struct {
	Token         string    `json:"token"`
	Room          string    `json:"room"`
	Role          string    `json:"role"`
	ParticipantID string    `json:"participant_id"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// joinToken issues a join token for the room of a hall ("hall-<id>") or of a unit
// ("unit-<id>"), with the caller's role there. Rooms of reception sessions come with the
// scheduling work; until then a room is bound to a node of the tree so the scope check means
// something.
func (s *Server) joinToken(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req joinRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	var unit org.Unit
	var room string
	switch {
	case req.HallID != 0 && req.UnitID != 0:
		return invalidField("hall_id", "api.join.hall_or_unit")
	case req.HallID != 0:
		h, err := s.st.GetHall(ctx, req.HallID)
		if errors.Is(err, org.ErrNotFound) {
			return invalidField("hall_id", "api.hall.not_found")
		}
		if err != nil {
			return err
		}
		if unit, err = s.st.GetUnit(ctx, h.UnitID); err != nil {
			return err
		}
		room = "hall-" + strconv.FormatInt(h.ID, 10)
	default:
		var err error
		if unit, err = s.unitField(ctx, "unit_id", req.UnitID); err != nil {
			return err
		}
		room = "unit-" + strconv.FormatInt(unit.ID, 10)
	}
	if err := rc.require(unit.Path); err != nil {
		return err
	}
	role := rc.p.RolesFor(rc.rt.access, unit.Path)[0]
	pid, err := auth.RandomToken(9)
	if err != nil {
		return err
	}
	pid = "u" + strconv.FormatInt(rc.p.User.ID, 10) + "-" + pid
	now := s.now()
	exp := now.Add(s.joinTTL)
	tok, err := s.signer.Sign(auth.Claims{Room: room, Subject: pid, Name: rc.p.User.DisplayName, Role: role, IssuedAt: now, ExpiresAt: exp})
	if err != nil {
		return err
	}
	if err := rc.audit("call.join_token", "room:"+room, unit, nil, map[string]string{"role": role}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, JoinToken{Token: tok, Room: room, Role: role, ParticipantID: pid, ExpiresAt: exp.UTC()})
	return nil
}

// A call opens CallOpensBefore its session's start and closes CallClosesAfter its end.
const (
	CallOpensBefore = 30 * time.Minute
	CallClosesAfter = 2 * time.Hour
)

// CallRoom is the signaling room of a reception session's call.
func CallRoom(sessionID int64) string { return "call-" + strconv.FormatInt(sessionID, 10) }

type callJoinRequest struct {
	Seat   string `json:"seat"`
	HallID int64  `json:"hall_id"`
	UnitID int64  `json:"unit_id"`
}

// callJoinToken gives the caller a seat in a session's call: the studio (the session's leader
// and the staff who run it), a roster hall, a unit's office, or the observers' seats. The seat
// decides what the SFU lets the bearer see and hear.
func (s *Server) callJoinToken(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req callJoinRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	x, err := s.st.GetReceptionSession(ctx, id)
	if err != nil {
		return err
	}
	if err := s.callOpen(x); err != nil {
		return err
	}
	owner, err := s.st.GetUnit(ctx, x.UnitID)
	if err != nil {
		return err
	}
	claims, scope, err := s.grantSeat(ctx, rc, x, owner, req)
	if err != nil {
		return err
	}
	pid, err := auth.RandomToken(9)
	if err != nil {
		return err
	}
	now := s.now()
	claims.Subject = "u" + strconv.FormatInt(rc.p.User.ID, 10) + "-" + pid
	claims.Name, claims.IssuedAt, claims.ExpiresAt = rc.p.User.DisplayName, now, now.Add(s.joinTTL)
	tok, err := s.signer.Sign(claims)
	if err != nil {
		return err
	}
	if err := rc.audit("call.join_token", "session:"+strconv.FormatInt(x.ID, 10), scope, nil,
		map[string]any{"seat": req.Seat, "role": claims.Role, "hall_id": claims.HallID, "unit_id": claims.UnitID}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, JoinToken{Token: tok, Room: claims.Room, Role: claims.Role, ParticipantID: claims.Subject, ExpiresAt: claims.ExpiresAt.UTC()})
	return nil
}

// callOpen refuses a join to a cancelled session's call, or outside its hours: the call opens
// half an hour ahead (for the halls' technical checks) and closes two hours after the scheduled
// end (hearings run over).
func (s *Server) callOpen(x reception.ReceptionSession) error {
	if x.Status != reception.SessionScheduled {
		return newErr(http.StatusConflict, CodeConflict, "api.join.cancelled")
	}
	if x.Backfill {
		return newErr(http.StatusConflict, CodeConflict, "api.backfill.no_call")
	}
	switch now := s.now(); {
	case now.Before(x.Start.Add(-CallOpensBefore)):
		at := x.Start.Add(-CallOpensBefore).In(calendar.Shanghai).Format("2006-01-02 15:04")
		return newErr(http.StatusConflict, CodeConflict, "api.join.not_open", "at", at)
	case now.After(x.End.Add(CallClosesAfter)):
		return newErr(http.StatusConflict, CodeConflict, "api.join.over")
	}
	return nil
}

// grantSeat is the one rule of who may take which seat of session x (owned by owner), and with
// what role: the join token applies it, and the seat picker asks it for every seat it could
// offer (sessionSeats), so the page never offers a seat the token would refuse. A refusal says
// why in the person's terms, naming the seat.
func (s *Server) grantSeat(ctx context.Context, rc *reqCtx, x reception.ReceptionSession, owner org.Unit, req callJoinRequest) (auth.Claims, org.Unit, error) {
	observerOnly := func(path string) bool {
		roles := rc.p.RolesFor(org.ActCallJoin, path)
		return len(roles) > 0 && !slices.ContainsFunc(roles, func(r string) bool { return r != org.RoleObserver })
	}
	claims := auth.Claims{Room: CallRoom(x.ID), SessionID: x.ID, Seat: req.Seat, UserID: rc.p.User.ID}
	var scope org.Unit
	var refused *apiError // why the caller may not sit here, when the scope check fails
	switch req.Seat {
	case auth.SeatStudio:
		scope = owner
		refused = newErr(http.StatusForbidden, CodeForbidden, "api.seats.studio_forbidden", "unit", owner.Name)
		if rc.p.User.ID == x.LeaderID {
			claims.Role = org.RoleLeader
		} else if roles := rc.p.RolesFor(org.ActCallModerate, owner.Path); len(roles) > 0 {
			claims.Role = roles[0]
		} else {
			return claims, scope, refused
		}
	case auth.SeatHall:
		if !slices.Contains(x.HallIDs, req.HallID) {
			return claims, scope, invalidField("hall_id", "api.join.hall_not_on_roster")
		}
		h, u, err := s.hallUnit(ctx, req.HallID)
		if err != nil {
			return claims, scope, err
		}
		scope, claims.HallID = u, req.HallID
		refused = newErr(http.StatusForbidden, CodeForbidden, "api.seats.hall_forbidden", "hall", h.Name, "unit", u.Name)
	case auth.SeatUnit:
		var err error
		if scope, err = s.unitField(ctx, "unit_id", req.UnitID); err != nil {
			return claims, scope, err
		}
		if !slices.Contains(x.UnitIDs, scope.ID) && !strings.HasPrefix(scope.Path, owner.Path) {
			return claims, scope, invalidField("unit_id", "api.join.unit_not_allowed")
		}
		claims.UnitID = scope.ID
		refused = newErr(http.StatusForbidden, CodeForbidden, "api.seats.unit_forbidden", "unit", scope.Name)
	case auth.SeatObserver:
		scope = owner
		refused = newErr(http.StatusForbidden, CodeForbidden, "api.seats.observer_forbidden", "unit", owner.Name)
	default:
		return claims, scope, invalidField("seat", "api.join.bad_seat")
	}
	if err := rc.require(scope.Path); err != nil {
		if refused != nil {
			return claims, scope, refused
		}
		return claims, scope, err
	}
	if claims.Role == "" {
		roles := rc.p.RolesFor(org.ActCallJoin, scope.Path)
		if req.Seat != auth.SeatObserver && observerOnly(scope.Path) {
			// An observer sits with the observers, whatever seat is asked.
			return claims, scope, newErr(http.StatusForbidden, CodeForbidden, "api.seats.observer_only")
		}
		claims.Role = roles[0]
		if req.Seat == auth.SeatObserver {
			claims.Role = org.RoleObserver
		}
	}
	return claims, scope, nil
}

// SeatView is a seat of a session's call that the caller may take.
type SeatView struct {
	Seat   string `json:"seat"` // studio, hall, unit, observer
	HallID int64  `json:"hall_id,omitempty"`
	UnitID int64  `json:"unit_id,omitempty"`
	Name   string `json:"name,omitempty"` // the hall's or the unit's
	Role   string `json:"role"`           // the role the join token would carry
}

// SessionSeats is what the seat picker shows of one session.
type SessionSeats struct {
	SessionID int64      `json:"session_id"`
	Seats     []SeatView `json:"seats"`
	// Closed says why nobody can join now (cancelled, not open yet, over); Seats are then
	// the seats the caller will have once it opens.
	Closed string `json:"closed,omitempty"`
}

// sessionSeats lists the seats of a session's call the caller would be granted: each seat the
// call has (the studio, each roster hall, each roster unit, the observers') put through
// grantSeat, the join token's own rule.
func (s *Server) sessionSeats(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if len(rc.roots()) == 0 {
		return errForbidden // a role that joins no call anywhere
	}
	ctx := r.Context()
	x, err := s.st.GetReceptionSession(ctx, id)
	if err != nil {
		return err
	}
	owner, err := s.st.GetUnit(ctx, x.UnitID)
	if err != nil {
		return err
	}
	out := SessionSeats{SessionID: x.ID, Seats: []SeatView{}}
	var ae *apiError
	if err := s.callOpen(x); errors.As(err, &ae) {
		out.Closed = ae.message(r)
	} else if err != nil {
		return err
	}
	asks := []callJoinRequest{{Seat: auth.SeatStudio}}
	for _, h := range x.HallIDs {
		asks = append(asks, callJoinRequest{Seat: auth.SeatHall, HallID: h})
	}
	for _, u := range x.UnitIDs {
		asks = append(asks, callJoinRequest{Seat: auth.SeatUnit, UnitID: u})
	}
	asks = append(asks, callJoinRequest{Seat: auth.SeatObserver})
	for _, q := range asks {
		claims, scope, err := s.grantSeat(ctx, rc, x, owner, q)
		if errors.As(err, &ae) {
			continue // refused: not offered
		}
		if err != nil {
			return err
		}
		v := SeatView{Seat: q.Seat, HallID: claims.HallID, UnitID: claims.UnitID, Role: claims.Role}
		switch q.Seat {
		case auth.SeatHall:
			h, err := s.st.GetHall(ctx, q.HallID)
			if err != nil {
				return err
			}
			v.Name = h.Name
		case auth.SeatUnit:
			v.Name = scope.Name
		}
		out.Seats = append(out.Seats, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
