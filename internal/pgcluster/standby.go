package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"strconv"
)

// StandbyOptions configures StartStandby.
type StandbyOptions struct {
	// Dir holds the standby as Options.Dir holds a cluster. Required; must not hold a
	// data directory yet.
	Dir string
	// Log receives progress messages; nil discards them.
	Log io.Writer
	// Ephemeral: as Options.Ephemeral (test clusters only).
	Ephemeral bool
	// Settings are the standby's own server settings, over the primary's
	// Options.Settings (e.g. hot_standby_feedback or track_functions).
	Settings map[string]string
}

// StartStandby makes a streaming hot standby of primary in opts.Dir and starts it: a
// base backup taken with pg_basebackup -R (which writes standby.signal and
// primary_conninfo, the primary's Unix socket as its superuser), WAL streamed during the
// backup, so the standby is consistent as soon as it starts and then follows the
// primary. The primary's defaults allow it (wal_level replica, max_wal_senders 10, the
// local replication line initdb writes in pg_hba.conf). Stop the standby before the
// primary.
func StartStandby(ctx context.Context, primary *Cluster, opts StandbyOptions) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("pgcluster: StandbyOptions.Dir is required")
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	dir, err := makeDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	settings := make(map[string]string, len(primary.settings)+len(opts.Settings))
	maps.Copy(settings, primary.settings)
	maps.Copy(settings, opts.Settings)
	c := &Cluster{install: primary.install, dir: dir, dataDir: filepath.Join(dir, "data"), runAs: primary.runAs, log: logw, settings: settings}
	if c.runAs != nil {
		if err := c.prepareForPostgresUser(); err != nil {
			return nil, err
		}
	}
	if fileExists(filepath.Join(c.dataDir, "PG_VERSION")) {
		return nil, fmt.Errorf("pgcluster: %s already holds a data directory", c.dataDir)
	}
	if err := c.mkdirOwned(c.dataDir); err != nil {
		return nil, err
	}
	fmt.Fprintf(logw, "pgcluster: base backup of %s into %s\n", primary.dataDir, c.dataDir)
	args := []string{"-D", c.dataDir, "-R", "-X", "stream", "-c", "fast",
		"-h", primary.socketDir, "-p", strconv.Itoa(primary.port), "-U", Superuser}
	if opts.Ephemeral {
		args = append(args, "--no-sync")
	}
	if out, err := c.run(ctx, "pg_basebackup", args...); err != nil {
		return nil, fmt.Errorf("pgcluster: pg_basebackup: %w\n%s", err, tail(out, 3000))
	}
	if c.socketDir, err = c.prepareSocketDir(); err != nil {
		return nil, err
	}
	c.port = socketPort
	if err := c.start(ctx, opts.Ephemeral); err != nil {
		return nil, err
	}
	c.started = true
	return c, nil
}

// Shutdown stops the server (pg_ctl stop -m fast) and keeps the cluster, for a test of
// what its clients do while it is away; Restart starts it again. Stop still cleans up.
func (c *Cluster) Shutdown(ctx context.Context) error { return c.stop(ctx, "fast") }

// Restart starts a server that Shutdown stopped.
func (c *Cluster) Restart(ctx context.Context) error { return c.start(ctx, false) }
