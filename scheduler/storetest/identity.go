package storetest

import (
	"context"
	"database/sql"
	"reflect"
	"strings"
	"testing"
	"time"

	"sanji/auth"
	"sanji/internal/sealed"
	"sanji/scheduler"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
	"sanji/scheduler/sqlstore"
)

// The petitioners' identity at rest (migration 0012): sealed in the rows, opened on reading,
// found through the blind index, re-sealed by a rotation.

// testKeyText is the stores' tests' keyring: fixed, so that a child process, a reopened store and
// a second store of one test read what another wrote. k1 is current; k2 is there for rotation.
const testKeyText = "current k1;index AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=;" +
	"key k1 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=;key k2 AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="

// TestKeys is a fresh keyring of the stores' tests (intl suite, k1 current).
func TestKeys() *sealed.Keyring {
	k, err := sealed.Parse(testKeyText, sealed.Intl)
	if err != nil {
		panic(err)
	}
	return k
}

// identityStore is what the identity tests need of a store beyond scheduler.Store.
type identityStore interface {
	DB() *sql.DB
	IdentityKeys() *sealed.Keyring
	RotateIdentityKeys(ctx context.Context, batch int, progress func(int)) (int, error)
}

// The identity the tests write; none of it may be in a row as written.
const (
	idName, idNumber, idPhone, idAddress = "张三", "330102199001011234", "13812345678", "上城区某路1号"
	apName, apRep                        = "王五", "赵六"
)

// identityRows are the identity tables' rows as stored: key id, index and each sealed value.
func identityRows(t *testing.T, db *sql.DB) (keys, indexes []string, values []string) {
	t.Helper()
	for _, q := range []string{
		`SELECT key_id, id_index, name, id_number, phone, address FROM case_petitioners`,
		`SELECT key_id, id_index, name, id_number, phone, representatives FROM appointments`,
	} {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k, i, a, b, c, d string
			if err := rows.Scan(&k, &i, &a, &b, &c, &d); err != nil {
				t.Fatal(err)
			}
			keys, indexes, values = append(keys, k), append(indexes, i), append(values, a, b, c, d)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return keys, indexes, values
}

// noClearIdentity fails when a stored value holds any of the identity the tests wrote.
func noClearIdentity(t *testing.T, values []string) {
	t.Helper()
	for _, v := range values {
		for _, clear := range []string{idName, idNumber, idPhone, idAddress, apName, apRep, "13800138000", "1234"} {
			if strings.Contains(v, clear) {
				t.Errorf("a stored value holds %q in clear: %q", clear, v)
			}
		}
	}
}

// identityFixture writes one case (a named petitioner and an anonymous one) and one appointment.
func identityFixture(t *testing.T, s scheduler.Store) (caseID, apptID int64, id2 string, tr Tree, cat org.Category) {
	t.Helper()
	r := BuildReception(t, s)
	cat = org.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	c := newCase(t, s, r.Tree, cat.ID, "拖欠工资", shAt("2026-12-01 09:00"))
	sess := recSession(r, "周三接访", "2026-12-16 09:00", 120)
	sess.HallIDs = []int64{r.H1.ID}
	if err := s.CreateReceptionSession(ctx, &sess); err != nil {
		t.Fatal(err)
	}
	id2 = IDNumber("33010219800101123")
	a := mkAppt(sess, r.H1.ID, apName, strings.ToLower(id2))
	a.People, a.Representatives = 2, []string{apRep}
	if err := s.CreateAppointment(ctx, &a, shAt("2026-12-10 10:00")); err != nil {
		t.Fatal(err)
	}
	return c.ID, a.ID, id2, r.Tree, cat
}

func testIdentitySealed(t *testing.T, s scheduler.Store) {
	is, ok := s.(identityStore)
	if !ok {
		t.Fatalf("%T does not seal identity", s)
	}
	caseID, apptID, id2, tr, cat := identityFixture(t, s)

	keys, indexes, values := identityRows(t, is.DB())
	noClearIdentity(t, values)
	for i, k := range keys {
		if k != "k1" {
			t.Errorf("row %d sealed with key %q, want the current k1", i, k)
		}
	}
	// The anonymous petitioner has no ID number, hence no index; the others have one each.
	if len(indexes) != 3 || indexes[0] == "" || indexes[1] != "" || indexes[2] == "" || strings.Contains(strings.Join(indexes, ""), idNumber) {
		t.Errorf("blind indexes %q", indexes)
	}

	// Reading opens them.
	c, err := s.GetCase(ctx, caseID)
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Petitioners[0]; p.Name != idName || p.IDNumber != idNumber || p.Phone != idPhone || p.Address != idAddress {
		t.Errorf("petitioner read back as %+v", p)
	}
	a, err := s.GetAppointment(ctx, apptID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != apName || a.IDNumber != id2 || a.Phone != "13800138000" || !reflect.DeepEqual(a.Representatives, []string{apRep}) {
		t.Errorf("appointment read back as %+v", a)
	}

	// Lookups by ID number go through the index, whatever the check letter's case.
	cs, err := s.CasesByIDNumber(ctx, " "+idNumber+" ", 10)
	if err != nil || len(cs) != 1 || cs[0].ID != caseID || cs[0].Petitioners[0].Name != idName {
		t.Errorf("CasesByIDNumber = %+v, %v", cs, err)
	}
	as, err := s.AppointmentsByIDNumber(ctx, strings.ToLower(id2), 10)
	if err != nil || len(as) != 1 || as[0].ID != apptID || as[0].Name != apName {
		t.Errorf("AppointmentsByIDNumber = %+v, %v", as, err)
	}
	if as, err := s.AppointmentsByIDNumber(ctx, idNumber, 10); err != nil || len(as) != 0 {
		t.Errorf("AppointmentsByIDNumber of another person = %+v, %v", as, err)
	}
	// A masked number names nobody: no lookup by it.
	if cs, err := s.CasesByIDNumber(ctx, "330102********1234", 10); err != nil || len(cs) != 0 {
		t.Errorf("CasesByIDNumber(masked) = %+v, %v", cs, err)
	}

	// The same ID number under another data key has the same index: lookups span a rotation.
	if err := is.IdentityKeys().SetCurrent("k2"); err != nil {
		t.Fatal(err)
	}
	newCase(t, s, tr, cat.ID, "再次来访", shAt("2026-12-05 09:00"))
	if cs, err := s.CasesByIDNumber(ctx, idNumber, 10); err != nil || len(cs) != 2 {
		t.Errorf("CasesByIDNumber over two keys = %d cases, %v; want 2", len(cs), err)
	}
}

func testIdentityRotation(t *testing.T, s scheduler.Store) {
	is := s.(identityStore)
	caseID, _, _, _, _ := identityFixture(t, s) // under k1
	if err := is.IdentityKeys().SetCurrent("k2"); err != nil {
		t.Fatal(err)
	}
	// One more appointment under k2: the rows now mix two keys, and all read.
	appts, err := s.AppointmentsByIDNumber(ctx, IDNumber("33010219800101123"), 10)
	if err != nil || len(appts) != 1 {
		t.Fatalf("appointments: %v, %v", appts, err)
	}
	a := appts[0]
	a.ID, a.Name, a.IDNumber, a.Representatives = 0, "孙八", IDNumber("33010519900303345"), nil
	a.People, a.Checks = 1, reception.CheckSummary{}
	if err := s.CreateAppointment(ctx, &a, shAt("2026-12-10 10:00")); err != nil {
		t.Fatal(err)
	}
	keys, _, _ := identityRows(t, is.DB())
	if strings.Join(keys, ",") != "k1,k1,k1,k2" {
		t.Fatalf("keys before rotation %v", keys)
	}

	var progress []int
	n, err := is.RotateIdentityKeys(ctx, 1, func(done int) { progress = append(progress, done) })
	if err != nil || n != 3 {
		t.Fatalf("RotateIdentityKeys = %d, %v; want the 3 rows under k1", n, err)
	}
	if !reflect.DeepEqual(progress, []int{1, 2, 3}) {
		t.Errorf("progress %v; want one batch of one row at a time", progress)
	}
	keys, _, values := identityRows(t, is.DB())
	if strings.Join(keys, ",") != "k2,k2,k2,k2" {
		t.Errorf("keys after rotation %v", keys)
	}
	noClearIdentity(t, values)
	c, err := s.GetCase(ctx, caseID)
	if err != nil || c.Petitioners[0].Name != idName || c.Petitioners[0].Address != idAddress {
		t.Errorf("case after rotation %+v, %v", c.Petitioners, err)
	}
	if cs, err := s.CasesByIDNumber(ctx, idNumber, 10); err != nil || len(cs) != 1 {
		t.Errorf("CasesByIDNumber after rotation = %d, %v", len(cs), err)
	}
	if n, err := is.RotateIdentityKeys(ctx, 10, nil); err != nil || n != 0 {
		t.Errorf("second rotation = %d, %v; want nothing left", n, err)
	}
}

// DemoIdentity seeds the demo tree and today's demo reception into s, plus a case of the
// conformance suite's petitioner and a user's TOTP secret, and returns every name, ID number and
// phone number they hold and the secret, read back through the store: what a copy of the database
// must not show.
func DemoIdentity(t *testing.T, s scheduler.Store) []string {
	t.Helper()
	hash := func(string) (string, error) { return "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA", nil }
	gen := func() (string, error) { return "password-123456", nil }
	if _, err := scheduler.SeedDemo(ctx, s, hash, gen); err != nil {
		t.Fatal(err)
	}
	x, booked, err := scheduler.SeedDemoReception(ctx, s, time.Now())
	if err != nil || !booked {
		t.Fatalf("demo reception: %v, %v", booked, err)
	}
	appts, err := s.ListAppointments(ctx, x.ID)
	if err != nil || len(appts) == 0 {
		t.Fatalf("demo appointments: %d, %v", len(appts), err)
	}
	var out []string
	for _, a := range appts {
		out = append(out, a.Name, a.IDNumber, a.Phone)
		out = append(out, a.Representatives...)
	}
	city, err := s.GetUnitByCode(ctx, scheduler.DemoCityCode)
	if err != nil {
		t.Fatal(err)
	}
	cat := org.Category{Code: "98", Name: "测试"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	dept, err := s.GetUnitByCode(ctx, "330102-RSJ")
	if err != nil {
		t.Fatal(err)
	}
	d1, err := s.GetUnitByCode(ctx, "330102")
	if err != nil {
		t.Fatal(err)
	}
	t1, err := s.GetUnitByCode(ctx, "330102001")
	if err != nil {
		t.Fatal(err)
	}
	newCase(t, s, Tree{City: city, D1: d1, T1: t1, Dept: dept}, cat.ID, "测试案件", time.Now())
	// A user's second factor: its secret is no less a secret than the identity.
	u := mustUser(t, s, "totp-demo", city.ID)
	secret, err := auth.NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.BeginTOTP(ctx, u.ID, secret, time.Now()); err != nil {
		t.Fatal(err)
	}
	return append(out, idName, idNumber, idPhone, idAddress, secret)
}

// MigrationsBefore is ms up to, not including, the migration whose name holds name: the schema a
// database of an older version has, for tests of what a newer start does to it.
func MigrationsBefore(t *testing.T, ms []sqlstore.Migration, name string) []sqlstore.Migration {
	t.Helper()
	for i, m := range ms {
		if strings.Contains(m.Name, name) {
			return ms[:i]
		}
	}
	t.Fatalf("no migration named %q", name)
	return nil
}
