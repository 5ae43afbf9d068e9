package casework

import (
	"strings"
	"unicode/utf8"

	"sanji/scheduler/org"
)

// Redacted views: the same case rendered per viewer, on the server (shared/domain.md "Privacy").

// ViewLevel is how much of a case a viewer sees.
type ViewLevel int

// View levels, least to most.
const (
	// ViewRedacted: no petitioner identity, no content and no petitioner's material of any
	// matter — for the unit complained about, observers and roles outside the chain.
	ViewRedacted ViewLevel = iota
	// ViewMasked: names, with ID number, phone and address masked — the rest of the chain.
	ViewMasked
	// ViewFull: everything — the hall, the registering office, the assigned handler and the
	// supervisors in the chain. Each such view is audited with a purpose by the caller.
	ViewFull
)

// CaseChain is where a case sits in the tree: the paths the view decision needs.
type CaseChain struct {
	CasePath        string   // the registering unit's path
	ResponsiblePath string   // "" when not yet routed
	CoPaths         []string // co-handling units
	ComplainedPath  string   // "" when no unit is complained about
	ReviewPath      string   // the review body's (Case.ReviewUnitID), "" when never reviewed
}

// CaseViewLevel decides what p sees of a case.
func CaseViewLevel(p *org.Principal, ch CaseChain) ViewLevel {
	if p == nil || p.User.Disabled {
		return ViewRedacted
	}
	// Anyone placed at or under the complained-about unit is that unit: whatever else they hold,
	// they never see who complained about them.
	for _, g := range p.Grants {
		if org.InSubtree(g.UnitPath, ch.ComplainedPath) {
			return ViewRedacted
		}
	}
	level := ViewRedacted
	raise := func(l ViewLevel) {
		if l > level {
			level = l
		}
	}
	for _, g := range p.Grants {
		inCase := org.InSubtree(ch.CasePath, g.UnitPath)
		inResp := org.InSubtree(ch.ResponsiblePath, g.UnitPath)
		inCo := false
		for _, c := range ch.CoPaths {
			inCo = inCo || org.InSubtree(c, g.UnitPath)
		}
		// The review body (复查, 复核) examines the whole matter, as the unit that handled it did.
		inReview := org.InSubtree(ch.ReviewPath, g.UnitPath)
		switch g.Role {
		case org.RoleHallOperator, org.RoleIntakeOfficer, org.RoleSupervisor:
			if inCase || inReview {
				raise(ViewFull)
			}
		case org.RoleCaseHandler:
			if inResp || inReview {
				raise(ViewFull)
			} else if inCase || inCo {
				raise(ViewMasked)
			}
		case org.RoleLeader, org.RoleUnitHead, org.RoleSchedulerStaff:
			if inCase || inResp || inCo || inReview {
				raise(ViewMasked)
			}
		}
		// observer, admin, auditor, hall_terminal: nothing beyond the redacted view.
	}
	return level
}

// RedactCase returns the case as a viewer at level may see it. The input is not changed.
func RedactCase(c Case, level ViewLevel) Case {
	out := c
	out.QueryCodeHash = ""
	out.Petitioners = nil
	out.Privacy.Passages = nil // the marked passages are the hidden text: only the full view quotes them
	switch level {
	case ViewFull:
		out.Privacy.Passages = append([]string(nil), c.Privacy.Passages...)
		out.Petitioners = append([]Petitioner(nil), c.Petitioners...)
	case ViewMasked:
		if c.Privacy.Whole {
			out.Content = ""
		} else {
			out.Content = CutPassages(c.Content, c.Privacy.Passages)
		}
		for _, p := range c.Petitioners {
			m := p
			if p.Anonymous {
				m.Name = "匿名"
			}
			m.IDNumber, m.Phone, m.Address = MaskIDNumber(p.IDNumber), MaskPhone(p.Phone), MaskAddress(p.Address)
			out.Petitioners = append(out.Petitioners, m)
		}
	default:
		// The complained-about unit and observers never read the matter as told, whatever its
		// type: the unit answers from the summary intake wrote for it (Privacy.UnitSummary).
		out.Content = ""
		out.ComplainedParty = ""
		// Counts are kept: how many people a matter concerns is not their identity.
	}
	return out
}

// Attachment kinds.
const (
	AttachSubmitted    = "submitted"     // 信访材料
	AttachSignedRecord = "signed_record" // 签字笔录
	AttachNotice       = "notice"        // 告知书
	AttachAnswer       = "answer"        // 处理意见书
	AttachClosure      = "closure"       // 办结报告
	AttachRecording    = "recording"     // 录音录像
)

func maskRunes(s string, keepHead, keepTail int) string {
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return ""
	}
	if n <= keepHead+keepTail {
		return strings.Repeat("*", n)
	}
	r := []rune(s)
	return string(r[:keepHead]) + strings.Repeat("*", n-keepHead-keepTail) + string(r[n-keepTail:])
}

// MaskAddress keeps the first 6 characters (city and district) and hides the rest.
func MaskAddress(s string) string {
	if utf8.RuneCountInString(s) <= 6 {
		return maskRunes(s, 0, 0)
	}
	r := []rune(s)
	return string(r[:6]) + "****"
}

// MaskName keeps the first character: 张三丰 → 张**.
func MaskName(s string) string {
	n := utf8.RuneCountInString(s)
	if n <= 1 {
		return s
	}
	r, _ := utf8.DecodeRuneInString(s)
	return string(r) + strings.Repeat("*", n-1)
}

// MaskIDNumber keeps the first 6 and the last 4 characters.
func MaskIDNumber(s string) string {
	if len(s) < 10 {
		return strings.Repeat("*", len(s))
	}
	return s[:6] + strings.Repeat("*", len(s)-10) + s[len(s)-4:]
}

// MaskPhone keeps the first 3 and the last 4 digits.
func MaskPhone(s string) string {
	if len(s) < 7 {
		return strings.Repeat("*", len(s))
	}
	return s[:3] + strings.Repeat("*", len(s)-7) + s[len(s)-4:]
}
