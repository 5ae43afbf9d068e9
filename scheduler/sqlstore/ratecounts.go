package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"sanji/scheduler"
)

// Rate counts: scheduler.RateStore. Every change of a case's timeline, rating or petitioners
// re-derives its facts (case_rate_facts) and moves its cells in the counts of each unit above it
// (case_rate_counts), in the transaction of the change.

// factsRow is a case's row of case_rate_facts.
type factsRow struct {
	unitOf, accStart, decided, accepted int64
	fast, extDays                       int
	answered                            int64
	sat, repeatDepth                    int
}

func factsRowOf(f scheduler.CaseFacts) factsRow {
	cl := f.Clock
	return factsRow{unitOf: cl.UnitOf, accStart: tm(cl.AccStart), decided: tm(cl.Decided), accepted: tm(cl.Accepted), fast: b2i(cl.Fast),
		extDays: cl.ExtDays, answered: tm(cl.Answered), sat: f.Sat, repeatDepth: f.RepeatDepth}
}

func (r factsRow) facts() scheduler.CaseFacts {
	return scheduler.CaseFacts{Clock: scheduler.RateClock{UnitOf: r.unitOf, AccStart: fromTm(r.accStart), Decided: fromTm(r.decided),
		Accepted: fromTm(r.accepted), Fast: r.fast != 0, ExtDays: r.extDays, Answered: fromTm(r.answered)}, Sat: r.sat, RepeatDepth: r.repeatDepth}
}

const factsCols = `unit_of, acc_start, decided, accepted, fast, ext_days, answered, sat, repeat_depth`

func (r factsRow) args() []any {
	return []any{r.unitOf, r.accStart, r.decided, r.accepted, r.fast, r.extDays, r.answered, r.sat, r.repeatDepth}
}

func (s *Store) loadFacts(ctx context.Context, caseID int64) (factsRow, bool, error) {
	var r factsRow
	err := s.q.QueryRowContext(ctx, s.rebind(`SELECT `+factsCols+` FROM case_rate_facts WHERE case_id = ?`), caseID).Scan(
		&r.unitOf, &r.accStart, &r.decided, &r.accepted, &r.fast, &r.extDays, &r.answered, &r.sat, &r.repeatDepth)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("sqlstore: rate facts: %w", err)
	}
	return r, true, nil
}

// pathIDs are the ids of a unit path ("/1/4/9/"), the root first: a unit and those above it.
func pathIDs(path string) []int64 {
	var out []int64
	for _, f := range strings.Split(strings.Trim(path, "/"), "/") {
		if id, err := strconv.ParseInt(f, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out
}

type countKey struct {
	unit int64
	cell scheduler.RateCell
}

// addCells adds sign × the cells of f at horizon to the counts of each unit on path.
func addCells(delta map[countKey]int64, path []int64, f scheduler.CaseFacts, horizon int, sign int64) {
	for depth, unit := range path {
		for _, c := range f.Cells(depth, horizon) {
			delta[countKey{unit, c}] += sign
		}
	}
}

// horizon reads the day the running cells are folded up to. On PostgreSQL the row is share-locked
// until the transaction ends: a fold (which updates it) waits for the cells written meanwhile, and
// they for it, so no cell is written under a horizon that is moving.
func (s *Store) horizon(ctx context.Context) (int, error) {
	q := `SELECT day FROM case_rate_horizon WHERE id = 1`
	if s.d.Name == "postgres" {
		q += ` FOR SHARE`
	}
	var day int
	if err := s.q.QueryRowContext(ctx, q).Scan(&day); err != nil {
		return 0, fmt.Errorf("sqlstore: rate horizon: %w", err)
	}
	return day, nil
}

// applyCounts adds the non-zero deltas to case_rate_counts, a few hundred rows per statement.
func (s *Store) applyCounts(ctx context.Context, delta map[countKey]int64) error {
	keys := make([]countKey, 0, len(delta))
	for k, n := range delta {
		if n != 0 {
			keys = append(keys, k)
		}
	}
	// A stable order: two transactions touching the same cells lock them in the same order.
	slices.SortFunc(keys, func(a, b countKey) int {
		x, y := a.cell, b.cell
		return cmp.Or(cmp.Compare(a.unit, b.unit), strings.Compare(x.Metric, y.Metric), cmp.Compare(x.UnitOf, y.UnitOf),
			cmp.Compare(x.Variant, y.Variant), cmp.Compare(x.Day, y.Day), cmp.Compare(x.Bucket, y.Bucket))
	})
	const per = 500
	for i := 0; i < len(keys); i += per {
		chunk := keys[i:min(i+per, len(keys))]
		q := `INSERT INTO case_rate_counts (unit_id, metric, unit_of, variant, day, bucket, n) VALUES `
		args := make([]any, 0, len(chunk)*7)
		for j, k := range chunk {
			if j > 0 {
				q += ", "
			}
			q += "(?, ?, ?, ?, ?, ?, ?)"
			args = append(args, k.unit, k.cell.Metric, k.cell.UnitOf, k.cell.Variant, k.cell.Day, k.cell.Bucket, delta[k])
		}
		q += ` ON CONFLICT (unit_id, metric, unit_of, variant, day, bucket) DO UPDATE SET n = case_rate_counts.n + excluded.n`
		if _, err := s.exec(ctx, q, args...); err != nil {
			return fmt.Errorf("sqlstore: rate counts: %w", err)
		}
	}
	return nil
}

// putFacts stores a case's new facts and moves its cells from the old ones (had: there were any).
func (s *Store) putFacts(ctx context.Context, caseID int64, path string, old factsRow, had bool, next factsRow) error {
	if had && old == next {
		return nil
	}
	h, err := s.horizon(ctx)
	if err != nil {
		return err
	}
	delta := map[countKey]int64{}
	ids := pathIDs(path)
	if had {
		addCells(delta, ids, old.facts(), h, -1)
	}
	addCells(delta, ids, next.facts(), h, 1)
	if err := s.applyCounts(ctx, delta); err != nil {
		return err
	}
	q := `INSERT INTO case_rate_facts (case_id, ` + factsCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (case_id) DO UPDATE SET unit_of = excluded.unit_of, acc_start = excluded.acc_start, decided = excluded.decided,
		accepted = excluded.accepted, fast = excluded.fast, ext_days = excluded.ext_days, answered = excluded.answered,
		sat = excluded.sat, repeat_depth = excluded.repeat_depth`
	if _, err := s.exec(ctx, q, append([]any{caseID}, next.args()...)...); err != nil {
		return fmt.Errorf("sqlstore: rate facts: %w", err)
	}
	return nil
}

func (s *Store) unitPath(ctx context.Context, unitID int64) (string, error) {
	var path string
	if err := s.q.QueryRowContext(ctx, s.rebind(`SELECT path FROM units WHERE id = ?`), unitID).Scan(&path); err != nil {
		return "", notFound(err, "unit path")
	}
	return path, nil
}

// refreshRates re-derives a case's facts from its timeline and rating and moves its counts.
func (s *Store) refreshRates(ctx context.Context, caseID int64) error {
	c, err := s.GetCase(ctx, caseID)
	if err != nil {
		return err
	}
	evs, err := s.ListCaseEvents(ctx, caseID)
	if err != nil {
		return err
	}
	evals, err := s.ListEvaluations(ctx, caseID)
	if err != nil {
		return err
	}
	old, had, err := s.loadFacts(ctx, caseID)
	if err != nil {
		return err
	}
	f := scheduler.CaseFacts{Clock: scheduler.ClockOf(c, evs, scheduler.DefaultRules()), Sat: scheduler.SatOf(evals), RepeatDepth: -1}
	if had {
		f.RepeatDepth = old.repeatDepth
	}
	path, err := s.unitPath(ctx, c.UnitID)
	if err != nil {
		return err
	}
	return s.putFacts(ctx, caseID, path, old, had, factsRowOf(f))
}

// lcaDepth is the depth of the deepest unit above both paths (-1: none).
func lcaDepth(a, b []int64) int {
	d := -1
	for i := 0; i < len(a) && i < len(b) && a[i] == b[i]; i++ {
		d = i
	}
	return d
}

// refreshRepeats sets the repeat depth of a new (or newly identified) case from the earlier cases
// of the same people and category, and raises that of the later ones it is now earlier than.
func (s *Store) refreshRepeats(ctx context.Context, caseID int64) error {
	c, err := s.GetCase(ctx, caseID)
	if err != nil {
		return err
	}
	ids := scheduler.RepeatIDs(c)
	if len(ids) == 0 {
		return nil
	}
	type member struct {
		id, reg int64
		path    string
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
	args := []any{c.CategoryID}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := s.q.QueryContext(ctx, s.rebind(`SELECT DISTINCT c.id, c.registered_at, u.path FROM case_petitioners p
		JOIN cases c ON c.id = p.case_id JOIN units u ON u.id = c.unit_id
		WHERE c.category_id = ? AND p.id_number IN (`+marks+`)`), args...)
	if err != nil {
		return fmt.Errorf("sqlstore: repeat petitions: %w", err)
	}
	var group []member
	for rows.Next() {
		var m member
		if err := rows.Scan(&m.id, &m.reg, &m.path); err != nil {
			rows.Close()
			return fmt.Errorf("sqlstore: repeat petitions: %w", err)
		}
		group = append(group, m)
	}
	err = rows.Err()
	rows.Close() // before the writes: a transaction has one connection
	if err != nil {
		return fmt.Errorf("sqlstore: repeat petitions: %w", err)
	}
	myPath, err := s.unitPath(ctx, c.UnitID)
	if err != nil {
		return err
	}
	mine, reg := pathIDs(myPath), tm(c.RegisteredAt)
	depth := -1
	for _, m := range group {
		if m.id == caseID {
			continue
		}
		lca := lcaDepth(mine, pathIDs(m.path))
		switch {
		case m.reg < reg:
			depth = max(depth, lca)
		case m.reg > reg:
			if err := s.raiseRepeat(ctx, m.id, m.path, lca); err != nil {
				return err
			}
		}
	}
	old, had, err := s.loadFacts(ctx, caseID)
	if err != nil || !had {
		return err
	}
	next := old
	next.repeatDepth = depth
	return s.putFacts(ctx, caseID, myPath, old, had, next)
}

// raiseRepeat makes a case a repeat at least down to depth.
func (s *Store) raiseRepeat(ctx context.Context, caseID int64, path string, depth int) error {
	old, had, err := s.loadFacts(ctx, caseID)
	if err != nil || !had || old.repeatDepth >= depth {
		return err
	}
	next := old
	next.repeatDepth = depth
	return s.putFacts(ctx, caseID, path, old, had, next)
}

// metricCodes number the metrics for the packed read of RateCounts.
var metricCodes = []string{scheduler.MetricHandling, scheduler.MetricAcceptance, scheduler.MetricCases, scheduler.MetricRepeat, scheduler.MetricSatisfied}

// RateCounts implements scheduler.RateStore. The cells come packed into one integer beside the
// unit and the count: most of reading tens of thousands of rows is handing each column over, and
// the store does the packing in its own loop far faster (docs/benchmarks.md).
func (s *Store) RateCounts(ctx context.Context, underPath string) ([]scheduler.RateRow, error) {
	where, args := `unit_id IN (SELECT id FROM units WHERE parent_id IS NULL)`, []any{}
	if underPath != "" {
		where, args = `unit_id = (SELECT id FROM units WHERE path = ?)`, []any{underPath}
	}
	metric := "CASE metric"
	for i, m := range metricCodes {
		metric += fmt.Sprintf(" WHEN '%s' THEN %d", m, i)
	}
	// variant < 2^7, bucket + 1 < 2^21 (BucketLate is 2^20), day + 2^16 < 2^21.
	rows, err := s.q.QueryContext(ctx, s.rebind(`SELECT unit_of, (`+metric+` END) | (CAST(variant AS BIGINT) << 3) | ((CAST(bucket AS BIGINT) + 1) << 10) | ((CAST(day AS BIGINT) + 65536) << 31), n
		FROM case_rate_counts WHERE `+where+` AND n <> 0`), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: rate counts: %w", err)
	}
	defer rows.Close()
	var out []scheduler.RateRow
	for rows.Next() {
		var r scheduler.RateRow
		var packed int64
		if err := rows.Scan(&r.UnitOf, &packed, &r.N); err != nil {
			return nil, fmt.Errorf("sqlstore: rate counts: %w", err)
		}
		code := int(packed & 7)
		if code >= len(metricCodes) {
			return nil, fmt.Errorf("sqlstore: rate counts: unknown metric code %d", code)
		}
		r.Metric, r.Variant = metricCodes[code], int(packed>>3&127)
		r.Bucket, r.Day = int(packed>>10&(1<<21-1))-1, int(packed>>31)-65536
		out = append(out, r)
	}
	return out, rows.Err()
}

// ensureRateCounts rebuilds the counts when some case has no facts (a store that came from before
// migration 0008, or cases written around the store).
func (s *Store) ensureRateCounts(ctx context.Context) error {
	var cases, facts int64
	if err := s.q.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM cases), (SELECT COUNT(*) FROM case_rate_facts)`).Scan(&cases, &facts); err != nil {
		return fmt.Errorf("sqlstore: rate counts: %w", err)
	}
	if cases == facts {
		return nil
	}
	return s.RebuildRateCounts(ctx)
}

// RebuildRateCounts derives every case's facts from its timeline and rating again and replaces the
// counts, in one transaction. It reads the cases a thousand at a time: a store of a million cases
// takes a minute or two.
func (s *Store) RebuildRateCounts(ctx context.Context) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		for _, q := range []string{`DELETE FROM case_rate_counts`, `DELETE FROM case_rate_facts`} {
			if _, err := tx.exec(ctx, q); err != nil {
				return fmt.Errorf("sqlstore: rebuild rate counts: %w", err)
			}
		}
		h, err := tx.horizon(ctx)
		if err != nil {
			return err
		}
		counts := map[countKey]int64{}
		paths := map[int64][]int64{} // case → its unit path, for the repeat pass
		var after int64
		for {
			n, last, err := tx.rebuildBatch(ctx, after, h, counts, paths)
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
			after = last
		}
		depths, err := tx.repeatDepths(ctx)
		if err != nil {
			return err
		}
		for id, d := range depths {
			for depth, unit := range paths[id] {
				if depth <= d {
					counts[countKey{unit, scheduler.RateCell{Metric: scheduler.MetricRepeat}}]++
				}
			}
			if _, err := tx.exec(ctx, `UPDATE case_rate_facts SET repeat_depth = ? WHERE case_id = ?`, d, id); err != nil {
				return fmt.Errorf("sqlstore: rebuild rate counts: %w", err)
			}
		}
		return tx.applyCounts(ctx, counts)
	})
}

// rebuildBatch derives the facts of up to a thousand cases after the id after, stores them and
// adds their cells (the repeat cells aside) to counts.
func (s *Store) rebuildBatch(ctx context.Context, after int64, horizon int, counts map[countKey]int64, paths map[int64][]int64) (int, int64, error) {
	const per = 1000
	rows, err := s.q.QueryContext(ctx, s.rebind(`SELECT c.id, c.unit_id, c.responsible_unit_id, c.registered_at, c.accepted_at,
		c.fast_track, u.path FROM cases c JOIN units u ON u.id = c.unit_id WHERE c.id > ? ORDER BY c.id LIMIT `+strconv.Itoa(per)), after)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlstore: rebuild rate counts: %w", err)
	}
	type one struct {
		c     scheduler.Case
		path  string
		evs   []scheduler.CaseEvent
		sat   int
		facts factsRow
	}
	var batch []*one
	byID := map[int64]*one{}
	for rows.Next() {
		o := &one{sat: -1}
		var resp sql.NullInt64
		var reg, acc int64
		var fast int
		if err := rows.Scan(&o.c.ID, &o.c.UnitID, &resp, &reg, &acc, &fast, &o.path); err != nil {
			rows.Close()
			return 0, 0, fmt.Errorf("sqlstore: rebuild rate counts: %w", err)
		}
		o.c.ResponsibleUnitID, o.c.RegisteredAt, o.c.AcceptedAt, o.c.FastTrack = resp.Int64, fromTm(reg), fromTm(acc), fast != 0
		batch = append(batch, o)
		byID[o.c.ID] = o
	}
	err = rows.Err()
	rows.Close()
	if err != nil || len(batch) == 0 {
		return 0, 0, err
	}
	lo, hi := batch[0].c.ID, batch[len(batch)-1].c.ID
	evRows, err := s.q.QueryContext(ctx, s.rebind(`SELECT case_id, at, to_status, days FROM case_events
		WHERE case_id BETWEEN ? AND ? AND kind = 'status' ORDER BY case_id, id`), lo, hi)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlstore: rebuild rate counts: %w", err)
	}
	for evRows.Next() {
		var id, at int64
		var to string
		var days int
		if err := evRows.Scan(&id, &at, &to, &days); err != nil {
			evRows.Close()
			return 0, 0, fmt.Errorf("sqlstore: rebuild rate counts: %w", err)
		}
		o := byID[id]
		o.evs = append(o.evs, scheduler.CaseEvent{Kind: scheduler.EvStatus, At: fromTm(at), To: scheduler.CaseStatus(to), Days: days})
	}
	err = evRows.Err()
	evRows.Close()
	if err != nil {
		return 0, 0, fmt.Errorf("sqlstore: rebuild rate counts: %w", err)
	}
	satRows, err := s.q.QueryContext(ctx, s.rebind(`SELECT case_id, score FROM case_evaluations WHERE case_id BETWEEN ? AND ? AND stage = 'result'`), lo, hi)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlstore: rebuild rate counts: %w", err)
	}
	for satRows.Next() {
		var id int64
		var score string
		if err := satRows.Scan(&id, &score); err != nil {
			satRows.Close()
			return 0, 0, fmt.Errorf("sqlstore: rebuild rate counts: %w", err)
		}
		byID[id].sat = scheduler.SatOf([]scheduler.Evaluation{{Stage: scheduler.EvalResult, Score: score}})
	}
	err = satRows.Err()
	satRows.Close()
	if err != nil {
		return 0, 0, fmt.Errorf("sqlstore: rebuild rate counts: %w", err)
	}
	q := `INSERT INTO case_rate_facts (case_id, ` + factsCols + `) VALUES `
	args := make([]any, 0, len(batch)*10)
	for i, o := range batch {
		f := scheduler.CaseFacts{Clock: scheduler.ClockOf(o.c, o.evs, scheduler.DefaultRules()), Sat: o.sat, RepeatDepth: -1}
		ids := pathIDs(o.path)
		paths[o.c.ID] = ids
		addCells(counts, ids, f, horizon, 1)
		if i > 0 {
			q += ", "
		}
		q += "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		args = append(append(args, o.c.ID), factsRowOf(f).args()...)
	}
	if _, err := s.exec(ctx, q, args...); err != nil {
		return 0, 0, fmt.Errorf("sqlstore: rebuild rate counts: %w", err)
	}
	return len(batch), hi, nil
}

// repeatDepths computes every repeat case's depth from all petitioners at once, grouped by
// person and category in registration order.
func (s *Store) repeatDepths(ctx context.Context) (map[int64]int, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT p.id_number, c.category_id, c.registered_at, c.id, u.path FROM case_petitioners p
		JOIN cases c ON c.id = p.case_id JOIN units u ON u.id = c.unit_id
		WHERE p.id_number <> '' AND p.id_number NOT LIKE '%*%' ORDER BY p.id_number, c.category_id, c.registered_at`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: rebuild repeat petitions: %w", err)
	}
	defer rows.Close()
	type member struct {
		id, reg int64
		path    []int64
	}
	depths := map[int64]int{}
	var group []member
	var key string
	flush := func() {
		for i, g := range group {
			for _, e := range group[:i] {
				if e.reg < g.reg && e.id != g.id {
					d := lcaDepth(g.path, e.path)
					if cur, ok := depths[g.id]; !ok || d > cur {
						depths[g.id] = d
					}
				}
			}
		}
		group = group[:0]
	}
	for rows.Next() {
		var idn, path string
		var cat int64
		var m member
		if err := rows.Scan(&idn, &cat, &m.reg, &m.id, &path); err != nil {
			return nil, fmt.Errorf("sqlstore: rebuild repeat petitions: %w", err)
		}
		if k := idn + "/" + strconv.FormatInt(cat, 10); k != key {
			flush()
			key = k
		}
		m.path = pathIDs(path)
		group = append(group, m)
	}
	flush()
	return depths, rows.Err()
}

// FoldRateCounts implements scheduler.RateStore.
func (s *Store) FoldRateCounts(ctx context.Context, day int) (int, error) {
	h, err := s.horizon(ctx)
	if err != nil || day <= h {
		return h, err
	}
	err = s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		// Taking the row first: another node folding to the same day finds it done.
		r, err := tx.exec(ctx, `UPDATE case_rate_horizon SET day = ? WHERE id = 1 AND day < ?`, day, day)
		if err != nil {
			return fmt.Errorf("sqlstore: rate horizon: %w", err)
		}
		if n, err := r.RowsAffected(); err != nil || n == 0 {
			return err
		}
		// The running cells the new horizon can fold and the old one did not: L + slack between
		// the two (a cell the old horizon passed but could not fold spans two years, and still
		// does). FoldRunning decides each one exactly. bucket = -1 (BucketRunning) is written out:
		// the partial index case_rate_counts_running says so.
		rows, err := tx.q.QueryContext(ctx, tx.rebind(`SELECT unit_id, metric, unit_of, variant, day, bucket, n FROM case_rate_counts
			WHERE bucket = -1 AND day >= ? AND day < ? AND n <> 0`), max(h-scheduler.RateSlackMax, 0), day)
		if err != nil {
			return fmt.Errorf("sqlstore: fold rate counts: %w", err)
		}
		delta := map[countKey]int64{}
		for rows.Next() {
			var k countKey
			var n int64
			if err := rows.Scan(&k.unit, &k.cell.Metric, &k.cell.UnitOf, &k.cell.Variant, &k.cell.Day, &k.cell.Bucket, &n); err != nil {
				rows.Close()
				return fmt.Errorf("sqlstore: fold rate counts: %w", err)
			}
			if folded, ok := scheduler.FoldRunning(k.cell, day); ok {
				delta[k] -= n
				delta[countKey{k.unit, folded}] += n
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("sqlstore: fold rate counts: %w", err)
		}
		return tx.applyCounts(ctx, delta)
	})
	if err != nil {
		return 0, err
	}
	return s.horizon(ctx)
}
