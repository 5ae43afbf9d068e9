package casework

import (
	"context"
	"strings"
	"unicode/utf8"

	"sanji/scheduler/org"
)

// Privacy by content (信访工作条例 2022, art. 45 and shared/domain.md "Privacy"): what a matter
// says about the unit it complains about is hidden from that unit whatever the matter's type.

// Privacy is what intake marked as 涉及检举控告 in a matter and the summary the complained-about
// unit answers from.
type Privacy struct {
	// Whole: the whole matter is 涉及检举控告; its content is shown only at the full view.
	Whole bool
	// Passages are quotes of the content that are 涉及检举控告; below the full view each is cut out.
	Passages []string
	// UnitSummary is the request the complained-about unit must answer, written for it by intake:
	// the only text of the matter that unit sees.
	UnitSummary string
}

// Marked reports whether intake marked anything.
func (p Privacy) Marked() bool { return p.Whole || len(p.Passages) > 0 || p.UnitSummary != "" }

// CutPassage is what stands in the content for a marked passage below the full view.
const CutPassage = "[…]"

// ValidatePrivacy checks the marks against the case's content: each passage a quote of it.
func ValidatePrivacy(c Case, p Privacy) error {
	for _, s := range p.Passages {
		if strings.TrimSpace(s) == "" || !strings.Contains(c.Content, s) {
			return org.Invalid("passages", "casework.privacy.passage_not_in_content")
		}
	}
	if utf8.RuneCountInString(p.UnitSummary) > 2000 {
		return org.Invalid("unit_summary", "casework.privacy.summary_too_long", "max", 2000)
	}
	return nil
}

// CutPassages returns content with every marked passage replaced by CutPassage.
func CutPassages(content string, passages []string) string {
	for _, s := range passages {
		if s != "" {
			content = strings.ReplaceAll(content, s, CutPassage)
		}
	}
	return content
}

// HiddenAttachment reports whether a viewer at level is refused an attachment of kind of case
// c: at the redacted view (the complained-about unit, observers) the petitioner's material of
// any matter and everything sensitive; below the full view the material of a matter marked
// 涉及检举控告 as a whole, or of an accusation.
func HiddenAttachment(c Case, level ViewLevel, kind string) bool {
	material := kind == AttachSubmitted || kind == AttachSignedRecord || kind == AttachRecording
	switch level {
	case ViewFull:
		return false
	case ViewMasked:
		return material && c.Privacy.Whole
	}
	return material || SensitiveAttachment(kind)
}

// PrivacyStore keeps the marks.
type PrivacyStore interface {
	// SetCasePrivacy replaces the case's marks after ValidatePrivacy, noted on the timeline
	// (EvPrivacy) by actor without quoting them.
	SetCasePrivacy(ctx context.Context, caseID int64, p Privacy, actor CaseEvent) error
}

// EvPrivacy is the timeline note of intake marking a matter.
const EvPrivacy = "privacy"
