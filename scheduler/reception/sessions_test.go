package reception

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

func TestMasks(t *testing.T) {
	if g := casework.MaskName("张三丰"); g != "张**" {
		t.Errorf("name %q", g)
	}
	if g := casework.MaskIDNumber("11010519491231002X"); g != "110105********002X" {
		t.Errorf("id %q", g)
	}
	if g := casework.MaskPhone("13800138000"); g != "138****8000" {
		t.Errorf("phone %q", g)
	}
	a := Appointment{Name: "王五", IDNumber: "11010519491231002X", Phone: "13800138000", Representatives: []string{"王五", "赵六"}}
	m := a.Masked()
	if m.Name != "王*" || m.Representatives[1] != "赵*" || a.Representatives[1] != "赵六" {
		t.Errorf("masked %+v (original %+v)", m, a)
	}
}

func TestValidIDNumber(t *testing.T) {
	for s, want := range map[string]bool{"11010519491231002X": true, "11010519491231002Y": false, "110105194912310021": false, "1101051949123100": false} {
		if ValidIDNumber(s) != want {
			t.Errorf("%s: want %v", s, want)
		}
	}
}

func TestSessionKeys(t *testing.T) {
	s := ReceptionSession{LeaderID: 3, StudioID: 9, HallIDs: []int64{10, 9, 2}, UnitIDs: []int64{4}}
	want := []string{"hall:10", "hall:2", "hall:9", "leader:3", "unit:4"}
	if g := s.Keys(); !reflect.DeepEqual(g, want) {
		t.Errorf("keys %v, want %v", g, want)
	}
}

func TestValidateSessionCapacity(t *testing.T) {
	s := ReceptionSession{UnitID: 1, Title: "x", StudioID: 1, MinutesPerPetitioner: 20, MaxPetitioners: 4, LeadDays: 1}
	s.Start = sh("2026-12-01 09:00")
	s.End = s.Start.Add(80 * 60e9)
	if err := ValidateSession(s); err != nil {
		t.Errorf("4 × 20 in 80 minutes: %v", err)
	}
	s.MaxPetitioners = 5
	var fe *org.FieldError
	if err := ValidateSession(s); !errors.As(err, &fe) || fe.Field != "max_petitioners" {
		t.Errorf("5 × 20 in 80 minutes: %v", err)
	}
}

// sh is a wall-clock time in Shanghai.
func sh(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, calendar.Shanghai)
	if err != nil {
		panic(err)
	}
	return t
}
