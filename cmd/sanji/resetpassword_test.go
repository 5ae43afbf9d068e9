package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"sanji/auth"
	"sanji/scheduler/org"
)

// TestResetPasswordCommand: `sanji reset-password` on the server's data directory prints a new
// one-time password that logs in and must be changed, and audits it; an unknown user and a
// directory without a database are refused, saying what to do, and create nothing.
func TestResetPasswordCommand(t *testing.T) {
	cfg := testConfig(t)
	cfg.Demo = true
	st, _, err := openStore(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) string { return "" }
	reset := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"reset-password"}, args...), &out, &errOut, noEnv)
		return code, out.String(), errOut.String()
	}

	code, out, errOut := reset("--data-dir", cfg.DataDir, "demo-handler")
	if code != exitOK {
		t.Fatalf("reset: exit %d\n%s%s", code, out, errOut)
	}
	m := regexp.MustCompile(`(?m)^  demo-handler\s+(\S+)$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "上城区人力资源和社会保障局") || !strings.Contains(out, "/login.html") {
		t.Fatalf("the new password is not printed as expected:\n%s", out)
	}
	st, err = connectStore(context.Background(), cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.GetUserByUsername(context.Background(), "demo-handler")
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.CheckPassword(u.PasswordHash, m[1]); err != nil || !u.MustChangePassword {
		t.Errorf("printed password %q: check %v, must change %v", m[1], err, u.MustChangePassword)
	}
	if es, err := st.SearchAudit(context.Background(), org.AuditQuery{Action: "user.password_reset"}); err != nil || len(es) != 1 {
		t.Errorf("audit: %+v %v", es, err)
	}

	code, out, errOut = reset("--data-dir", cfg.DataDir, "demo-handlr")
	if code != exitUsage || out != "" || !strings.Contains(errOut, "demo-handlr") || !strings.Contains(errOut, "no account") {
		t.Errorf("unknown user: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	empty := filepath.Join(t.TempDir(), "nothing")
	code, _, errOut = reset("--data-dir", empty, "demo-handler")
	if code != exitUsage || !strings.Contains(errOut, "--data-dir") {
		t.Errorf("missing database: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Errorf("a missing data directory was created: %v", err)
	}
	if code, _, errOut = reset("--data-dir", cfg.DataDir); code != exitUsage || !strings.Contains(errOut, "sanji reset-password demo-leader") {
		t.Errorf("no username: exit %d, stderr %q", code, errOut)
	}
}

// TestResetPasswordRemovesTOTP: `sanji reset-password --totp` also removes the user's
// authenticator (audited), the way back in for an admin whose phone is lost.
func TestResetPasswordRemovesTOTP(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	st, _, err := openStore(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.GetUserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.BeginTOTP(ctx, u.ID, "JBSWY3DPEHPK3PXP", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := st.ConfirmTOTP(ctx, u.ID, 1, []string{"h"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"reset-password", "--totp", "--data-dir", cfg.DataDir, "admin"}, &out, &errOut, func(string) string { return "" }); code != exitOK || !strings.Contains(out.String(), "authenticator") {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	st, err = connectStore(ctx, cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.GetTOTP(ctx, u.ID); !errors.Is(err, org.ErrNotFound) {
		t.Errorf("TOTP after the reset: %v", err)
	}
	if es, err := st.SearchAudit(ctx, org.AuditQuery{Action: "totp.reset"}); err != nil || len(es) != 1 {
		t.Errorf("audit: %+v %v", es, err)
	}
}
