package recording

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sanji/i18n"
)

// Report is the outcome of checking a hearing against its chain.
type Report struct {
	Hearing   string
	Algorithm string
	Head      string // computed; equals the manifest's when OK
	Files     int    // files checked
	// OK says every sealed file matches, the chain holds and the head matches (the expected
	// one too, when given).
	OK bool
	// Mismatch names the first file (in chain order) that does not match, or ManifestName when
	// the manifest itself was changed after sealing, or its head is not the expected one.
	Mismatch string
	// Reason says what is wrong (empty when OK).
	Reason string
	// Purged is set when the files were deleted under the retention rule: there is nothing to check.
	Purged *Deletion
}

// Verify checks a hearing's files against the chain in its manifest: each sealed file's hash,
// each link, and the head. expectedHead, when not empty, is the head recorded elsewhere (the
// case event): the one check a rewritten manifest cannot pass. The error is for a manifest that
// cannot be read; a mismatch is a Report with OK false.
func Verify(dir, expectedHead string) (Report, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return Report{}, err
	}
	newH, err := newHash(m.Chain.Algorithm)
	if err != nil {
		return Report{}, err
	}
	c := chain{newH}
	rep := Report{Hearing: m.Hearing, Algorithm: m.Chain.Algorithm}
	// fail names file as the mismatch; reason is a catalog text (i18n.Text.String), with an
	// English detail after it for some.
	fail := func(file, reason string) (Report, error) {
		rep.Mismatch, rep.Reason = file, reason
		return rep, nil
	}
	if m.Purge != nil {
		rep.Purged = m.Purge
		return fail(ManifestName, i18n.T("recording.verify.purged", "date", m.Purge.At.Format("2006-01-02")).String())
	}
	if m.Chain.Head == "" {
		t := i18n.T("recording.verify.not_sealed")
		return fail(ManifestName, t.ZH+"/ "+t.EN) // no space before the slash, as always
	}
	sealed := []Track{}
	for _, t := range m.Tracks {
		switch {
		case t.ChainIndex > 0:
			sealed = append(sealed, t)
		case t.Status != StatusEmpty:
			return fail(t.File, i18n.T("recording.verify.file_not_sealed", "status", t.Status).String())
		}
	}
	slices.SortFunc(sealed, func(a, b Track) int { return a.ChainIndex - b.ChainIndex })
	link := c.genesis(m.Hearing)
	for i, t := range sealed {
		if t.ChainIndex != i+1 {
			return fail(t.File, i18n.T("recording.verify.chain_gap", "index", t.ChainIndex, "due", i+1).String())
		}
		if t.File != filepath.Base(t.File) || strings.HasPrefix(t.File, ".") {
			return fail(t.File, i18n.T("recording.verify.bad_name").String())
		}
		sum, err := c.file(filepath.Join(dir, t.File))
		if errors.Is(err, os.ErrNotExist) {
			return fail(t.File, i18n.T("recording.verify.missing").String())
		}
		if err != nil {
			return fail(t.File, i18n.T("recording.verify.unreadable", "error", err).String())
		}
		rep.Files++
		if !bytes.Equal(sum, decodeHex(t.FileHash)) {
			return fail(t.File, i18n.T("recording.verify.contents_differ").String())
		}
		link = c.link(link, sum, t.File)
		if !bytes.Equal(link, decodeHex(t.Link)) {
			return fail(t.File, i18n.T("recording.verify.link_differs").String())
		}
	}
	head, err := c.head(link, m)
	if err != nil {
		return Report{}, err
	}
	rep.Head = hex.EncodeToString(head)
	if rep.Head != m.Chain.Head {
		return fail(ManifestName, i18n.T("recording.verify.manifest_changed").String())
	}
	if expectedHead != "" && !strings.EqualFold(expectedHead, rep.Head) {
		return fail(ManifestName, i18n.T("recording.verify.head_differs").String())
	}
	rep.OK = true
	return rep, nil
}
