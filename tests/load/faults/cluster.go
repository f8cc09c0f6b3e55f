package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/pgcluster"
)

// faultDatabase is the database of the private cluster the faults are done to.
const faultDatabase = "rowguard_faults"

// cluster is a private PostgreSQL cluster this harness may stop and start at will.
type cluster struct {
	dir string
	pg  *pgcluster.Cluster
	log io.Writer
}

// startCluster creates a private ephemeral cluster, migrates faultDatabase and
// creates the serving login role.
func startCluster(ctx context.Context, log io.Writer) (*cluster, error) {
	dir, err := os.MkdirTemp(pgcluster.ScratchDir(), "rowguard-faults-")
	if err != nil {
		return nil, err
	}
	// When we are root the server runs as postgres, which must reach dir.
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, log: log}
	if c.pg, err = pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Log: log, Ephemeral: true}); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := c.pg.CreateDatabase(ctx, faultDatabase); err != nil {
		c.close()
		return nil, err
	}
	if err := database.Migrate(ctx, c.adminURL(), database.Latest, nil); err != nil {
		c.close()
		return nil, err
	}
	if err := database.BootstrapLoginRole(ctx, c.adminURL(), database.DevLoginRole); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *cluster) adminURL() string { return c.pg.URL(faultDatabase, pgcluster.Superuser) }
func (c *cluster) appURL() string   { return c.pg.URL(faultDatabase, database.DevLoginRole) }

// restart stops the server (fast shutdown: every backend is terminated, clients see
// their connections close) and, after down, starts it again on the same data.
func (c *cluster) stop() error { return c.pg.Stop() }

func (c *cluster) start(ctx context.Context) error {
	pg, err := pgcluster.Start(ctx, pgcluster.Options{Dir: c.dir, Log: c.log, Ephemeral: true})
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	c.pg = pg
	return nil
}

func (c *cluster) close() {
	_ = c.pg.Stop()
	_ = os.RemoveAll(c.dir)
}
