package recording

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/emmansun/gmsm/sm3"
)

// The seal of a hearing is a hash chain (docs/recording.md):
//
//	link_0 = H("sanji-recording-chain-v1" || 0x00 || hearing id)
//	link_i = H(link_{i-1} || H(file_i) || file name_i)       for each finished segment, in the order they finished
//	head   = H(link_n || H(manifest body))                   when the hearing closes
//
// H is SHA-256 or SM3 (GB/T 32905), raw bytes throughout; the manifest keeps each file's hash
// and link and the head in hex. The manifest body is the manifest as JSON without the head and
// without the retention record, so the head also seals the participants, the events and every
// segment's place on the hearing's clock. Changing one byte of a file changes its hash; changing
// the recorded hash too breaks its link; rewriting every link and the head is caught against the
// head kept outside (the case event).

// Hash algorithms.
const (
	HashSHA256 = "sha256"
	HashSM3    = "sm3"
)

const chainDomain = "sanji-recording-chain-v1"

func newHash(alg string) (func() hash.Hash, error) {
	switch alg {
	case HashSHA256, "":
		return sha256.New, nil
	case HashSM3:
		return sm3.New, nil
	}
	return nil, fmt.Errorf("recording: unknown hash algorithm %q (sha256 or sm3)", alg)
}

// chain computes links of a hearing's chain.
type chain struct{ h func() hash.Hash }

func (c chain) sum(parts ...[]byte) []byte {
	h := c.h()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func (c chain) genesis(hearingID string) []byte {
	return c.sum([]byte(chainDomain), []byte{0}, []byte(hearingID))
}

func (c chain) link(prev, fileHash []byte, name string) []byte {
	return c.sum(prev, fileHash, []byte(name))
}

// head seals the manifest body onto the last link.
func (c chain) head(last []byte, m *Manifest) ([]byte, error) {
	body, err := m.body()
	if err != nil {
		return nil, err
	}
	return c.sum(last, c.sum(body)), nil
}

// file hashes a file's contents.
func (c chain) file(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := c.h()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return h.Sum(nil), nil
}

// body is the manifest without what is written after sealing: the head and the retention record.
func (m *Manifest) body() ([]byte, error) {
	b := *m
	b.Chain.Head = ""
	b.Purge = nil
	out, err := json.Marshal(&b)
	if err != nil {
		return nil, fmt.Errorf("recording: manifest body: %w", err)
	}
	return out, nil
}

func decodeHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}
