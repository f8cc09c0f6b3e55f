// Package database connects rowguard to PostgreSQL: it applies the embedded migrations
// and code packages (tern), opens the connection pool, refuses a serving role that
// could bypass row-level security, and bootstraps a private development database.
package database

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/tern/v2/migrate"

	"github.com/rowguard/rowguard"
)

// VersionTable is tern's version table; a DBA's tern.conf names the same one.
const VersionTable = "public.schema_version"

// Latest asks Migrate for the newest migration plus the code packages.
const Latest int32 = -1

// codePackage is a tern code package installed after the migrations, in this order.
type codePackage struct {
	name string // as a DBA would name it: the folder in the repository
	fsys func() fs.FS
}

var codePackages = []codePackage{
	{"sql/kernel", rowguard.KernelCode}, // the kernel functions and triggers first...
	{"sql/api", rowguard.APICode},       // ...then the functions the HTTP layer calls...
	{"policies", rowguard.Policies},     // ...then RLS, policies and the grants on them
}

// Migrate brings the database at url to migration target (Latest for the newest).
//
// At Latest it then installs the code packages sql/kernel, sql/api and policies, which
// (re)create what they own: running Migrate again is harmless. Below Latest it first
// removes the code packages (the api schema, every policy, every kernel function and
// trigger: they are written against the newest tables) and installs none: such a
// database serves no requests until it is migrated forward again.
//
// Progress lines go to log (nil discards them). The URL must be a role that may run
// the migrations: a superuser, or a role with CREATEROLE and CREATE on the database
// the first time (migration 001 creates the cluster-wide roles).
func Migrate(ctx context.Context, url string, target int32, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	m, err := migrate.NewMigrator(ctx, conn, VersionTable)
	if err != nil {
		return fmt.Errorf("migrate: version table %s: %w", VersionTable, err)
	}
	if err := m.LoadMigrations(rowguard.Migrations()); err != nil {
		return fmt.Errorf("migrate: load sql/migrations: %w", err)
	}
	latest := int32(len(m.Migrations))
	if target == Latest {
		target = latest
	}
	if target < 0 || target > latest {
		return fmt.Errorf("migrate: target %d is outside 0..%d (the migrations this binary carries)", target, latest)
	}
	current, err := m.GetCurrentVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate: read %s: %w", VersionTable, err)
	}
	if current > latest {
		return fmt.Errorf("migrate: the database is at version %d but this binary only knows migrations up to %d: it is older than the database; use a newer rowguard", current, latest)
	}
	m.OnStart = func(seq int32, name, direction, _ string) {
		fmt.Fprintf(log, "migrate: %s %03d %s\n", direction, seq, name)
	}

	if target < latest {
		// The code packages are written against the newest tables: remove them before
		// the tables change under them. The down migrations hold tables and data only;
		// the kernel of an older version is installed by that version's binary.
		if _, err := conn.Exec(ctx, "drop schema if exists api cascade"); err != nil {
			return fmt.Errorf("migrate: drop the api code package: %w", describe("", err))
		}
		if _, err := conn.Exec(ctx, rowguard.KernelUninstall()); err != nil {
			return fmt.Errorf("migrate: remove the kernel code package: %w", describe("", err))
		}
		if err := m.MigrateTo(ctx, target); err != nil {
			return fmt.Errorf("migrate: %w", describe("", err))
		}
		fmt.Fprintf(log, "migrate: at version %d of %d; code packages (sql/kernel, sql/api, policies) are installed only at the latest version: run migrate without --to before serving\n", target, latest)
		return nil
	}

	if err := m.MigrateTo(ctx, target); err != nil {
		return fmt.Errorf("migrate: %w", describe("", err))
	}
	for _, p := range codePackages {
		fmt.Fprintf(log, "migrate: install code package %s\n", p.name)
		pkg, err := migrate.LoadCodePackage(p.fsys())
		if err != nil {
			return fmt.Errorf("migrate: load code package %s: %w", p.name, err)
		}
		if err := migrate.InstallCodePackage(ctx, conn, map[string]any{}, pkg); err != nil {
			return fmt.Errorf("migrate: %w", describe("code package "+p.name, err))
		}
	}
	fmt.Fprintf(log, "migrate: at version %d (latest), code packages installed\n", target)
	return nil
}

// MigrationError is a PostgreSQL error raised by a migration or a code package, with
// the place in the SQL where it happened.
type MigrationError struct {
	Name   string // "002_identity_and_tenancy.sql" or "code package policies"
	Line   int    // 1-based line in Source, 0 when unknown
	Column int
	Text   string // the offending line
	Source string // what Line counts in: "the migration", "the evaluated install.sql", "the function body"
	Err    *pgconn.PgError
}

func (e *MigrationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: %s (SQLSTATE %s)", e.Name, e.Err.Severity, e.Err.Message, e.Err.Code)
	if e.Line > 0 {
		fmt.Fprintf(&b, "\n  at line %d, column %d of %s: %s", e.Line, e.Column, e.Source, e.Text)
	}
	if e.Err.Detail != "" {
		fmt.Fprintf(&b, "\n  detail: %s", e.Err.Detail)
	}
	if e.Err.Hint != "" {
		fmt.Fprintf(&b, "\n  hint: %s", e.Err.Hint)
	}
	if e.Err.Where != "" {
		fmt.Fprintf(&b, "\n  where: %s", e.Err.Where)
	}
	return b.String()
}

func (e *MigrationError) Unwrap() error { return e.Err }

// describe turns tern's MigrationPgError into a MigrationError naming the migration
// and the line; other errors are returned unchanged.
func describe(name string, err error) error {
	var mErr migrate.MigrationPgError
	if !errors.As(err, &mErr) || mErr.PgError == nil {
		return err
	}
	if mErr.MigrationName != "" {
		name = mErr.MigrationName
	}
	out := &MigrationError{Name: name, Err: mErr.PgError, Source: "the migration"}
	if strings.HasPrefix(name, "code package ") {
		out.Source = "the evaluated install.sql"
	}
	if mErr.Position > 0 {
		if ele, err := migrate.ExtractErrorLine(mErr.Sql, int(mErr.Position)); err == nil {
			out.Line, out.Column, out.Text = ele.LineNum, ele.ColumnNum, ele.Text
		}
	} else if mErr.InternalPosition > 0 && mErr.InternalQuery != "" {
		// The error is inside a function body or DO block: point into that text.
		if ele, err := migrate.ExtractErrorLine(mErr.InternalQuery, int(mErr.InternalPosition)); err == nil {
			out.Line, out.Column, out.Text = ele.LineNum, ele.ColumnNum, ele.Text
			out.Source = "the function body or DO block"
		}
	}
	return out
}
