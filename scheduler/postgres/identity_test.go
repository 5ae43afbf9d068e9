package postgres

import (
	"strings"
	"testing"

	"sanji/scheduler/sqlstore"
	"sanji/scheduler/storetest"
)

// TestIdentityNotInRows seeds the demo (its petitioners booked for today) and a case, then reads
// every row of every table of the schema as text and looks for each name, ID number and phone
// number they hold: a dump of the database alone must reveal no identity.
func TestIdentityNotInRows(t *testing.T) {
	s := openSchema(t)
	ids := storetest.DemoIdentity(t, s)
	db := s.(*sqlstore.Store).DB()
	rows, err := db.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, table := range tables {
		rows, err := db.Query(`SELECT t::text FROM "` + table + `" t`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var row string
			if err := rows.Scan(&row); err != nil {
				t.Fatal(err)
			}
			seen++
			for _, n := range ids {
				if n != "" && strings.Contains(row, n) {
					t.Errorf("table %s holds %q in clear: %.200s", table, n, row)
				}
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(tables) < 20 || seen < 50 {
		t.Fatalf("read %d rows of %d tables: the test proves nothing", seen, len(tables))
	}
}
