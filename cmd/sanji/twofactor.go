package main

import (
	"strconv"

	"sanji/i18n"
	"sanji/scheduler/org"
)

// authConfig configures the staff's login (docs/security.md).
type authConfig struct {
	// TOTPRoles are the roles whose holders must log in with a second factor (TOTP). Empty: the
	// roles that see petitioners' identity or administer (org.SecondFactorRoles); "none" turns
	// the requirement off (anyone enrolled still gives a code).
	TOTPRoles []string `yaml:"totp_roles"`
}

// totpNone is the value of auth.totp_roles that requires the second factor of nobody.
const totpNone = "none"

// totpRoles is what the API is told: nil for the default, empty for none.
func (a authConfig) totpRoles() []string {
	if len(a.TOTPRoles) == 0 {
		return nil
	}
	if len(a.TOTPRoles) == 1 && a.TOTPRoles[0] == totpNone {
		return []string{}
	}
	return a.TOTPRoles
}

// validate checks every named role; a hall terminal never logs in with a password, so it cannot
// be asked for a code.
func (a authConfig) validate(bad func(i18n.Key, ...any)) {
	if len(a.TOTPRoles) == 1 && a.TOTPRoles[0] == totpNone {
		return
	}
	for _, r := range a.TOTPRoles {
		if !org.ValidRole(r) || r == org.RoleHallTerminal {
			bad("cmd.twofactor.role", "role", strconv.Quote(r))
		}
	}
}
