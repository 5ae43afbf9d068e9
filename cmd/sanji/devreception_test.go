package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"sanji/bench"
	"sanji/scheduler/reception"
)

func postReception(t *testing.T, hc *http.Client, url, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := hc.Post(url+"/dev/reception", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp, raw
}

// TestDevReceptionBooksASessionWithSeats: the bench's booking endpoint creates a real session
// (studio, halls, units, bookings in turns across the halls) on a store without the demo data,
// and signs a seat per participant; twice in a row works; bad requests get a bilingual error.
func TestDevReceptionBooksASessionWithSeats(t *testing.T) {
	a := startTestApp(t, testConfig(t))
	hc := testHTTPClient(t)
	ctx := context.Background()

	for run := range 2 {
		resp, raw := postReception(t, hc, a.URL(), `{"halls": 3, "units": 2, "petitioners_per_hall": 2}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("run %d: %s %s", run, resp.Status, raw)
		}
		var seats bench.ReceptionSeats
		if err := json.Unmarshal(raw, &seats); err != nil {
			t.Fatal(err)
		}
		if seats.Room != "call-"+strconv.FormatInt(seats.SessionID, 10) || seats.Studio.Token == "" || len(seats.Halls) != 3 ||
			len(seats.Units) != 2 || seats.Appointments != 6 {
			t.Fatalf("run %d: seats %+v", run, seats)
		}
		x, err := a.store.GetReceptionSession(ctx, seats.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		if x.Status != reception.SessionScheduled || len(x.HallIDs) != 3 || len(x.UnitIDs) != 2 || x.StudioID == 0 {
			t.Fatalf("session %+v", x)
		}
		ids := map[string]bool{seats.Studio.ParticipantID: true}
		for i, s := range seats.Halls {
			if s.HallID != x.HallIDs[i] || s.Token == "" {
				t.Fatalf("hall seat %d: %+v, roster %v", i, s, x.HallIDs)
			}
			ids[s.ParticipantID] = true
		}
		for i, s := range seats.Units {
			if s.UnitID != x.UnitIDs[i] || s.Token == "" {
				t.Fatalf("unit seat %d: %+v, roster %v", i, s, x.UnitIDs)
			}
			ids[s.ParticipantID] = true
		}
		if len(ids) != 6 {
			t.Fatalf("participant ids not distinct: %v", ids)
		}
		q, err := a.store.ListAppointments(ctx, seats.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		if len(q) != 6 {
			t.Fatalf("%d bookings", len(q))
		}
		for i, ap := range q {
			// In turns: consecutive petitioners wait in different halls.
			if ap.HallID != x.HallIDs[i%3] || ap.Status != reception.ApptBooked || !reception.ValidIDNumber(ap.IDNumber) {
				t.Fatalf("booking %d: %+v", i, ap)
			}
		}
	}

	for _, body := range []string{
		`{"halls": 0, "units": 0, "petitioners_per_hall": 1}`,
		`{"halls": 51, "units": 0, "petitioners_per_hall": 1}`,
		`{"halls": 2, "units": -1, "petitioners_per_hall": 1}`,
		`{"halls": 2, "units": 0, "petitioners_per_hall": 0}`,
		`{"halls": 20, "units": 0, "petitioners_per_hall": 30}`, // 600 bookings
		`{"halls": 2, "rooms": 3}`,
		`not json`,
	} {
		resp, raw := postReception(t, hc, a.URL(), body)
		var m map[string]string
		_ = json.Unmarshal(raw, &m)
		if resp.StatusCode != http.StatusBadRequest || m["message_zh"] == "" || m["message_en"] == "" {
			t.Errorf("%s: %s %s", body, resp.Status, raw)
		}
	}
}

// TestDevReceptionOnlyInDevMode: without --dev there is no booking endpoint.
func TestDevReceptionOnlyInDevMode(t *testing.T) {
	cfg := testConfig(t)
	cfg.Dev = false
	a := startTestApp(t, cfg)
	resp, err := testHTTPClient(t).Post(a.URL()+"/dev/reception", "application/json", strings.NewReader(`{"halls":1,"petitioners_per_hall":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("POST /dev/reception answered %s without --dev", resp.Status)
	}
}
