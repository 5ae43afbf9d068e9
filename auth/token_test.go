package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	now    = time.Unix(1_800_000_000, 0)
)

func sample() Claims {
	return Claims{Room: "r1", Subject: "p1", Name: "王五", Role: RoleLeader,
		ExpiresAt: now.Add(time.Hour), IssuedAt: now}
}

func TestRoundTrip(t *testing.T) {
	s := NewSigner(secret)
	tok, err := s.Sign(sample())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Verify(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	want := sample()
	if got.Room != want.Room || got.Subject != want.Subject || got.Name != want.Name || got.Role != want.Role ||
		!got.ExpiresAt.Equal(want.ExpiresAt) || !got.IssuedAt.Equal(want.IssuedAt) {
		t.Fatalf("claims = %+v, want %+v", got, want)
	}
}

func TestRoundTripCallSeat(t *testing.T) {
	s := NewSigner(secret)
	c := sample()
	c.UserID, c.SessionID, c.Seat, c.HallID, c.UnitID = 7, 42, SeatHall, 9, 0
	tok, err := s.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Verify(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != 7 || got.SessionID != 42 || got.Seat != SeatHall || got.HallID != 9 || got.UnitID != 0 {
		t.Fatalf("call claims = %+v", got)
	}
}

func TestTampered(t *testing.T) {
	s := NewSigner(secret)
	tok, _ := s.Sign(sample())
	body, sig, _ := strings.Cut(tok, ".")

	other := sample()
	other.Role = RoleAdmin
	otherTok, _ := s.Sign(other)
	otherBody, _, _ := strings.Cut(otherTok, ".")

	rawSig, _ := base64.RawURLEncoding.DecodeString(sig)
	rawSig[0] ^= 1
	flipped := base64.RawURLEncoding.EncodeToString(rawSig)

	for name, bad := range map[string]string{
		"payload swapped":   otherBody + "." + sig,
		"signature flipped": body + "." + flipped,
		"signature cut":     body + "." + sig[:len(sig)-2],
	} {
		if _, err := s.Verify(bad, now); !errors.Is(err, ErrBadToken) {
			t.Errorf("%s: err = %v, want ErrBadToken", name, err)
		}
	}
}

func TestWrongSecret(t *testing.T) {
	tok, _ := NewSigner(secret).Sign(sample())
	other := NewSigner([]byte("another secret, also 32 bytes long"))
	if _, err := other.Verify(tok, now); !errors.Is(err, ErrBadToken) {
		t.Fatalf("err = %v, want ErrBadToken", err)
	}
}

func TestExpired(t *testing.T) {
	s := NewSigner(secret)
	tok, _ := s.Sign(sample())
	if _, err := s.Verify(tok, now.Add(time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("at expiry: err = %v, want ErrExpired", err)
	}
	if _, err := s.Verify(tok, now.Add(time.Hour-time.Second)); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	s := NewSigner(secret)
	sign := func(payload string) string {
		body := base64.RawURLEncoding.EncodeToString([]byte(payload))
		return body + "." + base64.RawURLEncoding.EncodeToString(s.mac(body))
	}
	for name, tok := range map[string]string{
		"empty":          "",
		"no dot":         "abc",
		"three parts":    "a.b.c",
		"bad base64 sig": "abc.!!!",
		"too long":       strings.Repeat("a", maxTokenLen+1),
		"not json":       sign("not json"),
		"json array":     sign(`[1,2]`),
		"no room":        sign(`{"sub":"p","role":"leader","exp":1900000000}`),
		"unknown role":   sign(`{"room":"r","sub":"p","role":"king","exp":1900000000}`),
		"no expiry":      sign(`{"room":"r","sub":"p","role":"leader"}`),
		"wrong type":     sign(`{"room":1,"sub":"p","role":"leader","exp":1900000000}`),
	} {
		if _, err := s.Verify(tok, now); !errors.Is(err, ErrBadToken) {
			t.Errorf("%s: err = %v, want ErrBadToken", name, err)
		}
	}
}

func TestSignRejectsIncompleteClaims(t *testing.T) {
	s := NewSigner(secret)
	c := sample()
	c.Role = "king"
	if _, err := s.Sign(c); err == nil {
		t.Fatal("signed a token with an unknown role")
	}
}

func TestShortSecretPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a short secret")
		}
	}()
	NewSigner([]byte("short"))
}

func TestValidRole(t *testing.T) {
	if !ValidRole("petitioner") || ValidRole("") || ValidRole("Leader") {
		t.Fatal("ValidRole disagrees with the role list")
	}
}
