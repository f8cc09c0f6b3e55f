package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowguard/rowguard/internal/config"
)

const adminSynopsis = "admin grant|revoke EMAIL"

// adminCmd makes or unmakes a platform admin. It is the only way to: the flag has no
// HTTP route, and the API role may not write it. It connects like `migrate` (the
// owner's URL), calls auth.set_platform_admin, which also writes the audit row.
func adminCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("admin", adminSynopsis, stderr)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 2 || (fs.Arg(0) != "grant" && fs.Arg(0) != "revoke") {
		fs.Usage()
		return errUsage
	}
	grant, email := fs.Arg(0) == "grant", fs.Arg(1)
	cfg, err := config.LoadMigrate()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var userID string
	err = withMigrationURL(ctx, cfg, io.Discard, stderr, func(url string, _ bool) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return fmt.Errorf("admin: connect: %w", err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		err = conn.QueryRow(ctx, `select auth.set_platform_admin($1, $2)::text`, email, grant).Scan(&userID)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "RG404" {
			return fmt.Errorf("admin: no user has the email %q", email)
		}
		if err != nil {
			return fmt.Errorf("admin: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if grant {
		fmt.Fprintf(stdout, "%s (user %s) is now a platform admin\n", email, userID)
	} else {
		fmt.Fprintf(stdout, "%s (user %s) is no longer a platform admin\n", email, userID)
	}
	return nil
}
