package scheduler

import (
	"context"
	"time"
)

// Store is where the scheduler's data lives. Implementations (scheduler/sqlite,
// scheduler/postgres) pass the one conformance suite in scheduler/storetest. Every method
// returns errors wrapping ErrNotFound, ErrConflict or ErrInvalid where those apply. A method
// that returns without error has committed durably.
type Store interface {
	SessionStore // receptions, sessions, holidays, appointments (sessions.go)
	CaseStore    // case records, scheduler/cases.go
	SlipStore    // 交办 and 督办 slips, scheduler/slips.go

	// InTx runs fn with a Store bound to one transaction: everything fn does commits together,
	// or nothing does when fn returns an error. Nested InTx calls join the outer transaction.
	InTx(ctx context.Context, fn func(tx Store) error) error

	// CreateUnit validates u under its parent, stores it and fills ID, Path and CreatedAt.
	CreateUnit(ctx context.Context, u *Unit) error
	GetUnit(ctx context.Context, id int64) (Unit, error)
	GetUnitByCode(ctx context.Context, code string) (Unit, error)
	// ListUnits returns the units whose path starts with underPath ("" for all), ordered by path.
	ListUnits(ctx context.Context, underPath string) ([]Unit, error)
	// RenameUnit changes a unit's name; the tree shape and codes do not change here.
	RenameUnit(ctx context.Context, id int64, name string) error

	CreateHall(ctx context.Context, h *Hall) error
	GetHall(ctx context.Context, id int64) (Hall, error)
	ListHalls(ctx context.Context, underPath string) ([]Hall, error)

	CreateCategory(ctx context.Context, c *Category) error
	ListCategories(ctx context.Context) ([]Category, error)

	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id int64) (User, error)
	GetUserByUsername(ctx context.Context, username string) (User, error)
	ListUsers(ctx context.Context, f UserFilter) ([]User, error)
	// SetPassword replaces the hash, sets MustChangePassword and clears failures and lockout.
	SetPassword(ctx context.Context, userID int64, hash string, mustChange bool) error
	SetUserDisabled(ctx context.Context, userID int64, disabled bool) error
	// RecordLoginFailure adds one failure and sets the lockout end (zero: not locked);
	// it returns the new failure count.
	RecordLoginFailure(ctx context.Context, userID int64, lockedUntil time.Time) (int, error)
	// ResetLoginFailures clears failures and lockout after a good login.
	ResetLoginFailures(ctx context.Context, userID int64) error

	// AddGrant stores a grant; the same (user, role, unit) twice is ErrConflict.
	AddGrant(ctx context.Context, g *Grant) error
	RemoveGrant(ctx context.Context, id int64) error
	// ListGrants returns the user's grants with UnitPath filled.
	ListGrants(ctx context.Context, userID int64) ([]Grant, error)

	CreateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, idHash string) (Session, error)
	DeleteSession(ctx context.Context, idHash string) error
	// DeleteUserSessions ends every session of a user (password change, disable).
	DeleteUserSessions(ctx context.Context, userID int64) error
	// DeleteExpiredSessions removes sessions that ended before now.
	DeleteExpiredSessions(ctx context.Context, now time.Time) error

	CreateAPIToken(ctx context.Context, t *APIToken) error
	GetAPITokenByHash(ctx context.Context, hash string) (APIToken, error)
	ListAPITokens(ctx context.Context, userID int64) ([]APIToken, error)
	RevokeAPIToken(ctx context.Context, id int64, at time.Time) error

	// SetPairingCode stores the hash of a device account's one-time pairing code, replacing any
	// earlier one.
	SetPairingCode(ctx context.Context, userID int64, codeHash string, expiresAt time.Time) error
	// ConsumePairingCode finds the unexpired code with this hash, deletes it and returns its
	// device's user id; a code works once (ErrNotFound after).
	ConsumePairingCode(ctx context.Context, codeHash string, now time.Time) (int64, error)

	// AppendAudit appends an entry and fills its ID (and At when zero). There is no way to
	// change or delete an entry: the schema refuses it too.
	AppendAudit(ctx context.Context, e *AuditEntry) error
	SearchAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)

	// SchemaVersion is the newest migration applied.
	SchemaVersion(ctx context.Context) (int, error)
	Close() error
}
