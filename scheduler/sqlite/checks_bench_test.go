package sqlite

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
	"sanji/scheduler/storetest"
)

// BenchmarkBookingChecks runs the booking checks (same ID number in appointments and cases,
// similar text among the territory's newest 500 appointments and 500 cases, level checks)
// against 100,000 appointments and 20,000 cases of one district, and reports p50/p99.
func BenchmarkBookingChecks(b *testing.B) {
	ctx := context.Background()
	st, units := benchStore(b, "330100", "330102")
	city, district := units[0], units[1]
	hall := org.Hall{UnitID: district.ID, Kind: org.HallReception, Name: "大厅"}
	if err := st.CreateHall(ctx, &hall); err != nil {
		b.Fatal(err)
	}
	cat := org.Category{Code: "02", Name: "劳动和社会保障"}
	if err := st.CreateCategory(ctx, &cat); err != nil {
		b.Fatal(err)
	}
	sess := reception.ReceptionSession{UnitID: city.ID, Title: "bench", HallIDs: []int64{hall.ID},
		Start: time.Date(2030, 1, 2, 9, 0, 0, 0, calendar.Shanghai), End: time.Date(2030, 1, 2, 11, 0, 0, 0, calendar.Shanghai),
		MinutesPerPetitioner: 10, MaxPetitioners: 10}
	if err := st.CreateReceptionSession(ctx, &sess); err != nil {
		b.Fatal(err)
	}
	// Matters built from a few parts, so the texts differ as real ones do.
	who := []string{"建筑公司", "物业公司", "街道办", "房东", "培训机构", "餐饮店", "社区", "开发商"}
	what := []string{"拖欠工资", "乱收停车费", "强拆房屋", "拒不退款", "噪音扰民", "拖延交房", "违规收费", "克扣押金"}
	how := []string{"三个月", "半年多", "多次协商未果", "老板失联", "要求赔偿", "要求依法处理"}
	text := func(i int) string { return who[i%8] + what[(i/8)%8] + how[(i/64)%6] }
	idn := func(i int) string { return storetest.IDNumber(fmt.Sprintf("330102%011d", i)) }
	const appts, cases = 100_000, 20_000
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range appts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO appointments (session_id, hall_id, name, id_number, phone, matter, people,
			representatives, guidance, walk_in, queue_no, position, status, override_reason, booked_by, created_at, checks)
			VALUES (?, ?, '某', ?, '', ?, 1, '[]', '', 0, ?, ?, 'done', '', 1, ?, '')`,
			sess.ID, hall.ID, idn(i), text(i), i+1, i+1, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	for i := range cases {
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO cases (number, external_id, query_hash, unit_id, territory, form, type,
			category_id, title, content, complained_party, involved_count, fast_track, result, status, supervised, registered_at,
			accepted_at, closed_at, updated_at) VALUES (?, '', ?, ?, '330102', 'visit', 'claim', ?, ?, ?, '', 1, 0, '', 'in_progress', 0, 1, 1, 0, 1)
			RETURNING id`, fmt.Sprintf("330102-2026-V-%06d", i), fmt.Sprintf("h%d", i), district.ID, cat.ID, what[i%8], text(i*7)).Scan(&id); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO case_petitioners (case_id, seq, name, id_number, phone, address, role, anonymous,
			agrees_public) VALUES (?, 0, '某', ?, '', '', 'petitioner', 0, 0)`, id, idn(i*5)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	found := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Every fifth person has a case and an appointment; the others only appointments.
		t0 := time.Now()
		c, err := reception.CheckBooking(ctx, st, sess, district, idn((i*7919)%appts), text(i*13))
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if !c.Summary().Empty() {
			found++
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(found)/float64(b.N), "found/op")
}
