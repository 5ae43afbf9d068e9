// Package storetest is the one conformance suite every scheduler.Store implementation passes.
// A driver package's test calls Run with a function that opens a fresh, empty store.
//
// Its size (over 3,500 lines, non-test only because the driver packages import it) is the suite's:
// one file per subject of the Store, sharing the fixtures that build a tree, users and cases.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/org"
)

// Opener returns a new empty store for one test; it registers its own cleanup with t.
type Opener func(t *testing.T) scheduler.Store

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s scheduler.Store)
	}{
		{"SchemaVersion", testSchemaVersion},
		{"Units", testUnits},
		{"UnitValidation", testUnitValidation},
		{"Halls", testHalls},
		{"Categories", testCategories},
		{"Users", testUsers},
		{"LoginFailuresConcurrent", testLoginFailuresConcurrent},
		{"Grants", testGrants},
		{"Sessions", testSessions},
		{"TOTP", testTOTP}, // totp.go
		{"APITokens", testAPITokens},
		{"Pairing", testPairing},
		{"Audit", testAudit},
		{"Tx", testTx},
		{"Cases", testCases},
		{"Privacy", testPrivacy},
		{"CaseEventsAppendOnly", testCaseEventsAppendOnly},
		{"CaseNotes", testCaseNotes},
		{"Slips", testSlips},
		{"OverdueJob", testOverdueJob},
		{"OverdueRunner", testOverdueRunner},
		{"Evaluations", testEvaluations},
		{"RatesScopeAndPeriod", testRatesScopeAndPeriod},
		{"Attachments", testAttachments},
		{"Consultations", testConsultations},
		{"CaseOwner", testCaseOwner},
		{"SupervisionReports", testSupervisionReports},
		{"CaseClocks", testCaseClocks},
		{"OverdueSkipsPetitionerWindows", testOverdueSkipsPetitionerWindows},
		{"CalendarStore", testCalendarStore},
		{"RateCounts", testRateCounts},
		{"IdentitySealed", testIdentitySealed}, // identity.go
		{"IdentityRotation", testIdentityRotation},
		{"TOTPSealed", testTOTPSealed}, // totpsealed.go
		{"SupervisionEscalation", testSupervisionEscalation},
		{"ConsultationQuorum", testConsultationQuorum},
		{"ReviewByHigherBody", testReviewByHigherBody}, // review.go
		{"OnwardForward", testOnwardForward},
		{"Documents", testDocuments},
		{"RatingsOnServedAnswer", testRatingsOnServedAnswer},
		{"RatingAfterReview", testRatingAfterReview}, // reviewrating.go
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	runSessions(t, open)                                            // sessions.go
	t.Run("Exchange", func(t *testing.T) { testExchange(t, open) }) // exchange.go: two stores
}

var ctx = context.Background()

// Tree is a small tier tree the tests build on.
type Tree struct {
	Root, City, D1, D2, T1, Dept org.Unit
}

// BuildTree creates the root, one city, two districts, a township under the first and a department at it.
func BuildTree(t *testing.T, s scheduler.Store) Tree {
	t.Helper()
	var tr Tree
	mk := func(u *org.Unit, kind org.UnitKind, parent int64, code, name string) {
		t.Helper()
		*u = org.Unit{Kind: kind, ParentID: parent, Code: code, Name: name}
		if err := s.CreateUnit(ctx, u); err != nil {
			t.Fatalf("create %s %s: %v", kind, code, err)
		}
	}
	mk(&tr.Root, org.KindRoot, 0, org.RootCode, "本系统")
	mk(&tr.City, org.KindCity, tr.Root.ID, "330100", "杭州市")
	mk(&tr.D1, org.KindDistrict, tr.City.ID, "330102", "上城区")
	mk(&tr.D2, org.KindDistrict, tr.City.ID, "330105", "拱墅区")
	mk(&tr.T1, org.KindTownship, tr.D1.ID, "330102001", "清波街道")
	mk(&tr.Dept, org.KindDepartment, tr.D1.ID, "330102-RSJ", "上城区人社局")
	return tr
}

func mustUser(t *testing.T, s scheduler.Store, name string, unit int64) org.User {
	t.Helper()
	u := org.User{Kind: org.UserPerson, Username: name, DisplayName: "用户 " + name, UnitID: unit, PasswordHash: "h-" + name}
	if err := s.CreateUser(ctx, &u); err != nil {
		t.Fatalf("create user %s: %v", name, err)
	}
	return u
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func testSchemaVersion(t *testing.T, s scheduler.Store) {
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v < 1 {
		t.Fatalf("schema version %d after open, want ≥ 1", v)
	}
}

func testUnits(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	if tr.Root.Path != fmt.Sprintf("/%d/", tr.Root.ID) {
		t.Errorf("root path %q", tr.Root.Path)
	}
	if want := fmt.Sprintf("/%d/%d/%d/%d/", tr.Root.ID, tr.City.ID, tr.D1.ID, tr.T1.ID); tr.T1.Path != want {
		t.Errorf("township path %q, want %q", tr.T1.Path, want)
	}
	if tr.City.CreatedAt.IsZero() || tr.City.ID == 0 {
		t.Errorf("created unit lacks id or time: %+v", tr.City)
	}
	got, err := s.GetUnit(ctx, tr.T1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got != tr.T1 {
		t.Errorf("GetUnit = %+v, want %+v", got, tr.T1)
	}
	byCode, err := s.GetUnitByCode(ctx, "330102-RSJ")
	if err != nil || byCode.ID != tr.Dept.ID {
		t.Errorf("GetUnitByCode = %+v, %v", byCode, err)
	}
	_, err = s.GetUnit(ctx, 999999)
	wantErr(t, err, org.ErrNotFound, "GetUnit missing")
	_, err = s.GetUnitByCode(ctx, "999999")
	wantErr(t, err, org.ErrNotFound, "GetUnitByCode missing")

	all, err := s.ListUnits(ctx, "")
	if err != nil || len(all) != 6 {
		t.Fatalf("ListUnits all = %d units, %v", len(all), err)
	}
	sub, err := s.ListUnits(ctx, tr.D1.Path)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int64]bool{}
	for _, u := range sub {
		ids[u.ID] = true
	}
	if len(sub) != 3 || !ids[tr.D1.ID] || !ids[tr.T1.ID] || !ids[tr.Dept.ID] {
		t.Errorf("subtree of D1 = %+v, want D1, T1, Dept", sub)
	}
	if sub[0].ID != tr.D1.ID {
		t.Errorf("subtree not ordered by path: first %+v", sub[0])
	}

	dup := org.Unit{Kind: org.KindDistrict, ParentID: tr.City.ID, Code: "330102", Name: "重复"}
	wantErr(t, s.CreateUnit(ctx, &dup), org.ErrConflict, "duplicate code")
	orphan := org.Unit{Kind: org.KindDistrict, ParentID: 424242, Code: "330106", Name: "孤儿"}
	wantErr(t, s.CreateUnit(ctx, &orphan), org.ErrNotFound, "missing parent")

	if err := s.RenameUnit(ctx, tr.D2.ID, "拱墅区（新）"); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.GetUnit(ctx, tr.D2.ID); u.Name != "拱墅区（新）" {
		t.Errorf("rename: name %q", u.Name)
	}
	var fe *org.FieldError
	if err := s.RenameUnit(ctx, tr.D2.ID, " "); !errors.As(err, &fe) || fe.Field != "name" {
		t.Errorf("rename to blank: %v, want a FieldError on name", err)
	}
	wantErr(t, s.RenameUnit(ctx, 999999, "x"), org.ErrNotFound, "rename missing")
}

func testUnitValidation(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	cases := []struct {
		u     org.Unit
		field string
	}{
		{org.Unit{Kind: org.KindCity, ParentID: tr.Root.ID, Code: "33010", Name: "x"}, "code"},
		{org.Unit{Kind: org.KindCity, ParentID: tr.Root.ID, Code: "330101", Name: "x"}, "code"},
		{org.Unit{Kind: org.KindCity, ParentID: tr.Root.ID, Code: "330200", Name: ""}, "name"},
		{org.Unit{Kind: org.KindCity, Code: "330200", Name: "x"}, "parent_id"},
		{org.Unit{Kind: org.KindCity, ParentID: tr.City.ID, Code: "330200", Name: "x"}, "parent_id"},
		{org.Unit{Kind: org.KindRoot, Code: "000001", Name: "x"}, "code"},
		{org.Unit{Kind: org.KindDistrict, Code: "330103", Name: "x"}, "parent_id"},
		{org.Unit{Kind: org.KindDistrict, ParentID: tr.City.ID, Code: "340103", Name: "x"}, "code"},
		{org.Unit{Kind: org.KindTownship, ParentID: tr.City.ID, Code: "330100001", Name: "x"}, "parent_id"},
		{org.Unit{Kind: org.KindTownship, ParentID: tr.D1.ID, Code: "330105001", Name: "x"}, "code"},
		{org.Unit{Kind: org.KindDepartment, ParentID: tr.Dept.ID, Code: "330102-RSJ-X", Name: "x"}, "parent_id"},
		{org.Unit{Kind: org.KindDepartment, ParentID: tr.D1.ID, Code: "330105-ZJJ", Name: "x"}, "code"},
		{org.Unit{Kind: "province", Code: "330000", Name: "x"}, "kind"},
	}
	for i, c := range cases {
		u := c.u
		err := s.CreateUnit(ctx, &u)
		var fe *org.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, org.ErrInvalid) {
			t.Errorf("case %d %+v: error %v, want a FieldError on %s", i, c.u, err, c.field)
		}
	}
	if all, _ := s.ListUnits(ctx, ""); len(all) != 6 {
		t.Errorf("invalid units were stored: %d units", len(all))
	}
}

func testHalls(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	h1 := org.Hall{UnitID: tr.T1.ID, Kind: org.HallReception, Name: "清波街道接访室"}
	h2 := org.Hall{UnitID: tr.City.ID, Kind: org.HallStudio, Name: "市领导接访演播室"}
	for _, h := range []*org.Hall{&h1, &h2} {
		if err := s.CreateHall(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetHall(ctx, h1.ID)
	if err != nil || got != h1 {
		t.Errorf("GetHall = %+v, %v; want %+v", got, err, h1)
	}
	under, err := s.ListHalls(ctx, tr.D1.Path)
	if err != nil || len(under) != 1 || under[0].ID != h1.ID {
		t.Errorf("halls under D1 = %+v, %v", under, err)
	}
	if all, _ := s.ListHalls(ctx, ""); len(all) != 2 {
		t.Errorf("all halls = %d", len(all))
	}
	dup := org.Hall{UnitID: tr.T1.ID, Kind: org.HallReception, Name: "清波街道接访室"}
	wantErr(t, s.CreateHall(ctx, &dup), org.ErrConflict, "duplicate hall name in a unit")
	bad := org.Hall{UnitID: 999999, Kind: org.HallReception, Name: "x"}
	wantErr(t, s.CreateHall(ctx, &bad), org.ErrConflict, "hall of a missing unit")
	bad = org.Hall{UnitID: tr.T1.ID, Kind: "garage", Name: "x"}
	wantErr(t, s.CreateHall(ctx, &bad), org.ErrInvalid, "hall kind")
	_, err = s.GetHall(ctx, 999999)
	wantErr(t, err, org.ErrNotFound, "missing hall")
}

func testCategories(t *testing.T, s scheduler.Store) {
	root := org.Category{Code: "01", Name: "涉法涉诉"}
	if err := s.CreateCategory(ctx, &root); err != nil {
		t.Fatal(err)
	}
	child := org.Category{ParentID: root.ID, Code: "01.01", Name: "执行难"}
	if err := s.CreateCategory(ctx, &child); err != nil {
		t.Fatal(err)
	}
	dup := org.Category{Code: "01", Name: "x"}
	wantErr(t, s.CreateCategory(ctx, &dup), org.ErrConflict, "duplicate category code")
	orphan := org.Category{ParentID: 999999, Code: "09", Name: "x"}
	wantErr(t, s.CreateCategory(ctx, &orphan), org.ErrConflict, "category with missing parent")
	cs, err := s.ListCategories(ctx)
	if err != nil || len(cs) != 2 || cs[1] != child {
		t.Errorf("categories = %+v, %v", cs, err)
	}
}

func testUsers(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	a := mustUser(t, s, "alice", tr.T1.ID)
	mustUser(t, s, "bob", tr.D2.ID)
	got, err := s.GetUser(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got != a {
		t.Errorf("GetUser = %+v, want %+v", got, a)
	}
	if got, err := s.GetUserByUsername(ctx, "alice"); err != nil || got.ID != a.ID {
		t.Errorf("GetUserByUsername = %+v, %v", got, err)
	}
	_, err = s.GetUserByUsername(ctx, "nobody")
	wantErr(t, err, org.ErrNotFound, "missing user")
	dup := org.User{Kind: org.UserPerson, Username: "alice", DisplayName: "x", UnitID: tr.D1.ID, PasswordHash: "h"}
	wantErr(t, s.CreateUser(ctx, &dup), org.ErrConflict, "duplicate username")
	bad := org.User{Kind: org.UserPerson, Username: "Al ice", DisplayName: "x", UnitID: tr.D1.ID}
	var fe *org.FieldError
	if err := s.CreateUser(ctx, &bad); !errors.As(err, &fe) || fe.Field != "username" {
		t.Errorf("bad username: %v", err)
	}
	noUnit := org.User{Kind: org.UserPerson, Username: "carol", DisplayName: "x", UnitID: 999999}
	wantErr(t, s.CreateUser(ctx, &noUnit), org.ErrConflict, "user of a missing unit")

	under, err := s.ListUsers(ctx, org.UserFilter{UnderPath: tr.D1.Path})
	if err != nil || len(under) != 1 || under[0].ID != a.ID {
		t.Errorf("users under D1 = %+v, %v", under, err)
	}
	if all, _ := s.ListUsers(ctx, org.UserFilter{}); len(all) != 2 {
		t.Errorf("all users = %d", len(all))
	}

	lock := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	for i := 1; i <= 3; i++ {
		n, err := s.RecordLoginFailure(ctx, a.ID, lock)
		if err != nil || n != i {
			t.Fatalf("failure %d: count %d, %v", i, n, err)
		}
	}
	got, _ = s.GetUser(ctx, a.ID)
	if got.FailedLogins != 3 || !got.LockedUntil.Equal(lock) {
		t.Errorf("after failures: %d, locked until %v (want %v)", got.FailedLogins, got.LockedUntil, lock)
	}
	if err := s.ResetLoginFailures(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetUser(ctx, a.ID)
	if got.FailedLogins != 0 || !got.LockedUntil.IsZero() {
		t.Errorf("after reset: %+v", got)
	}
	_, _ = s.RecordLoginFailure(ctx, a.ID, lock)
	if err := s.SetPassword(ctx, a.ID, "new-hash", true); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetUser(ctx, a.ID)
	if got.PasswordHash != "new-hash" || !got.MustChangePassword || got.FailedLogins != 0 || !got.LockedUntil.IsZero() {
		t.Errorf("after SetPassword: %+v", got)
	}
	if err := s.SetUserDisabled(ctx, a.ID, true); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.GetUser(ctx, a.ID); !got.Disabled {
		t.Error("not disabled")
	}
	wantErr(t, s.SetPassword(ctx, 999999, "x", false), org.ErrNotFound, "SetPassword missing")
	_, err = s.RecordLoginFailure(ctx, 999999, time.Time{})
	wantErr(t, err, org.ErrNotFound, "RecordLoginFailure missing")

	hall := org.Hall{UnitID: tr.T1.ID, Kind: org.HallReception, Name: "接访室"}
	if err := s.CreateHall(ctx, &hall); err != nil {
		t.Fatal(err)
	}
	dev := org.User{Kind: org.UserDevice, Username: "hall-1", DisplayName: "接访室终端", UnitID: tr.T1.ID, HallID: hall.ID}
	if err := s.CreateUser(ctx, &dev); err != nil {
		t.Fatal(err)
	}
	devs, err := s.ListUsers(ctx, org.UserFilter{Kind: org.UserDevice})
	if err != nil || len(devs) != 1 || devs[0].HallID != hall.ID {
		t.Errorf("devices = %+v, %v", devs, err)
	}
}

// testLoginFailuresConcurrent makes sure concurrent writers wait for each other instead of
// failing (SQLite's busy handling) and that increments are not lost.
func testLoginFailuresConcurrent(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	u := mustUser(t, s, "dave", tr.City.ID)
	const workers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := s.RecordLoginFailure(ctx, u.ID, time.Time{}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, _ := s.GetUser(ctx, u.ID)
	if got.FailedLogins != workers*each {
		t.Errorf("failed logins %d, want %d", got.FailedLogins, workers*each)
	}
}

func testGrants(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	u := mustUser(t, s, "erin", tr.D1.ID)
	g := org.Grant{UserID: u.ID, Role: org.RoleLeader, UnitID: tr.D1.ID}
	if err := s.AddGrant(ctx, &g); err != nil {
		t.Fatal(err)
	}
	g2 := org.Grant{UserID: u.ID, Role: org.RoleSupervisor, UnitID: tr.T1.ID}
	if err := s.AddGrant(ctx, &g2); err != nil {
		t.Fatal(err)
	}
	dup := org.Grant{UserID: u.ID, Role: org.RoleLeader, UnitID: tr.D1.ID}
	wantErr(t, s.AddGrant(ctx, &dup), org.ErrConflict, "duplicate grant")
	bad := org.Grant{UserID: u.ID, Role: "king", UnitID: tr.D1.ID}
	wantErr(t, s.AddGrant(ctx, &bad), org.ErrInvalid, "unknown role")
	bad = org.Grant{UserID: u.ID, Role: org.RoleLeader, UnitID: 999999}
	wantErr(t, s.AddGrant(ctx, &bad), org.ErrConflict, "grant at a missing unit")
	gs, err := s.ListGrants(ctx, u.ID)
	if err != nil || len(gs) != 2 {
		t.Fatalf("grants = %+v, %v", gs, err)
	}
	if gs[0].UnitPath != tr.D1.Path || gs[1].UnitPath != tr.T1.Path || gs[0].Role != org.RoleLeader {
		t.Errorf("grants = %+v", gs)
	}
	if err := s.RemoveGrant(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.RemoveGrant(ctx, g.ID), org.ErrNotFound, "remove twice")
	if gs, _ := s.ListGrants(ctx, u.ID); len(gs) != 1 || gs[0].ID != g2.ID {
		t.Errorf("after remove: %+v", gs)
	}
}

func testSessions(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	u := mustUser(t, s, "frank", tr.City.ID)
	now := time.Now().Truncate(time.Microsecond)
	live := org.Session{IDHash: "live", UserID: u.ID, CSRFToken: "c1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	old := org.Session{IDHash: "old", UserID: u.ID, CSRFToken: "c2", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
	for _, ss := range []org.Session{live, old} {
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, s.CreateSession(ctx, live), org.ErrConflict, "duplicate session")
	got, err := s.GetSession(ctx, "live")
	if err != nil || got.UserID != u.ID || got.CSRFToken != "c1" || !got.ExpiresAt.Equal(live.ExpiresAt) {
		t.Errorf("GetSession = %+v, %v", got, err)
	}
	if err := s.DeleteExpiredSessions(ctx, now); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetSession(ctx, "old")
	wantErr(t, err, org.ErrNotFound, "expired session after cleanup")
	if _, err := s.GetSession(ctx, "live"); err != nil {
		t.Errorf("live session gone: %v", err)
	}
	if err := s.DeleteSession(ctx, "live"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetSession(ctx, "live")
	wantErr(t, err, org.ErrNotFound, "deleted session")
	for _, h := range []string{"a", "b"} {
		if err := s.CreateSession(ctx, org.Session{IDHash: h, UserID: u.ID, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteUserSessions(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetSession(ctx, "a")
	wantErr(t, err, org.ErrNotFound, "session after DeleteUserSessions")
}

func testAPITokens(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	u := mustUser(t, s, "grace", tr.City.ID)
	exp := time.Now().Add(24 * time.Hour).Truncate(time.Microsecond)
	tok := org.APIToken{UserID: u.ID, Name: "导入脚本", Hash: "hash-1", Scopes: []string{"unit.read", "unit.write"}, ExpiresAt: exp}
	if err := s.CreateAPIToken(ctx, &tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetAPITokenByHash(ctx, "hash-1")
	if err != nil || got.ID != tok.ID || len(got.Scopes) != 2 || got.Scopes[1] != "unit.write" || !got.ExpiresAt.Equal(exp) || !got.RevokedAt.IsZero() {
		t.Errorf("GetAPITokenByHash = %+v, %v", got, err)
	}
	dup := org.APIToken{UserID: u.ID, Name: "x", Hash: "hash-1"}
	wantErr(t, s.CreateAPIToken(ctx, &dup), org.ErrConflict, "duplicate token hash")
	bad := org.APIToken{UserID: u.ID, Name: "x", Hash: "hash-2", Scopes: []string{"a b"}}
	wantErr(t, s.CreateAPIToken(ctx, &bad), org.ErrInvalid, "scope with a space")
	at := time.Now().Truncate(time.Microsecond)
	if err := s.RevokeAPIToken(ctx, tok.ID, at); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAPIToken(ctx, tok.ID, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetAPITokenByHash(ctx, "hash-1")
	if !got.RevokedAt.Equal(at) {
		t.Errorf("revoked at %v, want the first revocation %v", got.RevokedAt, at)
	}
	wantErr(t, s.RevokeAPIToken(ctx, 999999, at), org.ErrNotFound, "revoke missing")
	list, err := s.ListAPITokens(ctx, u.ID)
	if err != nil || len(list) != 1 {
		t.Errorf("ListAPITokens = %+v, %v", list, err)
	}
}

func testPairing(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	hall := org.Hall{UnitID: tr.T1.ID, Kind: org.HallReception, Name: "接访室"}
	if err := s.CreateHall(ctx, &hall); err != nil {
		t.Fatal(err)
	}
	dev := org.User{Kind: org.UserDevice, Username: "term-1", DisplayName: "终端", UnitID: tr.T1.ID, HallID: hall.ID}
	if err := s.CreateUser(ctx, &dev); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := s.SetPairingCode(ctx, dev.ID, "first", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A new code replaces the old one.
	if err := s.SetPairingCode(ctx, dev.ID, "second", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, err := s.ConsumePairingCode(ctx, "first", now)
	wantErr(t, err, org.ErrNotFound, "replaced code")
	_, err = s.ConsumePairingCode(ctx, "second", now.Add(2*time.Minute))
	wantErr(t, err, org.ErrNotFound, "expired code")
	id, err := s.ConsumePairingCode(ctx, "second", now)
	if err != nil || id != dev.ID {
		t.Fatalf("consume = %d, %v", id, err)
	}
	_, err = s.ConsumePairingCode(ctx, "second", now)
	wantErr(t, err, org.ErrNotFound, "code used twice")
}

func testAudit(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	entries := []org.AuditEntry{
		{At: base, ActorID: 1, Actor: "admin", UnitID: tr.City.ID, UnitPath: tr.City.Path, Action: "unit.create", Target: "unit:1", After: `{"name":"杭州市"}`},
		{At: base.Add(time.Minute), ActorID: 1, Actor: "admin", UnitID: tr.D1.ID, UnitPath: tr.D1.Path, Action: "user.create", Target: "user:7", After: `{"username":"x"}`},
		{At: base.Add(2 * time.Minute), ActorID: 7, Actor: "x", UnitID: tr.T1.ID, UnitPath: tr.T1.Path, Action: "pii.view", Target: "case:3", Purpose: "核实身份"},
		{At: base.Add(3 * time.Minute), ActorID: 7, Actor: "x", UnitID: tr.D2.ID, UnitPath: tr.D2.Path, Action: "user.update", Target: "user:7", Before: `{"a":1}`, After: `{"a":2}`, IP: "127.0.0.1", RequestID: "r1"},
	}
	for i := range entries {
		if err := s.AppendAudit(ctx, &entries[i]); err != nil {
			t.Fatal(err)
		}
		if entries[i].ID == 0 {
			t.Fatal("no id")
		}
	}
	wantErr(t, s.AppendAudit(ctx, &org.AuditEntry{}), org.ErrInvalid, "entry without action")
	noTime := org.AuditEntry{Action: "system.start"}
	if err := s.AppendAudit(ctx, &noTime); err != nil || noTime.At.IsZero() {
		t.Fatalf("entry without time: %v, at %v", err, noTime.At)
	}

	q := func(aq org.AuditQuery) []org.AuditEntry {
		t.Helper()
		r, err := s.SearchAudit(ctx, aq)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	all := q(org.AuditQuery{})
	if len(all) != 5 || all[0].ID != noTime.ID {
		t.Fatalf("all = %d entries, first %+v; want 5, newest first", len(all), all[0])
	}
	if all[1] != entries[3] {
		t.Errorf("round trip: %+v, want %+v", all[1], entries[3])
	}
	if r := q(org.AuditQuery{Action: "user."}); len(r) != 2 {
		t.Errorf("prefix user.: %d", len(r))
	}
	if r := q(org.AuditQuery{Action: "pii.view"}); len(r) != 1 || r[0].Purpose != "核实身份" {
		t.Errorf("pii.view: %+v", r)
	}
	if r := q(org.AuditQuery{ActorID: 7}); len(r) != 2 {
		t.Errorf("actor 7: %d", len(r))
	}
	if r := q(org.AuditQuery{UnderPath: tr.D1.Path}); len(r) != 2 {
		t.Errorf("under D1: %d", len(r))
	}
	if r := q(org.AuditQuery{Target: "user:7"}); len(r) != 2 {
		t.Errorf("target user:7: %d", len(r))
	}
	if r := q(org.AuditQuery{From: base.Add(time.Minute), To: base.Add(3 * time.Minute)}); len(r) != 2 {
		t.Errorf("time window: %d", len(r))
	}
	page := q(org.AuditQuery{Limit: 2})
	if len(page) != 2 {
		t.Fatalf("limit 2: %d", len(page))
	}
	next := q(org.AuditQuery{Limit: 2, BeforeID: page[1].ID})
	if len(next) != 2 || next[0].ID >= page[1].ID {
		t.Errorf("second page: %+v", next)
	}
}

func testTx(t *testing.T, s scheduler.Store) {
	boom := errors.New("boom")
	root := org.Unit{Kind: org.KindRoot, Code: org.RootCode, Name: "本系统"}
	if err := s.CreateUnit(ctx, &root); err != nil {
		t.Fatal(err)
	}
	err := s.InTx(ctx, func(tx scheduler.Store) error {
		u := org.Unit{Kind: org.KindCity, ParentID: root.ID, Code: "110100", Name: "北京市"}
		if err := tx.CreateUnit(ctx, &u); err != nil {
			return err
		}
		if _, err := tx.GetUnit(ctx, u.ID); err != nil {
			return fmt.Errorf("read own write: %w", err)
		}
		// Nested InTx joins the outer transaction.
		return tx.InTx(ctx, func(inner scheduler.Store) error {
			d := org.Unit{Kind: org.KindDistrict, ParentID: u.ID, Code: "110101", Name: "东城区"}
			if err := inner.CreateUnit(ctx, &d); err != nil {
				return err
			}
			return boom
		})
	})
	wantErr(t, err, boom, "InTx error")
	if all, _ := s.ListUnits(ctx, ""); len(all) != 1 {
		t.Fatalf("rolled-back units are visible: %+v", all)
	}
	err = s.InTx(ctx, func(tx scheduler.Store) error {
		u := org.Unit{Kind: org.KindCity, ParentID: root.ID, Code: "110100", Name: "北京市"}
		return tx.CreateUnit(ctx, &u)
	})
	if err != nil {
		t.Fatal(err)
	}
	if all, _ := s.ListUnits(ctx, ""); len(all) != 2 {
		t.Fatalf("committed unit missing: %+v", all)
	}
}
