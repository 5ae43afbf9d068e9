package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
)

// ---- ids as text ("1,2,3"): the rosters are short and read with their session ----

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ",")
}

func splitIDs(s string) []int64 {
	if s == "" {
		return nil
	}
	var out []int64
	for _, p := range strings.Split(s, ",") {
		if id, err := strconv.ParseInt(p, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// ---- holidays ----

// PutHoliday implements reception.SessionStore.
func (s *Store) PutHoliday(ctx context.Context, h calendar.Holiday) error {
	day, err := time.Parse("2006-01-02", h.Date)
	if err != nil {
		return org.Invalid("date", "sqlstore.holiday.date_invalid")
	}
	if h.Kind != calendar.DayOff && h.Kind != calendar.DayWorkday {
		return org.Invalid("kind", "sqlstore.holiday.kind_invalid")
	}
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		if _, err := tx.exec(ctx, `INSERT INTO public_holidays (day, kind, name) VALUES (?, ?, ?)
			ON CONFLICT (day) DO UPDATE SET kind = excluded.kind, name = excluded.name`, h.Date, string(h.Kind), h.Name); err != nil {
			return fmt.Errorf("sqlstore: put holiday: %w", err)
		}
		// An operator entering a day of a year the calendar lacks is entering that year from the
		// State Council notice: from now on the year is counted exactly, not provisionally.
		if _, err := tx.exec(ctx, `INSERT INTO calendar_years (year, verified) VALUES (?, 1) ON CONFLICT (year) DO NOTHING`,
			day.Year()); err != nil {
			return fmt.Errorf("sqlstore: put holiday year: %w", err)
		}
		return nil
	})
}

// ListCalendarYears implements reception.SessionStore.
func (s *Store) ListCalendarYears(ctx context.Context) (map[int]bool, error) {
	out := map[int]bool{}
	err := s.eachRow(ctx, func(sc scanner) error {
		var y, v int
		err := sc.Scan(&y, &v)
		out[y] = v != 0
		return err
	}, `SELECT year, verified FROM calendar_years`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: calendar years: %w", err)
	}
	return out, nil
}

// seedCalendar copies the release's working-day calendar (holidays.txt) into the store, which is
// the one the clocks read. Days already there are kept: an operator's correction wins over the
// file, and the file never removes what an operator entered.
func (s *Store) seedCalendar(ctx context.Context, cal *calendar.Calendar) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		for y, verified := range cal.Years() {
			// A year a later release checked becomes verified in a store seeded before; the file
			// never lowers a year to unverified.
			if _, err := tx.exec(ctx, `INSERT INTO calendar_years (year, verified) VALUES (?, ?)
				ON CONFLICT (year) DO UPDATE SET verified = 1 WHERE excluded.verified = 1`,
				y, b2i(verified)); err != nil {
				return fmt.Errorf("sqlstore: seed calendar year %d: %w", y, err)
			}
		}
		days := cal.Days()
		if len(days) == 0 {
			return nil
		}
		args := make([]any, 0, 3*len(days))
		for _, d := range days {
			args = append(args, d.Date, string(d.Kind), d.Name)
		}
		q := `INSERT INTO public_holidays (day, kind, name) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(days)), ", ") + ` ON CONFLICT (day) DO NOTHING`
		if _, err := tx.exec(ctx, q, args...); err != nil {
			return fmt.Errorf("sqlstore: seed calendar: %w", err)
		}
		return nil
	})
}

// ListHolidays implements reception.SessionStore.
func (s *Store) ListHolidays(ctx context.Context, from, to string) ([]calendar.Holiday, error) {
	out, err := collect(ctx, s, func(sc scanner) (calendar.Holiday, error) {
		var h calendar.Holiday
		var kind string
		err := sc.Scan(&h.Date, &kind, &h.Name)
		h.Kind = calendar.HolidayKind(kind)
		return h, err
	}, `SELECT day, kind, name FROM public_holidays WHERE day >= ? AND day <= ? ORDER BY day`, from, to)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list holidays: %w", err)
	}
	return out, nil
}

// ---- schedules ----

const scheduleCols = `id, unit_id, leader_id, leader_name, leader_post, studio_id, rrule, exdates, dtstart, minutes,
	hall_ids, unit_ids, lead_days, minutes_per_petitioner, max_petitioners, portfolio, holidays, created_at`

// checkRefs checks the studio, halls and units a schedule or session names.
func (s *Store) checkRefs(ctx context.Context, leaderID, studioID int64, halls, units []int64) error {
	if leaderID != 0 {
		if _, err := s.GetUser(ctx, leaderID); err != nil {
			return org.Invalid("leader_id", "sqlstore.session.leader_missing")
		}
	}
	if studioID != 0 {
		h, err := s.GetHall(ctx, studioID)
		if err != nil || h.Kind != org.HallStudio {
			return org.Invalid("studio_id", "sqlstore.session.studio_invalid")
		}
	}
	for _, id := range halls {
		if _, err := s.GetHall(ctx, id); err != nil {
			return org.Invalid("hall_ids", "sqlstore.session.hall_missing", "id", id)
		}
	}
	for _, id := range units {
		if _, err := s.GetUnit(ctx, id); err != nil {
			return org.Invalid("unit_ids", "sqlstore.session.unit_missing", "id", id)
		}
	}
	return nil
}

// hallOutside reports whether hall id lies outside the subtree at ownerPath, with its name.
func (s *Store) hallOutside(ctx context.Context, ownerPath string, id int64) (bool, string, error) {
	h, err := s.GetHall(ctx, id)
	if err != nil {
		return false, "", err
	}
	u, err := s.GetUnit(ctx, h.UnitID)
	if err != nil {
		return false, "", err
	}
	return !strings.HasPrefix(u.Path, ownerPath), h.Name, nil
}

// checkSubtree refuses a studio or hall outside the subtree of the owning unit: booking it would
// hold another district's room on this side's say-so. Such a hall joins a session (sessionID,
// 0 for one not created yet) only by an invitation its own unit has accepted; a studio, where the
// leader sits, is the owner's own. checkRefs has checked that they exist.
func (s *Store) checkSubtree(ctx context.Context, unitID, sessionID, studioID int64, halls []int64) error {
	if studioID == 0 && len(halls) == 0 {
		return nil
	}
	owner, err := s.GetUnit(ctx, unitID)
	if err != nil {
		return org.Invalid("unit_id", "sqlstore.outside.owner_missing")
	}
	if studioID != 0 {
		out, name, err := s.hallOutside(ctx, owner.Path, studioID)
		if err != nil {
			return err
		}
		if out {
			return org.Invalid("studio_id", "sqlstore.outside.studio", "studio", name, "unit", owner.Name)
		}
	}
	for _, id := range halls {
		out, name, err := s.hallOutside(ctx, owner.Path, id)
		if err != nil {
			return err
		}
		if !out {
			continue
		}
		var n int
		if sessionID != 0 {
			if err := s.q.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM session_invitations WHERE session_id = ? AND kind = ? AND target_id = ? AND status = ?`),
				sessionID, reception.InviteHall, id, string(reception.InvAccepted)).Scan(&n); err != nil {
				return fmt.Errorf("sqlstore: invitation of hall %d: %w", id, err)
			}
		}
		if n == 0 {
			return org.Invalid("hall_ids", "sqlstore.outside.hall", "hall", name, "unit", owner.Name)
		}
	}
	return nil
}

// CreateReceptionSchedule implements reception.SessionStore.
func (s *Store) CreateReceptionSchedule(ctx context.Context, rs *reception.ReceptionSchedule) error {
	if err := reception.ValidateSchedule(*rs); err != nil {
		return err
	}
	if err := s.checkRefs(ctx, rs.LeaderID, rs.StudioID, rs.HallIDs, rs.UnitIDs); err != nil {
		return err
	}
	if err := s.checkSubtree(ctx, rs.UnitID, 0, rs.StudioID, rs.HallIDs); err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	id, err := s.insertID(ctx, `INSERT INTO reception_schedules (unit_id, leader_id, leader_name, leader_post, studio_id, rrule, exdates,
		dtstart, minutes, hall_ids, unit_ids, lead_days, minutes_per_petitioner, max_petitioners, portfolio, holidays, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rs.UnitID, rs.LeaderID, rs.LeaderName, rs.LeaderPost, rs.StudioID, rs.RRule, strings.Join(rs.ExDates, ","),
		tm(rs.DTStart), rs.Minutes, joinIDs(rs.HallIDs), joinIDs(rs.UnitIDs), rs.LeadDays, rs.MinutesPerPetitioner,
		rs.MaxPetitioners, rs.Portfolio, string(rs.Holidays), tm(now))
	if err != nil {
		return fmt.Errorf("sqlstore: create reception schedule: %w", err)
	}
	rs.ID, rs.CreatedAt = id, now
	return nil
}

// GetReceptionSchedule implements reception.SessionStore.
func (s *Store) GetReceptionSchedule(ctx context.Context, id int64) (reception.ReceptionSchedule, error) {
	var rs reception.ReceptionSchedule
	var ex, halls, units, hol string
	var dt, created int64
	err := s.q.QueryRowContext(ctx, s.rebind(`SELECT `+scheduleCols+` FROM reception_schedules WHERE id = ?`), id).Scan(
		&rs.ID, &rs.UnitID, &rs.LeaderID, &rs.LeaderName, &rs.LeaderPost, &rs.StudioID, &rs.RRule, &ex, &dt, &rs.Minutes,
		&halls, &units, &rs.LeadDays, &rs.MinutesPerPetitioner, &rs.MaxPetitioners, &rs.Portfolio, &hol, &created)
	if err != nil {
		return rs, notFound(err, "get reception schedule")
	}
	rs.ExDates, rs.DTStart, rs.HallIDs, rs.UnitIDs = splitList(ex), fromTm(dt), splitIDs(halls), splitIDs(units)
	rs.Holidays, rs.CreatedAt = reception.HolidayPolicy(hol), fromTm(created)
	return rs, nil
}

// ---- sessions ----

const sessionCols = `s.id, s.schedule_id, s.unit_id, s.title, s.leader_id, s.leader_name, s.leader_post, s.studio_id, s.starts_at,
	s.ends_at, s.hall_ids, s.unit_ids, s.lead_days, s.minutes_per_petitioner, s.max_petitioners, s.portfolio, s.holiday,
	s.status, s.cancel_reason, s.created_at, s.revision, s.updated_at, s.backfill`

func scanSession(sc interface{ Scan(...any) error }, extra ...any) (reception.ReceptionSession, error) {
	var r reception.ReceptionSession
	var sched, leader, studio sql.NullInt64
	var start, end, created, updated int64
	var halls, units, status string
	var backfill int
	dest := append([]any{&r.ID, &sched, &r.UnitID, &r.Title, &leader, &r.LeaderName, &r.LeaderPost, &studio, &start, &end,
		&halls, &units, &r.LeadDays, &r.MinutesPerPetitioner, &r.MaxPetitioners, &r.Portfolio, &r.Holiday, &status,
		&r.CancelReason, &created, &r.Revision, &updated, &backfill}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return r, err
	}
	r.ScheduleID, r.LeaderID, r.StudioID = sched.Int64, leader.Int64, studio.Int64
	r.Start, r.End, r.CreatedAt, r.UpdatedAt = fromTm(start), fromTm(end), fromTm(created), fromTm(updated)
	r.HallIDs, r.UnitIDs, r.Status = splitIDs(halls), splitIDs(units), reception.SessionStatus(status)
	r.Backfill = backfill != 0
	return r, nil
}

// lock takes the row lock of each key, in the (sorted) order given. On PostgreSQL the UPDATE
// holds the row until commit, so a second writer of the same resource waits here and then, at
// READ COMMITTED, sees the first one's rows in its overlap query. SQLite's write transactions
// (BEGIN IMMEDIATE) are already one at a time; the statements are harmless there.
func (s *Store) lock(ctx context.Context, keys []string) error {
	for _, k := range keys {
		if _, err := s.exec(ctx, `INSERT INTO resource_locks (rkey, n) VALUES (?, 0) ON CONFLICT (rkey) DO NOTHING`, k); err != nil {
			return fmt.Errorf("sqlstore: lock %s: %w", k, err)
		}
		if _, err := s.exec(ctx, `UPDATE resource_locks SET n = n + 1 WHERE rkey = ?`, k); err != nil {
			return fmt.Errorf("sqlstore: lock %s: %w", k, err)
		}
	}
	return nil
}

// CreateReceptionSession implements reception.SessionStore.
func (s *Store) CreateReceptionSession(ctx context.Context, rs *reception.ReceptionSession) error {
	if rs.Status == "" {
		rs.Status = reception.SessionScheduled
	}
	if err := reception.ValidateSession(*rs); err != nil {
		return err
	}
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		if err := tx.checkRefs(ctx, rs.LeaderID, rs.StudioID, rs.HallIDs, rs.UnitIDs); err != nil {
			return err
		}
		if err := tx.checkSubtree(ctx, rs.UnitID, 0, rs.StudioID, rs.HallIDs); err != nil {
			return err
		}
		keys := rs.Keys()
		if err := tx.lockAndCheck(ctx, rs, keys); err != nil {
			return err
		}
		now := tx.now().UTC().Truncate(time.Microsecond)
		id, err := tx.insertID(ctx, `INSERT INTO reception_sessions (schedule_id, unit_id, title, leader_id, leader_name, leader_post,
			studio_id, starts_at, ends_at, hall_ids, unit_ids, lead_days, minutes_per_petitioner, max_petitioners, portfolio, holiday,
			status, cancel_reason, created_at, revision, updated_at, backfill) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
			nullID(rs.ScheduleID), rs.UnitID, rs.Title, nullID(rs.LeaderID), rs.LeaderName, rs.LeaderPost, nullID(rs.StudioID),
			tm(rs.Start), tm(rs.End), joinIDs(rs.HallIDs), joinIDs(rs.UnitIDs), rs.LeadDays, rs.MinutesPerPetitioner,
			rs.MaxPetitioners, rs.Portfolio, rs.Holiday, string(rs.Status), rs.CancelReason, tm(now), tm(now), b2i(rs.Backfill))
		if err != nil {
			return fmt.Errorf("sqlstore: create reception session: %w", err)
		}
		for _, k := range keys {
			if _, err := tx.exec(ctx, `INSERT INTO session_resources (session_id, rkey, starts_at, ends_at) VALUES (?, ?, ?, ?)`,
				id, k, tm(rs.Start), tm(rs.End)); err != nil {
				return fmt.Errorf("sqlstore: session resource %s: %w", k, err)
			}
		}
		rs.ID, rs.CreatedAt, rs.Revision, rs.UpdatedAt = id, now, 0, now
		return nil
	})
}

// lockAndCheck locks the session's resources and refuses an overlap with another scheduled
// session (rs.ID, when set, is the session itself and does not count).
func (s *Store) lockAndCheck(ctx context.Context, rs *reception.ReceptionSession, keys []string) error {
	if err := s.lock(ctx, keys); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil // a backfilled record holds nothing
	}
	args := []any{}
	for _, k := range keys {
		args = append(args, k)
	}
	// No session is longer than MaxSessionMinutes, so an overlapping one starts after
	// start − that: the bound turns the check into a short range of the (rkey, starts_at)
	// key instead of a scan of the resource's whole history.
	args = append(args, tm(rs.Start.Add(-reception.MaxSessionMinutes*time.Minute)), tm(rs.End), tm(rs.Start), rs.ID)
	row := s.q.QueryRowContext(ctx, s.rebind(`SELECT `+sessionCols+`, r.rkey FROM session_resources r
		JOIN reception_sessions s ON s.id = r.session_id
		WHERE r.rkey IN (`+placeholders(len(keys))+`) AND r.starts_at > ? AND r.starts_at < ? AND r.ends_at > ? AND r.session_id <> ?
		ORDER BY s.starts_at, r.rkey LIMIT 1`), args...)
	var key string
	other, err := scanSession(row, &key)
	switch {
	case err == nil:
		kind, id, _ := strings.Cut(key, ":")
		n, _ := strconv.ParseInt(id, 10, 64)
		if kind == "hall" && n == rs.StudioID {
			kind = "studio"
		}
		return &reception.ConflictError{Resource: kind, ID: n, Other: other}
	case err != sql.ErrNoRows:
		return fmt.Errorf("sqlstore: session overlap check: %w", err)
	}
	return nil
}

// UpdateReceptionSession implements reception.SessionStore.
func (s *Store) UpdateReceptionSession(ctx context.Context, rs reception.ReceptionSession) error {
	rs.Status = reception.SessionScheduled
	if err := reception.ValidateSession(rs); err != nil {
		return err
	}
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		// The session's own lock first (as invitations and bookings take it), so two changes of
		// one session's roster never lose each other's update.
		if err := tx.lock(ctx, []string{"session:" + strconv.FormatInt(rs.ID, 10)}); err != nil {
			return err
		}
		old, err := tx.GetReceptionSession(ctx, rs.ID)
		if err != nil {
			return err
		}
		if old.Status != reception.SessionScheduled {
			return org.Invalid("status", "sqlstore.session.cancelled_frozen")
		}
		rs.Backfill = old.Backfill // a record stays a record, and a booking a booking
		if err := tx.checkRefs(ctx, rs.LeaderID, rs.StudioID, rs.HallIDs, rs.UnitIDs); err != nil {
			return err
		}
		// Only what joins now is checked: a hall that came by an accepted invitation stays.
		studio := rs.StudioID
		if studio == old.StudioID {
			studio = 0
		}
		added := slices.DeleteFunc(slices.Clone(rs.HallIDs), func(id int64) bool { return slices.Contains(old.HallIDs, id) })
		if err := tx.checkSubtree(ctx, rs.UnitID, rs.ID, studio, added); err != nil {
			return err
		}
		// The old resources are locked too, so a concurrent booking of a freed slot waits for us.
		keys := rs.Keys()
		all := reception.SortedUnique(append(append([]string{}, keys...), old.Keys()...))
		if err := tx.lock(ctx, all); err != nil {
			return err
		}
		if err := tx.lockAndCheck(ctx, &rs, keys); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE reception_sessions SET title = ?, leader_id = ?, leader_name = ?, leader_post = ?, studio_id = ?,
			starts_at = ?, ends_at = ?, hall_ids = ?, unit_ids = ?, lead_days = ?, minutes_per_petitioner = ?, max_petitioners = ?,
			portfolio = ?, revision = revision + 1, updated_at = ? WHERE id = ?`, rs.Title, nullID(rs.LeaderID), rs.LeaderName, rs.LeaderPost,
			nullID(rs.StudioID), tm(rs.Start), tm(rs.End), joinIDs(rs.HallIDs), joinIDs(rs.UnitIDs), rs.LeadDays, rs.MinutesPerPetitioner,
			rs.MaxPetitioners, rs.Portfolio, tm(tx.now().UTC().Truncate(time.Microsecond)), rs.ID); err != nil {
			return fmt.Errorf("sqlstore: update reception session: %w", err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM session_resources WHERE session_id = ?`, rs.ID); err != nil {
			return fmt.Errorf("sqlstore: update session resources: %w", err)
		}
		for _, k := range keys {
			if _, err := tx.exec(ctx, `INSERT INTO session_resources (session_id, rkey, starts_at, ends_at) VALUES (?, ?, ?, ?)`,
				rs.ID, k, tm(rs.Start), tm(rs.End)); err != nil {
				return fmt.Errorf("sqlstore: session resource %s: %w", k, err)
			}
		}
		return tx.dropOffRoster(ctx, rs)
	})
}

// GetReceptionSession implements reception.SessionStore.
func (s *Store) GetReceptionSession(ctx context.Context, id int64) (reception.ReceptionSession, error) {
	r, err := scanSession(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+sessionCols+` FROM reception_sessions s WHERE s.id = ?`), id))
	if err != nil {
		return r, notFound(err, "get reception session "+strconv.FormatInt(id, 10))
	}
	return r, nil
}

// ListReceptionSessions implements reception.SessionStore.
func (s *Store) ListReceptionSessions(ctx context.Context, q reception.SessionQuery) ([]reception.ReceptionSession, error) {
	where := []string{"u.path LIKE ?"}
	args := []any{prefixPattern(q.UnderPath)}
	if !q.From.IsZero() {
		where, args = append(where, "s.ends_at > ?"), append(args, tm(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, "s.starts_at < ?"), append(args, tm(q.To))
	}
	if q.LeaderID != 0 {
		where, args = append(where, "s.leader_id = ?"), append(args, q.LeaderID)
	}
	if q.HallID != 0 {
		where = append(where, "(s.studio_id = ? OR ',' || s.hall_ids || ',' LIKE ?)")
		args = append(args, q.HallID, "%,"+strconv.FormatInt(q.HallID, 10)+",%")
	}
	if q.UnitID != 0 {
		where = append(where, "(s.unit_id = ? OR ',' || s.unit_ids || ',' LIKE ?)")
		args = append(args, q.UnitID, "%,"+strconv.FormatInt(q.UnitID, 10)+",%")
	}
	if q.Involving != "" {
		// The roster lists are comma-joined ids: a unit or hall is on it when ",id," occurs in
		// ",list,". The subquery walks the subtree's units (and their halls) per session, bounded
		// by the time window above.
		where = append(where, `(u.path LIKE ? OR EXISTS (SELECT 1 FROM units r WHERE r.path LIKE ? AND (
			',' || s.unit_ids || ',' LIKE '%,' || CAST(r.id AS TEXT) || ',%'
			OR EXISTS (SELECT 1 FROM halls h WHERE h.unit_id = r.id
				AND (h.id = s.studio_id OR ',' || s.hall_ids || ',' LIKE '%,' || CAST(h.id AS TEXT) || ',%')))))`)
		args = append(args, prefixPattern(q.Involving), prefixPattern(q.Involving))
	}
	if !q.IncludeCancelled {
		where, args = append(where, "s.status = ?"), append(args, string(reception.SessionScheduled))
	}
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	out, err := collect(ctx, s, func(sc scanner) (reception.ReceptionSession, error) { return scanSession(sc) }, `SELECT `+sessionCols+` FROM reception_sessions s JOIN units u ON u.id = s.unit_id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY s.starts_at, s.id LIMIT `+strconv.Itoa(limit), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list reception sessions: %w", err)
	}
	return out, nil
}

// CancelReceptionSession implements reception.SessionStore.
func (s *Store) CancelReceptionSession(ctx context.Context, id int64, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return org.Invalid("reason", "sqlstore.session.cancel_reason_required")
	}
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		r, err := tx.exec(ctx, `UPDATE reception_sessions SET status = ?, cancel_reason = ?, revision = revision + 1, updated_at = ?
			WHERE id = ? AND status = ?`, string(reception.SessionCancelled), reason, tm(tx.now().UTC().Truncate(time.Microsecond)), id,
			string(reception.SessionScheduled))
		if err != nil {
			return fmt.Errorf("sqlstore: cancel session: %w", err)
		}
		if err := mustAffect(r, "cancel session (missing or already cancelled)"); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM session_resources WHERE session_id = ?`, id); err != nil {
			return fmt.Errorf("sqlstore: free session resources: %w", err)
		}
		return nil
	})
}

// ---- appointments ----

const apptCols = `id, session_id, hall_id, name, id_number, phone, matter, people, representatives, guidance, walk_in, queue_no,
	position, status, override_reason, booked_by, created_at, case_id, heard_at, ended_at, outcome, outcome_note, checks, key_id`

func (s *Store) scanAppt(sc interface{ Scan(...any) error }) (reception.Appointment, error) {
	var a reception.Appointment
	var reps, status, checks, keyID string
	var walk int
	var created, heard, ended int64
	if err := sc.Scan(&a.ID, &a.SessionID, &a.HallID, &a.Name, &a.IDNumber, &a.Phone, &a.Matter, &a.People, &reps, &a.Guidance,
		&walk, &a.QueueNo, &a.Position, &status, &a.OverrideReason, &a.BookedBy, &created, &a.CaseID, &heard, &ended,
		&a.Outcome, &a.OutcomeNote, &checks, &keyID); err != nil {
		return a, err
	}
	if err := s.openRow(apptIdentity, keyID, &a.Name, &a.IDNumber, &a.Phone, &reps); err != nil {
		return a, err
	}
	if heard != 0 {
		a.HeardAt = fromTm(heard)
	}
	if ended != 0 {
		a.EndedAt = fromTm(ended)
	}
	if reps != "" {
		_ = json.Unmarshal([]byte(reps), &a.Representatives)
	}
	if checks != "" {
		_ = json.Unmarshal([]byte(checks), &a.Checks)
	}
	a.WalkIn, a.Status, a.CreatedAt = walk == 1, reception.AppointmentStatus(status), fromTm(created)
	return a, nil
}

func (s *Store) listAppts(ctx context.Context, where string, args ...any) ([]reception.Appointment, error) {
	out, err := collect(ctx, s, s.scanAppt, `SELECT `+apptCols+` FROM appointments WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list appointments: %w", err)
	}
	return out, nil
}

// CreateAppointment implements reception.AppointmentStore.
func (s *Store) CreateAppointment(ctx context.Context, a *reception.Appointment, now time.Time) error {
	a.IDNumber = strings.ToUpper(strings.TrimSpace(a.IDNumber))
	if err := reception.ValidateAppointment(*a); err != nil {
		return err
	}
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		// The session's lock makes capacity and queue numbers exact under concurrent bookings.
		if err := tx.lock(ctx, []string{"session:" + strconv.FormatInt(a.SessionID, 10)}); err != nil {
			return err
		}
		sess, err := tx.GetReceptionSession(ctx, a.SessionID)
		if err != nil {
			return err
		}
		if sess.Status != reception.SessionScheduled {
			return org.Invalid("session_id", "sqlstore.booking.session_cancelled")
		}
		if !now.Before(sess.End) {
			return org.Invalid("session_id", "sqlstore.booking.session_over")
		}
		inRoster := a.HallID == sess.StudioID
		for _, h := range sess.HallIDs {
			inRoster = inRoster || h == a.HallID
		}
		if !inRoster {
			return org.Invalid("hall_id", "sqlstore.booking.hall_not_on_roster")
		}
		closes := sess.Start.AddDate(0, 0, -sess.LeadDays)
		if !a.WalkIn && now.After(closes) && strings.TrimSpace(a.OverrideReason) == "" {
			c := closes.In(calendar.Shanghai).Format("2006-01-02 15:04")
			return org.Invalid("override_reason", "sqlstore.booking.closed", "closed", c)
		}
		var n int
		if err := tx.q.QueryRowContext(ctx, tx.rebind(`SELECT COUNT(*) FROM appointments WHERE session_id = ? AND status <> ?`),
			a.SessionID, string(reception.ApptCancelled)).Scan(&n); err != nil {
			return fmt.Errorf("sqlstore: count appointments: %w", err)
		}
		if n >= sess.MaxPetitioners && strings.TrimSpace(a.OverrideReason) == "" {
			return org.Invalid("override_reason", "sqlstore.booking.full", "max", sess.MaxPetitioners)
		}
		var qn, pos int
		if err := tx.q.QueryRowContext(ctx, tx.rebind(`SELECT COALESCE(MAX(queue_no), 0) + 1 FROM appointments WHERE session_id = ? AND hall_id = ?`),
			a.SessionID, a.HallID).Scan(&qn); err != nil {
			return fmt.Errorf("sqlstore: queue number: %w", err)
		}
		if err := tx.q.QueryRowContext(ctx, tx.rebind(`SELECT COALESCE(MAX(position), 0) + 1 FROM appointments WHERE session_id = ? AND walk_in = ?`),
			a.SessionID, b2i(a.WalkIn)).Scan(&pos); err != nil {
			return fmt.Errorf("sqlstore: queue position: %w", err)
		}
		reps, _ := json.Marshal(a.Representatives)
		checks := ""
		if !a.Checks.Empty() {
			b, _ := json.Marshal(a.Checks)
			checks = string(b)
		}
		if a.Status == "" {
			a.Status = reception.ApptBooked
		}
		created := tx.now().UTC().Truncate(time.Microsecond)
		ident, err := tx.sealRow(apptIdentity, a.Name, a.IDNumber, a.Phone, string(reps))
		if err != nil {
			return err
		}
		id, err := tx.insertID(ctx, `INSERT INTO appointments (name, id_number, phone, representatives, key_id, id_index, phone_index,
			session_id, hall_id, matter, people, guidance, walk_in, queue_no, position, status, override_reason, booked_by, created_at, checks)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			append(ident, a.SessionID, a.HallID, a.Matter, a.People, a.Guidance, b2i(a.WalkIn),
				qn, pos, string(a.Status), a.OverrideReason, a.BookedBy, tm(created), checks)...)
		if err != nil {
			return fmt.Errorf("sqlstore: create appointment: %w", err)
		}
		a.ID, a.QueueNo, a.Position, a.CreatedAt = id, qn, pos, created
		return nil
	})
}

// GetAppointment implements reception.AppointmentStore.
func (s *Store) GetAppointment(ctx context.Context, id int64) (reception.Appointment, error) {
	a, err := s.scanAppt(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+apptCols+` FROM appointments WHERE id = ?`), id))
	if err != nil {
		return a, notFound(err, "get appointment")
	}
	return a, nil
}

// ListAppointments implements reception.AppointmentStore.
func (s *Store) ListAppointments(ctx context.Context, sessionID int64) ([]reception.Appointment, error) {
	return s.listAppts(ctx, `session_id = ? ORDER BY walk_in, position, id`, sessionID)
}

// AppointmentsByIDNumber implements reception.AppointmentStore.
func (s *Store) AppointmentsByIDNumber(ctx context.Context, idNumber string, limit int) ([]reception.Appointment, error) {
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	idx, err := s.idIndex(idNumber)
	if err != nil || idx == "" {
		return nil, err
	}
	return s.listAppts(ctx, `id_index = ? ORDER BY created_at DESC, id DESC LIMIT `+strconv.Itoa(limit), idx)
}

// SetAppointmentStatus implements reception.AppointmentStore.
func (s *Store) SetAppointmentStatus(ctx context.Context, id int64, st reception.AppointmentStatus) error {
	switch st {
	case reception.ApptBooked, reception.ApptCheckedIn, reception.ApptNoShow, reception.ApptCancelled, reception.ApptDone:
	default:
		return org.Invalid("status", "sqlstore.booking.status_invalid")
	}
	r, err := s.exec(ctx, `UPDATE appointments SET status = ? WHERE id = ?`, string(st), id)
	if err != nil {
		return fmt.Errorf("sqlstore: set appointment status: %w", err)
	}
	return mustAffect(r, "set appointment status")
}

// StartHearing implements reception.AppointmentStore.
func (s *Store) StartHearing(ctx context.Context, id, caseID int64, at time.Time) error {
	if caseID == 0 {
		return org.Invalid("case_id", "sqlstore.hearing.case_required")
	}
	r, err := s.exec(ctx, `UPDATE appointments SET status = ?, case_id = ?, heard_at = ? WHERE id = ? AND status IN (?, ?) AND ended_at = 0`,
		string(reception.ApptCheckedIn), caseID, tm(at), id, string(reception.ApptBooked), string(reception.ApptCheckedIn))
	if err != nil {
		return fmt.Errorf("sqlstore: start hearing: %w", err)
	}
	return s.hearingAffected(ctx, r, id, "start hearing")
}

// EndHearing implements reception.AppointmentStore.
func (s *Store) EndHearing(ctx context.Context, id int64, outcome, note string, at time.Time) error {
	if !reception.ValidOutcome(outcome) {
		return org.Invalid("outcome", "sqlstore.hearing.outcome_invalid")
	}
	r, err := s.exec(ctx, `UPDATE appointments SET status = ?, outcome = ?, outcome_note = ?, ended_at = ? WHERE id = ? AND heard_at <> 0 AND ended_at = 0`,
		string(reception.ApptDone), outcome, note, tm(at), id)
	if err != nil {
		return fmt.Errorf("sqlstore: end hearing: %w", err)
	}
	return s.hearingAffected(ctx, r, id, "end hearing")
}

// hearingAffected tells a missing appointment (ErrNotFound) from one in the wrong state
// (ErrConflict) after a guarded update touched no row.
func (s *Store) hearingAffected(ctx context.Context, r sql.Result, id int64, what string) error {
	if n, err := r.RowsAffected(); err != nil || n == 1 {
		return err
	}
	if _, err := s.GetAppointment(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("sqlstore: %s %d: %w", what, id, org.ErrConflict)
}

// MoveAppointment implements reception.AppointmentStore.
func (s *Store) MoveAppointment(ctx context.Context, id int64, to int) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		a, err := tx.GetAppointment(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.lock(ctx, []string{"session:" + strconv.FormatInt(a.SessionID, 10)}); err != nil {
			return err
		}
		group, err := tx.listAppts(ctx, `session_id = ? AND walk_in = ? ORDER BY position, id`, a.SessionID, b2i(a.WalkIn))
		if err != nil {
			return err
		}
		order := make([]int64, 0, len(group))
		for _, g := range group {
			if g.ID != id {
				order = append(order, g.ID)
			}
		}
		to = max(0, min(to, len(order)))
		order = append(order[:to], append([]int64{id}, order[to:]...)...)
		for i, gid := range order {
			if _, err := tx.exec(ctx, `UPDATE appointments SET position = ? WHERE id = ?`, i+1, gid); err != nil {
				return fmt.Errorf("sqlstore: reorder queue: %w", err)
			}
		}
		return nil
	})
}
