package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"sanji/auth"
	"sanji/scheduler"
	"sanji/scheduler/org"
)

// Users and their grants.

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	roots := rc.roots()
	if len(roots) == 0 {
		return errForbidden
	}
	ctx := r.Context()
	out := []UserView{}
	for _, root := range roots {
		us, err := s.st.ListUsers(ctx, org.UserFilter{UnderPath: root})
		if err != nil {
			return err
		}
		for _, u := range us {
			v := userView(u)
			gs, err := s.st.ListGrants(ctx, u.ID)
			if err != nil {
				return err
			}
			for _, g := range gs {
				v.Grants = append(v.Grants, grantView(g))
			}
			out = append(out, v)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
	return nil
}

type grantRequest struct {
	Role   string `json:"role"`
	UnitID int64  `json:"unit_id"`
}

type createUserRequest struct {
	Username    string         `json:"username"`
	DisplayName string         `json:"display_name"`
	UnitID      int64          `json:"unit_id"`
	Grants      []grantRequest `json:"grants"`
}

// CreatedUser is a new user with the one-time password to hand over (shown once).
type CreatedUser struct {
	User     UserView `json:"user"`
	Password string   `json:"password"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req createUserRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	unit, err := s.unitFieldInScope(ctx, rc, "unit_id", req.UnitID)
	if err != nil {
		return err
	}
	roles := make([]string, 0, len(req.Grants))
	for i, g := range req.Grants {
		if err := s.checkGrant(ctx, rc, g, "grants["+strconv.Itoa(i)+"]"); err != nil {
			return err
		}
		roles = append(roles, g.Role)
	}
	if err := org.CheckSeparation(roles); err != nil {
		return errSeparation("grants")
	}
	pw, err := auth.RandomPassword(14)
	if err != nil {
		return err
	}
	h, err := s.hashPassword(pw)
	if err != nil {
		return err
	}
	u := org.User{Kind: org.UserPerson, Username: strings.TrimSpace(req.Username), DisplayName: strings.TrimSpace(req.DisplayName),
		UnitID: unit.ID, PasswordHash: h, MustChangePassword: true}
	err = s.st.InTx(ctx, func(tx scheduler.Store) error {
		if err := tx.CreateUser(ctx, &u); err != nil {
			return err
		}
		for _, g := range req.Grants {
			if err := tx.AddGrant(ctx, &org.Grant{UserID: u.ID, Role: g.Role, UnitID: g.UnitID}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	view := userView(u)
	gs, _ := s.st.ListGrants(ctx, u.ID)
	for _, g := range gs {
		view.Grants = append(view.Grants, grantView(g))
	}
	if err := rc.audit("user.create", userTarget(u.ID), unit, nil, view); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, CreatedUser{User: view, Password: pw})
	return nil
}

// errSeparation refuses a grant that would give one person two of the separated duties.
func errSeparation(field string) error {
	return invalidField(field, "api.user.separation_of_duties")
}

// checkGrant validates a role grant: a known role, at a unit inside the caller's write scope.
func (s *Server) checkGrant(ctx context.Context, rc *reqCtx, g grantRequest, field string) error {
	if !org.ValidRole(g.Role) || g.Role == org.RoleHallTerminal {
		return invalidField(field+".role", "api.user.unknown_role")
	}
	u, err := s.unitField(ctx, field+".unit_id", g.UnitID)
	if err != nil {
		return err
	}
	return rc.require(u.Path)
}

// userInScope loads a user the caller may manage.
// pathUser is the user the path's {id} names, with their unit, when the caller's route action
// reaches it.
func (s *Server) pathUser(r *http.Request, rc *reqCtx) (org.User, org.Unit, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return org.User{}, org.Unit{}, err
	}
	return s.userInScope(r.Context(), rc, id)
}

func (s *Server) userInScope(ctx context.Context, rc *reqCtx, id int64) (org.User, org.Unit, error) {
	u, err := s.st.GetUser(ctx, id)
	if err != nil {
		return u, org.Unit{}, err
	}
	unit, err := s.st.GetUnit(ctx, u.UnitID)
	if err != nil {
		return u, unit, err
	}
	if err := rc.require(unit.Path); err != nil {
		return u, unit, err
	}
	return u, unit, nil
}

type updateUserRequest struct {
	Disabled *bool `json:"disabled"`
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req updateUserRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	u, unit, err := s.userInScope(ctx, rc, id)
	if err != nil {
		return err
	}
	if req.Disabled != nil {
		if *req.Disabled && u.ID == rc.p.User.ID {
			return invalidField("disabled", "api.user.disable_self")
		}
		if err := s.st.SetUserDisabled(ctx, u.ID, *req.Disabled); err != nil {
			return err
		}
		if *req.Disabled {
			if err := s.st.DeleteUserSessions(ctx, u.ID); err != nil {
				return err
			}
		}
	}
	after, err := s.st.GetUser(ctx, u.ID)
	if err != nil {
		return err
	}
	if err := rc.audit("user.update", userTarget(u.ID), unit, userView(u), userView(after)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userView(after))
	return nil
}

func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	u, unit, err := s.pathUser(r, rc)
	if err != nil {
		return err
	}
	if u.Kind != org.UserPerson {
		return invalidField("id", "api.user.terminal_no_password")
	}
	pw, err := auth.RandomPassword(14)
	if err != nil {
		return err
	}
	h, err := s.hashPassword(pw)
	if err != nil {
		return err
	}
	if err := s.st.SetPassword(ctx, u.ID, h, true); err != nil {
		return err
	}
	if err := s.st.DeleteUserSessions(ctx, u.ID); err != nil {
		return err
	}
	if err := rc.audit("user.password_reset", userTarget(u.ID), unit, nil, nil); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"password": pw})
	return nil
}

func (s *Server) addGrant(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req grantRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	u, unit, err := s.userInScope(ctx, rc, id)
	if err != nil {
		return err
	}
	if u.Kind != org.UserPerson {
		return invalidField("id", "api.user.terminal_role_fixed")
	}
	if err := s.checkGrant(ctx, rc, req, "grant"); err != nil {
		return err
	}
	held, err := s.st.ListGrants(ctx, u.ID)
	if err != nil {
		return err
	}
	roles := []string{}
	for _, h := range held {
		roles = append(roles, h.Role)
	}
	if err := org.CheckSeparation(append(roles, req.Role)); err != nil {
		return errSeparation("grant.role")
	}
	g := org.Grant{UserID: u.ID, Role: req.Role, UnitID: req.UnitID}
	if err := s.st.AddGrant(ctx, &g); err != nil {
		return err
	}
	if err := rc.audit("grant.add", userTarget(u.ID), unit, nil, grantView(g)); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, grantView(g))
	return nil
}

func (s *Server) removeGrant(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	gid, err := pathID(r, "grant")
	if err != nil {
		return err
	}
	ctx := r.Context()
	u, unit, err := s.userInScope(ctx, rc, id)
	if err != nil {
		return err
	}
	gs, err := s.st.ListGrants(ctx, u.ID)
	if err != nil {
		return err
	}
	var found *org.Grant
	for i := range gs {
		if gs[i].ID == gid {
			found = &gs[i]
		}
	}
	if found == nil {
		return errNotFound
	}
	// Revoking is granting in reverse: the grant's unit must be in scope too.
	if err := rc.require(found.UnitPath); err != nil {
		return err
	}
	if u.ID == rc.p.User.ID && found.Role == org.RoleAdmin {
		return invalidField("grant", "api.user.revoke_own_admin")
	}
	if err := s.st.RemoveGrant(ctx, gid); err != nil {
		return err
	}
	if err := rc.audit("grant.remove", userTarget(u.ID), unit, grantView(*found), nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
