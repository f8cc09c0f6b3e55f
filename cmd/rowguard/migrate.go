package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/rowguard/rowguard/internal/config"
	"github.com/rowguard/rowguard/internal/database"
)

func migrateCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "migrate [--to N]", stderr)
	to := fs.Int("to", int(database.Latest), "target migration version; -1 means the latest, with the code packages")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *to < -1 {
		fmt.Fprintf(stderr, "rowguard migrate: --to must be -1 (latest) or a version ≥ 0, got %d\n", *to)
		return errUsage
	}
	return withAdminDatabase(stdout, stderr, "migrating", func(ctx context.Context, url string, dev bool) error {
		if err := database.Migrate(ctx, url, int32(*to), stdout); err != nil {
			return err
		}
		if dev && int32(*to) == database.Latest {
			return database.BootstrapLoginRole(ctx, url, database.DevLoginRole)
		}
		return nil
	})
}

// withAdminDatabase runs fn on the database that migrate and policies work on:
// MIGRATION_DATABASE_URL, else DATABASE_URL, else the development cluster (started for
// fn and stopped after; dev is then true). doing says what for, in the notice.
func withAdminDatabase(stdout, stderr io.Writer, doing string, fn func(ctx context.Context, url string, dev bool) error) error {
	cfg, err := config.LoadMigrate()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if url := cfg.URL(); url != "" {
		return fn(ctx, url, false)
	}
	fmt.Fprintf(stderr, "MIGRATION_DATABASE_URL and DATABASE_URL are unset: %s the development database in %s\n", doing, cfg.DataDir)
	cluster, adminURL, err := database.StartDevCluster(ctx, cfg.DataDir, stdout)
	if err != nil {
		return err
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintf(stderr, "rowguard: %v\n", err)
		}
	}()
	return fn(ctx, adminURL, true)
}
