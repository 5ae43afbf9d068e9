package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"go.uber.org/zap"

	"sanji/i18n"
	"sanji/recording"
	"sanji/scheduler/org"
)

// exitMismatch is `sanji verify`'s answer when a hearing's files do not match their seal, apart
// from exitError (the check itself could not be made).
const exitMismatch = 3

// verifyMain runs `sanji verify [--head HEX] HEARING_DIR`: it checks a hearing's recording files
// against the hash chain in its manifest (docs/recording.md) and names the first file that does
// not match. With --audit it checks the audit log's chain instead (docs/security.md).
func verifyMain(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	head := fs.String("head", "", "the chain head recorded with the case, or with --audit a head of the audit log noted earlier (hex); without it a rewritten manifest or a cut audit log goes unnoticed")
	audit := fs.Bool("audit", false, "check the audit log's hash chain in the server's store instead of a hearing")
	configPath := fs.String("config", "", "with --audit: YAML config file of the server (env SANJI_CONFIG)")
	dataDir := fs.String("data-dir", "", "with --audit: the server's data directory (env SANJI_DATA_DIR; default ./data)")
	fs.Usage = func() {
		about, aboutAudit := i18n.T("cmd.usage.verify_about"), i18n.T("cmd.audit.verify_about")
		fmt.Fprintf(stderr, "%s: sanji verify [--head HEX] HEARING_DIR\n       sanji verify --audit [--config FILE] [--data-dir DIR] [--head HEX]\n\n%s\n%s\n\n%s\n%s\n\n",
			msg("cmd.usage.label"), about.ZH, about.EN, aboutAudit.ZH, aboutAudit.EN)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *audit {
		if fs.NArg() != 0 {
			fs.Usage()
			return exitUsage
		}
		return verifyAudit(ctx, *configPath, *dataDir, *head, stdout, stderr, getenv)
	}
	if *configPath != "" || *dataDir != "" {
		fmt.Fprintln(stderr, msg("cmd.audit.store_flags"))
		return exitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	dir := fs.Arg(0)
	rep, err := recording.Verify(dir, *head)
	if err != nil {
		fmt.Fprintf(stderr, "%s %s: %v\n", msg("cmd.verify.failed"), dir, err)
		return exitError
	}
	if !rep.OK {
		fmt.Fprintf(stdout, "%s\n  %s\n", msg("cmd.verify.mismatch", "hearing", rep.Hearing, "file", rep.Mismatch), rep.Reason)
		return exitMismatch
	}
	fmt.Fprintln(stdout, msg("cmd.verify.ok", "hearing", rep.Hearing, "files", rep.Files, "algorithm", rep.Algorithm, "head", rep.Head))
	return exitOK
}

// auditHeadPattern is a head as the chain writes it: SHA-256 or SM3, 32 bytes in lower-case hex.
var auditHeadPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// verifyAudit runs `sanji verify --audit`: it walks the audit log of the store the server's
// settings name and names the first entry where the chain breaks. It only reads: entries the
// server has not sealed yet are reported, not sealed.
func verifyAudit(ctx context.Context, configPath, dataDir, head string, stdout, stderr io.Writer, getenv func(string) string) int {
	head = strings.ToLower(strings.TrimSpace(head))
	if head != "" && !auditHeadPattern.MatchString(head) {
		fmt.Fprintln(stderr, msg("cmd.audit.bad_head"))
		return exitUsage
	}
	cfg, ok := serverStore(configPath, dataDir, getenv, stderr)
	if !ok {
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	st, err := connectStore(ctx, cfg, zap.NewNop())
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.verify.failed"), err)
		return exitError
	}
	defer func() { _ = st.Close() }()
	c, err := st.VerifyAudit(ctx, head)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.verify.failed"), err)
		return exitError
	}
	if !c.OK {
		fmt.Fprintln(stdout, msg("cmd.audit.broken", "records", c.Records))
		fmt.Fprintf(stdout, "  %s\n", auditBreakText(c))
		return exitMismatch
	}
	fmt.Fprintln(stdout, msg("cmd.audit.ok", "records", c.Records, "entry", c.Head.ID, "algorithm", c.Head.Algorithm, "head", c.Head.Hash))
	return exitOK
}

// auditBreakText explains a break.
func auditBreakText(c org.AuditCheck) string {
	switch c.Break {
	case org.AuditChanged:
		return msg("cmd.audit.break_changed", "entry", c.BadID)
	case org.AuditUnlinked:
		return msg("cmd.audit.break_unlinked", "entry", c.BadID, "after", c.AfterID)
	case org.AuditInserted:
		return msg("cmd.audit.break_inserted", "entry", c.BadID)
	case org.AuditHeadGone:
		return msg("cmd.audit.break_head_gone")
	}
	return msg("cmd.audit.break_unsealed", "entry", c.BadID)
}
