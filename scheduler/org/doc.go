// Package org is the scheduler's vocabulary, the leaf every other part of the domain imports:
// the tier tree (root → city → district → township, departments attached to a tier), halls and
// studios, the case category tree, users, roles granted at a node of the tree, login sessions,
// API tokens and the audit log; the one policy table (action → roles) with Principal, which
// answers "may this person do this here"; the separation of duties; and the domain's errors
// (ErrNotFound, ErrConflict, ErrInvalid, FieldError) with the small validators the others share.
//
// Its port is Store (the tree, users, grants, sessions, tokens, audit). It imports only the
// standard library.
package org
