package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/config"
	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/pgcluster"
)

// backend is what `serve` builds from its configuration before it listens, and what
// `seed-demo` builds the same way to drive the API in process: the database, the
// serving role's pool (checked) and the complete API options.
type backend struct {
	dbURL   string             // the serving role's URL (the development cluster's in dev mode)
	pool    *pgxpool.Pool      // as the serving role, checked by database.CheckServingRole
	replica *pgxpool.Pool      // ROWGUARD_READ_DATABASE_URL's, nil without one
	opts    api.Options        // complete: api.NewServer(opts) is the API `serve` serves
	cluster *pgcluster.Cluster // development mode only
	logger  *slog.Logger
	stdout  io.Writer
}

// openBackend connects like `rowguard serve`: to DATABASE_URL or, when it is unset, to
// the development cluster in ROWGUARD_DATA_DIR (started unless already running,
// migrated, its login role rowguard_app bootstrapped). It refuses a serving role that
// could bypass row-level security. The token authority and the API options come from
// cfg (checked first, so a bad setting fails before any database is started). Close
// the backend when done.
func openBackend(ctx context.Context, cfg *config.ServeConfig, logger *slog.Logger, stdout io.Writer) (_ *backend, err error) {
	tokens, err := newAuthority(cfg)
	if err != nil {
		return nil, err
	}
	opts, err := serverOptions(cfg)
	if err != nil {
		return nil, err
	}
	b := &backend{dbURL: cfg.DatabaseURL, logger: logger, stdout: stdout}
	defer func() {
		if err != nil { // whatever was opened so far
			b.close()
		}
	}()
	if cfg.DevMode() {
		fmt.Fprintf(stdout, "DATABASE_URL is unset: development mode, database in %s\n", cfg.DataDir)
		url, cluster, err := database.DevDatabase(ctx, cfg.DataDir, stdout)
		if err != nil {
			return nil, err
		}
		b.dbURL, b.cluster = url, cluster
	}
	if b.pool, err = database.Open(ctx, b.dbURL); err != nil {
		return nil, err
	}
	if err := database.CheckServingRole(ctx, b.pool); err != nil {
		return nil, err
	}
	if cfg.ReadDatabaseURL != "" {
		if b.replica, err = database.OpenReplica(ctx, cfg.ReadDatabaseURL); err != nil {
			return nil, err
		}
		opts.Replica = api.ReplicaOptions{Pool: b.replica, MaxLag: cfg.ReadMaxLag, ReplayWait: noneIfZero(cfg.ReadReplayWait)}
	}
	opts.Pool, opts.Tokens, opts.Logger = b.pool, tokens, logger
	b.opts = opts
	return b, nil
}

// close closes the pool, then stops the development cluster if this process started it.
func (b *backend) close() {
	if b.replica != nil {
		b.replica.Close()
	}
	if b.pool != nil {
		b.pool.Close()
	}
	if b.cluster != nil {
		if b.cluster.Started() {
			fmt.Fprintln(b.stdout, "stopping the development database")
		}
		if err := b.cluster.Stop(); err != nil {
			b.logger.Error("stop the development database", "err", err)
		}
	}
}
