package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"

	"sanji/auth"
	"sanji/i18n"
	"sanji/scheduler"
	"sanji/scheduler/org"
)

// resetPasswordMain runs `sanji reset-password [--config FILE] [--data-dir DIR] USERNAME` on the
// server's machine: the person gets a new one-time password, printed once, that they must change
// at their next login. It is the way back in when no admin can log in (the API's reset needs
// one), and for the demo's passwords, which the first start printed once. It reads the store the
// server's settings name (the same file, SANJI_* variables and --data-dir), and may run while
// the server runs.
func resetPasswordMain(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("reset-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config file of the server (env SANJI_CONFIG)")
	dataDir := fs.String("data-dir", "", "the server's data directory (env SANJI_DATA_DIR; default ./data)")
	resetTOTP := fs.Bool("totp", false, "also remove the user's authenticator (two-factor login), for a lost phone: the next login enrols afresh")
	fs.Usage = func() {
		about := i18n.T("cmd.password.about")
		fmt.Fprintf(stderr, "%s: sanji reset-password [--config FILE] [--data-dir DIR] USERNAME\n\n%s\n%s\n\n", msg("cmd.usage.label"), about.ZH, about.EN)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, msg("cmd.password.need_username"))
		fs.Usage()
		return exitUsage
	}
	username := fs.Arg(0)
	// The server's own layering of settings, so the store is the one the server uses.
	cfg, ok := serverStore(*configPath, *dataDir, getenv, stderr)
	if !ok {
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	st, err := connectStore(ctx, cfg, zap.NewNop())
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.password.failed"), err)
		return exitError
	}
	defer func() { _ = st.Close() }()
	login, err := scheduler.ResetPassword(ctx, st, username, auth.HashPassword, func() (string, error) { return auth.RandomPassword(14) })
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.password.failed"), err)
		if errors.Is(err, org.ErrInvalid) {
			return exitUsage // the username was wrong, not the machine
		}
		return exitError
	}
	if *resetTOTP {
		if err := removeTOTP(ctx, st, login.Username); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.password.failed"), err)
			return exitError
		}
		fmt.Fprintln(stdout, msg("cmd.twofactor.reset", "username", login.Username))
	}
	fmt.Fprintln(stdout, msg("cmd.password.done", "username", login.Username, "unit", login.Unit)+":")
	fmt.Fprintf(stdout, "  %-22s %s\n", login.Username, login.Password)
	fmt.Fprintln(stdout, msg("cmd.password.change_at_login"))
	return exitOK
}

// removeTOTP removes a user's authenticator and recovery codes (none is fine), audited as the
// admin page's reset is: the way back in for the last admin whose phone is lost.
func removeTOTP(ctx context.Context, st scheduler.Store, username string) error {
	u, err := st.GetUserByUsername(ctx, username)
	if err != nil {
		return err
	}
	if err := st.DeleteTOTP(ctx, u.ID); errors.Is(err, org.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	return st.AppendAudit(ctx, &org.AuditEntry{Action: "totp.reset", Actor: "sanji reset-password", Target: fmt.Sprintf("user:%d", u.ID)})
}
