package api

import (
	"bytes"
	"context"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sanji/auth"
	"sanji/scheduler"
	"sanji/scheduler/org"
)

// ---- units, halls, categories ----

// listUnits returns every unit in the caller's visible subtrees, plus the ancestors of those
// subtrees' roots (names only matter for the tree view) are not included: a district user sees
// the district and below.
func (s *Server) listUnits(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	out, err := inSubtrees(r.Context(), rc, s.st.ListUnits, unitView)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"units": out})
	return nil
}

// inSubtrees lists, with list, what lies in each subtree the caller may see, as views.
func inSubtrees[T, V any](ctx context.Context, rc *reqCtx, list func(context.Context, string) ([]T, error), view func(T) V) ([]V, error) {
	roots := rc.roots()
	if len(roots) == 0 {
		return nil, errForbidden
	}
	out := []V{}
	for _, root := range roots {
		items, err := list(ctx, root)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			out = append(out, view(it))
		}
	}
	return out, nil
}

type createUnitRequest struct {
	ParentID int64  `json:"parent_id"`
	Kind     string `json:"kind"`
	Code     string `json:"code"`
	Name     string `json:"name"`
}

func (s *Server) createUnit(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req createUnitRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if req.ParentID == 0 {
		if req.Kind != string(org.KindCity) {
			return invalidField("parent_id", "请指定上级单位", "parent_id is required")
		}
		root, err := scheduler.EnsureRoot(ctx, s.st)
		if err != nil {
			return err
		}
		req.ParentID = root.ID
	}
	parent, err := s.st.GetUnit(ctx, req.ParentID)
	if errors.Is(err, org.ErrNotFound) {
		return invalidField("parent_id", "上级单位不存在", "the parent unit does not exist")
	}
	if err != nil {
		return err
	}
	if err := rc.require(parent.Path); err != nil {
		return err
	}
	u := org.Unit{ParentID: parent.ID, Kind: org.UnitKind(req.Kind), Code: strings.TrimSpace(req.Code), Name: strings.TrimSpace(req.Name)}
	if err := s.st.CreateUnit(ctx, &u); err != nil {
		return err
	}
	if err := rc.audit("unit.create", "unit:"+strconv.FormatInt(u.ID, 10), u, nil, unitView(u)); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, unitView(u))
	return nil
}

type renameUnitRequest struct {
	Name string `json:"name"`
}

func (s *Server) renameUnit(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req renameUnitRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	u, err := s.unitInScope(ctx, rc, id)
	if err != nil {
		return err
	}
	before := unitView(u)
	if err := s.st.RenameUnit(ctx, id, strings.TrimSpace(req.Name)); err != nil {
		return err
	}
	u, err = s.st.GetUnit(ctx, id)
	if err != nil {
		return err
	}
	if err := rc.audit("unit.rename", "unit:"+strconv.FormatInt(u.ID, 10), u, before, unitView(u)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, unitView(u))
	return nil
}

// importUnits takes CSV (text/csv) or JSON (application/json). Every row's parent must lie in
// the caller's write scope; a city (no parent) needs write access at the root.
func (s *Server) importUnits(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if len(rc.roots()) == 0 {
		return errForbidden
	}
	body, err := readAll(r)
	if err != nil {
		return err
	}
	var rows []scheduler.ImportRow
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "text/csv":
		rows, err = scheduler.ParseImportCSV(bytes.NewReader(body))
	case "application/json":
		rows, err = scheduler.ParseImportJSON(bytes.NewReader(body))
	default:
		return newErr(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "请上传 CSV（text/csv）或 JSON（application/json）", "upload CSV (text/csv) or JSON (application/json)")
	}
	if err != nil {
		return err
	}
	res, err := scheduler.Import(r.Context(), s.st, rows, func(parentPath string) bool { return rc.p.Can(rc.rt.access, parentPath) })
	if err != nil {
		return err
	}
	if err := rc.audit("unit.import", "import", org.Unit{}, nil, res); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) listHalls(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	out, err := inSubtrees(r.Context(), rc, s.st.ListHalls, hallView)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"halls": out})
	return nil
}

type createHallRequest struct {
	UnitID int64  `json:"unit_id"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
}

func (s *Server) createHall(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req createHallRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	u, err := s.unitFieldInScope(ctx, rc, "unit_id", req.UnitID)
	if err != nil {
		return err
	}
	h := org.Hall{UnitID: u.ID, Kind: org.HallKind(req.Kind), Name: strings.TrimSpace(req.Name)}
	if err := s.st.CreateHall(ctx, &h); err != nil {
		return err
	}
	if err := rc.audit("hall.create", "hall:"+strconv.FormatInt(h.ID, 10), u, nil, hallView(h)); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, hallView(h))
	return nil
}

// unitField loads the unit a request names, as a validation error on field when it is missing.
func (s *Server) unitField(ctx context.Context, field string, id int64) (org.Unit, error) {
	if id == 0 {
		return org.Unit{}, invalidField(field, "请指定单位", field+" is required")
	}
	u, err := s.st.GetUnit(ctx, id)
	if errors.Is(err, org.ErrNotFound) {
		return u, invalidField(field, "单位不存在", "the unit does not exist")
	}
	return u, err
}

// unitInScope loads a unit the caller may act on with the route's action.
func (s *Server) unitInScope(ctx context.Context, rc *reqCtx, id int64) (org.Unit, error) {
	u, err := s.st.GetUnit(ctx, id)
	if err != nil {
		return u, err
	}
	return u, rc.require(u.Path)
}

// unitFieldInScope is unitField for a unit the caller may act on with the route's action.
func (s *Server) unitFieldInScope(ctx context.Context, rc *reqCtx, field string, id int64) (org.Unit, error) {
	u, err := s.unitField(ctx, field, id)
	if err != nil {
		return u, err
	}
	return u, rc.require(u.Path)
}

type categoryView struct {
	ID       int64  `json:"id"`
	ParentID int64  `json:"parent_id,omitempty"`
	Code     string `json:"code"`
	Name     string `json:"name"`
}

func (s *Server) listCategories(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if len(rc.roots()) == 0 {
		return errForbidden
	}
	cs, err := s.st.ListCategories(r.Context())
	if err != nil {
		return err
	}
	out := []categoryView{}
	for _, c := range cs {
		out = append(out, categoryView{ID: c.ID, ParentID: c.ParentID, Code: c.Code, Name: c.Name})
	}
	writeJSON(w, http.StatusOK, map[string]any{"categories": out})
	return nil
}

func (s *Server) createCategory(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req categoryView
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	// The category tree is one for the whole installation: editing it needs the right at the root.
	root, err := scheduler.EnsureRoot(ctx, s.st)
	if err != nil {
		return err
	}
	if err := rc.require(root.Path); err != nil {
		return err
	}
	c := org.Category{ParentID: req.ParentID, Code: strings.TrimSpace(req.Code), Name: strings.TrimSpace(req.Name)}
	if err := s.st.CreateCategory(ctx, &c); err != nil {
		return err
	}
	view := categoryView{ID: c.ID, ParentID: c.ParentID, Code: c.Code, Name: c.Name}
	if err := rc.audit("category.create", "category:"+strconv.FormatInt(c.ID, 10), root, nil, view); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, view)
	return nil
}

// ---- users and grants ----

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
	return invalidField(field, "三员分立：系统管理员、审计员不能由同一人担任，也不能兼任业务角色；请为此职责另建账号",
		"separation of duties: the administrator and the auditor must be different people and hold no case role; create a separate account for this duty")
}

// checkGrant validates a role grant: a known role, at a unit inside the caller's write scope.
func (s *Server) checkGrant(ctx context.Context, rc *reqCtx, g grantRequest, field string) error {
	if !org.ValidRole(g.Role) || g.Role == org.RoleHallTerminal {
		return invalidField(field+".role", "未知角色", "unknown role")
	}
	u, err := s.unitField(ctx, field+".unit_id", g.UnitID)
	if err != nil {
		return err
	}
	return rc.require(u.Path)
}

// userInScope loads a user the caller may manage.
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
			return invalidField("disabled", "不能停用自己的账号", "you cannot disable your own account")
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
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	u, unit, err := s.userInScope(ctx, rc, id)
	if err != nil {
		return err
	}
	if u.Kind != org.UserPerson {
		return invalidField("id", "终端账号没有密码，请生成配对码", "a terminal has no password; make a pairing code instead")
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
		return invalidField("id", "终端账号的角色不能更改", "a terminal's role cannot be changed")
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
		return invalidField("grant", "不能撤销自己的管理员角色", "you cannot revoke your own admin role")
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

// ---- hall terminals ----

type createDeviceRequest struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	HallID      int64  `json:"hall_id"`
}

// PairingCode is a terminal's one-time code, shown on the admin page and typed on the terminal.
type PairingCode struct {
	Device    UserView  `json:"device"`
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) createDevice(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req createDeviceRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if req.HallID == 0 {
		return invalidField("hall_id", "请指定大厅", "hall_id is required")
	}
	hall, err := s.st.GetHall(ctx, req.HallID)
	if errors.Is(err, org.ErrNotFound) {
		return invalidField("hall_id", "大厅不存在", "the hall does not exist")
	}
	if err != nil {
		return err
	}
	unit, err := s.unitInScope(ctx, rc, hall.UnitID)
	if err != nil {
		return err
	}
	// A terminal never logs in with a password: the hash of a random value nobody knows.
	secret, err := auth.RandomToken(32)
	if err != nil {
		return err
	}
	u := org.User{Kind: org.UserDevice, Username: strings.TrimSpace(req.Username), DisplayName: strings.TrimSpace(req.DisplayName),
		UnitID: unit.ID, HallID: hall.ID, PasswordHash: "!" + auth.HashToken(secret)}
	err = s.st.InTx(ctx, func(tx scheduler.Store) error {
		if err := tx.CreateUser(ctx, &u); err != nil {
			return err
		}
		return tx.AddGrant(ctx, &org.Grant{UserID: u.ID, Role: org.RoleHallTerminal, UnitID: unit.ID})
	})
	if err != nil {
		return err
	}
	pc, err := s.issuePairingCode(ctx, u)
	if err != nil {
		return err
	}
	if err := rc.audit("device.create", userTarget(u.ID), unit, nil, userView(u)); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, pc)
	return nil
}

func (s *Server) issuePairingCode(ctx context.Context, u org.User) (PairingCode, error) {
	code, err := auth.RandomDigits(10)
	if err != nil {
		return PairingCode{}, err
	}
	exp := s.now().Add(pairingTTL)
	if err := s.st.SetPairingCode(ctx, u.ID, auth.HashToken(code), exp); err != nil {
		return PairingCode{}, err
	}
	return PairingCode{Device: userView(u), Code: code, ExpiresAt: exp.UTC()}, nil
}

func (s *Server) newPairingCode(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	u, unit, err := s.userInScope(ctx, rc, id)
	if err != nil {
		return err
	}
	if u.Kind != org.UserDevice {
		return invalidField("id", "只有终端账号需要配对码", "only terminal accounts have pairing codes")
	}
	pc, err := s.issuePairingCode(ctx, u)
	if err != nil {
		return err
	}
	if err := rc.audit("device.pairing_code", userTarget(u.ID), unit, nil, nil); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, pc)
	return nil
}

type pairRequest struct {
	Code string `json:"code"`
}

// pairDevice exchanges a pairing code for the terminal's API token (scope call.join only).
func (s *Server) pairDevice(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	now := s.now()
	if ok, wait := s.loginLim.allow(rc.ip, now); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		return newErr(http.StatusTooManyRequests, CodeRateLimited, "尝试过于频繁，请稍后再试", "too many attempts; wait a little and try again")
	}
	var req pairRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	uid, err := s.st.ConsumePairingCode(ctx, auth.HashToken(strings.TrimSpace(req.Code)), now)
	if errors.Is(err, org.ErrNotFound) {
		_ = rc.audit("device.pair_fail", "", org.Unit{}, nil, nil)
		return newErr(http.StatusUnauthorized, CodePairingCodeFailed, "配对码无效或已过期，请在管理页面重新生成", "the pairing code is wrong or expired; make a new one on the admin page")
	}
	if err != nil {
		return err
	}
	u, err := s.st.GetUser(ctx, uid)
	if err != nil {
		return err
	}
	tok, err := auth.RandomToken(32)
	if err != nil {
		return err
	}
	t := org.APIToken{UserID: u.ID, Name: "终端配对 / terminal pairing", Hash: auth.HashToken(tok), Scopes: []string{org.ActCallJoin}}
	if err := s.st.CreateAPIToken(ctx, &t); err != nil {
		return err
	}
	unit, _ := s.st.GetUnit(ctx, u.UnitID)
	rc.p = &org.Principal{User: u}
	if err := rc.audit("device.pair", userTarget(u.ID), unit, nil, tokenView(t)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "device": userView(u)})
	return nil
}

// ---- API tokens (one's own) ----

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ts, err := s.st.ListAPITokens(r.Context(), rc.p.User.ID)
	if err != nil {
		return err
	}
	out := []TokenView{}
	for _, t := range ts {
		out = append(out, tokenView(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

type createTokenRequest struct {
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	ExpiresIn string   `json:"expires_in"` // Go duration, e.g. "720h"; empty: no expiry
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var req createTokenRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if rc.session == nil {
		// A token cannot mint tokens: its scopes would be the only limit on their spread.
		return errForbidden
	}
	if len(req.Scopes) == 0 {
		return invalidField("scopes", "请至少选择一个权限范围", "choose at least one scope")
	}
	for _, sc := range req.Scopes {
		if !rc.p.CanAnywhere(sc) {
			return invalidField("scopes", "权限范围 "+sc+" 未知或超出您自己的权限", "scope "+sc+" is unknown or beyond your own rights")
		}
	}
	var exp time.Time
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return invalidField("expires_in", "有效期格式应如 720h", "expires_in must look like 720h")
		}
		exp = s.now().Add(d)
	}
	tok, err := auth.RandomToken(32)
	if err != nil {
		return err
	}
	t := org.APIToken{UserID: rc.p.User.ID, Name: strings.TrimSpace(req.Name), Hash: auth.HashToken(tok), Scopes: req.Scopes, ExpiresAt: exp}
	if err := s.st.CreateAPIToken(r.Context(), &t); err != nil {
		return err
	}
	if err := rc.audit("token.create", "token:"+strconv.FormatInt(t.ID, 10), org.Unit{}, nil, tokenView(t)); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "info": tokenView(t)})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	ts, err := s.st.ListAPITokens(ctx, rc.p.User.ID)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.ID == id {
			if err := s.st.RevokeAPIToken(ctx, id, s.now()); err != nil {
				return err
			}
			if err := rc.audit("token.revoke", "token:"+strconv.FormatInt(id, 10), org.Unit{}, nil, nil); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
	}
	return errNotFound // someone else's token looks like none at all
}

// ---- audit ----

func (s *Server) searchAudit(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	roots := rc.roots()
	if len(roots) == 0 {
		return errForbidden
	}
	q := r.URL.Query()
	aq := org.AuditQuery{Action: q.Get("action"), Target: q.Get("target"), Limit: 100}
	var err error
	intParam := func(name string, dst *int64) {
		if v := q.Get(name); v != "" && err == nil {
			n, e := strconv.ParseInt(v, 10, 64)
			if e != nil || n < 0 {
				err = invalidField(name, name+" 须为非负整数", name+" must be a non-negative integer")
			}
			*dst = n
		}
	}
	timeParam := func(name string, dst *time.Time) {
		if v := q.Get(name); v != "" && err == nil {
			t, e := time.Parse(time.RFC3339, v)
			if e != nil {
				err = invalidField(name, name+" 须为 RFC 3339 时间，例如 2026-03-01T00:00:00+08:00", name+" must be an RFC 3339 time, e.g. 2026-03-01T00:00:00+08:00")
			}
			*dst = t
		}
	}
	intParam("actor_id", &aq.ActorID)
	intParam("before_id", &aq.BeforeID)
	timeParam("from", &aq.From)
	timeParam("to", &aq.To)
	if err != nil {
		return err
	}
	if v := q.Get("limit"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n <= 0 || n > 500 {
			return invalidField("limit", "limit 须在 1 到 500 之间", "limit must be 1 to 500")
		}
		aq.Limit = n
	}
	out := []AuditView{}
	// An auditor at the root sees everything, including entries without a tier (logins of
	// unknown names); one lower down sees their subtree.
	for _, root := range roots {
		sub := aq
		if strings.Count(root, "/") > 2 {
			sub.UnderPath = root
		}
		es, err := s.st.SearchAudit(r.Context(), sub)
		if err != nil {
			return err
		}
		for _, e := range es {
			out = append(out, auditView(e))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out})
	return nil
}

// ---- join tokens ----

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
		return invalidField("hall_id", "hall_id 与 unit_id 只能给一个", "give hall_id or unit_id, not both")
	case req.HallID != 0:
		h, err := s.st.GetHall(ctx, req.HallID)
		if errors.Is(err, org.ErrNotFound) {
			return invalidField("hall_id", "大厅不存在", "the hall does not exist")
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
