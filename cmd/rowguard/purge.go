package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/internal/config"
)

// purgeDeletedCmd deletes for good, with every tenant row, the organizations soft-deleted
// (DELETE /v1/orgs/{org_id}) more than 30 days ago (app.purge_deleted_organizations), then
// erases the personal data of the accounts deleted (DELETE /v1/auth/me) more than 30 days
// ago (auth.purge_deleted_accounts); each one is recorded in platform.admin_audit. Run
// twice, the second run finds nothing. serve never runs it: operators schedule it (cron,
// a systemd timer, a Kubernetes CronJob). It connects like `migrate`.
func purgeDeletedCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("purge-deleted", stderr)
	if err := parseOnly(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	cfg, err := config.LoadMigrate()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var orgs, accounts []purged
	err = withMigrationURL(ctx, cfg, io.Discard, stderr, func(url string, _ bool) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return fmt.Errorf("purge-deleted: connect: %w", err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		if orgs, err = collectPurged(ctx, conn, `select org_id::text, name, deleted_at from app.purge_deleted_organizations()`); err != nil {
			return err
		}
		accounts, err = collectPurged(ctx, conn, `select user_id::text, '', deleted_at from auth.purge_deleted_accounts()`)
		return err
	})
	if err != nil {
		return err
	}
	for _, o := range orgs {
		fmt.Fprintf(stdout, "purged organization %s %q (deleted %s)\n", o.id, o.name, o.deletedAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(stdout, "%d organization(s) purged\n", len(orgs))
	for _, a := range accounts {
		fmt.Fprintf(stdout, "erased account %s (deleted %s)\n", a.id, a.deletedAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(stdout, "%d account(s) erased\n", len(accounts))
	return nil
}

// purged is one organization or account a purge removed (an account has no name).
type purged struct {
	id, name  string
	deletedAt time.Time
}

// collectPurged runs a purge function's query, selecting (id, name, deleted_at).
func collectPurged(ctx context.Context, conn *pgx.Conn, query string) ([]purged, error) {
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("purge-deleted: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (purged, error) {
		var p purged
		return p, row.Scan(&p.id, &p.name, &p.deletedAt)
	})
	if err != nil {
		return nil, fmt.Errorf("purge-deleted: %w", err)
	}
	return out, nil
}
