// Package api is the scheduler's HTTP JSON API under /api/v1/ (docs/api/openapi.yaml).
//
// Every route names its access in one table (routes.go): public, any logged-in user ("self"),
// or a policy action from org's policy table. Handlers ask through rc.require / rc.roots, which
// use the route's action, so no handler checks a role by hand.
//
// The handlers are grouped in files by subject, after the domain's packages:
//
//   - core: api.go (Config, Server, the middleware: authentication, CSRF, limits, the request
//     context), routes.go (the route table), errors.go, views.go (the organisation's views),
//     ratelimit.go, session.go (login sessions, me, password change)
//   - org: units.go (units, halls, categories), users.go (users and grants), devices.go (hall
//     terminals and pairing), tokens.go (API tokens), audit.go (the audit log's search)
//   - reception and calendar: sessions.go (sessions, schedules, the public feed 五公开),
//     holidays.go, appointments.go (booking and the hall queue), bookingchecks.go (同人同事,
//     level checks), invitations.go (multi-site hearings), feeds.go (iCalendar feeds)
//   - casework: cases.go (registration, the status machine, the case view), casework.go (lists,
//     包案, clock notes, routing units), attachments.go, assignments.go (交办),
//     supervisions.go (督办), consultations.go (会商), query.go (the petitioner's query page)
//   - rates: rates.go (the dashboard's rates and counts)
//   - exchange: exchange.go (signed bundles, export and import)
//   - the live call: joins.go (join tokens for halls, units and a session's call),
//     callbridge.go (CallHooks and CallBridge, what the signaling server calls), recordings.go
//     (the hearings' recordings)
//
// It stays one package of more than 3,500 lines on purpose. The route table is the one place
// where every route and its policy action can be read, and the authorization matrix test
// (matrix_test.go) walks it and fails for a route without a row; with a package per subject,
// the table would be scattered into each package's registration, or sit in a package above
// them all that names their handlers. And the subjects' handlers share the server's
// internals: the request context that carries the route's action (reqCtx), the scope checks
// (unitInScope, loadCase), the views (CallBridge's case panel is built from the case, slip and
// booking views), the audit, decoding and error helpers. Packages per subject would have to
// export all of these to one another, for no gain in what a change touches: a change to case
// work already touches case work's files only.
package api
