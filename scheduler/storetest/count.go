package storetest

import (
	"context"
	"database/sql/driver"
	"sync/atomic"
)

// StatementCounter counts the statements (queries and execs; not BEGIN, COMMIT or ROLLBACK) a
// store sends through a connector made by CountStatements. A statement prepared once and run
// several times counts once: the stores here do not prepare.
type StatementCounter struct{ n atomic.Int64 }

// Count is the number of statements so far.
func (c *StatementCounter) Count() int64 { return c.n.Load() }

// CountStatements wraps a driver's connector so that c counts the statements of every
// connection it opens: open the store's *sql.DB with sql.OpenDB(wrapped).
func CountStatements(inner driver.Connector) (wrapped driver.Connector, c *StatementCounter) {
	c = &StatementCounter{}
	return countingConnector{inner, c}, c
}

type countingConnector struct {
	inner driver.Connector
	c     *StatementCounter
}

func (k countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := k.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{conn, k.c}, nil
}

func (k countingConnector) Driver() driver.Driver { return k.inner.Driver() }

// countingConn forwards every optional interface of the driver's connection, so that
// database/sql takes the same paths as without it.
type countingConn struct {
	inner driver.Conn
	c     *StatementCounter
}

var (
	_ driver.ConnBeginTx        = (*countingConn)(nil)
	_ driver.ConnPrepareContext = (*countingConn)(nil)
	_ driver.ExecerContext      = (*countingConn)(nil)
	_ driver.QueryerContext     = (*countingConn)(nil)
	_ driver.Pinger             = (*countingConn)(nil)
	_ driver.SessionResetter    = (*countingConn)(nil)
	_ driver.Validator          = (*countingConn)(nil)
	_ driver.NamedValueChecker  = (*countingConn)(nil)
)

// Unwrap is the driver's own connection (modernc.org/sqlite looks through wrappers with it).
func (w *countingConn) Unwrap() driver.Conn { return w.inner }

func (w *countingConn) Prepare(query string) (driver.Stmt, error) {
	w.c.n.Add(1)
	return w.inner.Prepare(query)
}

func (w *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	w.c.n.Add(1)
	if p, ok := w.inner.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return w.inner.Prepare(query)
}

func (w *countingConn) Close() error { return w.inner.Close() }

func (w *countingConn) Begin() (driver.Tx, error) { return w.inner.Begin() }

func (w *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := w.inner.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return w.inner.Begin()
}

// ExecContext and QueryContext count what the driver runs itself; without its own, the
// driver.ErrSkip sends database/sql to PrepareContext, which counts instead.
func (w *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := w.inner.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	r, err := e.ExecContext(ctx, query, args)
	if err != driver.ErrSkip {
		w.c.n.Add(1)
	}
	return r, err
}

func (w *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := w.inner.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	r, err := q.QueryContext(ctx, query, args)
	if err != driver.ErrSkip {
		w.c.n.Add(1)
	}
	return r, err
}

func (w *countingConn) Ping(ctx context.Context) error {
	if p, ok := w.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (w *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := w.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (w *countingConn) IsValid() bool {
	if v, ok := w.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (w *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := w.inner.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
