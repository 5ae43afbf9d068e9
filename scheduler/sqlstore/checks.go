package sqlstore

import (
	"context"
	"fmt"
	"sanji/scheduler/casework"
	"sanji/scheduler/reception"
	"strconv"
)

// The reads of the booking checks: reception.BookingCheckStore.

// CasesByIDNumber implements reception.BookingCheckStore.
func (s *Store) CasesByIDNumber(ctx context.Context, idNumber string, limit int) ([]casework.Case, error) {
	if limit <= 0 || limit > casework.PersonLookback {
		limit = casework.PersonLookback
	}
	idx, err := s.idIndex(idNumber)
	if err != nil || idx == "" {
		return nil, err
	}
	out, err := collect(ctx, s, scanCase, `SELECT `+caseCols+` FROM cases c WHERE c.id IN
		(SELECT p.case_id FROM case_petitioners p WHERE p.id_index = ?) ORDER BY c.id DESC LIMIT `+strconv.Itoa(limit), idx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: cases by id number: %w", err)
	}
	if err := s.fillCases(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// RecentMatters implements reception.BookingCheckStore.
func (s *Store) RecentMatters(ctx context.Context, territory string, limit int) ([]reception.MatterText, error) {
	if limit <= 0 || limit > 5000 {
		limit = 5000
	}
	// Division codes hold digits only (a department's adds a hyphen and letters): no LIKE
	// wildcards to escape.
	pattern := territory + "%"
	var out []reception.MatterText
	read := func(what, q string, args ...any) error {
		err := s.eachRow(ctx, func(sc scanner) error {
			m := reception.MatterText{Kind: what}
			var at int64
			if err := sc.Scan(&m.ID, &m.Title, &m.Text, &at); err != nil {
				return err
			}
			m.Created = fromTm(at)
			out = append(out, m)
			return nil
		}, q, args...)
		if err != nil {
			return fmt.Errorf("sqlstore: recent %s: %w", what, err)
		}
		return nil
	}
	if err := read(reception.CheckAppointment, `SELECT a.id, '', a.matter, a.created_at FROM appointments a
		JOIN halls h ON h.id = a.hall_id JOIN units u ON u.id = h.unit_id
		WHERE u.code LIKE ? AND a.status <> ? ORDER BY a.id DESC LIMIT `+strconv.Itoa(limit), pattern, string(reception.ApptCancelled)); err != nil {
		return nil, err
	}
	if err := read(reception.CheckCase, `SELECT c.id, c.title, SUBSTR(c.content, 1, `+strconv.Itoa(reception.MatterTextRunes)+`),
		c.registered_at FROM cases c WHERE c.territory LIKE ? ORDER BY c.id DESC LIMIT `+strconv.Itoa(limit), pattern); err != nil {
		return nil, err
	}
	return out, nil
}
