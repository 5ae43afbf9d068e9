package scheduler

import (
	"context"
	"errors"
	"fmt"

	"sanji/scheduler/org"
)

// DemoCityCode is the demo tree's city (杭州市, GB/T 2260 330100).
const DemoCityCode = "330100"

// DemoTree is the demo tier tree as import rows: one city, three districts with two townships
// each, petition bureaus and a few responsible departments, halls at every tier and the leader's
// studio. Real division codes for the city and districts; the township suffixes are illustrative.
func DemoTree() []ImportRow {
	rows := []ImportRow{
		{Kind: "city", Code: "330100", Name: "杭州市"},
		{Kind: "department", Code: "330100-XFJ", Name: "杭州市信访局", ParentCode: "330100"},
		{Kind: "department", Code: "330100-RSJ", Name: "杭州市人力资源和社会保障局", ParentCode: "330100"},
		{Kind: "department", Code: "330100-ZJJ", Name: "杭州市住房和城乡建设局", ParentCode: "330100"},
		{Kind: "studio", Name: "市领导视频接访室", ParentCode: "330100"},
		{Kind: "hall", Name: "市信访局接访大厅", ParentCode: "330100-XFJ"},
	}
	districts := []struct{ code, name, t1, t2 string }{
		{"330102", "上城区", "清波街道", "湖滨街道"},
		{"330105", "拱墅区", "米市巷街道", "湖墅街道"},
		{"330106", "西湖区", "北山街道", "西溪街道"},
	}
	for _, d := range districts {
		rows = append(rows,
			ImportRow{Kind: "district", Code: d.code, Name: d.name, ParentCode: "330100"},
			ImportRow{Kind: "department", Code: d.code + "-XFJ", Name: d.name + "信访局", ParentCode: d.code},
			ImportRow{Kind: "department", Code: d.code + "-RSJ", Name: d.name + "人力资源和社会保障局", ParentCode: d.code},
			ImportRow{Kind: "hall", Name: d.name + "接访大厅", ParentCode: d.code},
			ImportRow{Kind: "studio", Name: d.name + "领导接访室", ParentCode: d.code},
			ImportRow{Kind: "township", Code: d.code + "001", Name: d.t1, ParentCode: d.code},
			ImportRow{Kind: "hall", Name: d.t1 + "接访室", ParentCode: d.code + "001"},
			ImportRow{Kind: "township", Code: d.code + "002", Name: d.t2, ParentCode: d.code},
			ImportRow{Kind: "hall", Name: d.t2 + "接访室", ParentCode: d.code + "002"},
		)
	}
	for i := range rows {
		rows[i].Line = i + 1
	}
	return rows
}

// DemoCategories is the demo case category tree.
var DemoCategories = []org.Category{
	{Code: "01", Name: "涉法涉诉"},
	{Code: "02", Name: "劳动和社会保障"},
	{Code: "03", Name: "拆迁补偿与住房保障"},
	{Code: "04", Name: "城市建设与管理"},
	{Code: "99", Name: "其他"},
}

// demoUsers are one user per role, each granted where that role works, and a second case
// handler at the city's 住建局 — a unit to assign a case to that objects (the case then goes to
// 上城区人社局, whose unit head approves extensions).
var demoUsers = []struct{ username, name, role, unit string }{
	{"demo-leader", "王市长（演示）", org.RoleLeader, "330100"},
	{"demo-operator", "李接访员（演示）", org.RoleHallOperator, "330102001"},
	{"demo-operator2", "陈接访员（演示）", org.RoleHallOperator, "330102002"},
	{"demo-intake", "张登记员（演示）", org.RoleIntakeOfficer, "330100-XFJ"},
	{"demo-handler", "赵承办人（演示）", org.RoleCaseHandler, "330102-RSJ"},
	{"demo-handler2", "郭承办人（演示）", org.RoleCaseHandler, "330100-ZJJ"},
	{"demo-unithead", "钱局长（演示）", org.RoleUnitHead, "330102-RSJ"},
	{"demo-supervisor", "孙督办员（演示）", org.RoleSupervisor, "330100"},
	{"demo-scheduler", "周排班员（演示）", org.RoleSchedulerStaff, "330100-XFJ"},
	{"demo-observer", "吴观察员（演示）", org.RoleObserver, "330100"},
	{"demo-district-admin", "郑区管理员（演示）", org.RoleAdmin, "330102"},
	{"demo-auditor", "冯审计员（演示）", org.RoleAuditor, org.RootCode},
}

// SeedDemo stores the demo tree, categories and users. It returns their logins, or nil when the
// demo city exists already (seeded on an earlier start: the passwords were printed then).
func SeedDemo(ctx context.Context, st Store, hash Hasher, gen PasswordGen) ([]Login, error) {
	if _, err := st.GetUnitByCode(ctx, DemoCityCode); err == nil {
		return nil, nil
	} else if !errors.Is(err, org.ErrNotFound) {
		return nil, fmt.Errorf("seed demo: %w", err)
	}
	var logins []Login
	err := st.InTx(ctx, func(tx Store) error {
		if _, err := EnsureRoot(ctx, tx); err != nil {
			return err
		}
		if _, err := Import(ctx, tx, DemoTree(), nil); err != nil {
			return err
		}
		for _, c := range DemoCategories {
			c := c
			if err := tx.CreateCategory(ctx, &c); err != nil && !errors.Is(err, org.ErrConflict) {
				return err
			}
		}
		for _, du := range demoUsers {
			unit, err := tx.GetUnitByCode(ctx, du.unit)
			if err != nil {
				return err
			}
			pw, err := gen()
			if err != nil {
				return err
			}
			h, err := hash(pw)
			if err != nil {
				return err
			}
			u := org.User{Kind: org.UserPerson, Username: du.username, DisplayName: du.name, UnitID: unit.ID, PasswordHash: h}
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
			if err := tx.AddGrant(ctx, &org.Grant{UserID: u.ID, Role: du.role, UnitID: unit.ID}); err != nil {
				return err
			}
			logins = append(logins, Login{Username: du.username, Password: pw, Role: du.role, Unit: unit.Name})
		}
		return tx.AppendAudit(ctx, &org.AuditEntry{Action: "system.seed_demo", Target: "unit:" + DemoCityCode})
	})
	if err != nil {
		return nil, fmt.Errorf("seed demo: %w", err)
	}
	return logins, nil
}
