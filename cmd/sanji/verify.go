package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

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
		fmt.Fprint(stderr, `用法 / Usage: sanji verify [--head HEX] HEARING_DIR

校验庭审录像与其哈希链是否一致，并指出第一个不一致的文件。
Checks a hearing's recording files against the hash chain in its manifest and names the first
file that does not match. Exit status: 0 verified, 3 mismatch (or nothing left to verify), 1 the
manifest cannot be read, 2 usage.

`)
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
		fmt.Fprintf(stderr, "无法校验 / cannot verify %s: %v\n", dir, err)
		return exitError
	}
	if !rep.OK {
		fmt.Fprintf(stdout, "不一致 / MISMATCH in hearing %s: %s\n  %s\n", rep.Hearing, rep.Mismatch, rep.Reason)
		return exitMismatch
	}
	fmt.Fprintf(stdout, "校验通过 / verified: hearing %s, %d files, %s chain head %s\n", rep.Hearing, rep.Files, rep.Algorithm, rep.Head)
	return exitOK
}
