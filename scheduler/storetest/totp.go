package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/org"
)

// testTOTP: a pending secret is replaced, confirmed once, then kept; a time step is accepted
// once (also by two requests at the same moment); recovery codes work once each; a session
// keeps what it still lacks; an admin's reset removes it all.
func testTOTP(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	u := mustUser(t, s, "tina", tr.City.ID)
	now := time.Now().Truncate(time.Microsecond)
	_, err := s.GetTOTP(ctx, u.ID)
	wantErr(t, err, org.ErrNotFound, "TOTP before enrolment")
	wantErr(t, s.UseTOTPStep(ctx, u.ID, 5), org.ErrConflict, "step without TOTP")
	wantErr(t, s.ConfirmTOTP(ctx, u.ID, 5, nil, now), org.ErrNotFound, "confirm without a pending secret")
	for _, secret := range []string{"FIRSTSECRET", "SECONDSECRET"} {
		if err := s.BeginTOTP(ctx, u.ID, secret, now); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetTOTP(ctx, u.ID)
	if err != nil || got.Secret != "SECONDSECRET" || !got.ConfirmedAt.IsZero() || got.RecoveryLeft != 0 {
		t.Fatalf("pending TOTP = %+v, %v; want the second secret, unconfirmed", got, err)
	}
	wantErr(t, s.UseTOTPStep(ctx, u.ID, 5), org.ErrConflict, "step of an unconfirmed TOTP")
	if err := s.ConfirmTOTP(ctx, u.ID, 100, []string{"r1", "r2", "r3"}, now); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.ConfirmTOTP(ctx, u.ID, 101, nil, now), org.ErrNotFound, "second confirmation")
	wantErr(t, s.BeginTOTP(ctx, u.ID, "THIRD", now), org.ErrConflict, "enrolment over a confirmed TOTP")
	got, err = s.GetTOTP(ctx, u.ID)
	if err != nil || got.Secret != "SECONDSECRET" || !got.ConfirmedAt.Equal(now) || got.LastStep != 100 || got.RecoveryLeft != 3 {
		t.Fatalf("confirmed TOTP = %+v, %v", got, err)
	}
	wantErr(t, s.UseTOTPStep(ctx, u.ID, 100), org.ErrConflict, "the confirming code's step again")
	wantErr(t, s.UseTOTPStep(ctx, u.ID, 99), org.ErrConflict, "an earlier step")
	// Two logins with the same code at once: exactly one passes.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.UseTOTPStep(ctx, u.ID, 101)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, org.ErrConflict) {
			t.Errorf("concurrent step: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of 4 concurrent uses of one step passed, want 1 (%v)", ok, errs)
	}
	if err := s.UseRecoveryCode(ctx, u.ID, "r2", now); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.UseRecoveryCode(ctx, u.ID, "r2", now), org.ErrNotFound, "a used recovery code")
	wantErr(t, s.UseRecoveryCode(ctx, u.ID, "r9", now), org.ErrNotFound, "an unknown recovery code")
	other := mustUser(t, s, "otto", tr.City.ID)
	wantErr(t, s.UseRecoveryCode(ctx, other.ID, "r1", now), org.ErrNotFound, "another user's recovery code")
	if got, _ := s.GetTOTP(ctx, u.ID); got.RecoveryLeft != 2 {
		t.Errorf("recovery codes left %d, want 2", got.RecoveryLeft)
	}

	sess := org.Session{IDHash: "half", UserID: u.ID, CSRFToken: "c", CreatedAt: now, ExpiresAt: now.Add(time.Minute), Pending: org.SessionPendingTOTP}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetSession(ctx, "half"); err != nil || got.Pending != org.SessionPendingTOTP {
		t.Errorf("pending session = %+v, %v", got, err)
	}

	if err := s.DeleteTOTP(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteTOTP(ctx, u.ID), org.ErrNotFound, "second reset")
	_, err = s.GetTOTP(ctx, u.ID)
	wantErr(t, err, org.ErrNotFound, "TOTP after reset")
	wantErr(t, s.UseRecoveryCode(ctx, u.ID, "r1", now), org.ErrNotFound, "recovery code after reset")
	// After a reset the user enrols afresh.
	if err := s.BeginTOTP(ctx, u.ID, "FRESH", now); err != nil {
		t.Fatal(err)
	}
}
