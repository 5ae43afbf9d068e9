package main

import (
	"strconv"

	"sanji/i18n"
	"sanji/internal/sealed"
	"sanji/scheduler/exchange"
)

// The cryptographic suite (docs/security.md): intl (SHA-256, Ed25519, AES-256-GCM, HMAC-SHA-256)
// or gm (国密: SM3, SM2, SM4-GCM, HMAC-SM3).
// One switch chooses the seals this system makes; what it reads (a peer's bundle, an older audit
// entry or recording) names its own algorithm and is checked under that one, so switching keeps
// everything already written verifiable.
const (
	suiteIntl = sealed.Intl
	suiteGM   = sealed.GM
)

// cryptoConfig holds the suite switch.
type cryptoConfig struct {
	// Suite is intl (default) or gm.
	Suite string `yaml:"suite"`
}

// gm reports whether the 国密 suite is on.
func (c config) gm() bool { return c.Crypto.Suite == suiteGM }

// sealHash is the hash that seals new recordings and audit entries: recording.hash when set (the
// older option, kept), else the suite's: SM3 under gm, SHA-256 under intl.
func (c config) sealHash() string {
	switch {
	case c.Recording.Hash != "":
		return c.Recording.Hash
	case c.gm():
		return "sm3"
	}
	return "sha256"
}

// signatureAlg is the algorithm of the key that signs this system's case bundles.
func (c config) signatureAlg() string {
	if c.gm() {
		return exchange.AlgSM2
	}
	return exchange.AlgEd25519
}

// validateSuite checks the switch and what contradicts it.
func (c config) validateSuite(bad func(i18n.Key, ...any)) {
	switch c.Crypto.Suite {
	case "", suiteIntl, suiteGM:
	default:
		bad("cmd.suite.unknown", "suite", strconv.Quote(c.Crypto.Suite))
		return
	}
	// gm promises 国密 seals throughout; a SHA-256 recording seal would quietly break it.
	if c.gm() && c.Recording.Hash == "sha256" {
		bad("cmd.suite.gm_sha256")
	}
}
