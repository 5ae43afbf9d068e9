// Package calendar is time as the law and the halls count it: the legal day (DayOf, Date, in
// Beijing time), the working-day calendar of statutory holidays and make-up working days
// (Calendar, seeded from holidays.txt, kept by a HolidayStore), the counting of a legal period
// over it (Rule, Deadline, Calendar.Compute, with an explanation of each step), and the
// recurrence of reception schedules (a subset of RFC 5545 RRULE expanded in Shanghai time).
//
// Which periods the petition rules know is casework's. Its ports are HolidaySource (what
// LoadCalendar reads) and HolidayStore. It imports org.
package calendar
