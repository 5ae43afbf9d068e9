package scheduler_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/org"
)

// TestResetPassword: the machine's reset gives a demo user a new one-time password that must be
// changed, clears a lockout, ends the user's logins and is audited; an unknown username and a
// hall terminal are refused by name.
func TestResetPassword(t *testing.T) {
	st := openStore(t)
	if _, err := scheduler.Bootstrap(ctx, st, fakeHash, seqGen()); err != nil {
		t.Fatal(err)
	}
	if _, err := scheduler.SeedDemo(ctx, st, fakeHash, seqGen()); err != nil {
		t.Fatal(err)
	}
	u, err := st.GetUserByUsername(ctx, "demo-leader")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordLoginFailure(ctx, u.ID, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.CreateSession(ctx, org.Session{IDHash: "h1", UserID: u.ID, CSRFToken: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	gen := func() (string, error) { return "fresh-one-time-pw", nil }
	login, err := scheduler.ResetPassword(ctx, st, "demo-leader", fakeHash, gen)
	if err != nil {
		t.Fatal(err)
	}
	if login.Username != "demo-leader" || login.Password != "fresh-one-time-pw" || login.Role != org.RoleLeader || login.Unit != "杭州市" {
		t.Errorf("login %+v", login)
	}
	after, _ := st.GetUserByUsername(ctx, "demo-leader")
	if after.PasswordHash != "hash:fresh-one-time-pw" || !after.MustChangePassword || after.FailedLogins != 0 || !after.LockedUntil.IsZero() {
		t.Errorf("after the reset: %+v", after)
	}
	if _, err := st.GetSession(ctx, "h1"); !errors.Is(err, org.ErrNotFound) {
		t.Errorf("the user's login survived the reset: %v", err)
	}
	es, err := st.SearchAudit(ctx, org.AuditQuery{Action: "user.password_reset", Target: fmt.Sprintf("user:%d", u.ID)})
	if err != nil || len(es) != 1 || es[0].ActorID != 0 || !strings.Contains(es[0].After, "command line") || es[0].UnitPath == "" {
		t.Errorf("audit: %+v %v", es, err)
	}

	_, err = scheduler.ResetPassword(ctx, st, "demo-leadr", fakeHash, gen)
	var fe *org.FieldError
	if !errors.As(err, &fe) || fe.Field != "username" || !strings.Contains(fe.ZH, "demo-leadr") || !strings.Contains(fe.EN, "no account") {
		t.Errorf("unknown user: %v", err)
	}

	city, _ := st.GetUnitByCode(ctx, scheduler.DemoCityCode)
	halls, _ := st.ListHalls(ctx, city.Path)
	dev := org.User{Kind: org.UserDevice, Username: "terminal-1", DisplayName: "终端", UnitID: halls[0].UnitID, HallID: halls[0].ID}
	if err := st.CreateUser(ctx, &dev); err != nil {
		t.Fatal(err)
	}
	if _, err := scheduler.ResetPassword(ctx, st, "terminal-1", fakeHash, gen); !errors.As(err, &fe) || !strings.Contains(fe.EN, "hall terminal") {
		t.Errorf("terminal: %v", err)
	}
}
