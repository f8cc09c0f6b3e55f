package database

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenReplica returns a connection pool on a read replica (ROWGUARD_READ_DATABASE_URL):
// a hot standby of the primary, logged in as the serving role. A standby that is down
// does not stop the server (the primary answers its reads until it is back), so the
// pool connects lazily; when it can connect now, the role is checked at once and an
// unsafe one (CheckServingRole) is refused. Every connection it opens later is checked
// too, before it serves a request. Connecting gives up after 2 s unless the URL says
// otherwise (connect_timeout): a request then falls back to the primary quickly.
func OpenReplica(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := poolConfig(url, "ROWGUARD_READ_DATABASE_URL")
	if err != nil {
		return nil, err
	}
	if !strings.Contains(url, "connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	}
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		return CheckServingRole(ctx, conn)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		var unsafe *UnsafeRoleError
		if errors.As(err, &unsafe) {
			pool.Close()
			return nil, fmt.Errorf("ROWGUARD_READ_DATABASE_URL: %w", unsafe)
		}
		// Down for now: the pool keeps trying as requests want it.
	}
	return pool, nil
}
