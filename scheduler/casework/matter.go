package casework

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"sanji/i18n"
)

// The same matter (同人同事, docs/casework.md "重复信访"): one rule for the registration check of a
// final matter, the booking check and the repeat statistics. Two cases are the same matter when
// they share a petitioner (SamePerson) and either their texts are alike and they share the
// category or the unit complained about, or they share both the category and the unit complained
// about, or their texts are nearly the same whatever the category.

// SimilarThreshold is the least character-bigram similarity (Dice coefficient, 0 to 1) of two
// matter texts for them to be alike. Chosen on short Chinese matter descriptions
// (reception/checks_test.go): rewordings of one matter scored 0.43 to 0.72, different matters of
// one field (two wage disputes) about 0.2.
const SimilarThreshold = 0.35

// NearSameThreshold is the similarity at which two texts are one matter even in two categories
// (a matter filed under another category the second time).
const NearSameThreshold = 0.7

// PersonLookback is how many cases of one person the repeat rule reads: all of them, in practice.
// The rule compares matters pairwise, so it cannot stop at the newest few.
const PersonLookback = 1000

// MatterTextRunes is how much of a case's content the matter rule compares.
const MatterTextRunes = 1000

// BigramSet is the distinct pairs of adjacent letters or digits of a text, ignoring spaces,
// punctuation and case, each pair packed into one number, sorted; a one-character text is its
// own "pair". Numbers in a sorted slice, not strings in a map: the check compares one matter
// with a thousand others per booking.
type BigramSet []uint64

func BigramsOf(s string) BigramSet {
	var prev rune = -1
	var out BigramSet
	n := 0
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) {
			continue
		}
		r = unicode.ToLower(r)
		if prev >= 0 {
			out = append(out, uint64(prev)<<32|uint64(r))
		}
		prev, n = r, n+1
	}
	if n == 1 {
		out = append(out, uint64(prev)<<32|uint64(prev))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Dice is the Dice coefficient of two sets: twice the common pairs over the pairs of both.
func (a BigramSet) Dice(b BigramSet) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	common := 0
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] == b[j]:
			common, i, j = common+1, i+1, j+1
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return 2 * float64(common) / float64(len(a)+len(b))
}

// TextSimilarity is the Dice coefficient of the character bigrams of a and b: 1 for the same
// text, 0 for texts with no pair of characters in common. Bigrams suit Chinese, which has no
// spaces between words: most words are two characters.
func TextSimilarity(a, b string) float64 { return BigramsOf(a).Dice(BigramsOf(b)) }

// PersonIDs are the ID numbers of a case's petitioners as they are compared (upper case,
// trimmed), leaving out masked ones: a masked number (a copy from a masked export) names nobody.
func PersonIDs(c Case) []string {
	var out []string
	for _, p := range c.Petitioners {
		if id := strings.ToUpper(strings.TrimSpace(p.IDNumber)); id != "" && !strings.Contains(id, "*") {
			out = append(out, id)
		}
	}
	return out
}

// SamePerson reports whether a and b share a petitioner. It is the one place "same person" is
// decided from the cases themselves; the stores find a person's cases with CasesByIDNumber.
func SamePerson(a, b Case) bool {
	for _, x := range PersonIDs(a) {
		if slices.Contains(PersonIDs(b), x) {
			return true
		}
	}
	return false
}

// MatterMatch is what the rule found comparing two cases, kept to explain a judgement.
type MatterMatch struct {
	SamePerson, SameCategory, SameUnit bool
	Similarity                         float64 // of the titles and the starts of the contents, to two places
	// TextOnly: one side is words only (a booking's matter), with no category or unit to compare;
	// alike texts are then the same matter.
	TextOnly bool
}

// Same reports whether the match makes the two cases one matter.
func (m MatterMatch) Same() bool {
	if !m.SamePerson {
		return false
	}
	alike := m.Similarity >= SimilarThreshold
	if m.TextOnly {
		return alike
	}
	return alike && (m.SameCategory || m.SameUnit) || m.SameCategory && m.SameUnit || m.Similarity >= NearSameThreshold
}

// Explain says why the match was judged so, Chinese / English.
func (m MatterMatch) Explain() string {
	yes := func(b bool) i18n.Text {
		if b {
			return i18n.Text{ZH: "是", EN: "yes"}
		}
		return i18n.Text{ZH: "否", EN: "no"}
	}
	if m.TextOnly {
		return i18n.T("casework.review.matter_why_text", "similarity", fmt.Sprintf("%.2f", m.Similarity)).String()
	}
	return i18n.T("casework.review.matter_why", "person", yes(m.SamePerson), "category", yes(m.SameCategory), "unit", yes(m.SameUnit),
		"similarity", fmt.Sprintf("%.2f", m.Similarity)).String()
}

// matterText is what the rule compares of a case: its title and the start of its content.
func matterText(c Case) string {
	s := c.Content
	if utf8.RuneCountInString(s) > MatterTextRunes {
		s = string([]rune(s)[:MatterTextRunes])
	}
	return c.Title + " " + s
}

// MatchMatter compares case a with an earlier case b.
func MatchMatter(a, b Case) MatterMatch {
	sim := TextSimilarity(matterText(a), matterText(b))
	return MatterMatch{SamePerson: SamePerson(a, b), SameCategory: a.CategoryID == b.CategoryID && a.CategoryID != 0,
		SameUnit: a.ComplainedUnitID != 0 && a.ComplainedUnitID == b.ComplainedUnitID, Similarity: float64(int(sim*100+0.5)) / 100}
}

// MatchText compares a matter told in words (a booking's, which names no category or unit) with
// a case of the same person: the texts alone decide, at the threshold of alike texts.
func MatchText(text string, b Case) MatterMatch {
	sim := TextSimilarity(text, matterText(b))
	return MatterMatch{SamePerson: true, TextOnly: true, Similarity: float64(int(sim*100+0.5)) / 100}
}

// FindFinal is the final matter (Case.Final) among a person's cases that c repeats, with the match
// that says why; ok is false when there is none.
func FindFinal(c Case, others []Case) (Case, MatterMatch, bool) {
	for _, o := range others {
		if o.ID == c.ID || !o.Final {
			continue
		}
		if m := MatchMatter(c, o); m.Same() {
			return o, m, true
		}
	}
	return Case{}, MatterMatch{}, false
}

// PersonsCases returns the cases of c's petitioners (each once, newest first per person, at most
// limit per person), c itself left out. It is the one query behind "same person": when identities
// are kept encrypted, the lookup behind CasesByIDNumber changes, not its callers.
func PersonsCases(ctx context.Context, st interface {
	CasesByIDNumber(ctx context.Context, idNumber string, limit int) ([]Case, error)
}, c Case, limit int) ([]Case, error) {
	var out []Case
	seen := map[int64]bool{c.ID: c.ID != 0}
	for _, id := range PersonIDs(c) {
		cs, err := st.CasesByIDNumber(ctx, id, limit)
		if err != nil {
			return nil, fmt.Errorf("a person's cases: %w", err)
		}
		for _, o := range cs {
			if !seen[o.ID] {
				seen[o.ID] = true
				out = append(out, o)
			}
		}
	}
	return out, nil
}

// RepeatOf is the latest case among others registered before c that is the same matter (同人同事),
// with the match that says why; ok is false when c is no repeat. The statistics count c as a
// repeat exactly then (the same instant is ordered by id).
func RepeatOf(c Case, others []Case) (Case, MatterMatch, bool) {
	var best Case
	var why MatterMatch
	found := false
	for _, o := range others {
		earlier := o.RegisteredAt.Before(c.RegisteredAt) || o.RegisteredAt.Equal(c.RegisteredAt) && o.ID < c.ID
		if o.ID == c.ID || !earlier || found && !o.RegisteredAt.After(best.RegisteredAt) {
			continue
		}
		if m := MatchMatter(c, o); m.Same() {
			best, why, found = o, m, true
		}
	}
	return best, why, found
}
