package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
	"sanji/scheduler/sqlstore"
)

// benchStore opens a store in b's temporary directory with the root and, under it, a chain of
// units of the codes given (a city, then its district …). storetest's helpers take a *testing.T,
// so benchmarks build their fixture here.
func benchStore(b *testing.B, codes ...string) (*sqlstore.Store, []org.Unit) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	parent := org.Unit{Kind: org.KindRoot, Code: org.RootCode, Name: "root"}
	if err := st.CreateUnit(ctx, &parent); err != nil {
		b.Fatal(err)
	}
	kinds := []org.UnitKind{org.KindCity, org.KindDistrict, org.KindTownship}
	var out []org.Unit
	for i, code := range codes {
		u := org.Unit{Kind: kinds[i], ParentID: parent.ID, Code: code, Name: code}
		if err := st.CreateUnit(ctx, &u); err != nil {
			b.Fatal(err)
		}
		out, parent = append(out, u), u
	}
	return st, out
}

// BenchmarkBookingWithConflictCheck creates sessions (lock, overlap check, insert, commit with
// fsync) against 100,000 existing sessions of eight resources (two of them the booking's), and reports p50/p99.
func BenchmarkBookingWithConflictCheck(b *testing.B) {
	ctx := context.Background()
	st, units := benchStore(b, "330100")
	city := units[0]
	leader := org.User{Kind: org.UserPerson, Username: "leader", DisplayName: "张三", UnitID: city.ID, PasswordHash: "x"}
	if err := st.CreateUser(ctx, &leader); err != nil {
		b.Fatal(err)
	}
	hall := org.Hall{UnitID: city.ID, Kind: org.HallReception, Name: "大厅"}
	if err := st.CreateHall(ctx, &hall); err != nil {
		b.Fatal(err)
	}
	// Eight resources take turns hour by hour; the booking's two (leader, hall) are two of them,
	// so about half of the bookings clash and half go through.
	keys := []string{fmt.Sprintf("hall:%d", hall.ID), "hall:900001", "hall:900002", "hall:900003",
		fmt.Sprintf("leader:%d", leader.ID), "leader:900001", "leader:900002", "leader:900003"}
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, calendar.Shanghai)
	const existing = 100_000
	// Seed in one transaction with plain SQL: the path under test is the booking, not the seed.
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range existing {
		s := base.Add(time.Duration(i) * time.Hour).UnixMicro()
		e := s + time.Hour.Microseconds()
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO reception_sessions (unit_id, title, leader_name, leader_post, starts_at, ends_at,
			hall_ids, unit_ids, lead_days, minutes_per_petitioner, max_petitioners, portfolio, holiday, status, cancel_reason, created_at)
			VALUES (?, 'seed', '', '', ?, ?, '', '', 0, 10, 5, '', '', 'scheduled', '', 1) RETURNING id`, city.ID, s, e).Scan(&id); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO session_resources (session_id, rkey, starts_at, ends_at) VALUES (?, ?, ?, ?)`,
			id, keys[i%len(keys)], s, e); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	ok := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Half-hour offsets across the seeded years: most clash with a seed on the same leader
		// or hall, some do not.
		start := base.Add(time.Duration((i*7919)%existing)*time.Hour + 30*time.Minute)
		x := reception.ReceptionSession{UnitID: city.ID, Title: "bench", LeaderID: leader.ID, LeaderName: "张三",
			HallIDs: []int64{hall.ID}, Start: start, End: start.Add(time.Hour), LeadDays: 1, MinutesPerPetitioner: 10, MaxPetitioners: 5}
		t0 := time.Now()
		err := st.CreateReceptionSession(ctx, &x)
		lat = append(lat, time.Since(t0))
		if err == nil {
			ok++
		} else if _, isConflict := err.(*reception.ConflictError); !isConflict {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(ok)/float64(b.N), "created/op")
}
