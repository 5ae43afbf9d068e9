package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"sanji/scheduler"
	"sanji/scheduler/org"
	"sanji/scheduler/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var ctx = context.Background()

func openStore(t *testing.T) scheduler.Store {
	t.Helper()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// fakeHash keeps the tests fast; the real hasher is tested in auth.
func fakeHash(pw string) (string, error) { return "hash:" + pw, nil }

func seqGen() scheduler.PasswordGen {
	n := 0
	return func() (string, error) { n++; return fmt.Sprintf("pw-%02d-xxxxxxx", n), nil }
}

func TestBootstrapOnce(t *testing.T) {
	st := openStore(t)
	login, err := scheduler.Bootstrap(ctx, st, fakeHash, seqGen())
	if err != nil || login == nil {
		t.Fatalf("first bootstrap: %v, %v", login, err)
	}
	u, err := st.GetUserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !u.MustChangePassword || u.PasswordHash != "hash:"+login.Password {
		t.Errorf("admin %+v: must change password, hash of the printed password", u)
	}
	gs, _ := st.ListGrants(ctx, u.ID)
	root, _ := st.GetUnitByCode(ctx, org.RootCode)
	if len(gs) != 1 || gs[0].Role != org.RoleAdmin || gs[0].UnitID != root.ID {
		t.Errorf("admin grants %+v", gs)
	}
	again, err := scheduler.Bootstrap(ctx, st, fakeHash, seqGen())
	if err != nil || again != nil {
		t.Errorf("second bootstrap printed a password again: %+v, %v", again, err)
	}
}

func TestSeedDemo(t *testing.T) {
	st := openStore(t)
	if _, err := scheduler.Bootstrap(ctx, st, fakeHash, seqGen()); err != nil {
		t.Fatal(err)
	}
	logins, err := scheduler.SeedDemo(ctx, st, fakeHash, seqGen())
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]bool{}
	for _, l := range logins {
		roles[l.Role] = true
	}
	for _, r := range []string{org.RoleLeader, org.RoleHallOperator, org.RoleIntakeOfficer, org.RoleCaseHandler,
		org.RoleUnitHead, org.RoleSupervisor, org.RoleSchedulerStaff, org.RoleObserver, org.RoleAdmin, org.RoleAuditor} {
		if !roles[r] {
			t.Errorf("no demo user with role %s", r)
		}
	}
	units, _ := st.ListUnits(ctx, "")
	count := map[org.UnitKind]int{}
	for _, u := range units {
		count[u.Kind]++
	}
	if count[org.KindCity] != 1 || count[org.KindDistrict] != 3 || count[org.KindTownship] != 6 || count[org.KindDepartment] < 6 {
		t.Errorf("demo tree: %v", count)
	}
	halls, _ := st.ListHalls(ctx, "")
	if len(halls) < 11 {
		t.Errorf("demo halls: %d", len(halls))
	}
	cats, _ := st.ListCategories(ctx)
	if len(cats) != len(scheduler.DemoCategories) {
		t.Errorf("categories: %d", len(cats))
	}
	again, err := scheduler.SeedDemo(ctx, st, fakeHash, seqGen())
	if err != nil || again != nil {
		t.Errorf("second seed: %+v, %v", again, err)
	}
}

func TestImportCSVValidationByLine(t *testing.T) {
	st := openStore(t)
	csv := "kind,code,name,parent_code\n" +
		"city,330100,杭州市,\n" + // line 2
		"district,330102,上城区,330100\n" + // 3
		"district,340102,错误区,330100\n" + // 4: code outside the city
		"township,330102001,清波街道,330102\n" + // 5
		"township,330102001,重复街道,330102\n" + // 6: duplicate code
		"hall,,清波街道接访室,330102001\n" + // 7
		"hall,,清波街道接访室,330102001\n" + // 8: duplicate hall
		"department,330105-RSJ,人社局,330105\n" + // 9: unknown parent
		"village,330102001001,某村,330102001\n" // 10: unknown kind
	rows, err := scheduler.ParseImportCSV(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	_, err = scheduler.Import(ctx, st, rows, nil)
	var ie *scheduler.ImportError
	if !errors.As(err, &ie) || !errors.Is(err, org.ErrInvalid) {
		t.Fatalf("import: %v, want an ImportError", err)
	}
	got := map[int]string{}
	for _, l := range ie.Lines {
		got[l.Line] = l.Field
	}
	want := map[int]string{4: "code", 6: "code", 8: "name", 9: "parent_code", 10: "kind"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bad lines %v, want %v (%v)", got, want, ie)
	}
	if units, _ := st.ListUnits(ctx, ""); len(units) != 0 {
		t.Errorf("a failed import stored %d units", len(units))
	}

	good := "kind,code,name,parent_code\ncity,330100,杭州市,\ndistrict,330102,上城区,330100\nhall,,上城区接访大厅,330102\n"
	rows, _ = scheduler.ParseImportCSV(strings.NewReader(good))
	res, err := scheduler.Import(ctx, st, rows, nil)
	if err != nil || res.Units != 2 || res.Halls != 1 {
		t.Fatalf("good import: %+v, %v", res, err)
	}
	// Importing the same again names the existing codes.
	rows, _ = scheduler.ParseImportCSV(strings.NewReader(good))
	if _, err := scheduler.Import(ctx, st, rows, nil); !errors.As(err, &ie) || len(ie.Lines) != 3 {
		t.Errorf("re-import: %v", err)
	}
}

func TestImportCSVHeaderAndJSON(t *testing.T) {
	if _, err := scheduler.ParseImportCSV(strings.NewReader("kind,code,name\n")); err == nil || !strings.Contains(err.Error(), "parent_code") {
		t.Errorf("missing column: %v", err)
	}
	rows, err := scheduler.ParseImportJSON(strings.NewReader(`[{"kind":"city","code":"330100","name":"杭州市"},{"kind":"district","code":"330102","name":"上城区","parent_code":"330100"}]`))
	if err != nil || len(rows) != 2 || rows[1].Line != 2 || rows[1].ParentCode != "330100" {
		t.Fatalf("json: %+v, %v", rows, err)
	}
	if _, err := scheduler.ParseImportJSON(strings.NewReader(`[{"kind":"city","colour":"red"}]`)); err == nil {
		t.Error("unknown JSON field accepted")
	}
	st := openStore(t)
	// A scoped importer may only add under its own subtree.
	res, err := scheduler.Import(ctx, st, rows, func(p string) bool { return false })
	var ie *scheduler.ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("scoped import: %+v, %v", res, err)
	}
}
