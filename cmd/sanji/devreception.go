package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"sanji/auth"
	"sanji/bench"
	"sanji/i18n"
	"sanji/scheduler"
	"sanji/scheduler/api"
	"sanji/scheduler/org"
	"sanji/scheduler/reception"
	"sanji/signaling"
)

// POST /dev/reception (mounted with --dev only, like /dev/token): books a real reception
// session in the store for `sanji bench --scenario reception` and hands out a seat token for
// every participant of its call. Everything it creates lives under one bench city (code
// benchCityCode), apart from the demo tree and whatever an operator set up, and is named 压测 /
// bench.

// benchCityCode is the division code of the unit the bench receptions are booked under. No
// province has the code 99, so it cannot clash with an imported real tree.
const benchCityCode = "990100"

// benchSessionMinutes is a bench session's length: the longest the scheduler allows, so that
// its 500 one-minute slots fit and it is still under way whatever the run's length.
const benchSessionMinutes = reception.MaxSessionMinutes

// maxDevReceptionBody bounds the request body.
const maxDevReceptionBody = 4 << 10

// benchReception is what bookBenchReception created.
type benchReception struct {
	session      reception.ReceptionSession
	user         org.User
	appointments int
	districts    []string
}

// devReceptionHandler serves POST /dev/reception.
func devReceptionHandler(st scheduler.Store, signer *auth.Signer, ttl time.Duration, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req bench.ReceptionRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxDevReceptionBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			devError(w, http.StatusBadRequest, signaling.CodeBadJSON, "cmd.dev.bad_body", "err", err.Error())
			return
		}
		if k, limit, bad := checkReceptionRequest(req); bad {
			devError(w, http.StatusBadRequest, signaling.CodeInvalid, k, "max", limit)
			return
		}
		now := time.Now()
		x, err := bookBenchReception(r.Context(), st, req, now)
		if err != nil {
			log.Warn("dev reception", zap.Error(err))
			devError(w, http.StatusInternalServerError, signaling.CodeInternal, "cmd.dev.book_failed")
			return
		}
		seats, err := signSeats(signer, x, now, ttl)
		if err != nil {
			log.Warn("dev reception tokens", zap.Error(err))
			devError(w, http.StatusInternalServerError, signaling.CodeInternal, "cmd.dev.sign_failed")
			return
		}
		log.Info("booked a bench reception", zap.Int64("session", x.session.ID), zap.Int("halls", req.Halls),
			zap.Int("units", req.Units), zap.Int("appointments", x.appointments))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(seats)
	})
}

// checkReceptionRequest reports whether req is bad and, when it is, what is wrong: the message,
// whose one parameter {max} is the limit returned with it.
func checkReceptionRequest(req bench.ReceptionRequest) (k i18n.Key, limit int, bad bool) {
	switch {
	case req.Halls < 1 || req.Halls > bench.MaxReceptionHalls:
		return "cmd.dev.halls", bench.MaxReceptionHalls, true
	case req.Units < 0 || req.Units > bench.MaxReceptionUnits:
		return "cmd.dev.units", bench.MaxReceptionUnits, true
	case req.PetitionersPerHall < 1 || req.PetitionersPerHall > bench.MaxPetitionersPerHall:
		return "cmd.dev.petitioners_per_hall", bench.MaxPetitionersPerHall, true
	case req.Halls*req.PetitionersPerHall > bench.MaxReceptionPetitioners:
		return "cmd.dev.petitioners", bench.MaxReceptionPetitioners, true
	case req.Districts < 0 || req.Districts > bench.MaxReceptionDistricts:
		return "cmd.cascade.districts", bench.MaxReceptionDistricts, true
	}
	return k, 0, false
}

func devError(w http.ResponseWriter, status int, code string, k i18n.Key, args ...any) {
	t := i18n.T(k, args...)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(signaling.Error{Code: code, Message: t.String(), MessageZH: t.ZH, MessageEN: t.EN})
}

// bookBenchReception creates, in one transaction, a studio, req.Halls halls and req.Units
// departments under the bench city, a leader for the session (a disabled account: it can hold a
// call seat but never log in), the session from now on, and the bookings, in turns across the
// halls.
func bookBenchReception(ctx context.Context, st scheduler.Store, req bench.ReceptionRequest, now time.Time) (benchReception, error) {
	var out benchReception
	tag := fmt.Sprintf("%06x", rand.IntN(1<<24))
	err := st.InTx(ctx, func(tx scheduler.Store) error {
		city, err := benchCity(ctx, tx)
		if err != nil {
			return err
		}
		if err := ensureCategory(ctx, tx); err != nil {
			return err
		}
		u := org.User{Kind: org.UserPerson, Username: "bench-" + tag, DisplayName: "压测领导 " + tag,
			UnitID: city.ID, PasswordHash: "!", Disabled: true}
		if err := tx.CreateUser(ctx, &u); err != nil {
			return fmt.Errorf("bench leader: %w", err)
		}
		studio := org.Hall{UnitID: city.ID, Kind: org.HallStudio, Name: "压测演播室 " + tag}
		if err := tx.CreateHall(ctx, &studio); err != nil {
			return fmt.Errorf("bench studio: %w", err)
		}
		x := reception.ReceptionSession{UnitID: city.ID, Title: "压测接访 " + tag, LeaderID: u.ID, LeaderName: "压测领导",
			LeaderPost: "bench", StudioID: studio.ID, Start: now.Truncate(time.Minute), MinutesPerPetitioner: 1,
			MaxPetitioners: req.Halls * req.PetitionersPerHall}
		x.End = x.Start.Add(benchSessionMinutes * time.Minute)
		var districts []org.Unit
		for i := range req.Districts {
			d, err := benchDistrict(ctx, tx, city, i+1)
			if err != nil {
				return err
			}
			districts = append(districts, d)
		}
		for i := range req.Halls {
			h := org.Hall{UnitID: city.ID, Kind: org.HallReception, Name: fmt.Sprintf("压测接访室 %s-%d", tag, i+1)}
			if len(districts) > 0 {
				h.UnitID = districts[i%len(districts)].ID
			}
			if err := tx.CreateHall(ctx, &h); err != nil {
				return fmt.Errorf("bench hall: %w", err)
			}
			x.HallIDs = append(x.HallIDs, h.ID)
		}
		for i := range req.Units {
			parent, code := city.ID, benchCityCode
			if len(districts) > 0 {
				parent, code = districts[i%len(districts)].ID, districts[i%len(districts)].Code
			}
			d := org.Unit{Kind: org.KindDepartment, ParentID: parent, Code: fmt.Sprintf("%s-B%s%d", code, tag, i+1),
				Name: fmt.Sprintf("压测责任单位 %s-%d", tag, i+1)}
			if err := tx.CreateUnit(ctx, &d); err != nil {
				return fmt.Errorf("bench unit: %w", err)
			}
			x.UnitIDs = append(x.UnitIDs, d.ID)
		}
		if err := tx.CreateReceptionSession(ctx, &x); err != nil {
			return fmt.Errorf("bench session: %w", err)
		}
		n := 0
		for k := range req.PetitionersPerHall {
			for i, hall := range x.HallIDs {
				n++
				a := reception.Appointment{SessionID: x.ID, HallID: hall, Name: fmt.Sprintf("压测信访人%d-%d", i+1, k+1),
					IDNumber: benchIDNumber(n), Phone: "13800000000", Matter: "压测事项 / bench matter", People: 1,
					OverrideReason: "压测 / bench", BookedBy: u.ID}
				if err := tx.CreateAppointment(ctx, &a, now); err != nil {
					return fmt.Errorf("bench booking: %w", err)
				}
			}
		}
		out = benchReception{session: x, user: u, appointments: n}
		for _, d := range districts {
			out.districts = append(out.districts, d.Code)
		}
		return nil
	})
	return out, err
}

// benchDistrict returns the bench city's district number n (code 9901nn), creating it on first use.
func benchDistrict(ctx context.Context, st scheduler.Store, city org.Unit, n int) (org.Unit, error) {
	code := fmt.Sprintf("%s%02d", benchCityCode[:4], n)
	d, err := st.GetUnitByCode(ctx, code)
	if err == nil || !errors.Is(err, org.ErrNotFound) {
		return d, err
	}
	d = org.Unit{Kind: org.KindDistrict, ParentID: city.ID, Code: code, Name: fmt.Sprintf("压测区 %d / bench district %d", n, n)}
	if err := st.CreateUnit(ctx, &d); err != nil {
		return org.Unit{}, fmt.Errorf("bench district %s: %w", code, err)
	}
	return d, nil
}

// benchCity returns the bench city, creating it (and the root) on first use.
func benchCity(ctx context.Context, st scheduler.Store) (org.Unit, error) {
	city, err := st.GetUnitByCode(ctx, benchCityCode)
	if err == nil || !errors.Is(err, org.ErrNotFound) {
		return city, err
	}
	root, err := scheduler.EnsureRoot(ctx, st)
	if err != nil {
		return city, fmt.Errorf("bench city: %w", err)
	}
	city = org.Unit{Kind: org.KindCity, ParentID: root.ID, Code: benchCityCode, Name: "压测市 / bench city"}
	if err := st.CreateUnit(ctx, &city); err != nil {
		return city, fmt.Errorf("bench city: %w", err)
	}
	return city, nil
}

// ensureCategory adds the category "其他" when the tree is empty (a store without --demo):
// every hearing registers its matter as a case, which needs one.
func ensureCategory(ctx context.Context, st scheduler.Store) error {
	cats, err := st.ListCategories(ctx)
	if err != nil || len(cats) > 0 {
		return err
	}
	if err := st.CreateCategory(ctx, &org.Category{Code: "99", Name: "其他"}); err != nil && !errors.Is(err, org.ErrConflict) {
		return fmt.Errorf("bench category: %w", err)
	}
	return nil
}

// benchIDNumber makes the n-th bench petitioner a resident ID number that passes the check
// (GB 11643) under the bench city's code; nobody is born on 1900-01-01 any more.
func benchIDNumber(n int) string {
	d17 := fmt.Sprintf("%s19000101%03d", benchCityCode, n%1000)
	for _, c := range "0123456789X" {
		if id := d17 + string(c); reception.ValidIDNumber(id) {
			return id
		}
	}
	return d17 + "0" // unreachable: one of the eleven check characters is right
}

// signSeats signs one seat token per participant of the bench reception's call.
func signSeats(signer *auth.Signer, x benchReception, now time.Time, ttl time.Duration) (bench.ReceptionSeats, error) {
	s := x.session
	out := bench.ReceptionSeats{SessionID: s.ID, Room: api.CallRoom(s.ID), Appointments: x.appointments, Districts: x.districts}
	sign := func(who, role, seat string, hall, unit int64) (bench.Seat, error) {
		id := "bench-" + strconv.FormatInt(s.ID, 10) + "-" + who
		tok, err := signer.Sign(auth.Claims{Room: out.Room, Subject: id, Name: who, Role: role, IssuedAt: now,
			ExpiresAt: now.Add(ttl), UserID: x.user.ID, SessionID: s.ID, Seat: seat, HallID: hall, UnitID: unit})
		return bench.Seat{Token: tok, ParticipantID: id, HallID: hall, UnitID: unit}, err
	}
	var err error
	if out.Studio, err = sign("studio", org.RoleLeader, auth.SeatStudio, 0, 0); err != nil {
		return out, err
	}
	for i, h := range s.HallIDs {
		seat, err := sign("hall"+strconv.Itoa(i+1), org.RoleHallOperator, auth.SeatHall, h, 0)
		if err != nil {
			return out, err
		}
		out.Halls = append(out.Halls, seat)
	}
	for i, u := range s.UnitIDs {
		seat, err := sign("unit"+strconv.Itoa(i+1), org.RoleCaseHandler, auth.SeatUnit, 0, u)
		if err != nil {
			return out, err
		}
		out.Units = append(out.Units, seat)
	}
	return out, nil
}
