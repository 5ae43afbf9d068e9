package reception

import (
	"context"
	"strings"
	"time"

	"sanji/scheduler/org"
)

// Calendar feeds: a secret URL per leader, hall or unit that a calendar client subscribes to
// (iCalendar, RFC 5545). The URL holds a random token; the store keeps only its SHA-256, as for
// API tokens, so a copy of the database opens no feed. Staff create and revoke feeds for the
// subjects in their scope.

// What a feed follows.
const (
	FeedLeader = "leader" // the sessions a leader receives in
	FeedHall   = "hall"   // the sessions a hall (or studio) is on
	FeedUnit   = "unit"   // the sessions a unit owns or is on the roster of
)

// The window a feed shows: a month back, so a past session stays in the calendar for a while,
// and half a year ahead, past any schedule's materialised weeks.
const (
	FeedPastDays  = 30
	FeedAheadDays = 180
)

// CalendarFeed is one subscription URL.
type CalendarFeed struct {
	ID       int64
	Kind     string // FeedLeader, FeedHall or FeedUnit
	TargetID int64  // the leader's user id, the hall's id or the unit's id
	// UnitID is where the subject sits in the tree (the leader's unit, the hall's unit, the unit):
	// staff whose scope covers it manage the feed.
	UnitID    int64
	Name      string // the calendar's name in the client
	TokenHash string // SHA-256 of the URL's token, hex
	CreatedBy int64
	CreatedAt time.Time
	RevokedAt time.Time // zero while the feed works
}

// FeedStore is the part of SessionStore for calendar feeds.
type FeedStore interface {
	// CreateCalendarFeed stores f (see ValidateFeed) and fills ID and CreatedAt.
	CreateCalendarFeed(ctx context.Context, f *CalendarFeed) error
	GetCalendarFeed(ctx context.Context, id int64) (CalendarFeed, error)
	// GetCalendarFeedByHash finds a feed by its token's hash, revoked or not.
	GetCalendarFeedByHash(ctx context.Context, hash string) (CalendarFeed, error)
	// ListCalendarFeeds returns the feeds not revoked whose unit lies under underPath, by id.
	ListCalendarFeeds(ctx context.Context, underPath string) ([]CalendarFeed, error)
	// RevokeCalendarFeed ends a feed at at; one revoked already, or missing, is ErrNotFound.
	RevokeCalendarFeed(ctx context.Context, id int64, at time.Time) error
}

// ValidateFeed checks a feed's own fields (the subject is checked by whoever resolves it).
func ValidateFeed(f CalendarFeed) error {
	switch f.Kind {
	case FeedLeader, FeedHall, FeedUnit:
	default:
		return org.Invalid("kind", "reception.feed.kind")
	}
	if f.TargetID <= 0 {
		return org.Invalid("target_id", "reception.feed.target_required")
	}
	if f.UnitID == 0 || f.TokenHash == "" {
		return org.Invalid("target_id", "reception.feed.target_unresolved")
	}
	if strings.TrimSpace(f.Name) == "" {
		return org.Invalid("name", "reception.feed.name_required")
	}
	return validText("name", f.Name, 100)
}

// Query selects the sessions the feed shows at now, cancelled ones included (a client learns of
// a cancellation from STATUS:CANCELLED, not from the event vanishing).
func (f CalendarFeed) Query(now time.Time) SessionQuery {
	q := SessionQuery{From: now.AddDate(0, 0, -FeedPastDays), To: now.AddDate(0, 0, FeedAheadDays), IncludeCancelled: true}
	switch f.Kind {
	case FeedLeader:
		q.LeaderID = f.TargetID
	case FeedHall:
		q.HallID = f.TargetID
	default:
		q.UnitID = f.TargetID
	}
	return q
}
