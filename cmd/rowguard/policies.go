package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/internal/config"
	"github.com/rowguard/rowguard/internal/policyreport"
)

// errViolations: the report was printed and lists violations (exit status 1).
var errViolations = errors.New("the access model breaks the rules")

// policiesCmd prints the access model read live from the catalog. It connects like
// migrate (MIGRATION_DATABASE_URL, else DATABASE_URL, else the development cluster);
// any role can read the catalog.
func policiesCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policies", stderr)
	format := fs.String("format", "text", "output format: "+strings.Join(policyreport.Formats, ", "))
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !slices.Contains(policyreport.Formats, *format) {
		fmt.Fprintf(stderr, "rowguard policies: --format must be one of %s (got %q)\n", strings.Join(policyreport.Formats, ", "), *format)
		return errUsage
	}
	cfg, err := config.LoadMigrate()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return withMigrationURL(ctx, cfg, io.Discard, stderr, func(url string, _ bool) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return fmt.Errorf("policies: connect: %w", err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		rep, err := policyreport.Load(ctx, conn)
		if err != nil {
			return err
		}
		if err := rep.Write(stdout, *format); err != nil {
			return err
		}
		if len(rep.Violations) > 0 {
			return fmt.Errorf("%w: %s", errViolations, strings.Join(rep.Violations, "; "))
		}
		return nil
	})
}
