package sqlstore

import (
	"context"
	"fmt"
	"sanji/scheduler/reception"
	"time"
)

// Calendar feeds: reception.FeedStore.

const feedCols = `f.id, f.kind, f.target_id, f.unit_id, f.name, f.token_hash, f.created_by, f.created_at, f.revoked_at`

func scanFeed(sc interface{ Scan(...any) error }) (reception.CalendarFeed, error) {
	var f reception.CalendarFeed
	var created, revoked int64
	err := sc.Scan(&f.ID, &f.Kind, &f.TargetID, &f.UnitID, &f.Name, &f.TokenHash, &f.CreatedBy, &created, &revoked)
	f.CreatedAt, f.RevokedAt = fromTm(created), fromTm(revoked)
	return f, err
}

// CreateCalendarFeed implements reception.FeedStore.
func (s *Store) CreateCalendarFeed(ctx context.Context, f *reception.CalendarFeed) error {
	if err := reception.ValidateFeed(*f); err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	id, err := s.insertID(ctx, `INSERT INTO calendar_feeds (kind, target_id, unit_id, name, token_hash, created_by, created_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, 0)`, f.Kind, f.TargetID, f.UnitID, f.Name, f.TokenHash, f.CreatedBy, tm(now))
	if err != nil {
		return fmt.Errorf("sqlstore: create calendar feed: %w", err)
	}
	f.ID, f.CreatedAt, f.RevokedAt = id, now, time.Time{}
	return nil
}

// GetCalendarFeed implements reception.FeedStore.
func (s *Store) GetCalendarFeed(ctx context.Context, id int64) (reception.CalendarFeed, error) {
	f, err := scanFeed(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+feedCols+` FROM calendar_feeds f WHERE f.id = ?`), id))
	if err != nil {
		return f, notFound(err, "get calendar feed")
	}
	return f, nil
}

// GetCalendarFeedByHash implements reception.FeedStore.
func (s *Store) GetCalendarFeedByHash(ctx context.Context, hash string) (reception.CalendarFeed, error) {
	f, err := scanFeed(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+feedCols+` FROM calendar_feeds f WHERE f.token_hash = ?`), hash))
	if err != nil {
		return f, notFound(err, "get calendar feed by token")
	}
	return f, nil
}

// ListCalendarFeeds implements reception.FeedStore.
func (s *Store) ListCalendarFeeds(ctx context.Context, underPath string) ([]reception.CalendarFeed, error) {
	out, err := collect(ctx, s, scanFeed, `SELECT `+feedCols+` FROM calendar_feeds f JOIN units u ON u.id = f.unit_id
		WHERE u.path LIKE ? AND f.revoked_at = 0 ORDER BY f.id`, prefixPattern(underPath))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list calendar feeds: %w", err)
	}
	return out, nil
}

// RevokeCalendarFeed implements reception.FeedStore.
func (s *Store) RevokeCalendarFeed(ctx context.Context, id int64, at time.Time) error {
	r, err := s.exec(ctx, `UPDATE calendar_feeds SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, tm(at.UTC().Truncate(time.Microsecond)), id)
	if err != nil {
		return fmt.Errorf("sqlstore: revoke calendar feed: %w", err)
	}
	return mustAffect(r, "revoke calendar feed (missing or revoked already)")
}
