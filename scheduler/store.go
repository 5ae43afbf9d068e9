package scheduler

import (
	"context"

	"sanji/scheduler/casework"
	"sanji/scheduler/exchange"
	"sanji/scheduler/org"
	"sanji/scheduler/rates"
	"sanji/scheduler/reception"
)

// Store is where the scheduler's data lives. Implementations (scheduler/sqlite,
// scheduler/postgres) pass the one conformance suite in scheduler/storetest. Every method
// returns errors wrapping org.ErrNotFound, ErrConflict or ErrInvalid where those apply. A method
// that returns without error has committed durably.
type Store interface {
	org.Store                // the tree, halls, categories, users, grants, sessions, tokens, audit
	reception.SessionStore   // receptions, sessions, holidays, appointments, invitations, feeds
	casework.CaseStore       // case records, their evaluations and attachments
	casework.SlipStore       // 交办 and 督办 slips, consultations
	casework.DocumentStore   // generated documents and their service
	casework.QuorumStore     // 会商 absences, for the quorum before signing
	casework.EscalationStore // 督办 climbing by itself, and the lists of items across cases
	rates.RateStore          // the counts the rates are read from
	exchange.MirrorStore     // copies of cases from other systems

	// InTx runs fn with a Store bound to one transaction: everything fn does commits together,
	// or nothing does when fn returns an error. Nested InTx calls join the outer transaction.
	InTx(ctx context.Context, fn func(tx Store) error) error

	// SchemaVersion is the newest migration applied.
	SchemaVersion(ctx context.Context) (int, error)
	Close() error
}
