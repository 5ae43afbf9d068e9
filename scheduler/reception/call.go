package reception

import "time"

// The reception call's view of the scheduler: what the signaling server loads to run a
// session live (docs/architecture.md, "The reception call").

// CallRoster is a reception session with the names its call shows.
type CallRoster struct {
	Session    ReceptionSession
	StudioName string
	HallNames  map[int64]string // the studio and every roster hall
	UnitNames  map[int64]string // roster units, and units brought on stage since
	// Units are the units the leader may bring on stage by name, in roster order: the session's
	// roster units and the units that accepted an invitation to it.
	Units []int64
}

// HearingCase is the case a hearing is about, and the units responsible for it: they come on
// stage with the petitioner's hall.
type HearingCase struct {
	CaseID  int64
	Number  string
	UnitIDs []int64
	// UnitNames names UnitIDs for the call's screens.
	UnitNames map[int64]string
	// Started is when the hearing began (a hearing resumed after the call restarted keeps it).
	Started time.Time
}

// HearingRecord is the hearing record (笔录) the hall kept, as the petitioner confirmed it.
type HearingRecord struct {
	SessionID, AppointmentID, CaseID int64
	Text                             string
	ConfirmedBy                      string // the name the petitioner typed
	Signature                        []byte // a PNG drawn on the terminal's screen, optional
	Started, Confirmed               time.Time
}
