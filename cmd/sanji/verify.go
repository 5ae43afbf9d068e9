package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"sanji/i18n"
	"sanji/recording"
)

// exitMismatch is `sanji verify`'s answer when a hearing's files do not match their seal, apart
// from exitError (the check itself could not be made).
const exitMismatch = 3

// verifyMain runs `sanji verify [--head HEX] HEARING_DIR`: it checks a hearing's recording files
// against the hash chain in its manifest (docs/recording.md) and names the first file that does
// not match.
func verifyMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	head := fs.String("head", "", "the chain head recorded with the case (hex); without it a rewritten manifest goes unnoticed")
	fs.Usage = func() {
		about := i18n.T("cmd.usage.verify_about")
		fmt.Fprintf(stderr, "%s: sanji verify [--head HEX] HEARING_DIR\n\n%s\n%s\n\n", msg("cmd.usage.label"), about.ZH, about.EN)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
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
