package main

import (
	"crypto"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"go.uber.org/zap"

	"sanji/scheduler/exchange"
)

// exchangeKeyFileName is where the key that signs exported case bundles lives inside the data
// directory (docs/exchange.md); exchangeSM2KeyFileName holds the gm suite's.
const (
	exchangeKeyFileName    = "exchange.key"
	exchangeSM2KeyFileName = "exchange-sm2.key"
)

// exchangeKeyFile is the key file of a signature algorithm.
func exchangeKeyFile(cfg config, alg string) string {
	if alg == exchange.AlgSM2 {
		return filepath.Join(cfg.DataDir, exchangeSM2KeyFileName)
	}
	return filepath.Join(cfg.DataDir, exchangeKeyFileName)
}

// exchangeKeys returns the bundle signing key of the suite (Ed25519 under intl, SM2 under gm),
// from its file in the data directory, generated on first start, with the configured trusted
// public keys. Keeping the key means the systems that trust this one keep accepting its bundles
// across restarts. The other suite's key, when its file exists, stays trusted: bundles this
// system wrote before the switch still import.
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
	alg := cfg.signatureAlg()
	other := exchange.AlgSM2
	if alg == exchange.AlgSM2 {
		other = exchange.AlgEd25519
	}
	if old, err := readExchangeKey(exchangeKeyFile(cfg, other), log); err == nil {
		keys.Trusted = append(keys.Trusted, old.Public())
	} else if !errors.Is(err, fs.ErrNotExist) {
		return keys, wrapMsg(err, "cmd.exchange.key_file_failed", "path", exchangeKeyFile(cfg, other))
	}
	path := exchangeKeyFile(cfg, alg)
	priv, err := readExchangeKey(path, log)
	if errors.Is(err, fs.ErrNotExist) {
		priv, err = exchange.GenerateKey(alg)
		if err != nil {
			return keys, wrapMsg(err, "cmd.exchange.generate_failed")
		}
		der, err := smx509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return keys, fmt.Errorf("exchange key: %w", err)
		}
		err = createSecretFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		if errors.Is(err, fs.ErrExist) {
			priv, err = readExchangeKey(path, log) // another process made it meanwhile: its key wins
		} else if err == nil {
			log.Info("generated exchange key", zap.String("path", path), zap.String("algorithm", alg), zap.String("key_id", exchange.KeyID(priv.Public())))
		}
	}
	if err != nil {
		return keys, wrapMsg(err, "cmd.exchange.key_file_failed", "path", path)
	}
	keys.Private = priv
	return keys, nil
}

func readExchangeKey(path string, log *zap.Logger) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	bad := errMsg("cmd.exchange.key_file_invalid", "path", path)
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, bad
	}
	k, err := smx509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, bad
	}
	var priv crypto.Signer
	switch k := k.(type) {
	case ed25519.PrivateKey:
		priv = k
	case *sm2.PrivateKey:
		priv = k
	default:
		return nil, bad
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("exchange key file is readable by other users; run chmod 600 on it", zap.String("path", path), zap.String("mode", fi.Mode().Perm().String()))
	}
	return priv, nil
}
