// Package scheduler will hold the domain of the reception: the tier tree (city, district,
// township), halls, users and roles, reception sessions, bookings, cases, attachments, the
// 交办/督办/会商 slips and their deadline clocks, with a store behind an interface and an HTTP
// JSON API. It knows nothing of media.
//
// Coming: nothing is implemented yet; this file only reserves the package and states its purpose.
package scheduler
