package scheduler

import (
	"reflect"
	"testing"
)

func TestMasks(t *testing.T) {
	if g := MaskName("张三丰"); g != "张**" {
		t.Errorf("name %q", g)
	}
	if g := MaskIDNumber("11010519491231002X"); g != "110105********002X" {
		t.Errorf("id %q", g)
	}
	if g := MaskPhone("13800138000"); g != "138****8000" {
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
