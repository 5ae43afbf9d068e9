// Package scheduler holds the domain of the reception: the tier tree (city, district, township,
// departments attached to a tier), halls and studios, the case category tree, users with roles
// granted at a node of the tree, sessions, API tokens and the audit log, with one policy table
// deciding who may do what where.
//
// The domain types and the Store interface live here; the store implementations live in their
// own packages (scheduler/sqlite, scheduler/postgres, sharing scheduler/sqlstore) so this package
// imports no database driver. It knows nothing of media.
package scheduler
