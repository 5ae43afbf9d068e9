// Package reception is the scheduling of receptions: schedules expanded into sessions (with the
// locked overlap check), appointments of petitioners and the hall queue, invitations of units and
// halls to a session, calendar feeds, the booking checks (earlier appointments and cases of the
// same person, similar matters, the level checks), notices and the reminder job, and the case
// records a reception call shows.
//
// Its ports are SessionStore (with AppointmentStore, InvitationStore, BookingCheckStore, FeedStore
// and calendar.HolidayStore), CheckStore for the booking checks, and Notifier. It imports org,
// calendar and casework.
package reception
