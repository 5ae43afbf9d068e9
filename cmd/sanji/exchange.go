package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"sanji/scheduler/exchange"
)

// exchangeKeyFileName is where the key that signs exported case bundles lives inside the data
// directory (docs/exchange.md).
const exchangeKeyFileName = "exchange.key"

// exchangeKeys returns the bundle signing key, from <DataDir>/exchange.key, generated on first
// start, with the configured trusted public keys. Keeping the key means the systems that trust
// this one keep accepting its bundles across restarts.
func exchangeKeys(cfg config, log *zap.Logger) (exchange.ExchangeKeys, error) {
	var keys exchange.ExchangeKeys
	for _, s := range cfg.Exchange.TrustedKeys {
		pub, err := exchange.ParsePublicKey(s)
		if err != nil {
			return keys, fmt.Errorf("exchange.trusted_keys: %w", err) // validate caught it; a defence
		}
		keys.Trusted = append(keys.Trusted, pub)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return keys, wrapMsg(err, "cmd.data_dir.create_failed", "dir", cfg.DataDir)
	}
	path := filepath.Join(cfg.DataDir, exchangeKeyFileName)
	priv, err := readExchangeKey(path, log)
	if errors.Is(err, fs.ErrNotExist) {
		_, priv, err = ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return keys, wrapMsg(err, "cmd.exchange.generate_failed")
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return keys, fmt.Errorf("exchange key: %w", err)
		}
		err = createSecretFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		if errors.Is(err, fs.ErrExist) {
			priv, err = readExchangeKey(path, log) // another process made it meanwhile: its key wins
		} else if err == nil {
			log.Info("generated exchange key", zap.String("path", path), zap.String("key_id", exchange.KeyID(priv.Public().(ed25519.PublicKey))))
		}
	}
	if err != nil {
		return keys, wrapMsg(err, "cmd.exchange.key_file_failed", "path", path)
	}
	keys.Private = priv
	return keys, nil
}

func readExchangeKey(path string, log *zap.Logger) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	bad := errMsg("cmd.exchange.key_file_invalid", "path", path)
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, bad
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, bad
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, bad
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("exchange key file is readable by other users; run chmod 600 on it", zap.String("path", path), zap.String("mode", fi.Mode().Perm().String()))
	}
	return priv, nil
}
