package org

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Actions a principal may be allowed. Every HTTP handler names one and asks Principal.Can (or
// VisibleRoots for lists); no handler looks at roles itself.
const (
	ActUnitRead      = "unit.read"      // see units, halls and categories of a subtree
	ActUnitWrite     = "unit.write"     // create and rename units and halls, import trees
	ActUserRead      = "user.read"      // see users and their grants in a subtree
	ActUserWrite     = "user.write"     // create users, grant and revoke roles, reset passwords, pair terminals
	ActAuditRead     = "audit.read"     // search the audit log of a subtree
	ActCallJoin      = "call.join"      // get a join token for a call at a unit of the subtree
	ActCallModerate  = "call.moderate"  // sit in the studio of a reception call and run it (call, stage, moderation)
	ActCategoryWrite = "category.write" // edit the case category tree
	// Receptions (scheduler/reception): the calendar, its changes, bookings and the hall queue, and
	// unmasked petitioner identity.
	ActSessionRead   = "session.read"      // see reception sessions, schedules and the holiday calendar
	ActSessionWrite  = "session.write"     // create schedules and sessions, cancel sessions
	ActApptRead      = "appointment.read"  // see a session's or a hall's queue (identity masked)
	ActApptWrite     = "appointment.write" // book petitioners, add walk-ins, check in, reorder
	ActPIIView       = "pii.view"          // see a petitioner's name, ID number and phone unmasked (audited)
	ActHolidayWrite  = "holiday.write"     // correct the public holiday calendar (installation-wide data)
	ActCaseRegister  = "case.register"     // register a case (信访事项) at a unit of the subtree
	ActCaseRead      = "case.read"         // see cases of the subtree, redacted per viewer (casework.CaseViewLevel)
	ActCaseHandle    = "case.handle"       // move a case through its status machine, assign, object
	ActCaseSupervise = "case.supervise"    // open and escalate supervision items (督办)
	ActStatsRead     = "stats.read"        // see the rates of a subtree
	ActCaseAttach    = "case.attach"       // upload files to a case
	ActCaseOwn       = "case.own"          // take personal ownership of a case (包案)
	ActCaseExchange  = "case.exchange"     // export cases as signed bundles and import bundles (scheduler/exchange)
	// ActInvitationAnswer: see the invitations of one's unit to sessions and hearings, and
	// accept or decline them (scheduler/reception).
	ActInvitationAnswer = "invitation.answer"
	// ActRecordingView: play and verify a case's hearing recordings (同步录音录像), which show the
	// petitioner's face and voice: besides the role, the caller's view of the case must be full
	// (cases_view.go), so the unit complained about never plays one.
	ActRecordingView = "recording.view"
)

// ActSessionBackfill: enter a session that starts in the past as the record of a reception that
// took place (补录); asked besides session.write.
const ActSessionBackfill = "session.backfill"

// ActNodeAdmin: see the nodes of a cluster and drain them (installation-wide, at the root).
const ActNodeAdmin = "node.admin"

// Actions lists every action, for the authorization matrix and token scopes.
var Actions = []string{ActUnitRead, ActUnitWrite, ActUserRead, ActUserWrite, ActAuditRead, ActCallJoin, ActCallModerate, ActCategoryWrite,
	ActSessionRead, ActSessionWrite, ActSessionBackfill, ActApptRead, ActApptWrite, ActPIIView, ActHolidayWrite,
	ActCaseRegister, ActCaseRead, ActCaseHandle, ActCaseSupervise, ActStatsRead, ActCaseAttach, ActCaseOwn, ActCaseExchange, ActInvitationAnswer,
	ActRecordingView, ActNodeAdmin}

// staff is every role a person works in; the terminal's role is not one of them.
var staff = []string{RoleLeader, RoleHallOperator, RoleIntakeOfficer, RoleCaseHandler, RoleUnitHead,
	RoleSupervisor, RoleSchedulerStaff, RoleObserver, RoleAdmin, RoleAuditor}

// callRoles join calls. Admin and auditor never do: three-role separation keeps configuration
// and audit away from case content, and a reception call is case content.
var callRoles = []string{RoleLeader, RoleHallOperator, RoleIntakeOfficer, RoleCaseHandler, RoleUnitHead,
	RoleSupervisor, RoleSchedulerStaff, RoleObserver, RoleHallTerminal}

// policy is THE table: action → the roles that may perform it. The scope is always the subtree
// of the unit where the role was granted.
var policy = map[string][]string{
	ActUnitRead:  staff,
	ActUnitWrite: {RoleAdmin},
	ActUserRead:  {RoleAdmin, RoleAuditor},
	ActUserWrite: {RoleAdmin},
	ActAuditRead: {RoleAuditor},
	ActCallJoin:  callRoles,
	// The session's own leader sits in the studio by being its leader; these staff run the call beside them.
	ActCallModerate:  {RoleLeader, RoleIntakeOfficer, RoleSupervisor, RoleSchedulerStaff},
	ActCategoryWrite: {RoleAdmin},
	// Sessions are case work: admin and auditor stay out (三员分立).
	ActSessionRead:  {RoleLeader, RoleHallOperator, RoleIntakeOfficer, RoleCaseHandler, RoleUnitHead, RoleSupervisor, RoleSchedulerStaff, RoleObserver},
	ActSessionWrite: {RoleSchedulerStaff},
	// A record of the past says a leader received petitioners: the staff who keep the calendar
	// enter it (audited), never the leader it counts for, and an API token that books sessions
	// needs this scope besides session.write to write the past.
	ActSessionBackfill: {RoleSchedulerStaff},
	ActApptRead:        {RoleLeader, RoleHallOperator, RoleIntakeOfficer, RoleSupervisor, RoleSchedulerStaff},
	ActApptWrite:       {RoleHallOperator, RoleIntakeOfficer, RoleSchedulerStaff},
	// The domain: identity is shown to the hall, the registering office and the supervisors.
	ActPIIView: {RoleHallOperator, RoleIntakeOfficer, RoleSupervisor},
	// The calendar is configuration, kept at the root like the category tree.
	ActHolidayWrite: {RoleAdmin},
	ActCaseRegister: {RoleHallOperator, RoleIntakeOfficer},
	// Observers see only the title of the matter heard in the call they observe (call.Backend
	// ObserverPanel): no case list, no case. Admin and auditor never see case content.
	ActCaseRead:      {RoleLeader, RoleHallOperator, RoleIntakeOfficer, RoleCaseHandler, RoleUnitHead, RoleSupervisor, RoleSchedulerStaff},
	ActCaseHandle:    {RoleLeader, RoleIntakeOfficer, RoleCaseHandler, RoleUnitHead, RoleSupervisor},
	ActCaseSupervise: {RoleLeader, RoleSupervisor},
	ActStatsRead:     {RoleLeader, RoleSupervisor},
	ActCaseAttach:    {RoleLeader, RoleHallOperator, RoleIntakeOfficer, RoleCaseHandler, RoleUnitHead, RoleSupervisor},
	// 谁接访、谁负责、谁包案: owning a case is a leader's own commitment.
	ActCaseOwn: {RoleLeader},
	// The link to upper-level systems is the petition office's: those who register and those who
	// supervise. Identity in an export further needs pii.view.
	ActCaseExchange: {RoleIntakeOfficer, RoleSupervisor},
	// A unit's people who would join a hearing answer for it; observers, admin and auditor do not.
	ActInvitationAnswer: {RoleLeader, RoleHallOperator, RoleIntakeOfficer, RoleCaseHandler, RoleUnitHead, RoleSupervisor, RoleSchedulerStaff},
	// Face and voice are shown to the hall, the registering office, the assigned handler and the
	// supervisors in the chain: the roles that can have the full view of a case.
	ActRecordingView: {RoleHallOperator, RoleIntakeOfficer, RoleCaseHandler, RoleSupervisor},
	// The machines are configuration: the administrator's, like the holiday calendar.
	ActNodeAdmin: {RoleAdmin},
}

// RoleMay reports whether the table lets role perform action (somewhere).
func RoleMay(role, action string) bool {
	for _, r := range policy[action] {
		if r == role {
			return true
		}
	}
	return false
}

// Principal is who is asking: a user with grants, possibly through an API token whose scopes
// narrow what the user may do.
type Principal struct {
	User   User
	Grants []Grant
	// Scopes, when not nil, are the only actions allowed (an API token's scopes).
	Scopes []string
}

func (p *Principal) scoped(action string) bool {
	if p.Scopes == nil {
		return true
	}
	for _, s := range p.Scopes {
		if s == action {
			return true
		}
	}
	return false
}

// Can reports whether p may perform action on something at the unit with path targetPath:
// some grant's role allows the action, and the target lies in that grant's subtree.
func (p *Principal) Can(action, targetPath string) bool {
	if p == nil || p.User.Disabled || targetPath == "" || !p.scoped(action) {
		return false
	}
	for _, g := range p.Grants {
		if RoleMay(g.Role, action) && strings.HasPrefix(targetPath, g.UnitPath) {
			return true
		}
	}
	return false
}

// VisibleRoots returns the paths of the subtrees where p may perform action, with nested ones
// removed: listing each root's subtree lists everything p may see, once.
func (p *Principal) VisibleRoots(action string) []string {
	if p == nil || p.User.Disabled || !p.scoped(action) {
		return nil
	}
	var paths []string
	for _, g := range p.Grants {
		if RoleMay(g.Role, action) {
			paths = append(paths, g.UnitPath)
		}
	}
	sort.Strings(paths) // a parent sorts before its descendants
	var roots []string
	for _, path := range paths {
		if len(roots) > 0 && strings.HasPrefix(path, roots[len(roots)-1]) {
			continue
		}
		roots = append(roots, path)
	}
	return roots
}

// CanAnywhere reports whether p may perform action somewhere.
func (p *Principal) CanAnywhere(action string) bool { return len(p.VisibleRoots(action)) > 0 }

// RolesFor returns p's distinct roles that allow action at targetPath, in Roles order.
func (p *Principal) RolesFor(action, targetPath string) []string {
	if !p.Can(action, targetPath) {
		return nil
	}
	seen := map[string]bool{}
	for _, g := range p.Grants {
		if RoleMay(g.Role, action) && strings.HasPrefix(targetPath, g.UnitPath) {
			seen[g.Role] = true
		}
	}
	var out []string
	for _, r := range Roles {
		if seen[r] {
			out = append(out, r)
		}
	}
	return out
}

// ErrRoleSeparation refuses a grant that would break the separation of duties (三员分立): the
// administrator and the auditor are different people, and neither holds a role that sees case
// content.
var ErrRoleSeparation = errors.New("scheduler: admin and auditor roles cannot be combined with each other or with case roles")

// separated reports whether a user who holds the roles held may also be granted role.
func separated(held []string, role string) error {
	exclusive := func(r string) bool { return r == RoleAdmin || r == RoleAuditor }
	for _, h := range held {
		if h != role && (exclusive(h) || exclusive(role)) {
			return fmt.Errorf("%w: %s with %s", ErrRoleSeparation, h, role)
		}
	}
	return nil
}

// CheckSeparation checks a whole set of roles for one user (in any order).
func CheckSeparation(roles []string) error {
	for i, r := range roles {
		if err := separated(roles[:i], r); err != nil {
			return err
		}
	}
	return nil
}

// SecondFactorRoles are the roles that log in with a second factor (TOTP) unless the operator
// names others: the roles that may see a petitioner's identity unmasked or face and voice
// (pii.view, recording.view: hall operators, intake officers, supervisors, handlers with the
// full view) and those that administer (user.write, unit.write). Derived from the table, so a
// role given one of these actions later is covered without another list to keep.
func SecondFactorRoles() []string {
	var out []string
	for _, r := range Roles {
		for _, a := range []string{ActPIIView, ActRecordingView, ActUserWrite, ActUnitWrite} {
			if r != RoleHallTerminal && RoleMay(r, a) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}
