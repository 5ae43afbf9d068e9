package org_test

import (
	"fmt"
	"strings"
	"testing"

	"sanji/scheduler/org"
)

func TestPolicy(t *testing.T) {
	city, dist, other := "/1/2/", "/1/2/3/", "/1/2/9/"
	p := &org.Principal{Grants: []org.Grant{
		{Role: org.RoleAdmin, UnitPath: dist},
		{Role: org.RoleLeader, UnitPath: city},
	}}
	cases := []struct {
		action, path string
		want         bool
	}{
		{org.ActUserWrite, dist, true},
		{org.ActUserWrite, dist + "4/", true},
		{org.ActUserWrite, other, false},
		{org.ActUserWrite, city, false},
		{org.ActCallJoin, other, true},  // as leader of the city
		{org.ActAuditRead, dist, false}, // admins do not read the audit log
		{org.ActUnitRead, "/1/", false}, // above every grant
		{org.ActUnitRead, "", false},
	}
	for _, c := range cases {
		if got := p.Can(c.action, c.path); got != c.want {
			t.Errorf("Can(%s, %s) = %v, want %v", c.action, c.path, got, c.want)
		}
	}
	if roots := p.VisibleRoots(org.ActUnitRead); fmt.Sprint(roots) != fmt.Sprint([]string{city}) {
		t.Errorf("VisibleRoots(unit.read) = %v, want only the city (the district is inside it)", roots)
	}
	p.Scopes = []string{org.ActUnitRead}
	if p.Can(org.ActUserWrite, dist) || !p.Can(org.ActUnitRead, dist) {
		t.Error("token scopes not applied")
	}
	p.Scopes = nil
	p.User.Disabled = true
	if p.Can(org.ActUnitRead, dist) {
		t.Error("a disabled user may act")
	}
	// Admin and auditor never join calls (three-role separation).
	for _, r := range []string{org.RoleAdmin, org.RoleAuditor} {
		if org.RoleMay(r, org.ActCallJoin) {
			t.Errorf("%s may join calls", r)
		}
	}
}

func TestCheckSeparation(t *testing.T) {
	for _, c := range []struct {
		roles []string
		ok    bool
	}{
		{[]string{org.RoleLeader, org.RoleCaseHandler}, true},
		{[]string{org.RoleAdmin, org.RoleAdmin}, true},
		{[]string{org.RoleAdmin, org.RoleAuditor}, false},
		{[]string{org.RoleCaseHandler, org.RoleAuditor}, false},
		{[]string{org.RoleAdmin, org.RoleLeader}, false},
		{nil, true},
	} {
		if err := org.CheckSeparation(c.roles); (err == nil) != c.ok {
			t.Errorf("CheckSeparation(%v) = %v", c.roles, err)
		}
	}
}

// TestSecondFactorRoles: the default two-factor roles are the list, read off the table.
func TestSecondFactorRoles(t *testing.T) {
	got := strings.Join(org.SecondFactorRoles(), ",")
	if want := "hall_operator,intake_officer,case_handler,supervisor,admin"; got != want {
		t.Errorf("SecondFactorRoles = %s, want %s", got, want)
	}
}
