package reception

import (
	"strings"
	"testing"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// TestTextSimilarity: rewordings of one matter reach the threshold, different matters of the
// same field stay well below it, and the measure ignores punctuation, spaces and case.
func TestTextSimilarity(t *testing.T) {
	same := [][2]string{
		{"小区停车位纠纷，物业乱收停车费", "物业乱收停车费，小区停车位被占用"},
		{"拖欠工资三个月，公司老板失联", "公司拖欠我们三个月工资，老板找不到人"},
		{"房屋拆迁补偿标准过低", "拆迁补偿款太低，要求提高补偿标准"},
		{"反映某某街道违法拆除我家房屋，要求赔偿", "某某街道强拆我家房屋，要求赔偿损失"},
	}
	for _, p := range same {
		if s := TextSimilarity(p[0], p[1]); s < SimilarThreshold {
			t.Errorf("%q ~ %q: %.2f, want ≥ %.2f", p[0], p[1], s, SimilarThreshold)
		}
	}
	different := [][2]string{
		{"拖欠工资三个月，公司老板失联", "建筑工地拖欠农民工工资"},
		{"拖欠工资三个月，公司老板失联", "工伤认定不服，要求重新鉴定"},
		{"房屋拆迁补偿标准过低", "小区停车位纠纷"},
	}
	for _, p := range different {
		if s := TextSimilarity(p[0], p[1]); s >= SimilarThreshold-0.1 {
			t.Errorf("%q ~ %q: %.2f, want well below %.2f", p[0], p[1], s, SimilarThreshold)
		}
	}
	if s := TextSimilarity("欠薪 ABC", "欠薪，abc！"); s != 1 {
		t.Errorf("punctuation and case: %.2f, want 1", s)
	}
	if s := TextSimilarity("。", "欠薪"); s != 0 {
		t.Errorf("no letters: %.2f", s)
	}
	if s := TextSimilarity("薪", "薪"); s != 1 {
		t.Errorf("one character: %.2f", s)
	}
}

func TestTerritoryOf(t *testing.T) {
	for _, c := range []struct {
		u    org.Unit
		want string
	}{
		{org.Unit{Kind: org.KindCity, Code: "330100"}, "3301"},
		{org.Unit{Kind: org.KindDistrict, Code: "330102"}, "330102"},
		{org.Unit{Kind: org.KindTownship, Code: "330102001"}, "330102"},
		{org.Unit{Kind: org.KindDepartment, Code: "330102-RSJ"}, "330102"},
		{org.Unit{Kind: org.KindDepartment, Code: "330100-ZJJ"}, "3301"},
		{org.Unit{Kind: org.KindRoot, Code: org.RootCode}, ""},
	} {
		if got := TerritoryOf(c.u); got != c.want {
			t.Errorf("TerritoryOf(%s) = %q, want %q", c.u.Code, got, c.want)
		}
	}
}

// TestBookingNotes: each finding becomes a note in both languages naming the cases, pending
// first; the summary keeps ids and flags only.
func TestBookingNotes(t *testing.T) {
	b := BookingChecks{
		SamePerson: []Appointment{{ID: 4, Name: "王五", IDNumber: "330102198001011234"}},
		Cases: []CaseCheck{
			{Case: casework.Case{ID: 9, Number: "330102-2026-V-000009"}, Holding: org.Unit{Name: "上城区"}, PendingLower: true},
			{Case: casework.Case{ID: 8, Number: "330100-2025-V-000008"}, Holding: org.Unit{Name: "杭州市"}, PastReReview: true},
		},
		Similar: []SimilarMatter{{Kind: CheckCase, ID: 3, Score: 0.5}},
	}
	notes := b.Notes()
	var codes []string
	for _, n := range notes {
		codes = append(codes, n.Code)
		if n.ZH == "" || n.EN == "" {
			t.Errorf("note %s lacks a language", n.Code)
		}
	}
	if strings.Join(codes, ",") != "pending_lower,past_rereview,same_person,similar" {
		t.Errorf("notes %v", codes)
	}
	if !strings.Contains(notes[0].ZH, "330102-2026-V-000009（上城区）") || !strings.Contains(notes[1].EN, "330100-2025-V-000008") {
		t.Errorf("notes do not name the cases: %+v", notes)
	}
	s := b.Summary()
	if len(s.SamePerson) != 3 || len(s.PendingLower) != 1 || s.PendingLower[0] != 9 || s.PastReReview[0] != 8 || s.Similar[0].Score != 0.5 {
		t.Errorf("summary %+v", s)
	}
	if (BookingChecks{}).Summary().Empty() != true || len((BookingChecks{}).Notes()) != 0 {
		t.Error("no findings should mean no notes and an empty summary")
	}
}

func TestAnswerRules(t *testing.T) {
	if err := ValidateAnswer(false, " "); err == nil {
		t.Error("a decline without a reason passed")
	}
	if err := ValidateAnswer(true, ""); err != nil {
		t.Errorf("an acceptance needs no reason: %v", err)
	}
	if err := ValidateAnswer(false, strings.Repeat("因", 501)); err == nil {
		t.Error("a 501-character reason passed")
	}
	st := time.Date(2026, 3, 5, 9, 0, 0, 0, calendar.Shanghai)
	s := ReceptionSession{Start: st, End: st.Add(time.Hour), Status: SessionScheduled}
	if err := CheckAnswerable(s, st.Add(-time.Hour)); err != nil {
		t.Errorf("before the session: %v", err)
	}
	if err := CheckAnswerable(s, st.Add(time.Hour)); err == nil {
		t.Error("answer after the end passed")
	}
	s.Status = SessionCancelled
	if err := CheckAnswerable(s, st.Add(-time.Hour)); err == nil {
		t.Error("answer to a cancelled session passed")
	}
}
