package call_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sanji/auth"
	"sanji/call"
)

// redisKeeper keeps snapshots in a real Redis, as a cluster's nodes do (there through the
// cluster package, which this package may not import).
type redisKeeper struct {
	rdb    *redis.Client
	prefix string
}

func (k redisKeeper) SaveCall(ctx context.Context, room string, data []byte) error {
	if data == nil {
		return k.rdb.Del(ctx, k.prefix+room).Err()
	}
	return k.rdb.Set(ctx, k.prefix+room, data, time.Minute).Err()
}

func (k redisKeeper) LoadCall(ctx context.Context, room string) ([]byte, error) {
	b, err := k.rdb.Get(ctx, k.prefix+room).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return b, err
}

// TestCallRebuiltFromItsSnapshot: a call on one node (Calls) keeps what only its memory holds;
// that node stops without anyone leaving (it died); the call rebuilt by another node's Calls on
// the same store and the same Redis has the same hearing — its clock (the acknowledgement), the
// speakers, the record being written, a raised hand — and a call that ended leaves no snapshot.
func TestCallRebuiltFromItsSnapshot(t *testing.T) {
	addr := os.Getenv("SANJI_TEST_REDIS")
	if addr == "" {
		t.Skip("SANJI_TEST_REDIS is not set (CI sets it)")
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	kp := redisKeeper{rdb: rdb, prefix: "sanjitest-" + hex.EncodeToString(b) + ":"}

	e := newTestEnv(t, nil)
	ctx := context.Background()
	hall := e.session.HallIDs[0]
	dead := call.New(call.Config{Backend: e.bridge, Sink: e.sink, Now: e.clock.Now, Keeper: kp})
	e.calls = dead
	leader, k := e.enter("leader", "demo-leader", auth.SeatStudio, 0, 0)
	a, _ := e.enter("hallA", "demo-operator", auth.SeatHall, hall, 0)
	must(t, "call next", k.CallNext(ctx, leader))
	e.clock.Set(e.clock.Now().Add(time.Minute))
	must(t, "acknowledge", k.AckRecording(ctx, a))
	before := leader.state(t).Stage
	queue, err := e.bridge.Queue(ctx, e.session.ID)
	must(t, "queue", err)
	var petitioner string
	for _, q := range queue {
		if q.ID == before.AppointmentID {
			petitioner = q.Name
		}
	}
	must(t, "speakers", k.SetSpeakers(ctx, a, []string{petitioner}))
	must(t, "record", k.HearingRecord(ctx, a, "笔录第一段"))
	must(t, "hand", k.RaiseHand(ctx, a, true))
	before = leader.state(t).Stage

	// Another node: the same store, the same Redis, none of the dead one's memory.
	e.clock.Set(e.clock.Now().Add(10 * time.Second))
	e.calls = call.New(call.Config{Backend: e.bridge, Sink: e.sink, Now: e.clock.Now, Keeper: kp})
	leader2, k2 := e.enter("leader", "demo-leader", auth.SeatStudio, 0, 0)
	a2, _ := e.enter("hallA", "demo-operator", auth.SeatHall, hall, 0)
	st := leader2.state(t)
	after := st.Stage
	if after == nil || after.AppointmentID != before.AppointmentID || after.CaseID != before.CaseID ||
		!after.RecordingAcknowledged || after.StartedAt == nil || !after.StartedAt.Equal(*before.StartedAt) ||
		after.Record != "笔录第一段" || len(after.Speakers) != 1 || after.Speakers[0] != before.Speakers[0] {
		t.Fatalf("rebuilt stage %+v, was %+v", after, before)
	}
	if len(st.Hands) != 1 || st.Hands[0] != "hallA" {
		t.Fatalf("hands %v", st.Hands)
	}
	if off, ok := e.calls.HearingOffset(e.session.ID); !ok || off != 10*time.Second {
		t.Fatalf("hearing offset %v %v: the clock did not survive", off, ok)
	}

	k2.Leave(a2)
	k2.Leave(leader2)
	if v, _ := kp.LoadCall(ctx, k2.Room()); v != nil {
		t.Fatalf("the ended call's snapshot stayed: %s", v)
	}
}
