package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"sanji/scheduler/casework"
	"sanji/scheduler/sqlstore"
	"sanji/scheduler/storetest"
)

// storeBefore opens a new SQLite store at a fresh path with the migrations before the one named
// name: what a store of that time held, for a migration's test to fill and reopen at path.
func storeBefore(t *testing.T, name string) (string, *sql.DB, *sqlstore.Store) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sanji.db")
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	before := -1
	for i, m := range ms {
		if strings.Contains(m.Name, name) {
			before = i
		}
	}
	if before < 0 {
		t.Fatalf("no %s migration", name)
	}
	db, err := sql.Open("sqlite", dataSource(path))
	if err != nil {
		t.Fatal(err)
	}
	old, err := sqlstore.New(context.Background(), db, sqlstore.Dialect{Name: "sqlite", Classify: classify}, ms[:before], storetest.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	return path, db, old
}

// TestReviewMigrationMigratesCases writes cases into a store from before migration 0013 and
// checks what the migration makes of them: the review body of those under review, the final mark
// after re-review, the outcomes of those that ended, the timelines untouched (they are
// append-only), and the statistics rebuilt with the outcomes.
func TestReviewMigrationMigratesCases(t *testing.T) {
	ctx := context.Background()
	path, db, old := storeBefore(t, "review_outcomes")
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, u := range [][]any{{1, nil, "root", "000000", "/1/"}, {2, 1, "city", "330100", "/1/2/"}, {3, 2, "district", "330102", "/1/2/3/"},
		{4, 3, "township", "330102001", "/1/2/3/4/"}} {
		exec(`INSERT INTO units (id, parent_id, kind, code, name, path, created_at) VALUES (?, ?, ?, ?, ?, ?, 0)`, u[0], u[1], u[2], u[3], u[3], u[4])
	}
	exec(`INSERT INTO categories (id, code, name) VALUES (1, '02', '劳动和社会保障')`)
	const reg = 1772416800000000 // 2026-03-02 10:00 Beijing
	for _, c := range []struct {
		id             int64
		status, result string
		rereviewed     bool
	}{
		{1, "review", "explain", false},     // the district (above the township) reviews it
		{2, "closed", "support", true},      // closed after re-review: final, terminated
		{3, "closed", "not_support", false}, // not supported
		{4, "not_accepted", "", false},      // not accepted, with its written reason
		{5, "closed", "explain", false},     // closed after an explanation: unclassified
		{6, "rereview", "explain", false},   // the city (two levels up) re-reviews it
		{7, "evaluated", "support", false},  // resolved
		{8, "archived", "", false},          // archived after not accepting (below)
	} {
		exec(`INSERT INTO cases (id, number, external_id, query_hash, unit_id, territory, form, type, category_id, title, content,
			complained_party, involved_count, fast_track, result, status, supervised, registered_at, accepted_at, closed_at, updated_at)
			VALUES (?, ?, '', ?, 4, '330102001', 'visit', 'claim', 1, '事项', '', '', 0, 0, ?, ?, 0, ?, 0, 0, ?)`,
			c.id, "330102001-2026-V-00000"+string(rune('0'+c.id)), strings.Repeat(string(rune('a'+c.id)), 64), c.result, c.status, reg, reg)
		ev := func(to string) {
			exec(`INSERT INTO case_events (case_id, at, actor_id, actor, unit_id, kind, from_status, to_status, reason,
				responsible_unit_id, co_units, result) VALUES (?, ?, 1, 'x', 4, 'status', '', ?, '', 0, '', '')`, c.id, reg, to)
		}
		ev("registered")
		if c.rereviewed {
			ev("rereview")
		}
		if c.id == 8 {
			ev("not_accepted")
		}
		if c.status == "closed" || c.status == "evaluated" {
			ev("closed")
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[int64]struct {
		review  int64
		final   bool
		outcome casework.CaseOutcome
	}{
		1: {3, false, ""}, 2: {0, true, casework.OutcomeTerminated}, 3: {0, false, casework.OutcomeNotSupported},
		4: {0, false, casework.OutcomeNotAccepted}, 5: {0, false, ""}, 6: {2, false, ""}, 7: {0, false, casework.OutcomeResolved},
		8: {0, false, casework.OutcomeNotAccepted},
	}
	for id, w := range want {
		c, err := s.GetCase(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.ReviewUnitID != w.review || c.Final != w.final || c.Outcome != w.outcome {
			t.Errorf("case %d (%s): review %d final %v outcome %q, want %+v", id, c.Status, c.ReviewUnitID, c.Final, c.Outcome, w)
		}
	}
	// The counts were rebuilt with the outcomes: the root's subtree has one of each kind.
	rows, err := s.RateCounts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]int64{}
	for _, r := range rows {
		if r.Metric == "out" {
			got[r.Bucket] += r.N
		}
	}
	if len(got) != 5 || got[len(casework.Outcomes)] != 1 {
		t.Errorf("outcome cells %v", got)
	}
}
