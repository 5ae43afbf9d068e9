package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// testPrivacy: what intake marks as 涉及检举控告 round-trips through the store at registration and
// afterwards, is refused when a passage is not a quote of the content, and is noted on the
// timeline without being quoted.
func testPrivacy(t *testing.T, s scheduler.Store) {
	tr := BuildTree(t, s)
	cat := org.Category{Code: "02", Name: "劳动和社会保障"}
	if err := s.CreateCategory(ctx, &cat); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, calendar.ChinaTZ)
	_, hash, err := casework.NewQueryCode()
	if err != nil {
		t.Fatal(err)
	}
	passage := "人社局某科王某某多次推诿。"
	c := casework.Case{UnitID: tr.D1.ID, Territory: "330102", Form: casework.FormVisit, Type: casework.TypeClaim,
		CategoryID: cat.ID, Title: "请求补发工资", Content: "请求补发2025年工资。" + passage, QueryCodeHash: hash,
		ComplainedUnitID: tr.Dept.ID, RegisteredAt: at, Petitioners: []casework.Petitioner{{Name: "张三", Role: casework.PetitionerSelf}},
		Privacy: casework.Privacy{Passages: []string{passage}, UnitSummary: "请核实并答复补发工资的诉求。"}}
	actor := casework.CaseEvent{ActorID: 1, Actor: "intake", UnitID: tr.D1.ID}
	if err := s.CreateCase(ctx, &c, actor); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetCase(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Privacy.Whole || !slices.Equal(got.Privacy.Passages, []string{passage}) || got.Privacy.UnitSummary != c.Privacy.UnitSummary {
		t.Errorf("privacy after registration: %+v", got.Privacy)
	}
	list, err := s.ListCases(ctx, casework.CaseFilter{UnderPath: tr.D1.Path, Limit: 10})
	if err != nil || len(list) != 1 || list[0].Privacy.UnitSummary != c.Privacy.UnitSummary {
		t.Errorf("privacy in the list: %+v %v", list, err)
	}

	if err := s.SetCasePrivacy(ctx, c.ID, casework.Privacy{Passages: []string{"不在原文中"}}, actor); !errors.Is(err, org.ErrInvalid) {
		t.Errorf("a passage not in the content: %v", err)
	}
	if err := s.SetCasePrivacy(ctx, c.ID, casework.Privacy{Whole: true, UnitSummary: "请答复。"}, actor); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.GetCase(ctx, c.ID); !got.Privacy.Whole || len(got.Privacy.Passages) != 0 || got.Privacy.UnitSummary != "请答复。" {
		t.Errorf("privacy after marking the whole: %+v", got.Privacy)
	}
	if err := s.SetCasePrivacy(ctx, c.ID, casework.Privacy{}, actor); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.GetCase(ctx, c.ID); got.Privacy.Marked() {
		t.Errorf("privacy after clearing: %+v", got.Privacy)
	}
	evs, err := s.ListCaseEvents(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	notes := 0
	for _, e := range evs {
		if e.Kind == casework.EvPrivacy {
			notes++
			if e.Reason == "" || slices.Contains([]string{passage, "请答复。"}, e.Reason) {
				t.Errorf("privacy note: %q", e.Reason)
			}
		}
	}
	if notes != 2 {
		t.Errorf("%d privacy notes, want 2", notes)
	}
}
