package scheduler_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sanji/scheduler"
	"sanji/scheduler/org"
	"sanji/scheduler/sqlite"
)

// FuzzImportTree reads any bytes as an uploaded CSV or JSON tree and imports what parses into a
// store that already holds a small city. Invariants: no panic; the rows that parse write back to
// CSV and parse again to the same rows; a refusal is an *ImportError (errors.Is ErrInvalid) whose
// every line is a bilingual message, and leaves the store as it was; an accepted import adds
// exactly the units and halls it counts, each findable by its code.
func FuzzImportTree(f *testing.F) {
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	base := "kind,code,name,parent_code\ncity,330100,杭州市,\ndistrict,330102,上城区,330100\nhall,,上城区接访大厅,330102\n"
	rows, err := scheduler.ParseImportCSV(strings.NewReader(base))
	if err != nil {
		f.Fatal(err)
	}
	if _, err := scheduler.Import(ctx, st, rows, nil); err != nil {
		f.Fatal(err)
	}

	f.Add([]byte("kind,code,name,parent_code\ntownship,330102001,清波街道,330102\nhall,,清波街道接访室,330102001\n"), false)
	f.Add([]byte("\ufeffKind, Name ,parent_code,code\ndepartment,上城区人社局,330102,330102-RSJ\n"), false)
	f.Add([]byte("kind,code,name,parent_code\ndistrict,340102,错误区,330100\nvillage,1,某村,330102\nhall,,,\n\"unterminated\n"), false)
	f.Add([]byte("kind,code,name\n"), false)
	f.Add([]byte(`[{"kind":"township","code":"330102002","name":"湖滨街道","parent_code":"330102"},{"kind":"studio","name":"演播室","parent_code":"330102"}]`), true)
	f.Add([]byte(`[{"kind":"city","colour":"red"}]`), true)
	f.Add([]byte(`{"kind":"city"}`), true)

	f.Fuzz(func(t *testing.T, data []byte, asJSON bool) {
		var rows []scheduler.ImportRow
		var err error
		if asJSON {
			rows, err = scheduler.ParseImportJSON(bytes.NewReader(data))
		} else {
			rows, err = scheduler.ParseImportCSV(bytes.NewReader(data))
		}
		if err != nil {
			checkImportError(t, err)
			return
		}
		checkCSVRoundTrip(t, rows)

		unitsBefore, hallsBefore := countTree(t, st)
		res, err := scheduler.Import(ctx, st, rows, nil)
		unitsAfter, hallsAfter := countTree(t, st)
		if err != nil {
			checkImportError(t, err)
			if unitsAfter != unitsBefore || hallsAfter != hallsBefore {
				t.Fatalf("a refused import changed the tree: units %d -> %d, halls %d -> %d", unitsBefore, unitsAfter, hallsBefore, hallsAfter)
			}
			return
		}
		if unitsAfter-unitsBefore != res.Units || hallsAfter-hallsBefore != res.Halls {
			t.Fatalf("import says %+v, the tree grew by %d units and %d halls", res, unitsAfter-unitsBefore, hallsAfter-hallsBefore)
		}
		for _, r := range rows {
			if r.Code == "" {
				continue
			}
			u, err := st.GetUnitByCode(ctx, r.Code)
			if err != nil || u.Name != r.Name || string(u.Kind) != r.Kind {
				t.Fatalf("row %+v imported as %+v (%v)", r, u, err)
			}
		}
	})
}

func countTree(t *testing.T, st scheduler.Store) (units, halls int) {
	t.Helper()
	us, err := st.ListUnits(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	hs, err := st.ListHalls(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	return len(us), len(hs)
}

func checkImportError(t *testing.T, err error) {
	t.Helper()
	var ie *scheduler.ImportError
	if !errors.As(err, &ie) || !errors.Is(err, org.ErrInvalid) || len(ie.Lines) == 0 {
		t.Fatalf("refused with %T %v, not an *ImportError", err, err)
	}
	for _, l := range ie.Lines {
		if l.ZH == "" || l.EN == "" || l.ZH == l.EN || l.Field == "" ||
			!strings.ContainsFunc(l.ZH, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
			t.Fatalf("line error %+v is not a bilingual message naming its field", l)
		}
	}
}

// checkCSVRoundTrip writes rows as the documented CSV and parses them back.
func checkCSVRoundTrip(t *testing.T, rows []scheduler.ImportRow) {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"kind", "code", "name", "parent_code"})
	for _, r := range rows {
		_ = w.Write([]string{r.Kind, r.Code, r.Name, r.ParentCode})
	}
	w.Flush()
	again, err := scheduler.ParseImportCSV(&buf)
	if err != nil {
		t.Fatalf("rows %+v written as CSV do not parse: %v", rows, err)
	}
	if len(again) != len(rows) {
		t.Fatalf("%d rows came back as %d", len(rows), len(again))
	}
	for i := range rows {
		a, b := rows[i], again[i]
		a.Line, b.Line = 0, 0
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("row %+v came back as %+v", a, b)
		}
	}
}
