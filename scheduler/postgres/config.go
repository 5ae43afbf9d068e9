package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5"

	"sanji/i18n"
)

func pgxConfig(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN, password included: do not pass it on.
		return nil, errors.New(i18n.T("postgres.dsn_invalid").String())
	}
	return cfg, nil
}
