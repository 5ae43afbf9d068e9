package signaling_test

import (
	"context"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"sanji/auth"
	"sanji/client"
	"sanji/scheduler/api"
	"sanji/signaling"
)

// TestSeatTokenSeatsOneClient: a copied seat token cannot seat a second client, whether the
// first is connected or has lost its socket; the first comes back with its resume token; a new
// token (from the API, after login) seats again.
func TestSeatTokenSeatsOneClient(t *testing.T) {
	ce := newCallEnv(t)
	u := ce.users["demo-leader"]
	// Tokens from the API differ in their random participant id; here, in their expiry.
	sign := func(ttl time.Duration) string {
		now := time.Now()
		tok, err := ce.signer.Sign(auth.Claims{Room: api.CallRoom(ce.session.ID), Subject: "studio-1", Name: u.DisplayName,
			Role: "leader", IssuedAt: now, ExpiresAt: now.Add(ttl), UserID: u.ID, SessionID: ce.session.ID,
			Seat: auth.SeatStudio})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tok := sign(time.Hour)
	p := &peer{t: t, id: "studio-1", tracks: map[string]*received{}, rrs: map[webrtc.SSRC]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, ce.wsURL, tok, client.Options{AutoSubscribe: true,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), OnTrack: p.onTrack, OnMessage: p.inbox.add})
	if err != nil {
		t.Fatalf("first join: %v", err)
	}
	p.c = c
	t.Cleanup(p.close)

	thief := ce.dialRaw()
	thief.send(signaling.TypeJoin, "j1", signaling.JoinData{Token: tok})
	thief.expectError(signaling.CodeTokenUsed, "j1")

	// The first client's socket drops: the copy still seats nobody, and the first resumes.
	p.c.DropSocket()
	thief.send(signaling.TypeJoin, "j2", signaling.JoinData{Token: tok})
	thief.expectError(signaling.CodeTokenUsed, "j2")
	if err := p.resume(t, ce.wsURL); err != nil {
		t.Fatalf("the rightful client's resume: %v", err)
	}
	thief.send(signaling.TypeJoin, "j3", signaling.JoinData{Token: tok})
	thief.expectError(signaling.CodeTokenUsed, "j3")

	// A new token seats a client again (it replaces the participant's older connection).
	again := ce.dialRaw()
	if j := again.join(sign(2*time.Hour), true); j.Participant.ID != "studio-1" {
		t.Fatalf("a new token joined as %+v", j.Participant)
	}
}
