// Package notify delivers scheduler.Notices: a webhook (JSON POST signed with HMAC-SHA256), an
// SMS gateway interface whose default writes to the log, and a fan-out to several notifiers.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

	"sanji/scheduler/casework"
	"sanji/scheduler/reception"
)

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>" when the webhook has a secret.
const SignatureHeader = "X-Sanji-Signature"

// Webhook POSTs the notices for units and halls as JSON to URL; a notice to a person's phone is
// for the SMS gateway only and does not leave this way. The receiver checks SignatureHeader with
// the shared secret.
type Webhook struct {
	URL    string
	Secret []byte
	// Client defaults to one with a 5-second timeout: a slow receiver must not hold up the
	// request that caused the notice for long.
	Client *http.Client
}

// WebhookBody is what the receiver gets.
type WebhookBody struct {
	Kind      string    `json:"kind"`
	SessionID int64     `json:"session_id"`
	UnitID    int64     `json:"unit_id,omitempty"`
	HallID    int64     `json:"hall_id,omitempty"`
	TextZH    string    `json:"text_zh"`
	TextEN    string    `json:"text_en"`
	At        time.Time `json:"at"`
}

var defaultClient = &http.Client{Timeout: 5 * time.Second}

// Notify implements reception.Notifier.
func (w *Webhook) Notify(ctx context.Context, n reception.Notice) error {
	if n.Phone != "" {
		return nil
	}
	body, err := json.Marshal(WebhookBody{Kind: n.Kind, SessionID: n.SessionID, UnitID: n.UnitID, HallID: n.HallID,
		TextZH: n.ZH, TextEN: n.EN, At: n.At})
	if err != nil {
		return fmt.Errorf("notify: webhook body: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notify: webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if len(w.Secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(w.Secret, body))
	}
	c := w.Client
	if c == nil {
		c = defaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("notify: webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("notify: webhook answered %s", resp.Status)
	}
	return nil
}

// Sign is the signature header's value for body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// SMSGateway sends one text message.
type SMSGateway interface {
	SendSMS(ctx context.Context, phone, text string) error
}

// LogSMS is the default gateway: it writes the message to the log with the number masked, so a
// deployment without a gateway still shows what would have been sent.
type LogSMS struct {
	Log *zap.Logger
}

// SendSMS implements SMSGateway.
func (l LogSMS) SendSMS(_ context.Context, phone, text string) error {
	log := l.Log
	if log == nil {
		log = zap.NewNop()
	}
	log.Info("sms (no gateway configured)", zap.String("to", casework.MaskPhone(phone)), zap.String("text", text))
	return nil
}

// SMS sends the notices that name a phone through a gateway; the others are not for it.
type SMS struct {
	Gateway SMSGateway
}

// Notify implements reception.Notifier.
func (s SMS) Notify(ctx context.Context, n reception.Notice) error {
	if n.Phone == "" {
		return nil
	}
	return s.Gateway.SendSMS(ctx, n.Phone, n.ZH)
}

// Fanout gives every notice to each notifier; one failing does not stop the others.
type Fanout []reception.Notifier

// Notify implements reception.Notifier.
func (f Fanout) Notify(ctx context.Context, n reception.Notice) error {
	var errs []error
	for _, x := range f {
		if err := x.Notify(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
