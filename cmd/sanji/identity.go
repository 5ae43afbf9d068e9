package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"

	"go.uber.org/zap"

	"sanji/i18n"
	"sanji/internal/sealed"
	"sanji/scheduler/sqlite"
)

// identityKeys is the keyring that seals the petitioners' identity: identity.keys (the text, from
// SANJI_IDENTITY_KEYS), else identity.key_file, else, with SQLite, <DataDir>/identity.keys,
// generated on the first start so that a fresh `make run` needs no setup. PostgreSQL gets no
// generated file: the nodes of a cluster must share one set of keys, which one node cannot make.
func identityKeys(cfg config, log *zap.Logger) (*sealed.Keyring, error) {
	suite := cfg.Crypto.Suite
	if suite == "" {
		suite = sealed.Intl
	}
	switch {
	case cfg.Identity.Keys != "":
		k, err := sealed.Parse(cfg.Identity.Keys, suite)
		if err != nil {
			return nil, wrapMsg(err, "cmd.identity.keys_failed", "from", "SANJI_IDENTITY_KEYS")
		}
		return k, nil
	case cfg.Identity.KeyFile != "":
		k, err := sealed.Load(cfg.Identity.KeyFile, suite)
		if err != nil {
			return nil, wrapMsg(err, "cmd.identity.keys_failed", "from", cfg.Identity.KeyFile)
		}
		return k, nil
	case cfg.Store.DSN != "":
		return nil, nil // postgres.Open refuses, saying what to set
	}
	path := filepath.Join(cfg.DataDir, sqlite.KeyFileName)
	k, created, err := sealed.LoadOrCreate(path, suite)
	if err != nil {
		return nil, wrapMsg(err, "cmd.identity.keys_failed", "from", path)
	}
	if created {
		log.Warn("GENERATED A NEW KEY FILE for the petitioners' identity: back it up now, and apart from the database; "+
			"without it the identities in the database cannot be read (docs/security.md)", zap.String("path", path))
	}
	return k, nil
}

// keysMain runs `sanji keys rotate [--new] [--batch N]`: with --new it adds a fresh key to the
// key file and makes it current; then it re-seals, in batches, every value sealed with another
// key. It may run while servers run: they read the rows not yet rewritten with the old key and
// meet the new key in the file (rereading it) when they read a rewritten one.
func keysMain(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprintln(stderr, msg("cmd.identity.usage"))
		return exitUsage
	}
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config file of the server (env SANJI_CONFIG)")
	dataDir := fs.String("data-dir", "", "the server's data directory (env SANJI_DATA_DIR; default ./data)")
	newKey := fs.Bool("new", false, "add a fresh key to the key file and make it current first")
	batch := fs.Int("batch", 200, "rows re-sealed per transaction")
	fs.Usage = func() {
		about := i18n.T("cmd.identity.about")
		fmt.Fprintf(stderr, "%s\n\n%s\n%s\n\n", msg("cmd.identity.usage"), about.ZH, about.EN)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	cfg, ok := serverStore(*configPath, *dataDir, getenv, stderr)
	if !ok {
		return exitUsage
	}
	if *newKey {
		path := cfg.Identity.KeyFile
		if path == "" && cfg.Identity.Keys == "" && cfg.Store.DSN == "" {
			path = filepath.Join(cfg.DataDir, sqlite.KeyFileName)
		}
		if path == "" {
			fmt.Fprintln(stderr, msg("cmd.identity.new_needs_file"))
			return exitUsage
		}
		id, err := sealed.AddKey(path)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.identity.rotate_failed"), err)
			return exitError
		}
		fmt.Fprintln(stdout, msg("cmd.identity.new_key", "path", path, "key", id))
	}
	ctx, cancel := context.WithTimeout(ctx, 24*time.Hour)
	defer cancel()
	st, err := connectStore(ctx, cfg, zap.NewNop())
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.identity.rotate_failed"), err)
		return exitError
	}
	defer func() { _ = st.Close() }()
	r, ok := st.(interface {
		RotateIdentityKeys(context.Context, int, func(int)) (int, error)
		IdentityKey() string
	})
	if !ok {
		fmt.Fprintf(stderr, "%s: %T\n", msg("cmd.identity.rotate_failed"), st)
		return exitError
	}
	n, err := r.RotateIdentityKeys(ctx, *batch, func(done int) {
		fmt.Fprintln(stdout, msg("cmd.identity.rotate_progress", "rows", done))
	})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", msg("cmd.identity.rotate_failed"), err)
		return exitError
	}
	fmt.Fprintln(stdout, msg("cmd.identity.rotate_done", "rows", strconv.Itoa(n), "key", r.IdentityKey()))
	return exitOK
}
