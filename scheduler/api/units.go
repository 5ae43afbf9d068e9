package api

import (
	"bytes"
	"context"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"sanji/scheduler"
	"sanji/scheduler/org"
)

// The organisation tree: units, halls and categories.

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
			return invalidField("parent_id", "api.unit.parent_required")
		}
		root, err := scheduler.EnsureRoot(ctx, s.st)
		if err != nil {
			return err
		}
		req.ParentID = root.ID
	}
	parent, err := s.st.GetUnit(ctx, req.ParentID)
	if errors.Is(err, org.ErrNotFound) {
		return invalidField("parent_id", "api.unit.parent_not_found")
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
		return newErr(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "api.unit.import_type")
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
		return org.Unit{}, invalidField(field, "api.unit.required", "field", field)
	}
	u, err := s.st.GetUnit(ctx, id)
	if errors.Is(err, org.ErrNotFound) {
		return u, invalidField(field, "api.unit.not_found")
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
