package bench

import (
	"errors"
	"testing"
	"time"
)

// testReception is a reception of a studio (seat 0), two halls (1, 2) and one unit (3), with
// no server: the tests drive its hearings and packets by hand.
func testReception() *reception {
	rc := &reception{r: &runner{cfg: Config{Audio: true}}, cfg: ReceptionConfig{Halls: 2, Units: 1, Hearing: time.Second},
		seat: map[string]int{}, leaks: map[leakKey]uint64{}}
	for i, name := range []string{"studio", "hall1", "hall2", "unit1"} {
		rc.parts = append(rc.parts, &participant{name: name, seat: i})
		rc.seat["id-"+name] = i
	}
	return rc
}

const tms = time.Millisecond

// pkt is a packet sent at sent and arriving at arrival (bench clock, milliseconds).
func pkt(sent, arrival time.Duration) Packet {
	return Packet{SentAt: sent * tms, Arrival: arrival * tms, Stamped: true}
}

// TestReceptionAccountingFindsLeaks feeds packets around two hearings (hall 1 with the unit,
// then hall 2) and checks which are stage media and which are leaks.
func TestReceptionAccountingFindsLeaks(t *testing.T) {
	rc := testReception()
	studio, hall1, hall2, unit := 0, 1, 2, 3
	video := func(recv int, sender string, p Packet) { rc.tap(rc.parts[recv], sender, "video")(p) }
	audio := func(recv int, sender string, p Packet) { rc.tap(rc.parts[recv], sender, "audio")(p) }

	// Idle: nothing may reach anyone.
	video(hall1, "id-studio", pkt(50, 60))
	// Hearing 1: hall 1 from 1000 ms (call_next sent) to 3000 ms (end_hearing answered); the
	// unit from 1100 ms.
	h1 := &hearing{hall: hall1, unit: unit, callSent: 1000 * tms, callReply: 1010 * tms, unitSent: 1100 * tms, unitReply: 1110 * tms,
		endSent: 2990 * tms, endReply: 3000 * tms}
	rc.hearings = append(rc.hearings, h1)
	video(studio, "id-hall1", pkt(1020, 1040))   // first video of the hall at the studio: 30 ms after the answer
	video(hall1, "id-studio", pkt(1030, 1060))   // and of the studio at the hall: 50 ms
	video(hall1, "id-studio", pkt(990, 1070))    // sent before the call, forwarded after it: stage media
	audio(studio, "id-hall1", pkt(1500, 1501))   //
	audio(hall1, "id-studio", pkt(1500, 1501))   //
	video(unit, "id-hall1", pkt(1050, 1090))     // the unit before it was brought on stage: leak
	video(unit, "id-hall1", pkt(1200, 1201))     // on stage
	video(hall2, "id-studio", pkt(1500, 1501))   // hall 2 waits: leak
	audio(hall2, "id-hall1", pkt(1500, 1501))    // leak
	video(studio, "id-hall2", pkt(1500, 1501))   // the studio sees a waiting hall: leak
	video(hall1, "id-studio", pkt(2999, 3100))   // sent before the end was answered: stage media
	video(hall1, "id-studio", pkt(3001, 3002))   // sent after: leak
	video(hall1, "id-stranger", pkt(1500, 1501)) // nobody in the call: leak

	// Hearing 2: hall 2, no unit. A packet of hall 1's hearing still in flight is hearing 1's.
	h2 := &hearing{hall: hall2, unit: -1, callSent: 3010 * tms, callReply: 3020 * tms, endReply: never}
	rc.hearings = append(rc.hearings, h2)
	video(studio, "id-hall1", pkt(2995, 3015)) // in flight from hearing 1
	video(studio, "id-hall2", pkt(3025, 3100))
	video(hall2, "id-studio", pkt(3030, 3080))
	video(unit, "id-studio", pkt(3030, 3031)) // the unit is off stage now: leak
	audio(studio, "id-hall2", pkt(3050, 3051))
	audio(hall2, "id-studio", pkt(3050, 3051))

	rep := rc.report()
	if rep.Hearings != 2 {
		t.Fatalf("hearings %d", rep.Hearings)
	}
	if rep.LeakedToWaitingHalls != 5 || rep.LeakedToOffStageUnits != 2 || rep.LeakedToStudio != 1 {
		t.Fatalf("leaks: halls %d units %d studio %d; %+v", rep.LeakedToWaitingHalls, rep.LeakedToOffStageUnits, rep.LeakedToStudio, rep.Leaks)
	}
	if !errors.Is(rep.err(), ErrLeak) {
		t.Fatalf("a run with leaks passes: %v", rep.err())
	}
	// Hearing 1 lacked the unit's media (and the hall's audio to it, and more): not delivered;
	// hearing 2 had everything both ways.
	if rep.Delivered != 1 || len(rep.Missing) == 0 {
		t.Fatalf("delivered %d, missing %v", rep.Delivered, rep.Missing)
	}
	if got := h1.packets[memberStudio][memberHall][0].Load(); got != 2 {
		t.Fatalf("studio got %d video packets of hall 1 in its hearing, want 2 (one in flight after it)", got)
	}
	if s := rep.StageSwitch; s.N != 2 || s.Mean != 55 || s.Max != 80 {
		t.Fatalf("stage switch %+v, want 30 and 80 ms", s)
	}
	if s := rep.HallSeesStudio; s.N != 2 || s.Mean != 55 || s.Max != 60 {
		t.Fatalf("hall sees studio %+v, want 50 and 60 ms", s)
	}
	if rep.StagePackets != 12 {
		t.Fatalf("stage packets %d, want 12", rep.StagePackets)
	}
	if len(rep.Each) != 2 || rep.Each[0].Hall != "hall1" || rep.Each[0].Unit != "unit1" || rep.Each[0].Packets != 8 ||
		rep.Each[1].Unit != "" || rep.Each[1].Packets != 4 {
		t.Fatalf("hearings %+v", rep.Each)
	}
	// The unit's first video of the hall, from the answer to stage_unit.
	if got := rep.Each[0].FirstVideoMs["unit<-hall"]; got != 91 {
		t.Fatalf("unit got the hall's first video %v ms after stage_unit was answered, want 91", got)
	}
}

// TestReceptionWithoutLeaksPasses: the same call, only stage media: no leak, and the verdict is
// nil; with no hearing at all it is an error.
func TestReceptionWithoutLeaksPasses(t *testing.T) {
	rc := testReception()
	if rc.report().err() == nil {
		t.Fatal("a run without hearings passes")
	}
	rc.hearings = append(rc.hearings, &hearing{hall: 2, unit: -1, callSent: 1000 * tms, callReply: 1010 * tms, endReply: 2000 * tms})
	rc.tap(rc.parts[0], "id-hall2", "video")(pkt(1100, 1101))
	rc.tap(rc.parts[2], "id-studio", "video")(pkt(1100, 1101))
	rep := rc.report()
	if err := rep.err(); err != nil || rep.Leaked() != 0 {
		t.Fatalf("verdict %v, leaks %d", err, rep.Leaked())
	}
}
