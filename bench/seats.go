package bench

// The wire form of POST /dev/reception, which `sanji serve --dev` mounts for the reception
// scenario: a real reception session booked in the server's store, and a seat token for every
// participant of its call. The endpoint lives in cmd/sanji; the types are here so that both ends
// share them.

// ReceptionRequest asks for a bench reception: Halls reception halls and Units responsible units
// on the roster, PetitionersPerHall booked petitioners waiting in each hall.
type ReceptionRequest struct {
	Halls              int `json:"halls"`
	Units              int `json:"units"`
	PetitionersPerHall int `json:"petitioners_per_hall"`
	// Districts, when set, puts the halls and the units in turns under that many districts of the bench city
	// (codes 990101, 990102, ...; the city is 990100), so that a cascade's district nodes can
	// serve them (cluster.serves).
	Districts int `json:"districts,omitempty"`
}

// Limits of a bench reception: a session takes at most 500 bookings.
const (
	MaxReceptionHalls       = 50
	MaxReceptionUnits       = 20
	MaxPetitionersPerHall   = 50
	MaxReceptionPetitioners = 500
	MaxReceptionDistricts   = 9
)

// ReceptionSeats is the answer: the session, and one seat token for the studio, each hall and
// each unit. The petitioners are booked in turns across the halls (hall 1, hall 2, …, hall 1,
// …), so that `call_next` moves the stage to another hall every time.
type ReceptionSeats struct {
	SessionID    int64  `json:"session_id"`
	Room         string `json:"room"`
	Studio       Seat   `json:"studio"`
	Halls        []Seat `json:"halls"`
	Units        []Seat `json:"units"`
	Appointments int    `json:"appointments"`
	// Districts are the codes of the districts the halls are in, when the request asked for some.
	Districts []string `json:"districts,omitempty"`
}

// Seat is one participant's place in the call.
type Seat struct {
	Token         string `json:"token"`
	ParticipantID string `json:"participant_id"`
	HallID        int64  `json:"hall_id,omitempty"`
	UnitID        int64  `json:"unit_id,omitempty"`
}
