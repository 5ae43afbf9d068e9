package exchange

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"sanji/i18n"
	"sanji/scheduler/org"
)

// Signature algorithms of manifest.sig. A peer's key type says which one its bundles carry, so
// systems on the intl and the gm suite can trust each other's keys side by side.
const (
	AlgEd25519 = "Ed25519"
	AlgSM2     = "SM2" // GB/T 32918.2 over SM3 with the default user id (GM/T 0009)
)

// ExchangeKeys are this system's signing key and the public keys of the systems whose bundles it
// accepts. Its own key is always trusted. Private is an ed25519.PrivateKey or, under the gm
// suite, an *sm2.PrivateKey; Trusted holds either kind.
type ExchangeKeys struct {
	Private crypto.Signer
	Trusted []crypto.PublicKey
}

// Public is the public half of the signing key.
func (k ExchangeKeys) Public() crypto.PublicKey {
	if k.Private == nil {
		return nil
	}
	return k.Private.Public()
}

// OwnID is KeyID of this system's key: the external_source of cases other systems copy from it.
func (k ExchangeKeys) OwnID() string { return KeyID(k.Public()) }

func (k ExchangeKeys) trusts(pub crypto.PublicKey) bool {
	b := publicKeyBytes(pub)
	if b == nil {
		return false
	}
	if own := publicKeyBytes(k.Public()); own != nil && bytes.Equal(own, b) {
		return true
	}
	for _, t := range k.Trusted {
		if bytes.Equal(publicKeyBytes(t), b) {
			return true
		}
	}
	return false
}

// publicKeyBytes is what names a key: an Ed25519 key's 32 bytes, an SM2 key's PKIX DER; nil for
// any other key.
func publicKeyBytes(pub crypto.PublicKey) []byte {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		if len(p) == ed25519.PublicKeySize {
			return p
		}
	case *ecdsa.PublicKey:
		if sm2.IsSM2PublicKey(p) {
			der, err := smx509.MarshalPKIXPublicKey(p)
			if err == nil {
				return der
			}
		}
	}
	return nil
}

// algorithmOf is the signature algorithm of a key, "" for a key of neither kind.
func algorithmOf(pub crypto.PublicKey) string {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return AlgEd25519
	case *ecdsa.PublicKey:
		if sm2.IsSM2PublicKey(p) {
			return AlgSM2
		}
	}
	return ""
}

// Algorithm is the signature algorithm of a key (Ed25519 or SM2), "" for any other.
func Algorithm(pub crypto.PublicKey) string { return algorithmOf(pub) }

// KeyID names a public key: the first 16 bytes of the SHA-256 of publicKeyBytes, in hex. It is
// what a case copied from that system keeps as its external source.
func KeyID(pub crypto.PublicKey) string {
	b := publicKeyBytes(pub)
	if b == nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// GenerateKey makes a signing key for the algorithm (AlgEd25519 or AlgSM2).
func GenerateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case AlgEd25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case AlgSM2:
		return sm2.GenerateKey(rand.Reader)
	}
	return nil, fmt.Errorf("exchange: unknown signature algorithm %q", alg)
}

// MarshalPublicKey is the text form of a key that exchange.trusted_keys takes and
// GET /api/v1/exchange/public-key returns: base64 of an Ed25519 key's 32 bytes, or of an SM2
// key's PKIX DER.
func MarshalPublicKey(pub crypto.PublicKey) string {
	return base64.StdEncoding.EncodeToString(publicKeyBytes(pub))
}

// ParsePublicKey reads an Ed25519 or SM2 public key given as MarshalPublicKey writes it or as a
// PEM "PUBLIC KEY" block.
func ParsePublicKey(s string) (crypto.PublicKey, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%w: %s", org.ErrInvalid, i18n.T("exchange.key.invalid").String())
	var der []byte
	if strings.HasPrefix(s, "-----BEGIN") {
		blk, _ := pem.Decode([]byte(s))
		if blk == nil || blk.Type != "PUBLIC KEY" {
			return nil, bad
		}
		der = blk.Bytes
	} else {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, bad
		}
		if len(b) == ed25519.PublicKeySize {
			return ed25519.PublicKey(b), nil
		}
		der = b
	}
	k, err := smx509.ParsePKIXPublicKey(der)
	if err != nil || algorithmOf(k) == "" {
		return nil, bad
	}
	return k, nil
}

// PublicKeyPEM encodes a public key as a PEM "PUBLIC KEY" block.
func PublicKeyPEM(pub crypto.PublicKey) string {
	if publicKeyBytes(pub) == nil {
		return ""
	}
	der, err := smx509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "" // only for a malformed key, which ExchangeKeys never holds
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// sign signs a manifest with key under the key's own algorithm.
func sign(key crypto.Signer, manifest []byte) (signatureFile, error) {
	var raw []byte
	var err error
	alg := algorithmOf(key.Public())
	switch k := key.(type) {
	case ed25519.PrivateKey:
		raw = ed25519.Sign(k, manifest)
	case *sm2.PrivateKey:
		raw, err = k.Sign(rand.Reader, manifest, sm2.NewSM2SignerOption(true, nil))
	default:
		err = fmt.Errorf("key of type %T", key)
	}
	if err != nil || alg == "" {
		return signatureFile{}, fmt.Errorf("bundle: signature: %w", err)
	}
	return signatureFile{Algorithm: alg, PublicKey: MarshalPublicKey(key.Public()),
		Signature: base64.StdEncoding.EncodeToString(raw)}, nil
}

// verify checks a manifest's signature under pub's algorithm.
func verify(pub crypto.PublicKey, manifest, sig []byte) bool {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return len(p) == ed25519.PublicKeySize && ed25519.Verify(p, manifest, sig)
	case *ecdsa.PublicKey:
		return sm2.IsSM2PublicKey(p) && sm2.VerifyASN1WithSM2(p, nil, manifest, sig)
	}
	return false
}
