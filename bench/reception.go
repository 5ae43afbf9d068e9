package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"sanji/client"
	"sanji/i18n"
	"sanji/signaling"
)

// The reception scenario: a real reception call (docs/protocol.md, "The reception call") with a
// studio, Halls reception halls and Units responsible units, every one publishing video and
// audio and receiving whatever the server lets it. The studio calls the waiting petitioners one
// after the other, each for Hearing, and brings a unit on stage for each hearing; the stage thus
// moves to another hall every Hearing. Every packet every participant receives is checked
// against the stage as the studio changed it: a packet that reached a participant at a time
// neither it nor its sender was on stage is a leak — a waiting hall seeing or hearing someone
// else's hearing — and fails the run.

// ReceptionConfig shapes the reception scenario.
type ReceptionConfig struct {
	Halls, Units int
	// PetitionersPerHall are booked in each hall; 0 books enough for every hearing the window
	// has room for.
	PetitionersPerHall int
	// Hearing is how long each hearing lasts before the studio ends it and calls the next.
	Hearing time.Duration
	// Record has the hall on stage acknowledge the recording notice, so that the server records
	// each hearing (同步录音录像) as it would for real.
	Record bool
}

// Defaults of the reception scenario.
const (
	DefaultReceptionHalls = 4
	DefaultHearing        = 3 * time.Second
)

func (c *ReceptionConfig) defaults(window time.Duration) {
	if c.Halls <= 0 {
		c.Halls = DefaultReceptionHalls
	}
	if c.Hearing <= 0 {
		c.Hearing = DefaultHearing
	}
	if c.PetitionersPerHall <= 0 {
		hearings := int(window/c.Hearing) + 1
		c.PetitionersPerHall = min(max(1, (hearings+c.Halls-1)/c.Halls), MaxPetitionersPerHall, max(1, MaxReceptionPetitioners/c.Halls))
	}
}

func (c ReceptionConfig) check(window time.Duration) error {
	if c.Hearing > window {
		return errorT("bench.reception.hearing_too_long", "hearing", c.Hearing, "window", window)
	}
	if c.Halls > MaxReceptionHalls || c.Units < 0 || c.Units > MaxReceptionUnits || c.PetitionersPerHall > MaxPetitionersPerHall ||
		c.Halls*c.PetitionersPerHall > MaxReceptionPetitioners {
		return errorT("bench.reception.bounds", "halls", MaxReceptionHalls, "units", MaxReceptionUnits,
			"per_hall", MaxPetitionersPerHall, "total", MaxReceptionPetitioners)
	}
	return nil
}

// never is the end of a stage interval still open.
const never = time.Duration(math.MaxInt64)

// Stage members of a hearing, as indexes of its counters.
const (
	memberStudio = iota
	memberHall
	memberUnit
	members
)

var memberNames = [members]string{"studio", "hall", "unit"}

// hearing is one petitioner on stage: the hall's and the unit's seats (indexes into
// reception.parts; unit -1 when none) and the bench's clock at each step. The stage's
// interval for a participant runs from the request that brought it on stage being sent
// (callSent, unitSent) to the answer to end_hearing (endReply): the server changes what it
// forwards before it answers, so nothing sent after that answer may reach a participant no
// longer on stage, and nothing may arrive before the request went out.
type hearing struct {
	hall, unit                                                  int
	callSent, callReply, unitSent, unitReply, endSent, endReply time.Duration

	// What the stage's members received from each other: packets by receiver, sender and kind
	// (0 video, 1 audio), and the arrival of the first video packet sent since the pair was on
	// stage (0 = none yet).
	packets    [members][members][2]atomic.Uint64
	firstVideo [members][members]atomic.Int64
}

// member says whether seat is on h's stage: its member index and since when.
func (h *hearing) member(seat int) (int, time.Duration, bool) {
	switch {
	case seat == 0:
		return memberStudio, h.callSent, true
	case seat == h.hall:
		return memberHall, h.callSent, true
	case seat == h.unit && h.unitSent > 0:
		return memberUnit, h.unitSent, true
	}
	return 0, 0, false
}

// leakKey names a stream of leaked packets.
type leakKey struct {
	receiver, sender int // seats; sender -1 = a track of nobody in the call
	kind             string
}

// reception is the reception call the bench runs, and its accounting.
type reception struct {
	r     *runner
	cfg   ReceptionConfig
	seats ReceptionSeats
	parts []*participant // by seat: the studio, the halls, the units
	seat  map[string]int // participant id → seat
	// stageHall is the hall on stage in the studio's latest call_state (0 = none).
	stageHall atomic.Int64

	mu         sync.RWMutex // guards hearings and their times; the counters are atomic
	hearings   []*hearing
	queueEmpty bool

	leakMu sync.Mutex
	leaks  map[leakKey]uint64
}

// newReception books the call on the server (POST /dev/reception) and plans its participants:
// the studio first, then the halls, then the units; everyone publishes and receives.
func newReception(ctx context.Context, r *runner) (*reception, []*participant, error) {
	cfg := r.cfg.Reception
	rc := &reception{r: r, cfg: cfg, seat: map[string]int{}, leaks: map[leakKey]uint64{}}
	req := ReceptionRequest{Halls: cfg.Halls, Units: cfg.Units, PetitionersPerHall: cfg.PetitionersPerHall}
	if err := r.postJSON(ctx, "/dev/reception", req, &rc.seats); err != nil {
		return nil, nil, err
	}
	if len(rc.seats.Halls) != cfg.Halls || len(rc.seats.Units) != cfg.Units {
		return nil, nil, fmt.Errorf("POST /dev/reception: %d halls and %d units, asked for %d and %d",
			len(rc.seats.Halls), len(rc.seats.Units), cfg.Halls, cfg.Units)
	}
	add := func(name string, s Seat) {
		p := &participant{r: r, room: rc.seats.Room, name: name, publish: true, receive: true, tok: s.Token, seat: len(rc.parts)}
		rc.seat[s.ParticipantID] = p.seat
		rc.parts = append(rc.parts, p)
	}
	add("studio", rc.seats.Studio)
	for i, s := range rc.seats.Halls {
		add(fmt.Sprintf("hall%d", i+1), s)
	}
	for i, s := range rc.seats.Units {
		add(fmt.Sprintf("unit%d", i+1), s)
	}
	return rc, slices.Clone(rc.parts), nil
}

// ready: everyone joined and was told of every other participant's tracks (the server
// announces a track once its media arrives).
func (rc *reception) ready() bool {
	per := 1
	if rc.r.cfg.Audio {
		per = 2
	}
	for _, p := range rc.parts {
		if p.failed.Load() || p.knownTracks() < per*(len(rc.parts)-1) {
			return false
		}
	}
	return true
}

// onMessage follows the stage as the studio sees it.
func (rc *reception) onMessage(p *participant, m client.Message) {
	if p.seat != 0 || m.Type != signaling.TypeCallState {
		return
	}
	var st signaling.CallState
	if m.Decode(&st) != nil {
		return
	}
	var hall int64
	if st.Stage != nil {
		hall = st.Stage.HallID
	}
	rc.stageHall.Store(hall)
}

// tap returns the function that checks each packet participant p receives on a track of the
// participant sender.
func (rc *reception) tap(p *participant, sender, kind string) func(Packet) {
	pub, ok := rc.seat[sender]
	if !ok {
		pub = -1
	}
	k := 0
	if kind != "video" {
		k = 1
	}
	return func(pkt Packet) { rc.observe(p.seat, pub, kind, k, pkt) }
}

// observe files one received packet under the hearing that allowed it, or as a leak. Of the
// hearings that allow it, the newest during which it was sent is taken (a packet still in
// flight from the hearing before belongs to that one).
func (rc *reception) observe(recv, pub int, kind string, k int, pkt Packet) {
	sent := pkt.SentAt
	if !pkt.Stamped {
		sent = pkt.Arrival
	}
	rc.mu.RLock()
	var best *hearing
	var bi, bj int
	var bfrom time.Duration
	for n := len(rc.hearings) - 1; n >= 0 && pub >= 0; n-- {
		h := rc.hearings[n]
		i, fromR, okR := h.member(recv)
		j, fromP, okP := h.member(pub)
		if !okR || !okP || i == j {
			continue
		}
		from := max(fromR, fromP)
		if pkt.Arrival < from || sent > h.endReply {
			continue
		}
		if best == nil || sent >= from {
			best, bi, bj, bfrom = h, i, j, from
		}
		if sent >= from {
			break
		}
	}
	if best != nil {
		best.packets[bi][bj][k].Add(1)
		if k == 0 && sent >= bfrom {
			best.firstVideo[bi][bj].CompareAndSwap(0, int64(pkt.Arrival))
		}
	}
	rc.mu.RUnlock()
	if best == nil {
		rc.leakMu.Lock()
		rc.leaks[leakKey{recv, pub, kind}]++
		rc.leakMu.Unlock()
	}
}

// drive runs the call for the window: the studio calls the next petitioner, brings a unit on
// stage, lets the hearing run for Hearing and ends it, until no whole hearing fits in the
// window any more (or the queue is empty). A hearing under way when ctx ends is still ended.
func (rc *reception) drive(ctx context.Context, window time.Duration) error {
	studio := rc.parts[0]
	if studio.failed.Load() || studio.c == nil {
		return errorT("bench.reception.studio_absent")
	}
	end := time.Now().Add(window)
	for n := 0; time.Until(end) >= rc.cfg.Hearing; n++ {
		if err := rc.hear(ctx, studio.c, n); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var e *client.Error
			if errors.As(err, &e) && e.Code == signaling.CodeNotFound {
				rc.mu.Lock()
				rc.queueEmpty = true
				rc.mu.Unlock()
				break
			}
			return err
		}
	}
	return sleep(ctx, time.Until(end))
}

// hear runs hearing n: the petitioner booked n-th, waiting in hall n mod Halls (the bookings go
// round the halls), recorded when the hall acknowledges the notice, with unit n mod Units on
// stage.
func (rc *reception) hear(ctx context.Context, studio *client.Client, n int) error {
	h := &hearing{hall: 1 + n%rc.cfg.Halls, unit: -1, endReply: never}
	if rc.cfg.Units > 0 {
		h.unit = 1 + rc.cfg.Halls + n%rc.cfg.Units
	}
	rc.mu.Lock()
	h.callSent = Now()
	rc.hearings = append(rc.hearings, h)
	rc.mu.Unlock()
	_, err := studio.Request(ctx, signaling.TypeCallNext, struct{}{})
	rc.mu.Lock()
	h.callReply = Now()
	if err != nil {
		h.endSent, h.endReply = h.callReply, h.callReply // nobody came on stage
	}
	rc.mu.Unlock()
	if err != nil {
		return fmt.Errorf("call_next: %w", err)
	}
	// The call_state of the new stage reached the studio before the answer did.
	want := rc.seats.Halls[h.hall-1].HallID
	if got := rc.stageHall.Load(); got != want {
		return errors.Join(errorT("bench.reception.wrong_hall", "got", got, "want", want), rc.endHearing(studio, h))
	}
	if rc.cfg.Record {
		hall := rc.parts[h.hall]
		if hall.failed.Load() || hall.c == nil {
			return errors.Join(fmt.Errorf("%s did not join; it cannot acknowledge the recording notice", hall.name), rc.endHearing(studio, h))
		}
		if _, err := hall.c.Request(ctx, signaling.TypeAckRecording, struct{}{}); err != nil {
			return errors.Join(fmt.Errorf("ack_recording: %w", err), rc.endHearing(studio, h))
		}
	}
	if h.unit > 0 {
		rc.mu.Lock()
		h.unitSent = Now()
		rc.mu.Unlock()
		_, err := studio.Request(ctx, signaling.TypeStageUnit,
			signaling.StageUnitData{UnitID: rc.seats.Units[h.unit-1-rc.cfg.Halls].UnitID, On: true})
		if err != nil {
			return errors.Join(fmt.Errorf("stage_unit: %w", err), rc.endHearing(studio, h))
		}
		rc.mu.Lock()
		h.unitReply = Now()
		rc.mu.Unlock()
	}
	werr := sleep(ctx, rc.cfg.Hearing)
	return errors.Join(werr, rc.endHearing(studio, h))
}

// endHearingTimeout bounds end_hearing, which runs even after the run was cancelled.
const endHearingTimeout = 10 * time.Second

func (rc *reception) endHearing(studio *client.Client, h *hearing) error {
	ctx, cancel := context.WithTimeout(context.Background(), endHearingTimeout)
	defer cancel()
	rc.mu.Lock()
	h.endSent = Now()
	rc.mu.Unlock()
	_, err := studio.Request(ctx, signaling.TypeEndHearing, signaling.EndHearingData{Outcome: "answered", Note: "压测 / bench"})
	rc.mu.Lock()
	if err == nil {
		h.endReply = Now()
	}
	rc.mu.Unlock()
	if err != nil {
		// The stage may still stand: its interval stays open, so nothing is called a leak that
		// the server was still allowed to send.
		return fmt.Errorf("end_hearing: %w", err)
	}
	return nil
}

// ReceptionReport is what the reception scenario adds to the report.
type ReceptionReport struct {
	SessionID          int64   `json:"session_id"`
	Halls              int     `json:"halls"`
	Units              int     `json:"units"`
	PetitionersPerHall int     `json:"petitioners_per_hall"`
	HearingSeconds     float64 `json:"hearing_seconds"`
	// Recorded: the halls acknowledged the recording notice, so the server recorded the hearings.
	Recorded bool `json:"recorded"`
	// Hearings run in the window; Delivered of them had media (video, and audio when sent) in
	// both directions between every two members of the stage. QueueEmpty: the bookings ran out.
	Hearings   int  `json:"hearings"`
	Delivered  int  `json:"hearings_delivered"`
	QueueEmpty bool `json:"queue_empty,omitempty"`
	// StageSwitch is from the answer to call_next to the first video packet of the new hall at
	// the studio; HallSeesStudio to the studio's first video packet at that hall.
	StageSwitch    Summary `json:"stage_switch_ms"`
	HallSeesStudio Summary `json:"hall_sees_studio_ms"`
	// StagePackets were delivered between members of a stage.
	StagePackets uint64 `json:"stage_packets"`
	// Leaked packets reached a participant while it or their sender was off stage: to a
	// waiting hall, an off-stage unit, or the studio (from a hall or unit off stage). All must
	// be 0.
	LeakedToWaitingHalls  uint64 `json:"leaked_to_waiting_halls"`
	LeakedToOffStageUnits uint64 `json:"leaked_to_off_stage_units"`
	LeakedToStudio        uint64 `json:"leaked_to_studio"`
	Leaks                 []Leak `json:"leaks,omitempty"`
	// Missing names the hearings without media in some direction.
	Missing []string `json:"missing,omitempty"`
	// Each hearing, in order.
	Each []HearingReport `json:"each"`
}

// HearingReport is one hearing: who was on stage, and for each two members of the stage the
// time from the answer that put them both on stage (call_next, or stage_unit for the unit) to
// the first video packet one got of the other, keyed "receiver<-sender" (absent: none came).
type HearingReport struct {
	Hall         string             `json:"hall"`
	Unit         string             `json:"unit,omitempty"`
	Packets      uint64             `json:"packets"`
	FirstVideoMs map[string]float64 `json:"first_video_ms"`
}

// Leak is one stream of leaked packets.
type Leak struct {
	Receiver string `json:"receiver"`
	Sender   string `json:"sender"`
	Kind     string `json:"kind"`
	Packets  uint64 `json:"packets"`
}

// Leaked is every leaked packet.
func (r *ReceptionReport) Leaked() uint64 {
	return r.LeakedToWaitingHalls + r.LeakedToOffStageUnits + r.LeakedToStudio
}

// ErrLeak is the run's error when media reached someone off stage.
var ErrLeak = errorT("bench.reception.leak")

// err is the run's verdict on the reception: leaks, or a call that never ran.
func (r *ReceptionReport) err() error {
	switch {
	case r.Leaked() > 0:
		return fmt.Errorf("%w（%s）", ErrLeak, i18n.T("bench.reception.leaked_packets", "packets", r.Leaked()))
	case r.Hearings == 0:
		return errorT("bench.reception.no_hearing")
	}
	return nil
}

func (rc *reception) seatName(seat int) string {
	if seat < 0 || seat >= len(rc.parts) {
		return "(unknown)"
	}
	return rc.parts[seat].name
}

func (rc *reception) report() *ReceptionReport {
	out := &ReceptionReport{SessionID: rc.seats.SessionID, Halls: rc.cfg.Halls, Units: rc.cfg.Units,
		PetitionersPerHall: rc.cfg.PetitionersPerHall, HearingSeconds: rc.cfg.Hearing.Seconds(), Recorded: rc.cfg.Record}
	kinds := 1
	if rc.r.cfg.Audio {
		kinds = 2
	}
	var sw, hs Histogram
	rc.mu.RLock()
	out.QueueEmpty = rc.queueEmpty
	for n, h := range rc.hearings {
		if h.endReply == h.callReply { // call_next failed: nobody came on stage
			continue
		}
		out.Hearings++
		ok := true
		for i := range members {
			for j := range members {
				for k := range kinds {
					out.StagePackets += h.packets[i][j][k].Load()
				}
				if _, _, on := h.member(h.seatOf(i)); !on || i == j {
					continue
				}
				if _, _, on := h.member(h.seatOf(j)); !on {
					continue
				}
				for k := range kinds {
					if h.packets[i][j][k].Load() == 0 {
						ok = false
						out.Missing = append(out.Missing, fmt.Sprintf("hearing %d (%s): %s got no %s from %s",
							n+1, rc.seatName(h.hall), memberNames[i], []string{"video", "audio"}[k], memberNames[j]))
					}
				}
			}
		}
		if ok {
			out.Delivered++
		}
		out.Each = append(out.Each, rc.hearingReport(h))
		if t := h.firstVideo[memberStudio][memberHall].Load(); t > 0 {
			sw.Record(time.Duration(t) - h.callReply)
		}
		if t := h.firstVideo[memberHall][memberStudio].Load(); t > 0 {
			hs.Record(time.Duration(t) - h.callReply)
		}
	}
	rc.mu.RUnlock()
	out.StageSwitch, out.HallSeesStudio = summarize(&sw), summarize(&hs)

	rc.leakMu.Lock()
	defer rc.leakMu.Unlock()
	for key, n := range rc.leaks {
		switch {
		case key.receiver == 0:
			out.LeakedToStudio += n
		case key.receiver <= rc.cfg.Halls:
			out.LeakedToWaitingHalls += n
		default:
			out.LeakedToOffStageUnits += n
		}
		out.Leaks = append(out.Leaks, Leak{Receiver: rc.seatName(key.receiver), Sender: rc.seatName(key.sender), Kind: key.kind, Packets: n})
	}
	slices.SortFunc(out.Leaks, func(a, b Leak) int { return cmp.Compare(b.Packets, a.Packets) })
	return out
}

func (rc *reception) hearingReport(h *hearing) HearingReport {
	e := HearingReport{Hall: rc.seatName(h.hall), FirstVideoMs: map[string]float64{}}
	if h.unit > 0 {
		e.Unit = rc.seatName(h.unit)
	}
	for i := range members {
		for j := range members {
			for k := range 2 {
				e.Packets += h.packets[i][j][k].Load()
			}
			t := h.firstVideo[i][j].Load()
			if t == 0 {
				continue
			}
			from := h.callReply
			if i == memberUnit || j == memberUnit {
				from = h.unitReply
			}
			e.FirstVideoMs[memberNames[i]+"<-"+memberNames[j]] = ms(time.Duration(t) - from)
		}
	}
	return e
}

// seatOf is the seat of member i of h's stage (-1 when h has no unit).
func (h *hearing) seatOf(i int) int {
	switch i {
	case memberStudio:
		return 0
	case memberHall:
		return h.hall
	}
	return h.unit
}
