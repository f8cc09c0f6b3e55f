package database

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowguard/rowguard/internal/pgcluster"
)

// DevLoginRole is the serving role of development and test databases.
const DevLoginRole = "rowguard_app"

// DevDatabaseName is the database of the development cluster.
const DevDatabaseName = "rowguard"

// DefaultDevDir is where DevDatabase keeps its cluster when no directory is given.
const DefaultDevDir = ".rowguard"

// BootstrapLoginRole makes role a login role fit to serve, for development and tests
// only (production roles, with passwords, are a DBA's business): it creates it when
// missing as LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB INHERIT IN ROLE
// rowguard_api, or brings an existing role back to those attributes. Idempotent. Call
// it after Migrate (migration 001 creates rowguard_api). adminURL must be a superuser
// or a role with CREATEROLE and admin option on rowguard_api.
func BootstrapLoginRole(ctx context.Context, adminURL, role string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("database: bootstrap role %s: connect: %w", role, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return bootstrapLoginRole(ctx, conn, role)
}

func bootstrapLoginRole(ctx context.Context, conn *pgx.Conn, role string) error {
	ident := pgx.Identifier{role}.Sanitize()
	const attrs = "login nosuperuser nobypassrls nocreaterole nocreatedb inherit"
	var exists bool
	if err := conn.QueryRow(ctx, "select exists(select from pg_catalog.pg_roles where rolname = $1)", role).Scan(&exists); err != nil {
		return fmt.Errorf("database: bootstrap role %s: %w", role, err)
	}
	if !exists {
		_, err := conn.Exec(ctx, "create role "+ident+" "+attrs+" in role rowguard_api")
		if err == nil {
			return nil
		}
		// duplicate_object: created concurrently; bring it to the attributes below.
		if pgErr := (*pgconn.PgError)(nil); !errors.As(err, &pgErr) || pgErr.Code != "42710" {
			return fmt.Errorf("database: create role %s: %w", role, err)
		}
	}
	var member bool
	if err := conn.QueryRow(ctx, "select pg_catalog.pg_has_role($1::text::name, 'rowguard_api', 'USAGE')", role).Scan(&member); err != nil {
		return fmt.Errorf("database: bootstrap role %s: %w", role, err)
	}
	batch := []string{"alter role " + ident + " " + attrs}
	if !member {
		batch = append(batch, "grant rowguard_api to "+ident)
	}
	for _, sql := range batch {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("database: bootstrap role %s: %s: %w", role, sql, err)
		}
	}
	return nil
}

// DevDatabase starts (or reuses) the private development cluster in dir/postgres (dir
// is DefaultDevDir when empty), creates the database "rowguard", migrates it to the
// latest version as the superuser and bootstraps the login role rowguard_app. It
// returns the URL the server should use (rowguard_app over the cluster's Unix socket)
// and the cluster, which the caller stops when done. Progress lines go to log.
func DevDatabase(ctx context.Context, dir string, log io.Writer) (appURL string, cluster *pgcluster.Cluster, err error) {
	cluster, adminURL, err := StartDevCluster(ctx, dir, log)
	if err != nil {
		return "", nil, err
	}
	defer func() {
		if err != nil {
			stopQuietly(cluster)
			cluster = nil
		}
	}()
	if err := Migrate(ctx, adminURL, Latest, log); err != nil {
		return "", nil, err
	}
	if err := BootstrapLoginRole(ctx, adminURL, DevLoginRole); err != nil {
		return "", nil, err
	}
	return cluster.URL(DevDatabaseName, DevLoginRole), cluster, nil
}

// PrepareScratch readies database name on a throw-away cluster (benchmarks, tests):
// creates it unless it exists, migrates it to the latest version as the superuser and
// bootstraps the login role rowguard_app. It returns the database's superuser URL.
func PrepareScratch(ctx context.Context, cluster *pgcluster.Cluster, name string) (adminURL string, err error) {
	if err := cluster.CreateDatabase(ctx, name); err != nil {
		return "", err
	}
	adminURL = cluster.URL(name, pgcluster.Superuser)
	if err := Migrate(ctx, adminURL, Latest, nil); err != nil {
		return "", err
	}
	return adminURL, BootstrapLoginRole(ctx, adminURL, DevLoginRole)
}

// StartDevCluster starts (or reuses) the development cluster in dir/postgres and
// creates the database "rowguard" when missing, without migrating it. It returns the
// cluster and the superuser URL of that database.
func StartDevCluster(ctx context.Context, dir string, log io.Writer) (cluster *pgcluster.Cluster, adminURL string, err error) {
	if dir == "" {
		dir = DefaultDevDir
	}
	if log == nil {
		log = io.Discard
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("database: %w", err)
	}
	if os.Geteuid() == 0 {
		// As root the server runs as the postgres user, which must pass through dir:
		// allow search (x) for others, not listing.
		if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(dir, fi.Mode().Perm()|0o011); err != nil {
				return nil, "", fmt.Errorf("database: %w", err)
			}
		}
	}
	// The cluster lives in its own subdirectory: when we are root, the server runs as
	// the postgres user, which then owns that directory but nothing else in dir (the
	// development signing key stays private).
	cluster, err = pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(dir, "postgres"), Log: log})
	if err != nil {
		return nil, "", err
	}
	if err := cluster.CreateDatabase(ctx, DevDatabaseName); err != nil {
		stopQuietly(cluster)
		return nil, "", err
	}
	return cluster, cluster.URL(DevDatabaseName, pgcluster.Superuser), nil
}

func stopQuietly(c *pgcluster.Cluster) {
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "database: stopping the development cluster: %v\n", err)
	}
}
