package postgres

import (
	"fmt"

	"github.com/jackc/pgx/v5"
)

func pgxConfig(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN, password included: do not pass it on.
		return nil, fmt.Errorf("store.dsn 不是有效的 PostgreSQL 连接串，例如 postgres://user:pass@host:5432/sanji / store.dsn is not a valid PostgreSQL connection string, e.g. postgres://user:pass@host:5432/sanji")
	}
	return cfg, nil
}
