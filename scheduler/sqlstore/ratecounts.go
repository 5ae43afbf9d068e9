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
	"sanji/scheduler/casework"
	"sanji/scheduler/rates"
)

// Rate counts: rates.RateStore. Every change of a case's timeline, rating or petitioners
// re-derives its facts (case_rate_facts) and moves its cells in the counts of each unit it is
// counted under (case_rate_counts), in the transaction of the change.

// factsRow is a case's row of case_rate_facts.
type factsRow struct {
	unitID, unitOf, accUnit     int64
	accStart, decided, accepted int64
	fast, extDays               int
	answered, category          int64
	territory                   string
	month                       int
	score                       string
	repeat                      int
	closed, returned            int64
	outcome                     string
	registered, routed          int64
	ratable                     int
	forwards                    string // the forwarding periods (encodeForwards)
}

const factsCols = `unit_id, unit_of, acc_unit, acc_start, decided, accepted, fast, ext_days, answered, category_id, territory,
	month, score, is_repeat, closed, returned, outcome, registered, routed, ratable, forwards`

func (r *factsRow) scan(sc interface{ Scan(...any) error }, extra ...any) error {
	return sc.Scan(append(extra, &r.unitID, &r.unitOf, &r.accUnit, &r.accStart, &r.decided, &r.accepted, &r.fast, &r.extDays,
		&r.answered, &r.category, &r.territory, &r.month, &r.score, &r.repeat, &r.closed, &r.returned, &r.outcome, &r.registered, &r.routed, &r.ratable, &r.forwards)...)
}

func (r factsRow) args() []any {
	return []any{r.unitID, r.unitOf, r.accUnit, r.accStart, r.decided, r.accepted, r.fast, r.extDays, r.answered, r.category,
		r.territory, r.month, r.score, r.repeat, r.closed, r.returned, r.outcome, r.registered, r.routed, r.ratable, r.forwards}
}

func (r factsRow) facts() rates.CaseFacts {
	return rates.CaseFacts{Clock: rates.RateClock{AccStart: fromTm(r.accStart), AccUnit: r.accUnit, Decided: fromTm(r.decided),
		Accepted: fromTm(r.accepted), Fast: r.fast != 0, ExtDays: r.extDays, Answered: fromTm(r.answered), UnitOf: r.unitOf,
		Routed: fromTm(r.routed)},
		Category: r.category, Territory: r.territory, Month: r.month, Score: r.score, Repeat: r.repeat != 0,
		Closed: fromTm(r.closed), Returned: fromTm(r.returned), Outcome: casework.CaseOutcome(r.outcome),
		Registered: fromTm(r.registered), RegUnit: r.unitID, Ratable: r.ratable != 0, Forwards: decodeForwards(r.forwards)}
}

// encodeForwards writes forwarding periods as "unit:start:end" (times as tm) joined by ",", so
// that the facts stay one comparable row.
func encodeForwards(ps []rates.ForwardPeriod) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d:%d:%d", p.Unit, tm(p.Start), tm(p.End))
	}
	return b.String()
}

// decodeForwards reads what encodeForwards wrote; the store writes it, so a malformed part reads
// as zero.
func decodeForwards(s string) []rates.ForwardPeriod {
	if s == "" {
		return nil
	}
	var out []rates.ForwardPeriod
	for _, part := range strings.Split(s, ",") {
		var unit, start, end int64
		if f := strings.Split(part, ":"); len(f) == 3 {
			unit, _ = strconv.ParseInt(f[0], 10, 64)
			start, _ = strconv.ParseInt(f[1], 10, 64)
			end, _ = strconv.ParseInt(f[2], 10, 64)
		}
		out = append(out, rates.ForwardPeriod{Unit: unit, Start: fromTm(start), End: fromTm(end)})
	}
	return out
}

// factsOf derives a case's facts from its timeline and ratings; whether it is a repeat and when
// its person came back are the other cases' to say (personFacts), and are left as they were.
func factsOf(c casework.Case, evs []casework.CaseEvent, evals []casework.Evaluation) factsRow {
	cl := rates.ClockOf(c, evs, casework.DefaultRules())
	r := factsRow{unitID: c.UnitID, unitOf: cl.UnitOf, accUnit: cl.AccUnit, accStart: tm(cl.AccStart), decided: tm(cl.Decided),
		accepted: tm(cl.Accepted), fast: b2i(cl.Fast), extDays: cl.ExtDays, answered: tm(cl.Answered), category: c.CategoryID,
		territory: c.Territory, month: rates.MonthNumber(c.RegisteredAt), outcome: string(c.Outcome), registered: tm(c.RegisteredAt),
		routed: tm(cl.Routed), ratable: b2i(rates.ShouldRateResult(c, evs)), forwards: encodeForwards(rates.ForwardPeriods(evs))}
	for _, e := range evals {
		if e.Stage == casework.EvalResult {
			r.score = e.Score
		}
	}
	for _, e := range evs {
		if e.Kind == casework.EvStatus && e.To == casework.StClosed {
			r.closed = tm(e.At)
			break
		}
	}
	return r
}

func (s *Store) loadFacts(ctx context.Context, caseID int64) (factsRow, bool, error) {
	var r factsRow
	err := r.scan(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+factsCols+` FROM case_rate_facts WHERE case_id = ?`), caseID))
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

// unitPaths reads the paths of units, for the sets of units cases are counted under.
type unitPaths map[int64][]int64

func (s *Store) unitPaths(ctx context.Context, ids ...int64) (unitPaths, error) {
	out := unitPaths{}
	for _, id := range ids {
		if _, ok := out[id]; ok || id == 0 {
			continue
		}
		var path string
		if err := s.q.QueryRowContext(ctx, s.rebind(`SELECT path FROM units WHERE id = ?`), id).Scan(&path); err != nil {
			return nil, notFound(err, "unit path")
		}
		out[id] = pathIDs(path)
	}
	return out, nil
}

// countedUnder are the units a case with facts r is counted under: those above its registering
// unit and above the unit it is routed to, each once.
func (p unitPaths) countedUnder(r factsRow) []int64 {
	out := append([]int64(nil), p[r.unitID]...)
	for _, id := range p[r.unitOf] {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

type countKey struct {
	unit int64
	cell rates.RateCell
}

// addCells adds sign × the cells of r at horizon to the counts of each unit it is counted under.
func addCells(delta map[countKey]int64, units []int64, r factsRow, horizon int, sign int64) {
	cells := r.facts().Cells(horizon)
	for _, unit := range units {
		for _, c := range cells {
			delta[countKey{unit, c}] += sign
		}
	}
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

// horizon reads the day the counts are folded up to. On PostgreSQL the row is share-locked until
// the transaction ends: a fold (which updates it) waits for the cells written meanwhile, and they
// for it, so no cell is written under a horizon that is moving.
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

// putFacts stores a case's new facts and moves its cells from the old ones (had: there were any).
func (s *Store) putFacts(ctx context.Context, caseID int64, old factsRow, had bool, next factsRow) error {
	if had && old == next {
		return nil
	}
	h, err := s.horizon(ctx)
	if err != nil {
		return err
	}
	paths, err := s.unitPaths(ctx, old.unitID, old.unitOf, next.unitID, next.unitOf)
	if err != nil {
		return err
	}
	delta := map[countKey]int64{}
	if had {
		addCells(delta, paths.countedUnder(old), old, h, -1)
	}
	addCells(delta, paths.countedUnder(next), next, h, 1)
	if err := s.applyCounts(ctx, delta); err != nil {
		return err
	}
	q := `INSERT INTO case_rate_facts (case_id, ` + factsCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (case_id) DO UPDATE SET unit_id = excluded.unit_id, unit_of = excluded.unit_of, acc_unit = excluded.acc_unit,
		acc_start = excluded.acc_start, decided = excluded.decided, accepted = excluded.accepted, fast = excluded.fast,
		ext_days = excluded.ext_days, answered = excluded.answered, category_id = excluded.category_id, territory = excluded.territory,
		month = excluded.month, score = excluded.score, is_repeat = excluded.is_repeat, closed = excluded.closed, returned = excluded.returned,
		outcome = excluded.outcome, registered = excluded.registered, routed = excluded.routed, ratable = excluded.ratable,
		forwards = excluded.forwards`
	if _, err := s.exec(ctx, q, append([]any{caseID}, next.args()...)...); err != nil {
		return fmt.Errorf("sqlstore: rate facts: %w", err)
	}
	return nil
}

// refreshRates re-derives a case's facts after a change of its timeline or rating and moves its
// counts; a case closed for the first time learns whether its person came back since.
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
	next := factsOf(c, evs, evals)
	next.repeat, next.returned = old.repeat, old.returned
	if !had || next.closed != old.closed {
		group, err := s.samePerson(ctx, c)
		if err != nil {
			return err
		}
		next.repeat, next.returned = group.of(c.ID, tm(c.RegisteredAt), next.closed)
	}
	return s.putFacts(ctx, caseID, old, had, next)
}

// personCase is a case of the same person and category as another.
type personCase struct {
	id, reg int64
}

type personGroup []personCase

// of says whether the case id registered at reg is a repeat in the group (an earlier case, or
// one at the same instant with a smaller id), and when the first case after closed was (0: none).
func (g personGroup) of(id, reg, closed int64) (repeat int, returned int64) {
	for _, o := range g {
		if o.id == id {
			continue
		}
		if o.reg < reg || (o.reg == reg && o.id < id) {
			repeat = 1
		}
		if closed != 0 && o.reg > closed && (returned == 0 || o.reg < returned) {
			returned = o.reg
		}
	}
	return repeat, returned
}

// samePerson lists the cases of the same person and matter as c (同人同事, casework.MatchMatter),
// c included: the person's cases through casework.PersonsCases, the one "same person" query.
func (s *Store) samePerson(ctx context.Context, c casework.Case) (personGroup, error) {
	if len(rates.PersonIDs(c)) == 0 {
		return nil, nil
	}
	others, err := casework.PersonsCases(ctx, s, c, casework.PersonLookback)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	out := personGroup{{id: c.ID, reg: tm(c.RegisteredAt)}}
	for _, o := range others {
		if casework.MatchMatter(c, o).Same() {
			out = append(out, personCase{id: o.ID, reg: tm(o.RegisteredAt)})
		}
	}
	return out, nil
}

// refreshRepeats sets, after a case is registered or its petitioners change, whether it is a
// repeat and when its person came back after its closure, and tells the same person's other cases
// of it: a later one becomes a repeat, an earlier closed one may have come back sooner.
func (s *Store) refreshRepeats(ctx context.Context, caseID int64) error {
	c, err := s.GetCase(ctx, caseID)
	if err != nil {
		return err
	}
	group, err := s.samePerson(ctx, c)
	if err != nil {
		return err
	}
	reg := tm(c.RegisteredAt)
	for _, o := range group {
		old, had, err := s.loadFacts(ctx, o.id)
		if err != nil {
			return err
		}
		if !had {
			continue // counted by the rebuild
		}
		next := old
		switch {
		case o.id == caseID:
			next.repeat, next.returned = group.of(o.id, o.reg, old.closed)
		default:
			if reg < o.reg || (reg == o.reg && caseID < o.id) {
				next.repeat = 1
			}
			if old.closed != 0 && reg > old.closed && (old.returned == 0 || reg < old.returned) {
				next.returned = reg
			}
		}
		if err := s.putFacts(ctx, o.id, old, had, next); err != nil {
			return err
		}
	}
	return nil
}

// metricCodes number the metrics for the packed read of RateCounts.
var metricCodes = []string{rates.MetricHandling, rates.MetricAcceptance, rates.MetricCases, rates.MetricCount,
	rates.MetricRepeat, rates.MetricScore, rates.MetricReturn, rates.MetricRouting, rates.MetricOutcome, rates.MetricRatable, rates.MetricForward} // at most 16: four bits

// RateCounts implements rates.RateStore. The cells come packed into one integer beside the
// unit and the count: most of reading tens of thousands of rows is handing each column over, and
// the database packs them in its own loop far faster (docs/benchmarks.md).
func (s *Store) RateCounts(ctx context.Context, underPath string) ([]rates.RateRow, error) {
	where, args := `unit_id IN (SELECT id FROM units WHERE parent_id IS NULL)`, []any{}
	if underPath != "" {
		where, args = `unit_id = (SELECT id FROM units WHERE path = ?)`, []any{underPath}
	}
	metric := "CASE metric"
	for i, m := range metricCodes {
		metric += fmt.Sprintf(" WHEN '%s' THEN %d", m, i)
	}
	// 4 bits of metric, 20 of variant (a category id in a count cell), 10 of bucket + 1 (at most
	// BucketLate + 1), 20 of day + 2^19.
	out, err := collect(ctx, s, func(sc scanner) (rates.RateRow, error) {
		var r rates.RateRow
		var packed int64
		if err := sc.Scan(&r.UnitOf, &packed, &r.N); err != nil {
			return r, err
		}
		code := int(packed & 15)
		if code >= len(metricCodes) {
			return r, fmt.Errorf("unknown metric code %d", code)
		}
		r.Metric, r.Variant = metricCodes[code], int(packed>>4&(1<<20-1))
		r.Bucket, r.Day = int(packed>>24&1023)-1, int(packed>>34)-524288
		return r, nil
	}, `SELECT unit_of, (`+metric+` END) | (CAST(variant AS BIGINT) << 4)
		| ((CAST(bucket AS BIGINT) + 1) << 24) | ((CAST(day AS BIGINT) + 524288) << 34), n
		FROM case_rate_counts WHERE `+where+` AND n <> 0`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: rate counts: %w", err)
	}
	return out, nil
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

// RebuildRateCounts derives every case's facts again — from its timeline and rating, then from all
// petitioners at once whether it is a repeat and when its person came back — and replaces the
// counts, in one transaction. A store of a million cases takes a minute or two.
func (s *Store) RebuildRateCounts(ctx context.Context) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		for _, q := range []string{`DELETE FROM case_rate_counts`, `DELETE FROM case_rate_facts`} {
			if _, err := tx.exec(ctx, q); err != nil {
				return fmt.Errorf("sqlstore: rebuild rate counts: %w", err)
			}
		}
		closed := map[int64]int64{} // case → closed at, for the return pass
		for after := int64(0); ; {
			last, err := tx.rebuildBatch(ctx, after, closed)
			if err != nil {
				return err
			}
			if last == 0 {
				break
			}
			after = last
		}
		if err := tx.rebuildPersons(ctx, closed); err != nil {
			return err
		}
		return tx.rebuildCounts(ctx)
	})
}

// rebuildBatch derives and stores the facts of up to a thousand cases after the id after (the
// person's part left for rebuildPersons) and returns the last id, 0 when there were none.
func (s *Store) rebuildBatch(ctx context.Context, after int64, closed map[int64]int64) (int64, error) {
	fail := func(err error) (int64, error) { return 0, fmt.Errorf("sqlstore: rebuild rate counts: %w", err) }
	batch, err := collect(ctx, s, func(sc scanner) (*casework.Case, error) {
		c := &casework.Case{}
		var resp sql.NullInt64
		var reg, acc int64
		var fast int
		var outcome, typ string
		err := sc.Scan(&c.ID, &c.UnitID, &resp, &c.CategoryID, &c.Territory, &reg, &acc, &fast, &outcome, &typ)
		c.ResponsibleUnitID, c.RegisteredAt, c.AcceptedAt, c.FastTrack = resp.Int64, fromTm(reg), fromTm(acc), fast != 0
		c.Outcome, c.Type = casework.CaseOutcome(outcome), casework.CaseType(typ)
		return c, err
	}, `SELECT id, unit_id, responsible_unit_id, category_id, territory, registered_at,
		accepted_at, fast_track, outcome, type FROM cases WHERE id > ? ORDER BY id LIMIT 1000`, after)
	if err != nil {
		return fail(err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	lo, hi := batch[0].ID, batch[len(batch)-1].ID
	evs := map[int64][]casework.CaseEvent{}
	err = s.eachRow(ctx, func(sc scanner) error {
		var id, at, resp int64
		var kind, to, reason string
		var days int
		if err := sc.Scan(&id, &at, &kind, &to, &resp, &days, &reason); err != nil {
			return err
		}
		e := casework.CaseEvent{Kind: kind, At: fromTm(at), To: casework.CaseStatus(to), ResponsibleUnitID: resp, Days: days}
		if kind == casework.EvServed {
			e.Reason = reason // the kind of document served
		}
		evs[id] = append(evs[id], e)
		return nil
	}, `SELECT case_id, at, kind, to_status, responsible_unit_id, days, reason FROM case_events
		WHERE case_id BETWEEN ? AND ? AND kind IN ('status', 'served') ORDER BY case_id, id`, lo, hi)
	if err != nil {
		return fail(err)
	}
	evals := map[int64][]casework.Evaluation{}
	err = s.eachRow(ctx, func(sc scanner) error {
		var id int64
		var score string
		if err := sc.Scan(&id, &score); err != nil {
			return err
		}
		evals[id] = append(evals[id], casework.Evaluation{Stage: casework.EvalResult, Score: score})
		return nil
	}, `SELECT case_id, score FROM case_evaluations WHERE case_id BETWEEN ? AND ? AND stage = 'result'`, lo, hi)
	if err != nil {
		return fail(err)
	}
	q := `INSERT INTO case_rate_facts (case_id, ` + factsCols + `) VALUES `
	args := make([]any, 0, len(batch)*22)
	for i, c := range batch {
		f := factsOf(*c, evs[c.ID], evals[c.ID])
		if f.closed != 0 {
			closed[c.ID] = f.closed
		}
		if i > 0 {
			q += ", "
		}
		q += "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		args = append(append(args, c.ID), f.args()...)
	}
	if _, err := s.exec(ctx, q, args...); err != nil {
		return fail(err)
	}
	return hi, nil
}

// rebuildPersons sets every case's repeat and return from all petitioners at once: each person's
// cases in registration order, compared pairwise by the matter rule (casework.MatchMatter).
func (s *Store) rebuildPersons(ctx context.Context, closed map[int64]int64) error {
	repeat, returned := map[int64]bool{}, map[int64]int64{}
	var group []personCase
	var cases []casework.Case
	flush := func() {
		for i := range group {
			for j := range group {
				if i == j || !casework.MatchMatter(cases[i], cases[j]).Same() {
					continue
				}
				// The group is in registration order, ties by id: an earlier one makes a repeat.
				if j < i {
					repeat[group[i].id] = true
				}
				if t, ok := closed[group[i].id]; ok && group[j].reg > t && (returned[group[i].id] == 0 || group[j].reg < returned[group[i].id]) {
					returned[group[i].id] = group[j].reg
				}
			}
		}
		group, cases = group[:0], cases[:0]
	}
	key := ""
	err := s.eachRow(ctx, func(sc scanner) error {
		var person string
		var pc personCase
		var c casework.Case
		var complained sql.NullInt64
		if err := sc.Scan(&person, &pc.reg, &pc.id, &c.CategoryID, &complained, &c.Title, &c.Content); err != nil {
			return err
		}
		if person != key {
			flush()
			key = person
		}
		if len(group) == 0 || group[len(group)-1].id != pc.id { // two petitioners of one case with one number
			c.ID, c.ComplainedUnitID, c.Petitioners = pc.id, complained.Int64, []casework.Petitioner{{IDNumber: person}}
			group, cases = append(group, pc), append(cases, c)
		}
		return nil
	}, `SELECT p.id_index AS person, c.registered_at, c.id, c.category_id, c.complained_unit_id, c.title,
		SUBSTR(c.content, 1, `+strconv.Itoa(casework.MatterTextRunes)+`)
		FROM case_petitioners p JOIN cases c ON c.id = p.case_id
		WHERE p.id_index <> '' ORDER BY person, c.registered_at, c.id`)
	if err != nil {
		return fmt.Errorf("sqlstore: rebuild repeat petitions: %w", err)
	}
	flush()
	for id := range repeat {
		if _, err := s.exec(ctx, `UPDATE case_rate_facts SET is_repeat = 1 WHERE case_id = ?`, id); err != nil {
			return fmt.Errorf("sqlstore: rebuild repeat petitions: %w", err)
		}
	}
	for id, r := range returned {
		if _, err := s.exec(ctx, `UPDATE case_rate_facts SET returned = ? WHERE case_id = ?`, r, id); err != nil {
			return fmt.Errorf("sqlstore: rebuild returns: %w", err)
		}
	}
	return nil
}

// rebuildCounts sums every case's cells from its facts.
func (s *Store) rebuildCounts(ctx context.Context) error {
	h, err := s.horizon(ctx)
	if err != nil {
		return err
	}
	paths := unitPaths{}
	err = s.eachRow(ctx, func(sc scanner) error {
		var id int64
		var path string
		if err := sc.Scan(&id, &path); err != nil {
			return err
		}
		paths[id] = pathIDs(path)
		return nil
	}, `SELECT id, path FROM units`)
	if err != nil {
		return fmt.Errorf("sqlstore: rebuild rate counts: %w", err)
	}
	counts := map[countKey]int64{}
	err = s.eachRow(ctx, func(sc scanner) error {
		var r factsRow
		if err := r.scan(sc); err != nil {
			return err
		}
		addCells(counts, paths.countedUnder(r), r, h, 1)
		return nil
	}, `SELECT `+factsCols+` FROM case_rate_facts`)
	if err != nil {
		return fmt.Errorf("sqlstore: rebuild rate counts: %w", err)
	}
	return s.applyCounts(ctx, counts)
}

// FoldRateCounts implements rates.RateStore.
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
		// The cells the new horizon can fold and the old one did not: running periods whose L is
		// at most the longest slack before the old horizon (one the old horizon passed but could
		// not fold spans two years, and still does), return windows a year before the two, and
		// returns not folded yet. Fold decides each exactly. The conditions are written as the
		// partial indexes say them.
		delta := map[countKey]int64{}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`SELECT unit_id, metric, unit_of, variant, day, bucket, n FROM case_rate_counts WHERE bucket = -1 AND day >= ? AND day < ? AND n <> 0
				AND metric <> 'return'`, []any{max(h-rates.RateSlackMax-1, 0), day}},
			{`SELECT unit_id, metric, unit_of, variant, day, bucket, n FROM case_rate_counts WHERE bucket = -1 AND day >= ? AND day < ? AND n <> 0
				AND metric = 'return'`, []any{max(h-rates.MaxRepetitionDays-1, 0), day - rates.MaxRepetitionDays}},
			{`SELECT unit_id, metric, unit_of, variant, day, bucket, n FROM case_rate_counts WHERE metric = 'return' AND bucket >= 0 AND day >= 0 AND day < ? AND n <> 0`,
				[]any{day}},
		} {
			err := tx.eachRow(ctx, func(sc scanner) error {
				var k countKey
				var n int64
				if err := sc.Scan(&k.unit, &k.cell.Metric, &k.cell.UnitOf, &k.cell.Variant, &k.cell.Day, &k.cell.Bucket, &n); err != nil {
					return err
				}
				if folded, ok := rates.Fold(k.cell, day); ok {
					delta[k] -= n
					delta[countKey{k.unit, folded}] += n
				}
				return nil
			}, q.sql, q.args...)
			if err != nil {
				return fmt.Errorf("sqlstore: fold rate counts: %w", err)
			}
		}
		return tx.applyCounts(ctx, delta)
	})
	if err != nil {
		return 0, err
	}
	return s.horizon(ctx)
}
