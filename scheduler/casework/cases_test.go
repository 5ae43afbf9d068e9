package casework

import (
	"errors"
	"strings"
	"testing"

	"sanji/scheduler/org"
)

func TestCaseTransitionsEveryPair(t *testing.T) {
	allowed := map[[2]CaseStatus]bool{}
	for from, tos := range caseTransitions {
		for _, to := range tos {
			allowed[[2]CaseStatus{from, to}] = true
		}
	}
	// A few pairs the law fixes, spelled out so that a careless edit of the table fails here.
	for _, p := range [][2]CaseStatus{
		{StRegistered, StAssigned}, {StAssigned, StObjectionReturned}, {StObjectionReturned, StAssigned},
		{StInProgress, StExtended}, {StAnswered, StReview}, {StReview, StReReview}, {StClosed, StEvaluated},
	} {
		if !allowed[p] {
			t.Errorf("%s → %s must be allowed", p[0], p[1])
		}
	}
	for _, p := range [][2]CaseStatus{
		{StReReview, StReview}, {StExtended, StExtended}, {StArchived, StRegistered}, {StAssigned, StAssigned},
		{StObjectionReturned, StObjectionReturned}, {StRegistered, StClosed}, {StNotAccepted, StInProgress},
	} {
		if allowed[p] {
			t.Errorf("%s → %s must be refused", p[0], p[1])
		}
	}
	n := 0
	for _, from := range CaseStatuses {
		for _, to := range CaseStatuses {
			err := CheckTransition(from, to)
			if allowed[[2]CaseStatus{from, to}] {
				n++
				if err != nil {
					t.Errorf("%s → %s: %v", from, to, err)
				}
				continue
			}
			var fe *org.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, org.ErrInvalid) || !strings.Contains(fe.ZH, "只能变为") || !strings.Contains(fe.EN, string(to)) {
				t.Errorf("%s → %s: %v, want a refusal naming what is allowed", from, to, err)
			}
		}
	}
	if n != 27 { // forwarded → forwarded: passed on down a level
		t.Errorf("%d allowed transitions, want 27", n)
	}
	if err := CheckTransition("bogus", StClosed); !errors.Is(err, org.ErrInvalid) {
		t.Errorf("unknown from: %v", err)
	}
}

func TestValidateTransition(t *testing.T) {
	ok := []CaseEvent{
		{From: StRegistered, To: StAssigned, Reason: "属地", ResponsibleUnitID: 3, CoUnitIDs: []int64{4}},
		{From: StAssigned, To: StAccepted},
		{From: StInProgress, To: StAnswered, Reason: "已答复", Result: ResultExplain},
	}
	for _, ev := range ok {
		if err := ValidateTransition(ev); err != nil {
			t.Errorf("%+v: %v", ev, err)
		}
	}
	bad := map[string]CaseEvent{
		"reason":              {From: StAssigned, To: StObjectionReturned},
		"responsible_unit_id": {From: StRegistered, To: StForwarded, Reason: "x"},
		"co_unit_ids":         {From: StRegistered, To: StAssigned, Reason: "x", ResponsibleUnitID: 3, CoUnitIDs: []int64{3}},
		"result":              {From: StInProgress, To: StAnswered, Reason: "x"},
		"to":                  {From: StClosed, To: StInProgress, Reason: "x"},
	}
	for field, ev := range bad {
		var fe *org.FieldError
		if err := ValidateTransition(ev); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
}

func validCase() Case {
	return Case{UnitID: 1, Territory: "330102", Form: FormVisit, Type: TypeClaim, CategoryID: 2, Title: "工资拖欠",
		Petitioners: []Petitioner{{Name: "张三", IDNumber: "330102199001011234", Phone: "13812345678", Address: "杭州市上城区某街道1号", Role: PetitionerSelf}}}
}

func TestValidateCase(t *testing.T) {
	if err := ValidateCase(validCase()); err != nil {
		t.Fatal(err)
	}
	reps := validCase()
	for i := 0; i < 6; i++ {
		reps.Petitioners = append(reps.Petitioners, Petitioner{Name: "代表", Role: PetitionerRepresentative})
	}
	anon := validCase()
	anon.Petitioners[0].Name, anon.Petitioners[0].Anonymous = "", true
	if err := ValidateCase(anon); err != nil {
		t.Errorf("anonymous: %v", err)
	}
	for field, mod := range map[string]func(*Case){
		"unit_id":             func(c *Case) { c.UnitID = 0 },
		"territory":           func(c *Case) { c.Territory = "33010" },
		"form":                func(c *Case) { c.Form = "fax" },
		"type":                func(c *Case) { c.Type = "other" },
		"category_id":         func(c *Case) { c.CategoryID = 0 },
		"title":               func(c *Case) { c.Title = " " },
		"petitioners":         func(c *Case) { c.Petitioners = reps.Petitioners },
		"petitioners[0].name": func(c *Case) { c.Petitioners[0].Name = "" },
		"petitioners[0].role": func(c *Case) { c.Petitioners[0].Role = "boss" },
	} {
		c := validCase()
		mod(&c)
		var fe *org.FieldError
		if err := ValidateCase(c); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
}

func TestCaseNumberAndQueryCode(t *testing.T) {
	if got := CaseNumber("330102", 2026, FormVisit, 123); got != "330102-2026-V-000123" {
		t.Errorf("number %s", got)
	}
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		code, hash, err := NewQueryCode()
		if err != nil {
			t.Fatal(err)
		}
		if len(code) != 16 || strings.ContainsAny(code, "01OIL") || seen[code] {
			t.Fatalf("code %q", code)
		}
		seen[code] = true
		if hash != QueryCodeHash(strings.ToLower(code[:8])+"-"+code[8:]) || len(hash) != 64 {
			t.Fatalf("hash of %q does not normalise", code)
		}
	}
}

func TestCaseViewPerRole(t *testing.T) {
	ch := CaseChain{CasePath: "/1/2/3/", ResponsiblePath: "/1/2/3/7/", CoPaths: []string{"/1/2/3/8/"}, ComplainedPath: "/1/2/3/9/"}
	g := func(role, path string) *org.Principal {
		return &org.Principal{User: org.User{ID: 1}, Grants: []org.Grant{{Role: role, UnitPath: path}}}
	}
	cases := []struct {
		name string
		p    *org.Principal
		want ViewLevel
	}{
		{"intake officer at the registering office", g(org.RoleIntakeOfficer, "/1/2/3/"), ViewFull},
		{"hall operator above", g(org.RoleHallOperator, "/1/2/"), ViewFull},
		{"supervisor at the city", g(org.RoleSupervisor, "/1/2/"), ViewFull},
		{"handler of the responsible unit", g(org.RoleCaseHandler, "/1/2/3/7/"), ViewFull},
		{"handler of a co-handling unit", g(org.RoleCaseHandler, "/1/2/3/8/"), ViewMasked},
		{"unit head of the responsible unit", g(org.RoleUnitHead, "/1/2/3/7/"), ViewMasked},
		{"leader of the city", g(org.RoleLeader, "/1/2/"), ViewMasked},
		{"intake officer of another district", g(org.RoleIntakeOfficer, "/1/2/4/"), ViewRedacted},
		{"handler of another unit", g(org.RoleCaseHandler, "/1/2/3/10/"), ViewRedacted},
		{"observer at the city", g(org.RoleObserver, "/1/2/"), ViewRedacted},
		{"admin at the root", g(org.RoleAdmin, "/1/"), ViewRedacted},
		{"auditor at the root", g(org.RoleAuditor, "/1/"), ViewRedacted},
		{"terminal", g(org.RoleHallTerminal, "/1/2/3/"), ViewRedacted},
		{"handler of the complained-about unit", g(org.RoleCaseHandler, "/1/2/3/9/"), ViewRedacted},
		{"the complained-about unit also holding a supervisor grant above", &org.Principal{Grants: []org.Grant{
			{Role: org.RoleSupervisor, UnitPath: "/1/2/"}, {Role: org.RoleUnitHead, UnitPath: "/1/2/3/9/"}}}, ViewRedacted},
		{"nobody", nil, ViewRedacted},
	}
	for _, tc := range cases {
		if got := CaseViewLevel(tc.p, ch); got != tc.want {
			t.Errorf("%s: level %d, want %d", tc.name, got, tc.want)
		}
	}
	// A case assigned to the complained-about unit itself: its handler sees the redacted view.
	self := CaseChain{CasePath: "/1/2/3/", ResponsiblePath: "/1/2/3/9/", ComplainedPath: "/1/2/3/9/"}
	if got := CaseViewLevel(g(org.RoleCaseHandler, "/1/2/3/9/"), self); got != ViewRedacted {
		t.Errorf("assigned to the complained-about unit: %d", got)
	}
	// Registered at the city bureau (/1/2/5/), handled by a district department (/1/2/3/7/),
	// reviewed by the district (/1/2/3/): the review body reads the whole matter it reviews.
	reviewed := CaseChain{CasePath: "/1/2/5/", ResponsiblePath: "/1/2/3/7/", ReviewPath: "/1/2/3/"}
	for _, tc := range []struct {
		role string
		want ViewLevel
	}{{org.RoleIntakeOfficer, ViewFull}, {org.RoleCaseHandler, ViewFull}, {org.RoleUnitHead, ViewMasked}, {org.RoleObserver, ViewRedacted}} {
		if got := CaseViewLevel(g(tc.role, "/1/2/3/"), reviewed); got != tc.want {
			t.Errorf("%s of the review body: level %d, want %d", tc.role, got, tc.want)
		}
	}
	if got := CaseViewLevel(g(org.RoleIntakeOfficer, "/1/2/3/"), CaseChain{CasePath: "/1/2/5/", ResponsiblePath: "/1/2/3/7/"}); got != ViewRedacted {
		t.Errorf("the district before any review: level %d", got)
	}
}

func TestRedactCase(t *testing.T) {
	c := validCase()
	c.Type, c.Content, c.ComplainedParty, c.QueryCodeHash = TypeAccusation, "检举某科长受贿", "某局某科", "h"
	c.Petitioners = append(c.Petitioners, Petitioner{Anonymous: true, Name: "李四", Phone: "13900001111", Role: PetitionerSelf})

	full := RedactCase(c, ViewFull)
	if full.Petitioners[0].IDNumber != "330102199001011234" || full.Content == "" || full.QueryCodeHash != "" {
		t.Errorf("full: %+v", full)
	}
	m := RedactCase(c, ViewMasked)
	p := m.Petitioners[0]
	if p.Name != "张三" || p.IDNumber != "330102********1234" || p.Phone != "138****5678" || p.Address != "杭州市上城区****" {
		t.Errorf("masked: %+v", p)
	}
	if m.Petitioners[1].Name != "匿名" || m.Petitioners[1].Phone != "139****1111" {
		t.Errorf("masked anonymous: %+v", m.Petitioners[1])
	}
	r := RedactCase(c, ViewRedacted)
	if r.Petitioners != nil || r.Content != "" || r.ComplainedParty != "" || r.Title != c.Title || r.Number != c.Number {
		t.Errorf("redacted: %+v", r)
	}
	if c.Petitioners[0].IDNumber != "330102199001011234" {
		t.Error("RedactCase changed its input")
	}
}

// TestPrivacyByContent: a claim (申诉求决, not an accusation) that names the staff of the unit it
// complains about. Intake marks the passage naming them and writes the unit its summary.
func TestPrivacyByContent(t *testing.T) {
	claim := validCase()
	claim.Type = TypeClaim
	claim.Content = "请求补发2025年工资。街道城管科王某某多次辱骂我。"
	claim.Privacy = Privacy{Passages: []string{"街道城管科王某某多次辱骂我。"}, UnitSummary: "请核实并答复补发2025年工资的诉求。"}
	if err := ValidatePrivacy(claim, claim.Privacy); err != nil {
		t.Fatal(err)
	}
	if err := ValidatePrivacy(claim, Privacy{Passages: []string{"不在原文中"}}); err == nil {
		t.Error("a passage that is not a quote of the content was accepted")
	}
	// The complained-about unit (redacted): no content of a claim either, only its summary.
	r := RedactCase(claim, ViewRedacted)
	if r.Content != "" || r.Privacy.Passages != nil || r.Privacy.UnitSummary != claim.Privacy.UnitSummary {
		t.Errorf("redacted claim: content %q privacy %+v", r.Content, r.Privacy)
	}
	// The rest of the chain (masked): the content without the marked passage.
	if m := RedactCase(claim, ViewMasked); m.Content != "请求补发2025年工资。"+CutPassage || m.Privacy.Passages != nil {
		t.Errorf("masked claim: %q %+v", m.Content, m.Privacy)
	}
	if f := RedactCase(claim, ViewFull); f.Content != claim.Content || len(f.Privacy.Passages) != 1 {
		t.Errorf("full claim: %q %+v", f.Content, f.Privacy)
	}
	whole := claim
	whole.Privacy = Privacy{Whole: true}
	if RedactCase(whole, ViewMasked).Content != "" {
		t.Error("a matter marked as a whole shows its content to the masked view")
	}
	for _, c := range []struct {
		c     Case
		level ViewLevel
		kind  string
		want  bool
	}{
		{claim, ViewRedacted, AttachSubmitted, true}, // whatever the type
		{claim, ViewRedacted, AttachRecording, true},
		{claim, ViewRedacted, AttachNotice, false},
		{claim, ViewMasked, AttachSubmitted, false},
		{whole, ViewMasked, AttachSubmitted, true},
		{whole, ViewFull, AttachSubmitted, false},
	} {
		if got := HiddenAttachment(c.c, c.level, c.kind); got != c.want {
			t.Errorf("hidden %s at %d (whole %v): %v, want %v", c.kind, c.level, c.c.Privacy.Whole, got, c.want)
		}
	}
}
