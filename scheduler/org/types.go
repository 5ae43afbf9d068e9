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

// InvalidText is the FieldError for field with its texts written out.
//
// Deprecated: moving to the catalogs; use Invalid with a key.
func InvalidText(field, zh, en string) error { return &FieldError{Field: field, ZH: zh, EN: en} }

// ValidateUnit checks a unit's own fields and its place under parent (nil for a root).
func ValidateUnit(u Unit, parent *Unit) error {
	if err := ValidName("name", u.Name); err != nil {
		return err
	}
	switch u.Kind {
	case KindRoot:
		if parent != nil {
			return InvalidText("parent_id", "根节点不能有上级", "the root has no parent")
		}
		if u.Code != RootCode {
			return InvalidText("code", "根节点代码必须是 "+RootCode, "the root's code must be "+RootCode)
		}
	case KindCity:
		if parent == nil || parent.Kind != KindRoot {
			return InvalidText("parent_id", "市级单位必须挂在根节点下", "a city must hang under the root")
		}
		if !sixDigits.MatchString(u.Code) || !strings.HasSuffix(u.Code, "00") {
			return InvalidText("code", "市级代码应为以 00 结尾的六位 GB/T 2260 代码，例如 330100", "a city code is six GB/T 2260 digits ending in 00, e.g. 330100")
		}
	case KindDistrict:
		if parent == nil || parent.Kind != KindCity {
			return InvalidText("parent_id", "区县的上级必须是市", "a district's parent must be a city")
		}
		if !sixDigits.MatchString(u.Code) || u.Code[:4] != parent.Code[:4] || u.Code == parent.Code {
			return InvalidText("code", "区县代码应为六位 GB/T 2260 代码，前四位与所属市相同，例如 330102", "a district code is six GB/T 2260 digits sharing the city's first four, e.g. 330102")
		}
	case KindTownship:
		if parent == nil || parent.Kind != KindDistrict {
			return InvalidText("parent_id", "乡镇街道的上级必须是区县", "a township's parent must be a district")
		}
		if !nineDigits.MatchString(u.Code) || u.Code[:6] != parent.Code {
			return InvalidText("code", "乡镇街道代码应为所属区县六位代码加三位数字，例如 330102001", "a township code is the district's six digits plus three, e.g. 330102001")
		}
	case KindDepartment:
		if parent == nil || parent.Kind == KindDepartment || parent.Kind == KindRoot {
			return InvalidText("parent_id", "职能部门必须挂在市、区县或乡镇街道下", "a department must hang under a city, district or township")
		}
		if !deptCode.MatchString(u.Code) || !strings.HasPrefix(u.Code, parent.Code+"-") {
			return InvalidText("code", "部门代码应为所属层级代码加连字符和字母数字，例如 330102-RSJ", "a department code is its tier's code, a hyphen and letters or digits, e.g. 330102-RSJ")
		}
	default:
		return InvalidText("kind", "单位类型应为 city、district、township 或 department", "kind must be city, district, township or department")
	}
	return nil
}

// ValidName checks a required name: trimmed, non-empty and of bounded length.
func ValidName(field, s string) error {
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || strings.TrimSpace(s) == "" || n > 100 {
		return InvalidText(field, "名称须为 1 到 100 个字符", "must be 1 to 100 characters")
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
		return InvalidText("kind", "类型应为 hall 或 studio", "kind must be hall or studio")
	}
	if h.UnitID == 0 {
		return InvalidText("unit_id", "必须指定所属单位", "unit_id is required")
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
		return InvalidText("username", "用户名须为 3 到 64 个小写字母、数字、点、下划线或连字符，以字母或数字开头", "username must be 3 to 64 lowercase letters, digits, dots, underscores or hyphens, starting with a letter or digit")
	}
	if err := ValidName("display_name", u.DisplayName); err != nil {
		return err
	}
	if u.Kind != UserPerson && u.Kind != UserDevice {
		return InvalidText("kind", "用户类型应为 person 或 device", "kind must be person or device")
	}
	if u.UnitID == 0 {
		return InvalidText("unit_id", "必须指定所属单位", "unit_id is required")
	}
	if u.Kind == UserDevice && u.HallID == 0 {
		return InvalidText("hall_id", "终端账号必须指定所属大厅", "a device account needs a hall_id")
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

	// AppendAudit appends an entry and fills its ID (and At when zero). There is no way to
	// change or delete an entry: the schema refuses it too.
	AppendAudit(ctx context.Context, e *AuditEntry) error
	SearchAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
}
