package scheduler

import (
	"context"
	"errors"
	"fmt"

	"sanji/scheduler/org"
)

// ResetPassword gives the person username a new one-time password that they must change at their
// next login, ends their logins and audits the reset. It is `sanji reset-password`, run on the
// server's machine, for when no admin can log in to reset it through the API (the admin's own
// password lost, or the demo's passwords that were printed once). An unknown username and a hall
// terminal (which has no password) are refused, naming the username.
func ResetPassword(ctx context.Context, st Store, username string, hash Hasher, gen PasswordGen) (Login, error) {
	var login Login
	err := st.InTx(ctx, func(tx Store) error {
		u, err := tx.GetUserByUsername(ctx, username)
		if errors.Is(err, org.ErrNotFound) {
			return org.Invalid("username", "scheduler.password.unknown_user", "username", username)
		} else if err != nil {
			return err
		}
		if u.Kind != org.UserPerson {
			return org.Invalid("username", "scheduler.password.terminal", "username", username)
		}
		unit, err := tx.GetUnit(ctx, u.UnitID)
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
		if err := tx.SetPassword(ctx, u.ID, h, true); err != nil {
			return err
		}
		// Whoever holds a login of the account now loses it, as after a reset by an admin.
		if err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
			return err
		}
		// Action as the API's reset, so the auditor finds both; no actor: it came from the machine.
		if err := tx.AppendAudit(ctx, &org.AuditEntry{Action: "user.password_reset", Target: userTarget(u.ID),
			UnitID: unit.ID, UnitPath: unit.Path, After: `{"by":"command line","must_change_password":true}`}); err != nil {
			return err
		}
		login = Login{Username: u.Username, Password: pw, Unit: unit.Name}
		if gs, err := tx.ListGrants(ctx, u.ID); err == nil && len(gs) > 0 {
			login.Role = gs[0].Role
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return Login{}, fmt.Errorf("reset password: %w", err)
	}
	return login, nil
}
