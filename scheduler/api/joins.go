package api

import (
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
	if x.Status != reception.SessionScheduled {
		return newErr(http.StatusConflict, CodeConflict, "api.join.cancelled")
	}
	if x.Backfill {
		return newErr(http.StatusConflict, CodeConflict, "api.backfill.no_call")
	}
	// The call opens half an hour ahead (for the halls' technical checks) and closes two hours
	// after the scheduled end (hearings run over).
	switch now := s.now(); {
	case now.Before(x.Start.Add(-CallOpensBefore)):
		at := x.Start.Add(-CallOpensBefore).In(calendar.Shanghai).Format("2006-01-02 15:04")
		return newErr(http.StatusConflict, CodeConflict, "api.join.not_open", "at", at)
	case now.After(x.End.Add(CallClosesAfter)):
		return newErr(http.StatusConflict, CodeConflict, "api.join.over")
	}
	owner, err := s.st.GetUnit(ctx, x.UnitID)
	if err != nil {
		return err
	}
	observerOnly := func(path string) bool {
		roles := rc.p.RolesFor(org.ActCallJoin, path)
		return len(roles) > 0 && !slices.ContainsFunc(roles, func(r string) bool { return r != org.RoleObserver })
	}
	claims := auth.Claims{Room: CallRoom(x.ID), SessionID: x.ID, Seat: req.Seat, UserID: rc.p.User.ID}
	var scope org.Unit
	switch req.Seat {
	case auth.SeatStudio:
		scope = owner
		if rc.p.User.ID == x.LeaderID {
			claims.Role = org.RoleLeader
		} else if roles := rc.p.RolesFor(org.ActCallModerate, owner.Path); len(roles) > 0 {
			claims.Role = roles[0]
		} else {
			return errForbidden
		}
	case auth.SeatHall:
		if !slices.Contains(x.HallIDs, req.HallID) {
			return invalidField("hall_id", "api.join.hall_not_on_roster")
		}
		if _, scope, err = s.hallUnit(ctx, req.HallID); err != nil {
			return err
		}
		claims.HallID = req.HallID
	case auth.SeatUnit:
		if scope, err = s.unitField(ctx, "unit_id", req.UnitID); err != nil {
			return err
		}
		if !slices.Contains(x.UnitIDs, scope.ID) && !strings.HasPrefix(scope.Path, owner.Path) {
			return invalidField("unit_id", "api.join.unit_not_allowed")
		}
		claims.UnitID = scope.ID
	case auth.SeatObserver:
		scope = owner
	default:
		return invalidField("seat", "api.join.bad_seat")
	}
	if err := rc.require(scope.Path); err != nil {
		return err
	}
	if claims.Role == "" {
		roles := rc.p.RolesFor(org.ActCallJoin, scope.Path)
		if req.Seat != auth.SeatObserver && observerOnly(scope.Path) {
			return errForbidden // an observer sits with the observers, whatever seat is asked
		}
		claims.Role = roles[0]
		if req.Seat == auth.SeatObserver {
			claims.Role = org.RoleObserver
		}
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
