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
	fs := newFlagSet("migrate", stderr)
	to := fs.Int("to", int(database.Latest), "target migration version; -1 means the latest, with the code packages")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *to < -1 {
		fmt.Fprintf(stderr, "rowguard migrate: --to must be -1 (latest) or a version ≥ 0, got %d\n", *to)
		return errUsage
	}
	cfg, err := config.LoadMigrate()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if cfg.URL() == "" {
		fmt.Fprintf(stdout, "MIGRATION_DATABASE_URL and DATABASE_URL are unset: migrating the development database in %s\n", cfg.DataDir)
	}
	return withMigrationURL(ctx, cfg, stdout, stderr, func(url string, dev bool) error {
		if err := database.Migrate(ctx, url, int32(*to), stdout); err != nil {
			return err
		}
		if dev && int32(*to) == database.Latest {
			return database.BootstrapLoginRole(ctx, url, database.DevLoginRole)
		}
		return nil
	})
}

// withMigrationURL runs f with the URL of the owner's connection: the configured one,
// or, when none is, the development cluster's (started for f and stopped after it).
func withMigrationURL(ctx context.Context, cfg *config.MigrateConfig, progress, stderr io.Writer, f func(url string, dev bool) error) error {
	if url := cfg.URL(); url != "" {
		return f(url, false)
	}
	cluster, adminURL, err := database.StartDevCluster(ctx, cfg.DataDir, progress)
	if err != nil {
		return err
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintf(stderr, "rowguard: %v\n", err)
		}
	}()
	return f(adminURL, true)
}
