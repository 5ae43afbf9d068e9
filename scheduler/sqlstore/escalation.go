package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"sanji/scheduler"
	"sanji/scheduler/casework"
	"sanji/scheduler/org"
)

// climb moves a locked open item one rung up the ladder and one level up the tree (the office
// above its current one; the root stays), with feedback date deadline; overdue counts a missed
// feedback date and notes it as such. Both the supervisor's escalation and the clock job's go
// through here.
func (s *Store) climb(ctx context.Context, sv casework.Supervision, deadline time.Time, overdue bool, actor casework.CaseEvent) (casework.Supervision, error) {
	cur := sv.Escalation
	next := casework.NextEscalation(cur)
	if next == cur {
		return sv, org.Invalid("escalation", "sqlstore.supervision.top_level")
	}
	level := casework.SupLevelRoutine
	if next == "listed" {
		level = casework.SupLevelListed
	}
	from := sv.EscalatedUnitID
	if from == 0 {
		from = sv.UnitID
	}
	office := from
	u, err := s.GetUnit(ctx, from)
	if err != nil {
		return sv, fmt.Errorf("sqlstore: escalate supervision %d: %w", sv.ID, err)
	}
	if u.ParentID != 0 {
		office = u.ParentID
	}
	missed := 0
	if overdue {
		missed = 1
	}
	if _, err := s.exec(ctx, `UPDATE supervisions SET escalation = ?, level = ?, escalated_unit_id = ?, deadline = ?,
		overdue_escalations = overdue_escalations + ? WHERE id = ?`, next, level, office, tm(deadline), missed, sv.ID); err != nil {
		return sv, fmt.Errorf("sqlstore: escalate supervision: %w", err)
	}
	kind, reason := casework.EvSupervision, "督办升级："+cur+" → "+next
	if overdue {
		kind = casework.EvSupervisionOverdue
		reason = "督办逾期未反馈（反馈期限 " + sv.Deadline.Format("2006-01-02") + "），自动升级：" + cur + " → " + next +
			"，新反馈期限 " + deadline.Format("2006-01-02")
	}
	if o, err := s.GetUnit(ctx, office); err == nil {
		reason += "，报 " + o.Name
	}
	sv.Escalation, sv.Level, sv.EscalatedUnitID, sv.Deadline, sv.Overdue = next, level, office, deadline, sv.Overdue+missed
	return sv, s.noteEvent(ctx, actor, sv.CaseID, kind, supervisionRef(sv.ID), reason)
}

// EscalateOverdueSupervision implements casework.EscalationStore.
func (s *Store) EscalateOverdueSupervision(ctx context.Context, id int64, from string, deadline time.Time, actor casework.CaseEvent) (casework.Supervision, error) {
	var out casework.Supervision
	err := s.InTx(ctx, func(txs scheduler.Store) error {
		tx := txs.(*Store)
		actor.At = tx.stamp(actor.At)
		sv, err := tx.lockSupervision(ctx, id, actor.At)
		if err != nil {
			return err
		}
		// Checked under the case's lock: a second run (or node) finds the rung moved on.
		if sv.Escalation != from || !casework.FeedbackMissed(sv, actor.At) {
			return fmt.Errorf("sqlstore: supervision %d is not overdue at rung %s: %w", id, from, org.ErrConflict)
		}
		out, err = tx.climb(ctx, sv, deadline, true, actor)
		return err
	})
	return out, err
}

// ListSupervisionsWhere implements casework.EscalationStore.
func (s *Store) ListSupervisionsWhere(ctx context.Context, f casework.SupervisionFilter) ([]casework.Supervision, error) {
	q := `SELECT ` + prefixCols("s.", supervisionCols) + ` FROM supervisions s`
	var where []string
	var args []any
	if f.OfficeUnder != "" {
		q += ` JOIN units o ON o.id = s.escalated_unit_id`
		where, args = append(where, `o.path LIKE ?`), append(args, f.OfficeUnder+"%")
	}
	if f.UnitUnder != "" {
		q += ` JOIN units u ON u.id = s.unit_id`
		where, args = append(where, `u.path LIKE ?`), append(args, f.UnitUnder+"%")
	}
	if f.OpenOnly {
		where = append(where, `s.closed_at = 0`)
	}
	where, args = append(where, `s.id > ?`), append(args, f.AfterID)
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	q += ` WHERE ` + strings.Join(where, ` AND `) + fmt.Sprintf(` ORDER BY s.id LIMIT %d`, limit)
	out, err := collect(ctx, s, scanSupervision, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list supervisions: %w", err)
	}
	return out, nil
}

// prefixCols qualifies each column of a column list with a table alias.
func prefixCols(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}
