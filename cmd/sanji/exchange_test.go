package main

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"
)

func TestExchangeKeyPersists(t *testing.T) {
	cfg := defaultConfig()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Exchange.TrustedKeys = []string{"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}
	log := zaptest.NewLogger(t)
	first, err := exchangeKeys(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if first.Private == nil || len(first.Trusted) != 1 || first.Trusted[0].(ed25519.PublicKey)[31] != 31 {
		t.Fatalf("keys %+v", first)
	}
	path := filepath.Join(cfg.DataDir, exchangeKeyFileName)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("exchange.key: %v, %v", fi, err)
	}
	second, err := exchangeKeys(cfg, log)
	if err != nil || first.OwnID() == "" || first.OwnID() != second.OwnID() {
		t.Errorf("the key changed between starts: systems trusting it would refuse its bundles (%v)", err)
	}
	other := cfg
	other.DataDir = t.TempDir()
	if third, _ := exchangeKeys(other, log); third.OwnID() == first.OwnID() {
		t.Error("two data directories got the same key")
	}
	if err := os.WriteFile(path, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := exchangeKeys(cfg, log); err == nil || !strings.Contains(err.Error(), "删除它后重启") || !strings.Contains(err.Error(), "delete it and restart") {
		t.Errorf("corrupt key file: %v", err)
	}
}

func TestExchangeTrustedKeysChecked(t *testing.T) {
	_, err := loadConfig(nil, envMap(map[string]string{"SANJI_EXCHANGE_TRUSTED_KEYS": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=, not-a-key"}), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "exchange.trusted_keys key 2 is invalid") || !strings.Contains(err.Error(), "第 2 个公钥无效") {
		t.Errorf("bad trusted key: %v", err)
	}
}
