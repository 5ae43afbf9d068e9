package org

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"sanji/i18n"
)

// Errors every store returns (wrapped) so callers can tell the cases apart without knowing the driver.
var (
	ErrNotFound = errors.New("scheduler: not found")
	ErrConflict = errors.New("scheduler: conflict") // a unique key is taken, or a reference is missing
	ErrInvalid  = errors.New("scheduler: invalid")
)

// UnitKind says where a unit sits in the tier tree.
type UnitKind string

// The kinds of units. City, district and township are the tiers (市 → 区县 → 乡镇街道);
// a department (职能部门: 人社局, 住建局 …) is a functional unit attached to a tier. The root is
// the installation itself, parent of its cities: the admin and the auditor are granted there.
const (
	KindRoot       UnitKind = "root"
	KindCity       UnitKind = "city"
	KindDistrict   UnitKind = "district"
	KindTownship   UnitKind = "township"
	KindDepartment UnitKind = "department"
)

// Unit is a node of the tier tree.
type Unit struct {
	ID       int64
	ParentID int64 // 0 for the root
	Kind     UnitKind
	// Code is the division code: GB/T 2260 six digits for a city or district, nine digits
	// (district code + three) for a township; departments have their own code under their tier.
	Code string
	Name string
	// Path is the materialised path of ids, "/1/4/9/", maintained by the store: a subtree is
	// every unit whose Path starts with the root's Path.
	Path      string
	CreatedAt time.Time
}

// RootCode is the code of the installation's root unit.
const RootCode = "000000"

var (
	sixDigits  = regexp.MustCompile(`^[1-9][0-9]{5}$`)
	nineDigits = regexp.MustCompile(`^[1-9][0-9]{8}$`)
	deptCode   = regexp.MustCompile(`^[1-9][0-9]{5,8}-[A-Za-z0-9]{1,16}$`)
)

// FieldError is a validation error naming the field, with a message in Chinese and English.
type FieldError struct {
	Field string
	ZH    string
	EN    string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.ZH + " / " + e.EN }

// Is makes errors.Is(err, ErrInvalid) true for every FieldError.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// InSubtree reports whether the materialised path lies in the subtree rooted at root (both non-empty).
func InSubtree(path, root string) bool {
	return root != "" && path != "" && strings.HasPrefix(path, root)
}

// Invalid is the FieldError for field, with the catalog's message k (args as i18n.T takes them).
func Invalid(field string, k i18n.Key, args ...any) error {
	t := i18n.T(k, args...)
	return &FieldError{Field: field, ZH: t.ZH, EN: t.EN}
}

// ValidateUnit checks a unit's own fields and its place under parent (nil for a root).
func ValidateUnit(u Unit, parent *Unit) error {
	if err := ValidName("name", u.Name); err != nil {
		return err
	}
	switch u.Kind {
	case KindRoot:
		if parent != nil {
			return Invalid("parent_id", "org.unit.root_parent")
		}
		if u.Code != RootCode {
			return Invalid("code", "org.unit.root_code", "code", RootCode)
		}
	case KindCity:
		if parent == nil || parent.Kind != KindRoot {
			return Invalid("parent_id", "org.unit.city_parent")
		}
		if !sixDigits.MatchString(u.Code) || !strings.HasSuffix(u.Code, "00") {
			return Invalid("code", "org.unit.city_code")
		}
	case KindDistrict:
		if parent == nil || parent.Kind != KindCity {
			return Invalid("parent_id", "org.unit.district_parent")
		}
		if !sixDigits.MatchString(u.Code) || u.Code[:4] != parent.Code[:4] || u.Code == parent.Code {
			return Invalid("code", "org.unit.district_code")
		}
	case KindTownship:
		if parent == nil || parent.Kind != KindDistrict {
			return Invalid("parent_id", "org.unit.township_parent")
		}
		if !nineDigits.MatchString(u.Code) || u.Code[:6] != parent.Code {
			return Invalid("code", "org.unit.township_code")
		}
	case KindDepartment:
		if parent == nil || parent.Kind == KindDepartment || parent.Kind == KindRoot {
			return Invalid("parent_id", "org.unit.department_parent")
		}
		if !deptCode.MatchString(u.Code) || !strings.HasPrefix(u.Code, parent.Code+"-") {
			return Invalid("code", "org.unit.department_code")
		}
	default:
		return Invalid("kind", "org.unit.kind")
	}
	return nil
}

// ValidName checks a required name: trimmed, non-empty and of bounded length.
func ValidName(field, s string) error {
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || strings.TrimSpace(s) == "" || n > 100 {
		return Invalid(field, "org.name.length")
	}
	return nil
}

// HallKind tells a reception hall from a leader's studio.
type HallKind string

// Hall kinds.
const (
	HallReception HallKind = "hall"   // 接访大厅 / 接访室
	HallStudio    HallKind = "studio" // a leader's studio
)

// Hall is a room with a terminal belonging to a unit.
type Hall struct {
	ID        int64
	UnitID    int64
	Kind      HallKind
	Name      string
	CreatedAt time.Time
}

// ValidateHall checks a hall's own fields.
func ValidateHall(h Hall) error {
	if h.Kind != HallReception && h.Kind != HallStudio {
		return Invalid("kind", "org.hall.kind")
	}
	if h.UnitID == 0 {
		return Invalid("unit_id", "org.unit_required")
	}
	return ValidName("name", h.Name)
}

// Category is a node of the case category tree (涉法涉诉, 劳动和社会保障 …), kept as data.
type Category struct {
	ID       int64
	ParentID int64
	Code     string
	Name     string
}

// UserKind separates people from hall terminal device accounts.
type UserKind string

// User kinds.
const (
	UserPerson UserKind = "person"
	UserDevice UserKind = "device" // a hall terminal, paired with a one-time code
)

// User is a person with a password, or a hall terminal device account.
type User struct {
	ID          int64
	Kind        UserKind
	Username    string
	DisplayName string
	UnitID      int64 // the unit the user belongs to (a device: its hall's unit)
	HallID      int64 // devices only
	// PasswordHash is an argon2id PHC string; for a device, the hash of its pairing code until paired.
	PasswordHash       string
	MustChangePassword bool
	Disabled           bool
	FailedLogins       int
	LockedUntil        time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{2,63}$`)

// ValidateUser checks the user's own fields.
func ValidateUser(u User) error {
	if !usernamePattern.MatchString(u.Username) {
		return Invalid("username", "org.user.username")
	}
	if err := ValidName("display_name", u.DisplayName); err != nil {
		return err
	}
	if u.Kind != UserPerson && u.Kind != UserDevice {
		return Invalid("kind", "org.user.kind")
	}
	if u.UnitID == 0 {
		return Invalid("unit_id", "org.unit_required")
	}
	if u.Kind == UserDevice && u.HallID == 0 {
		return Invalid("hall_id", "org.user.device_hall")
	}
	return nil
}

// Role names, from the domain (shared/domain.md). They match the roles of auth join tokens
// where both exist.
const (
	RoleLeader         = "leader"
	RoleHallOperator   = "hall_operator"
	RoleIntakeOfficer  = "intake_officer"
	RoleCaseHandler    = "case_handler"
	RoleUnitHead       = "unit_head"
	RoleSupervisor     = "supervisor"
	RoleSchedulerStaff = "scheduler_staff"
	RoleObserver       = "observer"
	RoleAdmin          = "admin"
	RoleAuditor        = "auditor"
	// RoleHallTerminal is held by device accounts only: a hall's terminal joins calls.
	RoleHallTerminal = "hall_terminal"
)

// Roles lists the roles a grant may carry, in a stable order.
var Roles = []string{
	RoleLeader, RoleHallOperator, RoleIntakeOfficer, RoleCaseHandler, RoleUnitHead, RoleSupervisor,
	RoleSchedulerStaff, RoleObserver, RoleAdmin, RoleAuditor, RoleHallTerminal,
}

// ValidRole reports whether r is a grantable role.
func ValidRole(r string) bool {
	for _, x := range Roles {
		if x == r {
			return true
		}
	}
	return false
}

// Grant gives a user a role at a unit, valid for that unit's subtree.
type Grant struct {
	ID        int64
	UserID    int64
	Role      string
	UnitID    int64
	UnitPath  string // filled by the store when listing, for scope checks
	CreatedAt time.Time
}

// Session is a logged-in browser. The store keeps only the hash of the cookie value.
type Session struct {
	IDHash    string
	UserID    int64
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
	// Pending is what the login still lacks: "" (nothing: a full session), SessionPendingTOTP
	// (the second factor) or SessionPendingEnrol (the user must enrol in TOTP first).
	Pending string
}

// Session states before the second factor.
const (
	SessionPendingTOTP  = "totp"
	SessionPendingEnrol = "enrol"
)

// TOTP is a user's second factor (RFC 6238): the shared secret, pending until the user confirms
// it with a first code, the last time step accepted (a code is never accepted twice), and how
// many recovery codes are left.
type TOTP struct {
	UserID       int64
	Secret       string // base32, as the authenticator app took it
	ConfirmedAt  time.Time
	LastStep     int64
	CreatedAt    time.Time
	RecoveryLeft int
}

// APIToken is a token for automation, scoped and revocable; the store keeps only its hash.
type APIToken struct {
	ID        int64
	UserID    int64
	Name      string
	Hash      string
	Scopes    []string // actions the token may perform, a subset of its user's
	CreatedAt time.Time
	ExpiresAt time.Time // zero: no expiry
	RevokedAt time.Time // zero: not revoked
}

// AuditEntry is one line of the append-only audit log.
type AuditEntry struct {
	ID        int64
	At        time.Time
	ActorID   int64  // 0 for the system itself
	Actor     string // username at the time
	UnitID    int64  // the tier the action was taken at (0: none)
	UnitPath  string // its path, for searches by subtree
	Action    string // e.g. "user.create", "login.fail", "pii.view"
	Target    string // e.g. "user:42"
	Before    string // JSON, "" when none
	After     string // JSON, "" when none
	Purpose   string // stated purpose of a view or export of personal information
	IP        string
	RequestID string
	// The seal (auditchain.go), filled by the store on append: the previous entry's hash, this
	// entry's, and the algorithm of this one.
	PrevHash string
	Hash     string
	HashAlg  string
}

// AuditQuery selects audit entries; zero fields do not filter. Results are newest first.
type AuditQuery struct {
	ActorID   int64
	Action    string // exact, or a prefix ending in "." ("user.")
	Target    string
	UnderPath string // entries whose UnitPath starts with this
	From, To  time.Time
	Limit     int   // default and maximum 500
	BeforeID  int64 // paging: only entries with ID < BeforeID
}

// UserFilter selects users; zero fields do not filter.
type UserFilter struct {
	UnderPath string // users whose unit's path starts with this
	Kind      UserKind
}

// Validate checks an entry before it is appended.
func (e AuditEntry) Validate() error {
	if e.Action == "" || len(e.Action) > 64 {
		return fmt.Errorf("%w: audit action is required (≤ 64 bytes)", ErrInvalid)
	}
	return nil
}

// Store is the part of scheduler.Store for the tree, halls, categories, users and their grants, login
// sessions, API tokens, pairing codes and the audit log. Errors wrap ErrNotFound, ErrConflict or
// ErrInvalid where those apply.
type Store interface {
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

	// BeginTOTP stores a pending (unconfirmed) TOTP secret for a user, replacing a pending one;
	// ErrConflict when the user has a confirmed one.
	BeginTOTP(ctx context.Context, userID int64, secret string, now time.Time) error
	// GetTOTP returns the user's TOTP, pending or confirmed (ErrNotFound: none).
	GetTOTP(ctx context.Context, userID int64) (TOTP, error)
	// ConfirmTOTP confirms a pending secret with the step of its first code and stores the
	// recovery codes' hashes, replacing earlier ones; ErrNotFound when nothing is pending.
	ConfirmTOTP(ctx context.Context, userID, step int64, recoveryHashes []string, now time.Time) error
	// UseTOTPStep records that a code of this time step was accepted; ErrConflict when the step
	// is not after the last one accepted (a replay) or the TOTP is not confirmed.
	UseTOTPStep(ctx context.Context, userID, step int64) error
	// UseRecoveryCode marks an unused recovery code used; ErrNotFound when there is none.
	UseRecoveryCode(ctx context.Context, userID int64, codeHash string, now time.Time) error
	// DeleteTOTP removes a user's TOTP and recovery codes (an admin's reset); ErrNotFound: none.
	DeleteTOTP(ctx context.Context, userID int64) error

	// AppendAudit appends an entry and fills its ID (and At when zero). There is no way to
	// change or delete an entry: the schema refuses it too.
	AppendAudit(ctx context.Context, e *AuditEntry) error
	SearchAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// AuditHead is the newest link of the audit chain.
	AuditHead(ctx context.Context) (AuditHead, error)
	// VerifyAudit walks the whole chain and names the first entry where it breaks; noted is a
	// head noted earlier that must still be in the chain ("" for none).
	VerifyAudit(ctx context.Context, noted string) (AuditCheck, error)
}
