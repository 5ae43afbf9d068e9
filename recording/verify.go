package recording

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	fail := func(file, format string, args ...any) (Report, error) {
		rep.Mismatch, rep.Reason = file, fmt.Sprintf(format, args...)
		return rep, nil
	}
	if m.Purge != nil {
		rep.Purged = m.Purge
		return fail(ManifestName, "录像已按保存期限删除 / the recordings were deleted under the retention rule on %s",
			m.Purge.At.Format("2006-01-02"))
	}
	if m.Chain.Head == "" {
		return fail(ManifestName, "录像未封存（庭审未正常结束）/ not sealed: the hearing's recording was not closed")
	}
	sealed := []Track{}
	for _, t := range m.Tracks {
		switch {
		case t.ChainIndex > 0:
			sealed = append(sealed, t)
		case t.Status != StatusEmpty:
			return fail(t.File, "文件未封存 / the file was never sealed (status %s)", t.Status)
		}
	}
	slices.SortFunc(sealed, func(a, b Track) int { return a.ChainIndex - b.ChainIndex })
	link := c.genesis(m.Hearing)
	for i, t := range sealed {
		if t.ChainIndex != i+1 {
			return fail(t.File, "链序号不连续 / chain index %d where %d was due", t.ChainIndex, i+1)
		}
		if t.File != filepath.Base(t.File) || strings.HasPrefix(t.File, ".") {
			return fail(t.File, "文件名无效 / not a file of this directory")
		}
		sum, err := c.file(filepath.Join(dir, t.File))
		if errors.Is(err, os.ErrNotExist) {
			return fail(t.File, "文件缺失 / the file is missing")
		}
		if err != nil {
			return fail(t.File, "无法读取 / cannot be read: %v", err)
		}
		rep.Files++
		if !bytes.Equal(sum, decodeHex(t.FileHash)) {
			return fail(t.File, "文件内容与封存时不符 / the file's contents differ from what was sealed")
		}
		link = c.link(link, sum, t.File)
		if !bytes.Equal(link, decodeHex(t.Link)) {
			return fail(t.File, "哈希链断开 / the chain link differs: the manifest was changed")
		}
	}
	head, err := c.head(link, m)
	if err != nil {
		return Report{}, err
	}
	rep.Head = hex.EncodeToString(head)
	if rep.Head != m.Chain.Head {
		return fail(ManifestName, "清单在封存后被改动 / the manifest was changed after sealing")
	}
	if expectedHead != "" && !strings.EqualFold(expectedHead, rep.Head) {
		return fail(ManifestName, "链头与案件记录不符 / the chain head differs from the one recorded with the case")
	}
	rep.OK = true
	return rep, nil
}
