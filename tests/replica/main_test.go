// Package replica tests reads from a hot standby (ROWGUARD_READ_DATABASE_URL) end to end:
// a private primary and a streaming hot standby made from it with pg_basebackup -R
// (internal/pgcluster), both real PostgreSQL, and two API instances (in process, real
// HTTP on loopback) sharing them, as two instances behind a load balancer would. The
// superuser connections are used to pause and resume the standby's replay, to look at
// what each server holds and executed (pg_stat_user_functions), and to stop the standby.
package replica

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/inprocess"
	"github.com/rowguard/rowguard/internal/pgcluster"
	"github.com/rowguard/rowguard/internal/token"
)

// The two instances' replica settings: a short check interval so that a standby coming
// back is used again soon; a replay wait long enough for a busy machine to replay a
// fixture's writes, and a lag limit a paused replay exceeds within a second.
const (
	testMaxLag     = 500 * time.Millisecond
	testReplayWait = 2 * time.Second
	checkInterval  = 20 * time.Millisecond
	dbName         = "rowguard"
)

// pair is the package's fixture: the servers, their pools and the two API instances.
type pair struct {
	primary, standby           *pgcluster.Cluster
	primaryAdmin, standbyAdmin *pgxpool.Pool // superuser, on the rowguard database
	api1, api2                 *inprocess.Server
}

var env *pair

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests/replica:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p := &pair{}
	defer p.close()
	var log strings.Builder
	var err error
	primaryDir, err := clusterDir("primary")
	if err != nil {
		return 0, err
	}
	if p.primary, err = pgcluster.Start(ctx, pgcluster.Options{Dir: primaryDir, Log: &log, Ephemeral: true}); err != nil {
		return 0, fmt.Errorf("%w\n%s", err, log.String())
	}
	adminURL, err := database.PrepareScratch(ctx, p.primary, dbName)
	if err != nil {
		return 0, err
	}
	if p.primaryAdmin, err = pgxpool.New(ctx, adminURL); err != nil {
		return 0, err
	}
	// Function call counts (pg_stat_user_functions) show which server ran what.
	for _, sql := range []string{`alter system set track_functions = 'all'`, `select pg_reload_conf()`} {
		if _, err := p.primaryAdmin.Exec(ctx, sql); err != nil {
			return 0, err
		}
	}
	standbyDir, err := clusterDir("standby")
	if err != nil {
		return 0, err
	}
	if p.standby, err = pgcluster.StartStandby(ctx, p.primary, pgcluster.StandbyOptions{
		Dir: standbyDir, Log: &log, Ephemeral: true,
		Settings: map[string]string{"hot_standby_feedback": "on", "track_functions": "all"},
	}); err != nil {
		return 0, fmt.Errorf("%w\n%s", err, log.String())
	}
	if p.standbyAdmin, err = pgxpool.New(ctx, p.standby.URL(dbName, pgcluster.Superuser)); err != nil {
		return 0, err
	}

	key, err := token.GenerateKey()
	if err != nil {
		return 0, err
	}
	tokens, err := token.NewAuthority(key, "", "rowguard", "rowguard-api", time.Hour, -1)
	if err != nil {
		return 0, err
	}
	// Two instances, each with its own pools, as two processes would have.
	start := func() (*inprocess.Server, error) {
		primary, err := database.Open(ctx, p.primary.URL(dbName, database.DevLoginRole))
		if err != nil {
			return nil, err
		}
		replica, err := database.OpenReplica(ctx, p.standby.URL(dbName, database.DevLoginRole))
		if err != nil {
			return nil, err
		}
		return inprocess.Start(api.Options{
			Pool: primary, Tokens: tokens, Logger: slog.New(slog.DiscardHandler), MetricsOnAPIPort: true,
			Replica: api.ReplicaOptions{Pool: replica, MaxLag: testMaxLag, ReplayWait: testReplayWait, CheckInterval: checkInterval},
		}, 8)
	}
	if p.api1, err = start(); err != nil {
		return 0, err
	}
	if p.api2, err = start(); err != nil {
		return 0, err
	}
	env = p
	return m.Run(), nil
}

// clusterDir is a fresh directory for one cluster, named and marked (owner.pid) so that
// testdb's sweep of orphans stops and removes it if this binary is killed.
func clusterDir(role string) (string, error) {
	dir, err := os.MkdirTemp(pgcluster.ScratchDir(), "rowguard-test-replica-"+role+"-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644)
}

func (p *pair) close() {
	for _, s := range []*inprocess.Server{p.api1, p.api2} {
		if s != nil {
			s.Close()
		}
	}
	for _, pool := range []*pgxpool.Pool{p.primaryAdmin, p.standbyAdmin} {
		if pool != nil {
			pool.Close()
		}
	}
	for _, c := range []*pgcluster.Cluster{p.standby, p.primary} { // the standby first
		if c != nil {
			_ = c.Stop()
			_ = os.RemoveAll(c.Dir())
		}
	}
}
