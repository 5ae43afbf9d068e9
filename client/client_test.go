package client_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"sanji/auth"
	"sanji/client"
	"sanji/sfu"
	"sanji/signaling"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var secret = []byte("client test secret, 32 bytes or more")

// serve runs a signaling server on a real SFU and returns its WebSocket URL and a token maker.
func serve(t *testing.T) (string, func(sub string, ttl time.Duration) string) {
	t.Helper()
	log := zaptest.NewLogger(t)
	media, err := sfu.New(sfu.Config{LoopbackOnly: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	signer := auth.NewSigner(secret)
	srv := signaling.New(signaling.Config{SFU: media, Tokens: signer, Logger: log})
	h := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		h.Close()
		_ = media.Close()
	})
	token := func(sub string, ttl time.Duration) string {
		tok, err := signer.Sign(auth.Claims{Room: "r", Subject: sub, Name: sub, Role: auth.RoleObserver,
			ExpiresAt: time.Now().Add(ttl)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	return "ws" + strings.TrimPrefix(h.URL, "http"), token
}

func TestDialRefused(t *testing.T) {
	url, token := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.Dial(ctx, url, token("a", -time.Minute), client.Options{})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != signaling.CodeTokenExpired {
		t.Fatalf("err = %v, want a token_expired *client.Error", err)
	}
	if _, err := client.Dial(ctx, "ws://127.0.0.1:1/ws", token("a", time.Hour), client.Options{}); err == nil {
		t.Fatal("dialled a closed port")
	}
}

func TestJoinRequestAndClose(t *testing.T) {
	url, token := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	a, err := client.Dial(ctx, url, token("a", time.Hour), client.Options{
		OnMessage: func(m client.Message) { got = append(got, m.Type) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if j := a.Joined(); j.Room != "r" || a.ID() != "a" {
		t.Fatalf("joined %+v", j)
	}
	m, err := a.Request(ctx, signaling.TypePing, struct{}{})
	if err != nil || m.Type != signaling.TypePong {
		t.Fatalf("ping: %v %+v", err, m)
	}
	if err := a.Mute(ctx, "TR_none", true); err == nil {
		t.Fatal("muted a track that does not exist")
	}
	if err := a.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := a.Request(ctx, signaling.TypePing, struct{}{}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("request after close: %v, want ErrClosed", err)
	}
	// OnMessage runs on the reader, which Close has waited for: got is safe to read.
	if len(got) < 3 || got[0] != signaling.TypeJoined || got[len(got)-1] != signaling.TypeBye {
		t.Fatalf("messages %v, want joined first and bye last", got)
	}
}
