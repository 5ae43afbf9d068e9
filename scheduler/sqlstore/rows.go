package sqlstore

import "context"

// scanner is what *sql.Row and *sql.Rows have in common: the scanX functions read one row from
// either.
type scanner = interface{ Scan(dest ...any) error }

// eachRow runs q and calls fn on each row, in order. The rows are closed when it returns, so the
// caller may query again at once (a transaction has one connection). Errors come back unwrapped:
// the caller names what it was reading.
func (s *Store) eachRow(ctx context.Context, fn func(scanner) error, q string, args ...any) error {
	rows, err := s.q.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// collect runs q and returns its rows read by scan, in order; no rows is a nil slice.
func collect[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	var out []T
	err := s.eachRow(ctx, func(sc scanner) error {
		v, err := scan(sc)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	}, q, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanID reads a row of one integer.
func scanID(sc scanner) (int64, error) {
	var id int64
	err := sc.Scan(&id)
	return id, err
}

// inIDs is the "IN (?, ?, …)" list and the arguments for ids, for loading the children of a page
// of rows in one query. ids is not empty.
func inIDs(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "(" + placeholders(len(ids)) + ")", args
}
