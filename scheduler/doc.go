// Package scheduler is the top of the domain of the reception: the aggregate Store, composed of
// the subject packages' ports, with InTx (one transaction over all of them); the bootstrap of a
// new installation (the root unit and the first administrator); the import of the tier tree from
// CSV or JSON; the demo data; and the one transaction of a bundle's import (ImportBundle).
//
// The subjects live below it, dependencies pointing one way:
//
//	org        the tier tree, users, roles and grants, the policy table, the domain errors (std only)
//	calendar   the legal day, the working-day calendar, legal periods, recurrence (org)
//	casework   cases, views, attachments, slips, the petition rules, clocks, the overdue job (org, calendar)
//	reception  sessions, appointments, invitations, feeds, booking checks, notices (org, calendar, casework)
//	rates      the statistics of case work and their kept counts (org, calendar, casework)
//	exchange   signed bundles, export and import of cases (org, casework)
//
// The store implementations live in their own packages (scheduler/sqlite, scheduler/postgres,
// sharing scheduler/sqlstore) so the domain imports no database driver. It knows nothing of media.
package scheduler
