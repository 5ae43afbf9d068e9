package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"sanji/auth"
)

// secretFileName is where a generated token secret lives inside the data directory.
const secretFileName = "token.secret"

// tokenSecret returns the key that signs join tokens: the configured one, or else the one in
// <DataDir>/token.secret, generated on first start. Keeping it on disk means tokens handed out
// before a restart still work after it.
func tokenSecret(cfg config, log *zap.Logger) ([]byte, error) {
	if cfg.TokenSecret != "" {
		if len(cfg.TokenSecret) < auth.MinSecretLen {
			return nil, errMsg("cmd.secret.too_short", "min", auth.MinSecretLen)
		}
		return []byte(cfg.TokenSecret), nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, wrapMsg(err, "cmd.data_dir.create_failed", "dir", cfg.DataDir)
	}
	path := filepath.Join(cfg.DataDir, secretFileName)
	secret, err := readSecret(path, log)
	if err == nil {
		return secret, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}

	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, wrapMsg(err, "cmd.secret.generate_failed")
	}
	secret = []byte(hex.EncodeToString(raw))
	err = createSecretFile(path, append(secret, '\n'))
	if errors.Is(err, fs.ErrExist) {
		return readSecret(path, log) // another process created it meanwhile: its secret wins
	}
	if err != nil {
		return nil, wrapMsg(err, "cmd.secret.write_failed", "path", path)
	}
	log.Info("generated token secret", zap.String("path", path))
	return secret, nil
}

// createSecretFile writes data to a new file readable by the owner only, durably; it fails with
// fs.ErrExist when the file is there already, and leaves no half-written file behind.
func createSecretFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path) // a half-written secret would break the next start
		return werr
	}
	return nil
}

func readSecret(path string, log *zap.Logger) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, wrapMsg(err, "cmd.secret.read_failed", "path", path)
	}
	secret := bytes.TrimSpace(data)
	if len(secret) < auth.MinSecretLen {
		return nil, errMsg("cmd.secret.file_invalid", "path", path, "min", auth.MinSecretLen)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("token secret file is readable by other users; run chmod 600 on it",
			zap.String("path", path), zap.String("mode", fi.Mode().Perm().String()))
	}
	return secret, nil
}
