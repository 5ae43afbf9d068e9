package scheduler

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"sanji/i18n"
	"sanji/scheduler/org"
)

// ImportRow is one line of a tree import: a unit (city, district, township, department) or a
// hall or studio of a unit. Parents are named by code and must come earlier in the file or
// exist already.
type ImportRow struct {
	Line       int    `json:"-"`
	Kind       string `json:"kind"`
	Code       string `json:"code"` // empty for halls and studios
	Name       string `json:"name"`
	ParentCode string `json:"parent_code"`
}

// LineError is what is wrong with one line of an import.
type LineError struct {
	Line  int    `json:"line"`
	Field string `json:"field"`
	ZH    string `json:"message_zh"`
	EN    string `json:"message_en"`
}

// ImportError lists every bad line; nothing of the import was stored. Forbidden is set when
// some line lies outside the importer's scope.
type ImportError struct {
	Lines     []LineError
	Forbidden bool
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:", i18n.T("scheduler.import.failed", "count", len(e.Lines)))
	for _, l := range e.Lines {
		fmt.Fprintf(&b, "\n%s: %s: %s", i18n.T("scheduler.import.line", "line", l.Line), l.Field, i18n.Text{ZH: l.ZH, EN: l.EN})
	}
	return b.String()
}

// lineError is the LineError of line and field with the catalog's message k.
func lineError(line int, field string, k i18n.Key, args ...any) LineError {
	t := i18n.T(k, args...)
	return LineError{Line: line, Field: field, ZH: t.ZH, EN: t.EN}
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ImportError) Is(target error) bool { return target == org.ErrInvalid }

// maxImportRows bounds one import; a city has hundreds of units, not hundreds of thousands.
const maxImportRows = 20000

// ParseImportCSV reads a CSV file with the header kind,code,name,parent_code (any order).
// Line numbers count the header as line 1.
func ParseImportCSV(r io.Reader) ([]ImportRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, &ImportError{Lines: []LineError{lineError(1, "header", "scheduler.import.header_unreadable", "error", err.Error())}}
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimPrefix(strings.ToLower(strings.TrimSpace(h)), "\ufeff")] = i
	}
	for _, need := range []string{"kind", "code", "name", "parent_code"} {
		if _, ok := col[need]; !ok {
			return nil, &ImportError{Lines: []LineError{lineError(1, need, "scheduler.import.header_column", "column", need)}}
		}
	}
	var rows []ImportRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// FieldPos panics when Read returned no record: the line is the parse error's.
			line := 0
			if pe, ok := errors.AsType[*csv.ParseError](err); ok {
				line = pe.Line
			}
			return nil, &ImportError{Lines: []LineError{lineError(line, "csv", "scheduler.import.bad_csv", "error", err.Error())}}
		}
		line, _ := cr.FieldPos(0)
		get := func(k string) string {
			if i := col[k]; i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		rows = append(rows, ImportRow{Line: line, Kind: get("kind"), Code: get("code"), Name: get("name"), ParentCode: get("parent_code")})
		if len(rows) > maxImportRows {
			return nil, &ImportError{Lines: []LineError{lineError(line, "file", "scheduler.import.too_many_rows", "max", maxImportRows)}}
		}
	}
	return rows, nil
}

// ParseImportJSON reads a JSON array of rows; line numbers are the 1-based element index.
func ParseImportJSON(r io.Reader) ([]ImportRow, error) {
	var rows []ImportRow
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rows); err != nil {
		return nil, &ImportError{Lines: []LineError{lineError(0, "json", "scheduler.import.bad_json", "error", err.Error())}}
	}
	if len(rows) > maxImportRows {
		return nil, &ImportError{Lines: []LineError{lineError(maxImportRows+1, "file", "scheduler.import.too_many_rows", "max", maxImportRows)}}
	}
	for i := range rows {
		rows[i].Line = i + 1
		rows[i].Kind, rows[i].Code = strings.TrimSpace(rows[i].Kind), strings.TrimSpace(rows[i].Code)
		rows[i].Name, rows[i].ParentCode = strings.TrimSpace(rows[i].Name), strings.TrimSpace(rows[i].ParentCode)
	}
	return rows, nil
}

// ImportResult counts what an import created.
type ImportResult struct {
	Units int `json:"units"`
	Halls int `json:"halls"`
}

// Import stores rows in one transaction: either every row is valid and all are stored, or
// nothing is and the error is an *ImportError naming every bad line. allowed, when not nil, is
// asked for each row's parent path (the importer's write scope).
func Import(ctx context.Context, st Store, rows []ImportRow, allowed func(parentPath string) bool) (ImportResult, error) {
	var res ImportResult
	var bad []LineError
	forbidden := false
	fail := func(line int, field string, k i18n.Key, args ...any) {
		bad = append(bad, lineError(line, field, k, args...))
	}
	err := st.InTx(ctx, func(tx Store) error {
		units := map[string]org.Unit{} // by code, from this file
		halls := map[string]bool{}     // "unitID/name"
		lookup := func(code string) (org.Unit, bool, error) {
			if u, ok := units[code]; ok {
				return u, true, nil
			}
			u, err := tx.GetUnitByCode(ctx, code)
			if errors.Is(err, org.ErrNotFound) {
				return org.Unit{}, false, nil
			}
			if err != nil {
				return org.Unit{}, false, err
			}
			units[code] = u
			return u, true, nil
		}
		for _, r := range rows {
			var parent *org.Unit
			if r.ParentCode != "" {
				p, ok, err := lookup(r.ParentCode)
				if err != nil {
					return err
				}
				if !ok {
					fail(r.Line, "parent_code", "scheduler.import.parent_missing", "code", r.ParentCode)
					continue
				}
				parent = &p
			} else if r.Kind == string(org.KindCity) {
				root, err := EnsureRoot(ctx, tx)
				if err != nil {
					return err
				}
				parent = &root
			}
			if allowed != nil && parent != nil && !allowed(parent.Path) {
				fail(r.Line, "parent_code", "scheduler.import.forbidden")
				forbidden = true
				continue
			}
			switch r.Kind {
			case string(org.HallReception), string(org.HallStudio):
				if parent == nil {
					fail(r.Line, "parent_code", "scheduler.import.hall_unit")
					continue
				}
				h := org.Hall{UnitID: parent.ID, Kind: org.HallKind(r.Kind), Name: r.Name}
				check := h
				if check.UnitID == 0 {
					check.UnitID = -1 // the unit is pending (not written after an earlier bad line)
				}
				if err := org.ValidateHall(check); err != nil {
					addFieldError(&bad, r.Line, err)
					continue
				}
				key := parent.Code + "/" + r.Name
				if halls[key] || hallExists(ctx, tx, *parent, r.Name) {
					fail(r.Line, "name", "scheduler.import.hall_exists")
					continue
				}
				halls[key] = true
				if len(bad) == 0 {
					if err := tx.CreateHall(ctx, &h); err != nil {
						return err
					}
				}
				res.Halls++
			default:
				u := org.Unit{Kind: org.UnitKind(r.Kind), Code: r.Code, Name: r.Name}
				if parent != nil {
					u.ParentID = parent.ID
				}
				if err := org.ValidateUnit(u, parent); err != nil {
					addFieldError(&bad, r.Line, err)
					continue
				}
				if _, ok, err := lookup(r.Code); err != nil {
					return err
				} else if ok {
					fail(r.Line, "code", "scheduler.import.code_exists", "code", r.Code)
					continue
				}
				if len(bad) == 0 {
					if err := tx.CreateUnit(ctx, &u); err != nil {
						return err
					}
				} else {
					// Keep checking later lines against this row without writing.
					u.Path = "/pending/"
					if parent != nil {
						u.Path = parent.Path + "pending/"
					}
				}
				units[u.Code] = u
				res.Units++
			}
		}
		if len(bad) > 0 {
			return &ImportError{Lines: bad, Forbidden: forbidden}
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

func hallExists(ctx context.Context, st Store, unit org.Unit, name string) bool {
	if unit.ID == 0 {
		return false
	}
	hs, err := st.ListHalls(ctx, unit.Path)
	if err != nil {
		return false
	}
	for _, h := range hs {
		if h.UnitID == unit.ID && h.Name == name {
			return true
		}
	}
	return false
}

func addFieldError(bad *[]LineError, line int, err error) {
	var fe *org.FieldError
	if errors.As(err, &fe) {
		*bad = append(*bad, LineError{Line: line, Field: fe.Field, ZH: fe.ZH, EN: fe.EN})
		return
	}
	*bad = append(*bad, LineError{Line: line, Field: "", ZH: err.Error(), EN: err.Error()})
}
