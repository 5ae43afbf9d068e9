package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"sanji/scheduler/reception"
)

var bg = context.Background()

func notice() reception.Notice {
	return reception.Notice{Kind: reception.NoticeInvitation, SessionID: 7, UnitID: 3,
		ZH: "邀请参加会商", EN: "invited to a hearing", At: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

// TestWebhookSigns: the receiver gets the notice as JSON with a signature it can check; a
// notice to a person's phone does not go this way at all.
func TestWebhookSigns(t *testing.T) {
	var mu sync.Mutex
	var got []byte
	var sig string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got, _ = io.ReadAll(r.Body)
		sig = r.Header.Get(SignatureHeader)
	}))
	defer srv.Close()
	secret := []byte("shared-secret")
	hook := &Webhook{URL: srv.URL, Secret: secret}
	toPhone := notice()
	toPhone.Phone = "13912345678"
	if err := hook.Notify(bg, toPhone); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if got != nil {
		t.Errorf("a notice to a phone went to the webhook: %s", got)
	}
	mu.Unlock()
	if err := hook.Notify(bg, notice()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if sig != Sign(secret, got) || !strings.HasPrefix(sig, "sha256=") {
		t.Errorf("signature %q does not match the body", sig)
	}
	var b WebhookBody
	if err := json.Unmarshal(got, &b); err != nil || b.Kind != reception.NoticeInvitation || b.SessionID != 7 || b.UnitID != 3 || b.TextZH != "邀请参加会商" {
		t.Errorf("body %s: %v", got, err)
	}
}

func TestWebhookReportsAFailedDelivery(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	if err := (&Webhook{URL: srv.URL}).Notify(bg, notice()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("error %v, want one naming the 503", err)
	}
}

// TestSMSLogsMaskedByDefault: without a gateway the text goes to the log with the number masked;
// notices without a phone are not for SMS.
func TestSMSLogsMaskedByDefault(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	f := Fanout{SMS{Gateway: LogSMS{Log: zap.New(core)}}}
	n := notice()
	n.Phone = "13912345678"
	if err := f.Notify(bg, n); err != nil {
		t.Fatal(err)
	}
	if err := f.Notify(bg, notice()); err != nil {
		t.Fatal(err)
	}
	entries := logs.All()
	if len(entries) != 1 {
		t.Fatalf("%d log entries, want 1", len(entries))
	}
	fields := entries[0].ContextMap()
	if fields["to"] != "139****5678" || fields["text"] != "邀请参加会商" {
		t.Errorf("log fields %v", fields)
	}
}

// TestFanoutDeliversToAllDespiteAFailure: one notifier failing does not keep the notice from the
// others, and the failure is returned.
func TestFanoutDeliversToAllDespiteAFailure(t *testing.T) {
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer bad.Close()
	var mu sync.Mutex
	hits := 0
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { mu.Lock(); hits++; mu.Unlock() }))
	defer good.Close()
	err := Fanout{&Webhook{URL: bad.URL}, &Webhook{URL: good.URL}}.Notify(bg, notice())
	if err == nil {
		t.Error("the failure was swallowed")
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 1 {
		t.Errorf("the second webhook got %d notices, want 1", hits)
	}
}
