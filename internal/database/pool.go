package database

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Open returns a connection pool for the serving role and checks that it connects.
//
// Pool settings given in the URL (pool_max_conns, pool_min_conns,
// pool_max_conn_lifetime, pool_max_conn_idle_time, pool_health_check_period) win over
// the defaults chosen here.
//
// Statements use pgx's default mode (prepared and cached per connection), which is
// the fastest against PostgreSQL directly and behind PgBouncer 1.21+ in transaction
// mode (max_prepared_statements > 0). PgBouncer 1.18 (Debian 12) in transaction mode
// breaks protocol-level prepared statements: there, add
// default_query_exec_mode=exec (or simple_protocol) to DATABASE_URL, e.g.
//
//	postgres://rowguard_app:…@pgbouncer:6432/rowguard?default_query_exec_mode=exec
//
// Request state is only ever set with set_config(…, true) (transaction-local), so
// pooled connections carry nothing from one request to the next, even behind PgBouncer.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := poolConfig(url, "DATABASE_URL")
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database: connect to %s: %w", redact(url), err)
	}
	return pool, nil
}

// poolConfig is the pool configuration of url (named variable in messages), with the
// defaults Open documents.
func poolConfig(url, variable string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database: parse %s: %w", variable, err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = int32(max(8, 4*runtime.GOMAXPROCS(0)))
	}
	if !strings.Contains(url, "pool_max_conn_lifetime") {
		cfg.MaxConnLifetime = time.Hour
		cfg.MaxConnLifetimeJitter = 5 * time.Minute
	}
	if !strings.Contains(url, "pool_max_conn_idle_time") {
		cfg.MaxConnIdleTime = 15 * time.Minute
	}
	if !strings.Contains(url, "pool_health_check_period") {
		cfg.HealthCheckPeriod = 30 * time.Second
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "rowguard"
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	return cfg, nil
}

// redact hides the password of a connection string for messages.
func redact(url string) string {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return "the database"
	}
	c := cfg.ConnConfig
	return fmt.Sprintf("database %q as %q on %s:%d", c.Database, c.User, c.Host, c.Port)
}
