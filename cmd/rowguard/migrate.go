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
	cfg, err := config.LoadMigrate()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	url := cfg.URL()
	if url == "" {
		fmt.Fprintf(stdout, "MIGRATION_DATABASE_URL and DATABASE_URL are unset: migrating the development database in %s\n", cfg.DataDir)
		cluster, adminURL, err := database.StartDevCluster(ctx, cfg.DataDir, stdout)
		if err != nil {
			return err
		}
		defer func() {
			if err := cluster.Stop(); err != nil {
				fmt.Fprintf(stderr, "rowguard: %v\n", err)
			}
		}()
		if err := database.Migrate(ctx, adminURL, int32(*to), stdout); err != nil {
			return err
		}
		if int32(*to) == database.Latest {
			return database.BootstrapLoginRole(ctx, adminURL, database.DevLoginRole)
		}
		return nil
	}
	return database.Migrate(ctx, url, int32(*to), stdout)
}
