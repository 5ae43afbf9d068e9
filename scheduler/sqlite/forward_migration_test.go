package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/rates"
)

// TestForwardRatesMigrationRecounts: a store from before migration 0019 kept its rate facts
// without the forwarding periods; the migration empties them, so the store rebuilds the counts at
// its start and the counts know the period. A case the city forwarded to the district on Monday
// 2026-03-02: 5 working days to Monday 03-09, overdue at 03-10.
func TestForwardRatesMigrationRecounts(t *testing.T) {
	const reg = 1772416800000000 // 2026-03-02 10:00 Beijing
	path, db, old := storeBefore(t, "forward_rates")
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO units (id, parent_id, kind, code, name, path, created_at) VALUES (1, NULL, 'city', '330100', '杭州市', '/1/', 0),
		(2, 1, 'district', '330102', '上城区', '/1/2/', 0)`)
	exec(`INSERT INTO categories (id, code, name) VALUES (1, '02', '劳动和社会保障')`)
	exec(`INSERT INTO cases (id, number, external_id, query_hash, unit_id, territory, form, type, category_id, title, content,
		complained_party, responsible_unit_id, involved_count, fast_track, result, status, supervised, registered_at, accepted_at,
		closed_at, updated_at) VALUES (1, '330100-2026-V-000001', '', ?, 1, '330100', 'visit', 'claim', 1, '事项', '', '', 2, 0, 0, '',
		'forwarded', 0, ?, 0, 0, ?)`, strings.Repeat("a", 64), reg, reg)
	exec(`INSERT INTO case_events (case_id, at, actor_id, actor, unit_id, kind, from_status, to_status, reason, responsible_unit_id,
		co_units, result) VALUES (1, ?, 1, 'intake', 1, 'status', '', 'registered', '', 0, '', ''),
		(1, ?, 1, 'intake', 1, 'status', 'registered', 'forwarded', '转送', 2, '', '')`, reg, reg)
	// The facts as the store before 0019 kept them: every clock but the forwarding periods.
	exec(`INSERT INTO case_rate_facts (case_id, unit_id, unit_of, acc_unit, acc_start, decided, accepted, fast, ext_days, answered,
		category_id, territory, month, score, is_repeat, closed, returned, outcome, registered, routed, ratable)
		VALUES (1, 1, 2, 2, ?, 0, 0, 0, 0, 0, 1, '330100', ?, '', 0, 0, 0, '', ?, ?, 0)`, reg, 2026*12+2, reg, reg)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, calendar.ChinaTZ)
	r, err := rates.RatesFor(ctx, s, rates.RatesQuery{UnderPaths: []string{"/1/"}}, calendar.DefaultCalendar(), casework.DefaultRules(), now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Cases != 1 || r.TimelyForwarding != (rates.Rate{Num: 0, Den: 1}) || r.Overdue[2].Forwarding != 1 {
		t.Errorf("after 0019: forwarding %+v, overdue %+v", r.TimelyForwarding, r.Overdue)
	}
}
