package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"sanji/scheduler/casework"
)

// TestReviewRatingMigrationKeepsRatings: migration 0018 rebuilds case_evaluations to widen its
// CHECK to the review's stages; the ratings stored before it are kept with their ids, and a stage
// is still rated once.
func TestReviewRatingMigrationKeepsRatings(t *testing.T) {
	ctx := context.Background()
	path, db, old := storeBefore(t, "review_ratings")
	exec := func(db *sql.DB, q string, args ...any) error {
		_, err := db.Exec(q, args...)
		return err
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(exec(db, `INSERT INTO units (id, parent_id, kind, code, name, path, created_at) VALUES (1, NULL, 'district', '330102', '上城区', '/1/', 0)`))
	must(exec(db, `INSERT INTO categories (id, code, name) VALUES (1, '02', '劳动和社会保障')`))
	const reg = 1772416800000000 // 2026-03-02 10:00 Beijing
	must(exec(db, `INSERT INTO cases (id, number, external_id, query_hash, unit_id, territory, form, type, category_id, title, content,
		complained_party, involved_count, fast_track, result, status, supervised, registered_at, accepted_at, closed_at, updated_at)
		VALUES (1, '330102-2026-V-000001', '', ?, 1, '330102', 'visit', 'claim', 1, '事项', '', '', 0, 0, 'support', 'evaluated', 0, ?, ?, ?, ?)`,
		strings.Repeat("a", 64), reg, reg, reg, reg))
	must(exec(db, `INSERT INTO case_evaluations (id, case_id, stage, score, via, at, recorded_by) VALUES
		(7, 1, 'acceptance', 'basically', 'query_page', ?, 0), (9, 1, 'result', 'satisfied', 'phone', ?, 42)`, reg, reg))
	if exec(db, `INSERT INTO case_evaluations (case_id, stage, score, via, at) VALUES (1, 'review_result', 'satisfied', 'query_page', 0)`) == nil {
		t.Fatal("a review's rating before 0018")
	}
	must(old.Close())

	s, err := Open(ctx, path)
	must(err)
	defer s.Close()
	es, err := s.ListEvaluations(ctx, 1)
	must(err)
	if len(es) != 2 || es[0].ID != 7 || es[0].Stage != casework.EvalAcceptance || es[1].ID != 9 || es[1].RecordedBy != 42 || es[1].Via != casework.ViaPhone {
		t.Fatalf("ratings after 0018: %+v", es)
	}
	must(exec(s.DB(), `INSERT INTO case_evaluations (case_id, stage, score, via, at) VALUES (1, 'review_result', 'satisfied', 'query_page', 0)`))
	if exec(s.DB(), `INSERT INTO case_evaluations (case_id, stage, score, via, at) VALUES (1, 'review_result', 'basically', 'query_page', 0)`) == nil {
		t.Error("a stage rated twice after 0018")
	}
	if exec(s.DB(), `INSERT INTO case_evaluations (case_id, stage, score, via, at) VALUES (1, 'other', 'basically', 'query_page', 0)`) == nil {
		t.Error("an unknown stage after 0018")
	}
}
