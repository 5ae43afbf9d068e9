package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"sort"
	"strconv"
	"testing"
	"time"

	"sanji/auth"
	"sanji/scheduler/api"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
	"sanji/scheduler/rates"
	"sanji/scheduler/sqlstore"
)

// BenchmarkRates1M reads the rates (what GET /api/v1/rates computes) over 1,000,000 cases of a
// city of ten districts and a hundred townships, registered over 2025–2026: the whole city, one
// district, one township, and the HTTP route itself as the city's leader. The cases, with their
// timelines, petitioners and ratings, are written with plain SQL, then the store rebuilds its
// counts from them (RebuildRateCounts, the path a store upgraded to migration 0008 takes): setting
// up takes a few minutes. docs/benchmarks.md has the method and the results.
func BenchmarkRates1M(b *testing.B) {
	ctx := context.Background()
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("SANJI_BENCH_CASES")); err == nil && v > 0 {
		n = v // a smaller run while working on the benchmark itself
	}
	st, city, district, township := ratesBenchStore(b, n)
	cal, err := calendar.LoadCalendar(ctx, st)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2027, 1, 5, 10, 0, 0, 0, calendar.ChinaTZ)
	rules := casework.DefaultRules()

	// The first reading of a day folds the running periods up to it: once from nothing (a store
	// just upgraded), then a day's worth.
	for _, day := range []int{rates.LegalDayNumber(now) - 1, rates.LegalDayNumber(now)} {
		t0 := time.Now()
		if _, err := st.FoldRateCounts(ctx, day); err != nil {
			b.Fatal(err)
		}
		b.Logf("folded the counts to %s in %s", time.Unix(int64(day)*86400, 0).UTC().Format("2006-01-02"), time.Since(t0).Round(time.Millisecond))
	}
	// The counts must say what the timelines say; a township is small enough to check that way.
	t0 := time.Now()
	want, err := rates.RatesFromTimelines(ctx, st, rates.RatesQuery{UnderPaths: []string{township.Path}}, cal, rules, now)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("township %s from its %d timelines (the way before the counts): %s", township.Code, want.Repeat.Den, time.Since(t0).Round(time.Millisecond))
	got, err := rates.RatesFor(ctx, st, rates.RatesQuery{UnderPaths: []string{township.Path}}, cal, rules, now)
	if err != nil || !reflect.DeepEqual(got, want) {
		b.Fatalf("township %s: from the counts %+v (%v), from the timelines %+v", township.Code, got, err, want)
	}

	run := func(name string, op func() error) {
		b.Run(name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if err := op(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
	var last rates.Rates
	ratesOf := func(u org.Unit) func() error {
		return func() error {
			// What the route does per subtree: the calendar as the store holds it, then the rates.
			cal, err := calendar.LoadCalendar(ctx, st)
			if err != nil {
				return err
			}
			last, err = rates.RatesFor(ctx, st, rates.RatesQuery{UnderPaths: []string{u.Path}}, cal, rules, now)
			return err
		}
	}
	run("city", ratesOf(city))
	if last.Cases != n {
		b.Fatalf("the city's rates count %d cases", last.Repeat.Den)
	}
	b.Logf("city: forwarding %d/%d, acceptance %d/%d, on time %d/%d, satisfied %d/%d, repeat %d/%d, back within %d days %d/%d, overdue units %d, counts %d, uncounted %d",
		last.TimelyForwarding.Num, last.TimelyForwarding.Den, last.TimelyAcceptance.Num, last.TimelyAcceptance.Den, last.OnTimeClosure.Num, last.OnTimeClosure.Den,
		last.Satisfaction.Num, last.Satisfaction.Den, last.Repeat.Num, last.Repeat.Den, last.RepetitionDays, last.Repetitioned.Num,
		last.Repetitioned.Den, len(last.Overdue), len(last.Counts), last.Uncounted)
	var breakdown []string
	rows, err := st.DB().QueryContext(ctx, `SELECT metric, CASE WHEN day < 0 THEN 'folded' WHEN bucket = -1 THEN 'running'
		WHEN bucket = 0 THEN 'on time' WHEN bucket = 1000 THEN 'late' ELSE 'near due' END AS kind, COUNT(*) FROM case_rate_counts
		WHERE unit_id = ? AND n <> 0 GROUP BY metric, kind ORDER BY metric, kind`, city.ID)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var m, k string
		var c int
		if err := rows.Scan(&m, &k, &c); err != nil {
			b.Fatal(err)
		}
		breakdown = append(breakdown, fmt.Sprintf("%s %s %d", m, k, c))
	}
	rows.Close()
	b.Logf("the city's cells after the fold: %v", breakdown)
	run("district", ratesOf(district))
	run("township", ratesOf(township))

	leader := org.User{Kind: org.UserPerson, Username: "leader", DisplayName: "市领导", UnitID: city.ID, PasswordHash: "x"}
	if err := st.CreateUser(ctx, &leader); err != nil {
		b.Fatal(err)
	}
	if err := st.AddGrant(ctx, &org.Grant{UserID: leader.ID, Role: org.RoleLeader, UnitID: city.ID}); err != nil {
		b.Fatal(err)
	}
	tok, _ := auth.RandomToken(32)
	if err := st.CreateAPIToken(ctx, &org.APIToken{UserID: leader.ID, Name: "bench", Hash: auth.HashToken(tok), Scopes: []string{org.ActStatsRead}}); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{Store: st, Signer: auth.NewSigner([]byte("0123456789abcdef0123456789abcdef")),
		Now: func() time.Time { return now }}))
	b.Cleanup(srv.Close)
	run("route", func() error {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/rates", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("GET /api/v1/rates: %s", resp.Status)
		}
		return nil
	})
}

// ratesBenchStore makes a store of n generated cases and returns it with the city, its first
// district and that district's first township.
func ratesBenchStore(b *testing.B, n int) (*sqlstore.Store, org.Unit, org.Unit, org.Unit) {
	b.Helper()
	ctx := context.Background()
	t0 := time.Now()
	// SANJI_BENCH_DB keeps the generated database at that path and reuses it on the next run (a
	// development aid: generating takes minutes).
	if path := os.Getenv("SANJI_BENCH_DB"); path != "" {
		if _, err := os.Stat(path); err == nil {
			st, err := Open(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close() })
			get := func(code string) org.Unit {
				u, err := st.GetUnitByCode(ctx, code)
				if err != nil {
					b.Fatal(err)
				}
				return u
			}
			return st, get("330100"), get("330101"), get("330101001")
		}
	}
	st, chain := benchStore(b, "330100")
	city := chain[0]
	var districts, townships, depts []org.Unit
	for d := range 10 {
		dist := org.Unit{Kind: org.KindDistrict, ParentID: city.ID, Code: fmt.Sprintf("3301%02d", d+1), Name: fmt.Sprint("区 ", d)}
		if err := st.CreateUnit(ctx, &dist); err != nil {
			b.Fatal(err)
		}
		districts = append(districts, dist)
		for k := range 10 {
			tw := org.Unit{Kind: org.KindTownship, ParentID: dist.ID, Code: fmt.Sprintf("%s%03d", dist.Code, k+1), Name: fmt.Sprint("街道 ", k)}
			if err := st.CreateUnit(ctx, &tw); err != nil {
				b.Fatal(err)
			}
			townships = append(townships, tw)
		}
		for k := range 5 {
			dp := org.Unit{Kind: org.KindDepartment, ParentID: dist.ID, Code: fmt.Sprintf("%s-D%d", dist.Code, k), Name: fmt.Sprint("部门 ", k)}
			if err := st.CreateUnit(ctx, &dp); err != nil {
				b.Fatal(err)
			}
			depts = append(depts, dp)
		}
	}
	var cats []int64
	for k := range 5 {
		c := org.Category{Code: fmt.Sprint("C", k), Name: fmt.Sprint("类别 ", k)}
		if err := st.CreateCategory(ctx, &c); err != nil {
			b.Fatal(err)
		}
		cats = append(cats, c.ID)
	}
	rng := rand.New(rand.NewSource(2026))
	start := time.Date(2025, 1, 2, 8, 0, 0, 0, calendar.ChinaTZ)
	day := 24 * time.Hour
	type person struct {
		id  string
		cat int64
	}
	people := make([]person, 0, n)
	const batch = 50_000
	for from := 0; from < n; from += batch {
		tx, err := st.DB().BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		prep := func(q string) *sqlPrep {
			s, err := tx.PrepareContext(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			return &sqlPrep{b: b, s: s}
		}
		insCase := prep(`INSERT INTO cases (id, number, external_id, query_hash, unit_id, territory, form, type, category_id, title, content,
			complained_party, responsible_unit_id, involved_count, fast_track, result, status, supervised, registered_at, accepted_at,
			closed_at, updated_at) VALUES (?, ?, '', ?, ?, ?, 'visit', 'claim', ?, '欠薪', '', '', ?, 1, ?, ?, ?, 0, ?, ?, ?, ?)`)
		// The ID number in clear (a row of before sealing, which the store reads as it is) with its
		// blind index, which every lookup of a person's cases uses.
		insPet := prep(`INSERT INTO case_petitioners (case_id, seq, name, id_number, id_index, phone, address, role, anonymous, agrees_public)
			VALUES (?, 0, '某', ?, ?, '', '', 'petitioner', 0, 0)`)
		insEv := prep(`INSERT INTO case_events (case_id, at, actor_id, actor, unit_id, kind, from_status, to_status, reason,
			responsible_unit_id, co_units, result, days) VALUES (?, ?, 1, 'gen', ?, 'status', ?, ?, '', ?, '', ?, ?)`)
		insEval := prep(`INSERT INTO case_evaluations (case_id, stage, score, via, at) VALUES (?, 'result', ?, 'terminal', ?)`)
		for i := from; i < min(from+batch, n); i++ {
			id := int64(i + 1)
			d := rng.Intn(10)
			unit := districts[d]
			if rng.Intn(5) != 0 {
				unit = townships[d*10+rng.Intn(10)]
			}
			reg := start.Add(time.Duration(rng.Intn(728))*day + time.Duration(rng.Intn(10*3600))*time.Second)
			p := person{id: fmt.Sprintf("33%016d", i), cat: cats[rng.Intn(len(cats))]}
			if i > 0 && rng.Intn(100) < 3 { // the seed's 3 % of repeat petitions: someone earlier, same matter
				p = people[rng.Intn(len(people))]
			}
			people = append(people, p)
			at := reg
			status, from := casework.StRegistered, casework.CaseStatus("")
			var evs [][]any // written after the case, which they refer to
			ev := func(to casework.CaseStatus, resp int64, result string, days int) {
				evs = append(evs, []any{id, at.UnixMicro(), unit.ID, string(from), string(to), resp, result, days})
				from, status = to, to
			}
			ev(casework.StRegistered, 0, "", 0)
			var resp int64
			if rng.Intn(2) == 0 {
				resp = depts[d*5+rng.Intn(5)].ID
				at = at.Add(time.Duration(rng.Intn(3*24*3600)) * time.Second)
				ev(casework.StAssigned, resp, "", 0)
			}
			// The district forwards the rest of its cases (10 %) to one of its townships (逐级转送),
			// which mostly decides within its 5 working days.
			forwarded := resp == 0 && unit.Kind == org.KindDistrict
			if forwarded {
				resp = townships[d*10+rng.Intn(10)].ID
				at = at.Add(time.Duration(rng.Intn(3*24*3600)) * time.Second)
				ev(casework.StForwarded, resp, "", 0)
			}
			fast := rng.Intn(10) == 0
			var accepted, closed time.Time
			result := ""
			switch r := rng.Intn(100); {
			case r < 4: // not decided yet
			case r < 8:
				at = at.Add(time.Duration(rng.Intn(14*24*3600)) * time.Second)
				ev(casework.StNotAccepted, 0, "", 0)
				closed = at
			default:
				late := 0
				if rng.Intn(20) == 0 {
					late = 15
				}
				within := 14
				if forwarded {
					within = 9
				}
				at = at.Add(time.Duration(late*24*3600+rng.Intn(within*24*3600)) * time.Second)
				ev(casework.StAccepted, 0, "", 0)
				accepted = at
				if rng.Intn(100) < 6 {
					at = at.Add(40 * day)
					ev(casework.StExtended, 0, "", 10+rng.Intn(21))
				}
				if rng.Intn(100) < 88 {
					off := 5 + rng.Intn(50)
					if fast {
						off = 1 + rng.Intn(12)
					}
					if rng.Intn(100) < 7 {
						off = 61 + rng.Intn(30)
					}
					at = accepted.Add(time.Duration(off)*day + time.Duration(rng.Intn(8*3600))*time.Second)
					result = string(casework.ResultExplain)
					ev(casework.StAnswered, 0, result, 0)
					at = at.Add(time.Duration(1+rng.Intn(3)) * day)
					ev(casework.StClosed, 0, "", 0)
					closed = at
					if rng.Intn(2) == 0 {
						score := casework.ScoreSatisfied
						switch r := rng.Intn(10); {
						case r == 0:
							score = casework.ScoreUnsatisfied
						case r < 3:
							score = casework.ScoreBasically
						}
						evs = append(evs, []any{score, at.Add(day).UnixMicro()})
					}
				}
			}
			insCase.exec(id, fmt.Sprintf("%s-%d-V-%07d", unit.Code, reg.Year(), id), fmt.Sprint("q", id), unit.ID, unit.Code, p.cat,
				nullable(resp), b2int(fast), result, string(status), reg.UnixMicro(), micro(accepted), micro(closed), at.UnixMicro())
			insPet.exec(id, p.id, st.IdentityKeys().Index("id_number", p.id))
			for _, e := range evs {
				if len(e) == 2 {
					insEval.exec(id, e[0], e[1])
				} else {
					insEv.exec(e...)
				}
			}
		}
		for _, s := range []*sqlPrep{insCase, insPet, insEv, insEval} {
			_ = s.s.Close()
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("generated %d cases in %s", n, time.Since(t0).Round(time.Second))
	t1 := time.Now()
	if err := st.RebuildRateCounts(ctx); err != nil {
		b.Fatal(err)
	}
	var cells int
	if err := st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM case_rate_counts WHERE unit_id = ? AND n <> 0`, city.ID).Scan(&cells); err != nil {
		b.Fatal(err)
	}
	b.Logf("rebuilt the rate counts in %s; the city's subtree has %d cells", time.Since(t1).Round(time.Second), cells)
	if path := os.Getenv("SANJI_BENCH_DB"); path != "" {
		if _, err := st.DB().ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
			b.Fatal(err)
		}
	}
	return st, city, districts[0], townships[0]
}

// sqlPrep is a prepared insert that fails the benchmark on error.
type sqlPrep struct {
	b *testing.B
	s *sql.Stmt
}

func (p *sqlPrep) exec(args ...any) {
	if _, err := p.s.Exec(args...); err != nil {
		p.b.Fatal(err)
	}
}

func nullable(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func b2int(v bool) int {
	if v {
		return 1
	}
	return 0
}

func micro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}
