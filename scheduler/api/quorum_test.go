package api

import (
	"strings"
	"testing"

	"sanji/scheduler/org"
)

// The competent unit's signature waits for every other unit: the refusal names the missing one,
// an absence recorded with a reason lifts it.
func TestConsultationQuorumAPI(t *testing.T) {
	f := newFixture(t, Config{})
	k := f.consultation(f.t1, f.d1)
	url := consultationURL(k, "")
	handler := f.loginUser(f.user(org.RoleCaseHandler, f.t1))
	resp, body := handler.do("POST", url+"/sign", map[string]string{"conclusion": "街道牵头"})
	wantStatus(t, resp, body, 400)
	if e := errCode(t, body); e.Field != "unit_ids" || !strings.Contains(e.Message, f.d1.Name) {
		t.Errorf("refusal: %+v", e)
	}
	resp, body = handler.do("POST", url+"/absences", map[string]any{"unit_id": f.d1.ID, "reason": "未派员参加"})
	wantStatus(t, resp, body, 200)
	v := decodeJSON[ConsultationView](t, body)
	if len(v.Absences) != 1 || v.Absences[0].Reason != "未派员参加" || len(v.MissingUnitIDs) != 0 {
		t.Errorf("after the absence: %+v", v)
	}
	resp, body = handler.do("POST", url+"/sign", map[string]string{"conclusion": "街道牵头"})
	wantStatus(t, resp, body, 200)
}
