package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// demoPetitioners wait in the demo reception's two township halls. The ID numbers are made up
// (valid check digits, no real person).
var demoPetitioners = []struct {
	hall, name, id17, matter string
	people                   int
	reps                     []string
}{
	{"清波街道接访室", "王建国", "33010219700101001", "企业拖欠工资八个月，多次协商未果，请求协调支付", 1, nil},
	{"湖滨街道接访室", "刘秀英", "33010219650505002", "老旧小区加装电梯意见不一，请求协调推进", 1, nil},
	{"清波街道接访室", "张海涛", "33010219800808003", "拆迁安置房迟迟未交付，请求明确交房时间", 12, []string{"张海涛", "李明", "赵刚"}},
	{"湖滨街道接访室", "陈志强", "33010219751212004", "工伤认定结论有异议，请求复查", 1, nil},
}

// DemoSeat is one of the four windows of today's demo reception: who logs in, and the seat they
// click in the reception page's picker.
type DemoSeat struct {
	Username string
	Seat     string // the picker's seat: "studio", "hall" or "unit"
	Place    string // the hall's or unit's name as the picker shows it ("" for the studio)
}

// DemoSeats are the demo reception's four windows, in the order to open them: the leader in the
// studio, the two township halls' operators, and the 人社局's case handler as the unit.
var DemoSeats = []DemoSeat{
	{"demo-leader", "studio", ""},
	{"demo-operator", "hall", "清波街道接访室"},
	{"demo-operator2", "hall", "湖滨街道接访室"},
	{"demo-handler", "unit", "上城区人力资源和社会保障局"},
}

// SeedDemoReception books today's demo reception so that a call can be run from the demo data:
// the demo city leader in the city studio from a few minutes after now for three hours, the two
// 上城区 township halls and the district's 人社局 on the roster, two petitioners waiting in each
// hall. When the leader already has a session at that time (a restart), it books nothing.
func SeedDemoReception(ctx context.Context, st Store, now time.Time) (reception.ReceptionSession, bool, error) {
	leader, err := st.GetUserByUsername(ctx, "demo-leader")
	if err != nil {
		return reception.ReceptionSession{}, false, fmt.Errorf("demo reception: %w", err)
	}
	city, err := st.GetUnitByCode(ctx, DemoCityCode)
	if err != nil {
		return reception.ReceptionSession{}, false, fmt.Errorf("demo reception: %w", err)
	}
	unit, err := st.GetUnitByCode(ctx, "330102-RSJ")
	if err != nil {
		return reception.ReceptionSession{}, false, fmt.Errorf("demo reception: %w", err)
	}
	halls, err := st.ListHalls(ctx, city.Path)
	if err != nil {
		return reception.ReceptionSession{}, false, fmt.Errorf("demo reception: %w", err)
	}
	byName := map[string]int64{}
	for _, h := range halls {
		byName[h.Name] = h.ID
	}
	start := now.Truncate(time.Minute).Add(2 * time.Minute)
	x := reception.ReceptionSession{UnitID: city.ID, Title: "市领导视频接访（演示）", LeaderID: leader.ID, LeaderName: strings.TrimSuffix(leader.DisplayName, "（演示）"),
		LeaderPost: "副市长", StudioID: byName["市领导视频接访室"], Start: start, End: start.Add(3 * time.Hour),
		HallIDs: []int64{byName[DemoSeats[1].Place], byName[DemoSeats[2].Place]}, UnitIDs: []int64{unit.ID},
		MinutesPerPetitioner: 15, MaxPetitioners: 10, Portfolio: "劳动和社会保障、城市建设与管理"}
	for _, id := range append([]int64{x.StudioID}, x.HallIDs...) {
		if id == 0 {
			return x, false, fmt.Errorf("demo reception: a demo hall is missing: %w", org.ErrNotFound)
		}
	}
	if err := st.CreateReceptionSession(ctx, &x); errors.Is(err, org.ErrConflict) {
		return x, false, nil
	} else if err != nil {
		return x, false, fmt.Errorf("demo reception: %w", err)
	}
	for _, p := range demoPetitioners {
		a := reception.Appointment{SessionID: x.ID, HallID: byName[p.hall], Name: p.name, IDNumber: reception.WithCheckDigit(p.id17), Phone: "13800000000",
			Matter: p.matter, People: p.people, Representatives: p.reps, BookedBy: leader.ID}
		if err := st.CreateAppointment(ctx, &a, now); err != nil {
			return x, false, fmt.Errorf("demo reception booking: %w", err)
		}
	}
	return x, true, nil
}
