package database

import (
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/tern/v2/migrate"
)

// DescribeForTest exposes describe to the external test package.
func DescribeForTest(name, sql string, pgErr *pgconn.PgError) error {
	return describe("", migrate.MigrationPgError{MigrationName: name, Sql: sql, PgError: pgErr})
}
