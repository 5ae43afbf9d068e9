package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/calendar"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// Case records: casework.CaseStore.

// CreateCase implements casework.CaseStore.
func (s *Store) CreateCase(ctx context.Context, c *casework.Case, actor casework.CaseEvent) error {
	if err := casework.ValidateCase(*c); err != nil {
		return err
	}
	if len(c.QueryCodeHash) != 64 {
		return org.Invalid("query_code", "sqlstore.case.query_code_missing")
	}
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		now := tx.now().UTC().Truncate(time.Microsecond)
		if c.RegisteredAt.IsZero() {
			c.RegisteredAt = now
		}
		c.RegisteredAt = c.RegisteredAt.UTC().Truncate(time.Microsecond)
		c.Status, c.UpdatedAt, c.ExternalSource = casework.StRegistered, now, ""
		if err := tx.markFinal(ctx, c); err != nil {
			return err
		}
		if err := tx.insertCase(ctx, c); err != nil {
			return err
		}
		ev := actor
		ev.CaseID, ev.Kind, ev.From, ev.To = c.ID, "status", "", casework.StRegistered
		ev.ResponsibleUnitID, ev.CoUnitIDs, ev.Result = 0, nil, ""
		if ev.At.IsZero() {
			ev.At = c.RegisteredAt
		}
		if err := tx.appendCaseEvent(ctx, &ev); err != nil {
			return err
		}
		if err := tx.refreshRates(ctx, c.ID); err != nil {
			return err
		}
		return tx.refreshRepeats(ctx, c.ID)
	})
}

// insertCase numbers c (the next number of its territory and year), stores it with its
// petitioners and co-handling units, and fills c.ID and c.Number.
func (s *Store) insertCase(ctx context.Context, c *casework.Case) error {
	year := calendar.DayOf(c.RegisteredAt).Year()
	// One counter row per territory and year; the upsert takes the row lock, so two
	// registrations at once get different numbers.
	var seq int64
	if err := s.q.QueryRowContext(ctx, s.rebind(`INSERT INTO case_counters (territory, year, last_seq) VALUES (?, ?, 1)
		ON CONFLICT (territory, year) DO UPDATE SET last_seq = case_counters.last_seq + 1 RETURNING last_seq`),
		c.Territory, year).Scan(&seq); err != nil {
		return fmt.Errorf("sqlstore: case number: %w", s.d.Classify(err))
	}
	c.Number = casework.CaseNumber(c.Territory, year, c.Form, seq)
	id, err := s.insertID(ctx, `INSERT INTO cases (number, external_id, external_source, query_hash, unit_id, territory, form, type,
		category_id, title, content, complained_unit_id, complained_party, responsible_unit_id, involved_count,
		fast_track, result, status, supervised, owner_leader_id, registered_at, accepted_at, closed_at, updated_at,
		review_unit_id, outcome, channel, is_final, final_of_id, final_why)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Number, c.ExternalID, c.ExternalSource, c.QueryCodeHash, c.UnitID, c.Territory, string(c.Form), string(c.Type),
		c.CategoryID, c.Title, c.Content, nullID(c.ComplainedUnitID), c.ComplainedParty, nullID(c.ResponsibleUnitID),
		c.InvolvedCount, b2i(c.FastTrack), string(c.Result), string(c.Status), b2i(c.Supervised),
		nullID(c.OwnerLeaderID), tm(c.RegisteredAt), tm(c.AcceptedAt), tm(c.ClosedAt), tm(c.UpdatedAt),
		nullID(c.ReviewUnitID), string(c.Outcome), c.Channel, b2i(c.Final), c.FinalOfID, c.FinalWhy)
	if err != nil {
		return fmt.Errorf("sqlstore: create case: %w", err)
	}
	c.ID = id
	if err := s.setPetitioners(ctx, id, c.Petitioners); err != nil {
		return err
	}
	if err := s.setPrivacy(ctx, id, c.Privacy); err != nil {
		return err
	}
	return s.setCoUnits(ctx, id, c.CoUnitIDs)
}

func (s *Store) setPetitioners(ctx context.Context, caseID int64, ps []casework.Petitioner) error {
	if _, err := s.exec(ctx, `DELETE FROM case_petitioners WHERE case_id = ?`, caseID); err != nil {
		return fmt.Errorf("sqlstore: case petitioners: %w", err)
	}
	for i, p := range ps {
		ident, err := s.sealRow(petitionerIdentity, p.Name, p.IDNumber, p.Phone, p.Address)
		if err != nil {
			return err
		}
		if _, err := s.exec(ctx, `INSERT INTO case_petitioners (name, id_number, phone, address, key_id, id_index, phone_index,
			case_id, seq, role, anonymous, agrees_public) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			append(ident, caseID, i, p.Role, b2i(p.Anonymous), b2i(p.AgreesToPublic))...); err != nil {
			return fmt.Errorf("sqlstore: case petitioner: %w", err)
		}
	}
	return nil
}

func (s *Store) setCoUnits(ctx context.Context, caseID int64, units []int64) error {
	if _, err := s.exec(ctx, `DELETE FROM case_co_units WHERE case_id = ?`, caseID); err != nil {
		return fmt.Errorf("sqlstore: co-handling units: %w", err)
	}
	for _, u := range units {
		if _, err := s.exec(ctx, `INSERT INTO case_co_units (case_id, unit_id) VALUES (?, ?)`, caseID, u); err != nil {
			return fmt.Errorf("sqlstore: co-handling unit %d: %w", u, err)
		}
	}
	return nil
}

func idList(ids []int64) string {
	var b []string
	for _, id := range ids {
		b = append(b, strconv.FormatInt(id, 10))
	}
	return strings.Join(b, ",")
}

func parseIDList(s string) []int64 {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		if v, err := strconv.ParseInt(f, 10, 64); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// AddCaseNote implements casework.CaseStore.
func (s *Store) AddCaseNote(ctx context.Context, ev *casework.CaseEvent) error {
	if ev.Kind == "" || ev.Kind == "status" || casework.IsClockEvent(ev.Kind) {
		return org.Invalid("kind", "sqlstore.note.kind_invalid")
	}
	if ev.From != "" || ev.To != "" {
		return org.Invalid("to", "sqlstore.note.changes_status")
	}
	if _, err := s.GetCase(ctx, ev.CaseID); err != nil {
		return err
	}
	return s.appendCaseEvent(ctx, ev)
}

func (s *Store) appendCaseEvent(ctx context.Context, ev *casework.CaseEvent) error {
	if ev.At.IsZero() {
		ev.At = s.now()
	}
	ev.At = ev.At.UTC().Truncate(time.Microsecond)
	id, err := s.insertID(ctx, `INSERT INTO case_events (case_id, at, actor_id, actor, unit_id, kind, from_status,
		to_status, reason, responsible_unit_id, co_units, result, ref, days, approved_by, notice, outcome, channel)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ev.CaseID, tm(ev.At), ev.ActorID, ev.Actor, ev.UnitID, ev.Kind, string(ev.From), string(ev.To), ev.Reason,
		ev.ResponsibleUnitID, idList(ev.CoUnitIDs), string(ev.Result), ev.Ref, ev.Days, ev.ApprovedBy, ev.Notice,
		string(ev.Outcome), ev.Channel)
	if err != nil {
		return fmt.Errorf("sqlstore: append case event: %w", err)
	}
	ev.ID = id
	return nil
}

const caseCols = `c.id, c.number, c.external_id, c.external_source, c.query_hash, c.unit_id, c.territory, c.form, c.type, c.category_id,
	c.title, c.content, c.complained_unit_id, c.complained_party, c.responsible_unit_id, c.involved_count, c.fast_track,
	c.result, c.status, c.supervised, c.owner_leader_id, c.registered_at, c.accepted_at, c.closed_at, c.updated_at,
	c.review_unit_id, c.outcome, c.channel, c.is_final, c.final_of_id, c.final_why`

func scanCase(sc interface{ Scan(...any) error }) (casework.Case, error) {
	var c casework.Case
	var form, typ, result, status string
	var complained, resp, owner, review sql.NullInt64
	var fast, sup, final int
	var reg, acc, closed, upd int64
	var outcome string
	err := sc.Scan(&c.ID, &c.Number, &c.ExternalID, &c.ExternalSource, &c.QueryCodeHash, &c.UnitID, &c.Territory, &form, &typ, &c.CategoryID,
		&c.Title, &c.Content, &complained, &c.ComplainedParty, &resp, &c.InvolvedCount, &fast,
		&result, &status, &sup, &owner, &reg, &acc, &closed, &upd,
		&review, &outcome, &c.Channel, &final, &c.FinalOfID, &c.FinalWhy)
	c.ReviewUnitID, c.Outcome, c.Final = review.Int64, casework.CaseOutcome(outcome), final != 0
	c.Form, c.Type, c.Result, c.Status = casework.CaseForm(form), casework.CaseType(typ), casework.CaseResult(result), casework.CaseStatus(status)
	c.ComplainedUnitID, c.ResponsibleUnitID, c.OwnerLeaderID = complained.Int64, resp.Int64, owner.Int64
	c.FastTrack, c.Supervised = fast != 0, sup != 0
	c.RegisteredAt, c.AcceptedAt, c.ClosedAt, c.UpdatedAt = fromTm(reg), fromTm(acc), fromTm(closed), fromTm(upd)
	return c, err
}

// fillCases loads the petitioners and co-handling units of cs: two queries for the whole page.
func (s *Store) fillCases(ctx context.Context, cs []casework.Case) error {
	if len(cs) == 0 {
		return nil
	}
	ids := make([]int64, len(cs))
	at := make(map[int64]*casework.Case, len(cs))
	for i := range cs {
		ids[i], at[cs[i].ID] = cs[i].ID, &cs[i]
	}
	in, args := inIDs(ids)
	err := s.eachRow(ctx, func(sc scanner) error {
		var caseID int64
		var p casework.Petitioner
		var anon, pub int
		var keyID string
		if err := sc.Scan(&caseID, &p.Name, &p.IDNumber, &p.Phone, &p.Address, &p.Role, &anon, &pub, &keyID); err != nil {
			return err
		}
		if err := s.openRow(petitionerIdentity, keyID, &p.Name, &p.IDNumber, &p.Phone, &p.Address); err != nil {
			return err
		}
		p.Anonymous, p.AgreesToPublic = anon != 0, pub != 0
		c := at[caseID]
		c.Petitioners = append(c.Petitioners, p)
		return nil
	}, `SELECT case_id, name, id_number, phone, address, role, anonymous, agrees_public, key_id
		FROM case_petitioners WHERE case_id IN `+in+` ORDER BY case_id, seq`, args...)
	if err != nil {
		return fmt.Errorf("sqlstore: case petitioners: %w", err)
	}
	err = s.eachRow(ctx, func(sc scanner) error {
		var caseID, u int64
		if err := sc.Scan(&caseID, &u); err != nil {
			return err
		}
		c := at[caseID]
		c.CoUnitIDs = append(c.CoUnitIDs, u)
		return nil
	}, `SELECT case_id, unit_id FROM case_co_units WHERE case_id IN `+in+` ORDER BY case_id, unit_id`, args...)
	if err != nil {
		return fmt.Errorf("sqlstore: case co-handling units: %w", err)
	}
	return s.fillPrivacy(ctx, at, in, args)
}

// fillCase is fillCases of one case.
func (s *Store) fillCase(ctx context.Context, c *casework.Case) error {
	cs := []casework.Case{*c}
	err := s.fillCases(ctx, cs)
	*c = cs[0]
	return err
}

func (s *Store) getCaseWhere(ctx context.Context, where string, arg any, what string) (casework.Case, error) {
	c, err := scanCase(s.q.QueryRowContext(ctx, s.rebind(`SELECT `+caseCols+` FROM cases c WHERE `+where), arg))
	if err != nil {
		return casework.Case{}, notFound(err, what)
	}
	if err := s.fillCase(ctx, &c); err != nil {
		return casework.Case{}, err
	}
	return c, nil
}

// GetCase implements casework.CaseStore.
func (s *Store) GetCase(ctx context.Context, id int64) (casework.Case, error) {
	return s.getCaseWhere(ctx, `c.id = ?`, id, "get case")
}

// GetCaseByNumber implements casework.CaseStore.
func (s *Store) GetCaseByNumber(ctx context.Context, number string) (casework.Case, error) {
	return s.getCaseWhere(ctx, `c.number = ?`, number, "get case by number")
}

// GetCaseByQueryHash implements casework.CaseStore.
func (s *Store) GetCaseByQueryHash(ctx context.Context, hash string) (casework.Case, error) {
	return s.getCaseWhere(ctx, `c.query_hash = ?`, hash, "get case by query code")
}

// ListCases implements casework.CaseStore.
func (s *Store) ListCases(ctx context.Context, f casework.CaseFilter) ([]casework.Case, error) {
	q := `SELECT ` + caseCols + ` FROM cases c JOIN units u ON u.id = c.unit_id WHERE u.path LIKE ?`
	args := []any{prefixPattern(f.UnderPath)}
	if f.Status != "" {
		q += ` AND c.status = ?`
		args = append(args, string(f.Status))
	}
	if f.ResponsibleUnitID != 0 {
		q += ` AND c.responsible_unit_id = ?`
		args = append(args, f.ResponsibleUnitID)
	}
	if f.ResponsibleUnder != "" {
		q += ` AND c.responsible_unit_id IN (SELECT id FROM units WHERE path LIKE ?)`
		args = append(args, prefixPattern(f.ResponsibleUnder))
	}
	if f.OwnerLeaderID != 0 {
		q += ` AND c.owner_leader_id = ?`
		args = append(args, f.OwnerLeaderID)
	}
	if !f.RegisteredFrom.IsZero() {
		q += ` AND c.registered_at >= ?`
		args = append(args, tm(f.RegisteredFrom))
	}
	if !f.RegisteredBefore.IsZero() {
		q += ` AND c.registered_at < ?`
		args = append(args, tm(f.RegisteredBefore))
	}
	if f.BeforeID != 0 {
		q += ` AND c.id < ?`
		args = append(args, f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	q += ` ORDER BY c.id DESC LIMIT ` + strconv.Itoa(limit)
	out, err := collect(ctx, s, scanCase, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list cases: %w", err)
	}
	if err := s.fillCases(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// TransitionCase implements casework.CaseStore.
func (s *Store) TransitionCase(ctx context.Context, ev *casework.CaseEvent) error {
	if err := casework.ValidateTransition(*ev); err != nil {
		return err
	}
	ev.Kind = "status"
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		if ev.At.IsZero() {
			ev.At = tx.now()
		}
		at := tm(ev.At.UTC().Truncate(time.Microsecond))
		set := `status = ?, updated_at = ?`
		args := []any{string(ev.To), at}
		more, moreArgs, err := tx.reviewAndOutcome(ctx, ev)
		if err != nil {
			return err
		}
		set, args = set+more, append(args, moreArgs...)
		switch ev.To {
		case casework.StForwarded, casework.StAssigned:
			set += `, responsible_unit_id = ?`
			args = append(args, ev.ResponsibleUnitID)
		case casework.StAccepted:
			set += `, accepted_at = ?`
			args = append(args, at)
		case casework.StAnswered:
			set += `, result = ?`
			args = append(args, string(ev.Result))
		case casework.StClosed, casework.StNotAccepted:
			set += `, closed_at = ?`
			args = append(args, at)
		}
		args = append(args, ev.CaseID, string(ev.From))
		r, err := tx.exec(ctx, `UPDATE cases SET `+set+` WHERE id = ? AND status = ?`, args...)
		if err != nil {
			return fmt.Errorf("sqlstore: transition case: %w", err)
		}
		if err := mustAffect(r, "transition case"); err != nil {
			var cur string
			if e := tx.q.QueryRowContext(ctx, tx.rebind(`SELECT status FROM cases WHERE id = ?`), ev.CaseID).Scan(&cur); e != nil {
				return notFound(e, "transition case")
			}
			return fmt.Errorf("sqlstore: transition case %d: it is %s now, not %s: %w", ev.CaseID, cur, ev.From, org.ErrConflict)
		}
		if ev.To == casework.StForwarded || ev.To == casework.StAssigned {
			if err := tx.setCoUnits(ctx, ev.CaseID, ev.CoUnitIDs); err != nil {
				return err
			}
		}
		if err := tx.appendCaseEvent(ctx, ev); err != nil {
			return err
		}
		return tx.refreshRates(ctx, ev.CaseID)
	})
}

// lockCase takes the case's row lock for the rest of the transaction (SQLite's write
// transactions are serial already), so checks against its timeline hold until commit.
func (s *Store) lockCase(ctx context.Context, caseID int64, at time.Time) error {
	r, err := s.exec(ctx, `UPDATE cases SET updated_at = ? WHERE id = ?`, tm(at.UTC().Truncate(time.Microsecond)), caseID)
	if err != nil {
		return fmt.Errorf("sqlstore: lock case: %w", err)
	}
	return mustAffect(r, "lock case")
}

// noteEvent appends a timeline note by actor to a locked case.
func (s *Store) noteEvent(ctx context.Context, actor casework.CaseEvent, caseID int64, kind, ref, reason string) error {
	ev := casework.CaseEvent{CaseID: caseID, At: actor.At, ActorID: actor.ActorID, Actor: actor.Actor, UnitID: actor.UnitID,
		Kind: kind, Ref: ref, Reason: reason}
	return s.appendCaseEvent(ctx, &ev)
}

// AddClockEvent implements casework.CaseStore.
func (s *Store) AddClockEvent(ctx context.Context, ev *casework.CaseEvent) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		ev.At = tx.stamp(ev.At)
		if err := tx.lockCase(ctx, ev.CaseID, ev.At); err != nil {
			return err
		}
		c, err := tx.GetCase(ctx, ev.CaseID)
		if err != nil {
			return err
		}
		evs, err := tx.ListCaseEvents(ctx, c.ID)
		if err != nil {
			return err
		}
		if err := casework.CheckClockEvent(c, evs, ev.Kind); err != nil {
			return err
		}
		ev.From, ev.To, ev.ResponsibleUnitID, ev.CoUnitIDs, ev.Result, ev.Days, ev.ApprovedBy, ev.Notice = "", "", 0, nil, "", 0, 0, ""
		return tx.appendCaseEvent(ctx, ev)
	})
}

// SetCaseOwner implements casework.CaseStore.
func (s *Store) SetCaseOwner(ctx context.Context, caseID, leaderID int64, actor casework.CaseEvent) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		actor.At = tx.stamp(actor.At)
		if err := tx.lockCase(ctx, caseID, actor.At); err != nil {
			return err
		}
		c, err := tx.GetCase(ctx, caseID)
		if err != nil {
			return err
		}
		var reason string
		switch {
		case leaderID == 0 && c.OwnerLeaderID == 0:
			return org.Invalid("owner", "sqlstore.owner.none_to_release")
		case leaderID == 0:
			reason = "解除包案"
		case c.OwnerLeaderID == leaderID:
			return nil
		case c.OwnerLeaderID != 0:
			return fmt.Errorf("sqlstore: case %d is owned by leader %d; that leader releases it first: %w", caseID, c.OwnerLeaderID, org.ErrConflict)
		default:
			gs, err := tx.ListGrants(ctx, leaderID)
			if err != nil {
				return err
			}
			leader := false
			for _, g := range gs {
				leader = leader || g.Role == org.RoleLeader
			}
			if !leader {
				return org.Invalid("leader_id", "sqlstore.owner.leader_only")
			}
			u, err := tx.GetUser(ctx, leaderID)
			if err != nil {
				return err
			}
			reason = "领导包案：" + u.DisplayName
		}
		if _, err := tx.exec(ctx, `UPDATE cases SET owner_leader_id = ? WHERE id = ?`, nullID(leaderID), caseID); err != nil {
			return fmt.Errorf("sqlstore: set case owner: %w", err)
		}
		who := leaderID
		if who == 0 {
			who = c.OwnerLeaderID // the one released
		}
		return tx.noteEvent(ctx, actor, caseID, casework.EvOwner, "user:"+strconv.FormatInt(who, 10), reason)
	})
}

// ListCaseEvents implements casework.CaseStore.
func (s *Store) ListCaseEvents(ctx context.Context, caseID int64) ([]casework.CaseEvent, error) {
	out, err := collect(ctx, s, func(sc scanner) (casework.CaseEvent, error) {
		var e casework.CaseEvent
		var at int64
		var from, to, co, result, outcome string
		err := sc.Scan(&e.ID, &e.CaseID, &at, &e.ActorID, &e.Actor, &e.UnitID, &e.Kind, &from, &to, &e.Reason,
			&e.ResponsibleUnitID, &co, &result, &e.Ref, &e.Days, &e.ApprovedBy, &e.Notice, &outcome, &e.Channel)
		e.Outcome = casework.CaseOutcome(outcome)
		e.At, e.From, e.To, e.CoUnitIDs, e.Result = fromTm(at), casework.CaseStatus(from), casework.CaseStatus(to), parseIDList(co), casework.CaseResult(result)
		return e, err
	}, `SELECT id, case_id, at, actor_id, actor, unit_id, kind, from_status,
		to_status, reason, responsible_unit_id, co_units, result, ref, days, approved_by, notice, outcome, channel
		FROM case_events WHERE case_id = ? ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: case events: %w", err)
	}
	return out, nil
}

// AddEvaluation implements casework.CaseStore.
func (s *Store) AddEvaluation(ctx context.Context, e *casework.Evaluation) error {
	return s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		c, err := tx.GetCase(ctx, e.CaseID)
		if err != nil {
			return err
		}
		evs, err := tx.ListCaseEvents(ctx, c.ID)
		if err != nil {
			return err
		}
		if err := casework.CheckEvaluation(c, evs, *e); err != nil {
			return err
		}
		if e.At.IsZero() {
			e.At = tx.now()
		}
		e.At = e.At.UTC().Truncate(time.Microsecond)
		id, err := tx.insertID(ctx, `INSERT INTO case_evaluations (case_id, stage, score, via, at, recorded_by) VALUES (?, ?, ?, ?, ?, ?)`,
			e.CaseID, e.Stage, e.Score, e.Via, tm(e.At), e.RecordedBy)
		if err != nil {
			return fmt.Errorf("sqlstore: add evaluation (once per stage): %w", err)
		}
		e.ID = id
		if casework.RatesAResult(e.Stage) && c.Status == casework.StClosed {
			ev := casework.CaseEvent{CaseID: c.ID, At: e.At, Actor: "petitioner", From: casework.StClosed, To: casework.StEvaluated,
				Reason: "信访人评价：" + e.Score}
			return tx.TransitionCase(ctx, &ev) // which counts the rating with the transition
		}
		return tx.refreshRates(ctx, c.ID)
	})
}

// ListEvaluations implements casework.CaseStore.
func (s *Store) ListEvaluations(ctx context.Context, caseID int64) ([]casework.Evaluation, error) {
	out, err := collect(ctx, s, func(sc scanner) (casework.Evaluation, error) {
		var e casework.Evaluation
		var at int64
		err := sc.Scan(&e.ID, &e.CaseID, &e.Stage, &e.Score, &e.Via, &at, &e.RecordedBy)
		e.At = fromTm(at)
		return e, err
	}, `SELECT id, case_id, stage, score, via, at, recorded_by FROM case_evaluations WHERE case_id = ? ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list evaluations: %w", err)
	}
	return out, nil
}
