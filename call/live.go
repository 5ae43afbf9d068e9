package call

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"go.uber.org/zap"
)

// What a call holds only in memory — the hearing's clock, the units brought on, speakers, the
// record being written, broadcast, hands, held floors, halls away — is kept, in a cluster,
// where another node can read it (Keeper: the cluster's Redis). It is written when it changes
// (at most once per apply, not per packet). When the call's node dies, the node that takes the
// room over rebuilds the call from the store, as after the call emptied, plus this snapshot:
// the hearing goes on as it was, with the same clock and so the same recording.

// Keeper keeps a call's live snapshot beside the store (cluster: Redis, renewed with the
// room's claim). nil on a single node.
type Keeper interface {
	// SaveCall writes the snapshot of room; nil forgets it (the call ended).
	SaveCall(ctx context.Context, room string, data []byte) error
	// LoadCall reads it; nil when there is none.
	LoadCall(ctx context.Context, room string) ([]byte, error)
}

// liveState is a call's snapshot.
type liveState struct {
	Appointment int64     `json:"appointment,omitempty"` // the booking on stage
	AckAt       time.Time `json:"ack_at,omitzero"`
	Units       []int64   `json:"units,omitempty"`
	Speakers    []string  `json:"speakers,omitempty"`
	Record      string    `json:"record,omitempty"`
	Confirmed   time.Time `json:"confirmed,omitzero"`
	Broadcast   bool      `json:"broadcast,omitempty"`
	Hands       []string  `json:"hands,omitempty"`
	Held        []string  `json:"held,omitempty"`
	Away        []int64   `json:"away,omitempty"`
}

// liveLocked is the snapshot of the call now. k.mu must be held.
func (k *Call) liveLocked() []byte {
	st := liveState{Broadcast: k.broadcast}
	if g := k.stage; g != nil {
		st.Appointment, st.AckAt, st.Units, st.Speakers = g.appt.ID, g.ackAt, g.units, g.speakers
		st.Record, st.Confirmed = g.record, g.confirmed
	}
	st.Hands, st.Held, st.Away = setKeys(k.hands), setKeys(k.held), setKeys(k.away)
	b, _ := json.Marshal(st) // plain fields: cannot fail
	return b
}

// setKeys are the keys of a set's members that are in it, sorted; never nil.
func setKeys[K cmp.Ordered](set map[K]bool) []K {
	out := []K{}
	for k, in := range set {
		if in {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// keep writes the snapshot when it changed since the last write. Called with k.sendMu held
// (one at a time per call, in order).
func (k *Call) keep(data []byte) {
	kp := k.calls.cfg.Keeper
	if kp == nil || bytes.Equal(data, k.kept) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), keeperTimeout)
	defer cancel()
	if err := kp.SaveCall(ctx, k.room, data); err != nil {
		// The call goes on; only a takeover would miss the change.
		k.log().Warn("keep the call's snapshot", zap.String("room", k.room), zap.Error(err))
		return
	}
	k.kept = data
}

// keeperTimeout bounds one write or read of the snapshot: the call does not wait on a slow
// Redis longer than this.
const keeperTimeout = time.Second

// forget deletes the snapshot of a call that ended (its last member left).
func (k *Call) forget() {
	kp := k.calls.cfg.Keeper
	if kp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), keeperTimeout)
	defer cancel()
	if err := kp.SaveCall(ctx, k.room, nil); err != nil {
		k.log().Warn("forget the call's snapshot", zap.String("room", k.room), zap.Error(err))
	}
}

// restore applies the snapshot kept by the call's previous node, if any, to a call just loaded
// from the store: the stage's live part only when the same booking is on stage. k is unshared.
func (k *Call) restore(ctx context.Context) {
	kp := k.calls.cfg.Keeper
	if kp == nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, keeperTimeout)
	defer cancel()
	data, err := kp.LoadCall(rctx, k.room)
	if err != nil {
		k.log().Warn("read the call's snapshot; the call starts from the store alone", zap.String("room", k.room), zap.Error(err))
		return
	}
	if data == nil {
		return
	}
	var st liveState
	if err := json.Unmarshal(data, &st); err != nil {
		k.log().Warn("unreadable call snapshot", zap.String("room", k.room), zap.Error(err))
		return
	}
	if g := k.stage; g != nil && g.appt.ID == st.Appointment {
		g.ackAt, g.speakers, g.record, g.confirmed = st.AckAt, st.Speakers, st.Record, st.Confirmed
		if st.Units != nil {
			g.units = st.Units
		}
		k.broadcast = st.Broadcast
	}
	for _, id := range st.Hands {
		k.hands[id] = true
	}
	for _, id := range st.Held {
		k.held[id] = true
	}
	for _, h := range st.Away {
		if k.away == nil {
			k.away = map[int64]bool{}
		}
		k.away[h] = true
	}
	k.kept = data
	k.restored = true
	k.log().Info("call rebuilt from the store and its snapshot", zap.String("room", k.room),
		zap.Bool("hearing", k.stage != nil && !k.stage.ackAt.IsZero()))
}

// continueRecording starts again, in a call rebuilt from another node's snapshot, the
// recording of the hearing that node was recording (same hearing id: the recorder continues
// it), as soon as a member is back.
func (k *Call) continueRecording() {
	k.mu.Lock()
	want := k.restored && k.stage != nil && !k.stage.ackAt.IsZero() && k.stage.rec == nil
	k.mu.Unlock()
	if !want {
		return
	}
	k.op.Lock()
	defer k.op.Unlock()
	k.startRecording()
}
