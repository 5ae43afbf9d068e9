package scheduler

import (
	"context"
	"errors"
	"fmt"

	"sanji/scheduler/org"
)

// Hasher turns a password into a stored hash (auth.HashPassword in the server; cheaper in tests).
type Hasher func(password string) (string, error)

// PasswordGen makes a one-time password to print (auth.RandomPassword in the server).
type PasswordGen func() (string, error)

// Login is a username and the password printed for it once.
type Login struct {
	Username string
	Password string
	Role     string
	Unit     string // the unit's name, to tell the logins apart on the terminal
}

// AdminUsername is the first account's name.
const AdminUsername = "admin"

// Bootstrap prepares a new store: the root unit and one admin account with a one-time password
// that must be changed at first login. On a store that already has users it does nothing and
// returns nil: the password is printed once, never again.
func Bootstrap(ctx context.Context, st Store, hash Hasher, gen PasswordGen) (*Login, error) {
	var login *Login
	err := st.InTx(ctx, func(tx Store) error {
		users, err := tx.ListUsers(ctx, org.UserFilter{})
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return nil
		}
		root, err := EnsureRoot(ctx, tx)
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
		admin := org.User{Kind: org.UserPerson, Username: AdminUsername, DisplayName: "系统管理员", UnitID: root.ID,
			PasswordHash: h, MustChangePassword: true}
		if err := tx.CreateUser(ctx, &admin); err != nil {
			return err
		}
		if err := tx.AddGrant(ctx, &org.Grant{UserID: admin.ID, Role: org.RoleAdmin, UnitID: root.ID}); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, &org.AuditEntry{Action: "system.bootstrap", Target: userTarget(admin.ID),
			UnitID: root.ID, UnitPath: root.Path, After: `{"username":"admin","role":"admin"}`}); err != nil {
			return err
		}
		login = &Login{Username: AdminUsername, Password: pw, Role: org.RoleAdmin, Unit: root.Name}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	return login, nil
}

// EnsureRoot returns the root unit, creating it when missing.
func EnsureRoot(ctx context.Context, st Store) (org.Unit, error) {
	root, err := st.GetUnitByCode(ctx, org.RootCode)
	if err == nil {
		return root, nil
	}
	if !errors.Is(err, org.ErrNotFound) {
		return org.Unit{}, err
	}
	root = org.Unit{Kind: org.KindRoot, Code: org.RootCode, Name: "本系统"}
	if err := st.CreateUnit(ctx, &root); err != nil {
		return org.Unit{}, err
	}
	return root, nil
}

func userTarget(id int64) string { return fmt.Sprintf("user:%d", id) }
