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

// adminActions are the operator's actions on one account, each a kernel function that
// also writes the platform.admin_audit row. None has an HTTP route.
var adminActions = map[string]struct {
	query string // selects the user id and a count of what the action ended, as text
	done  string // printed after the email and user id
}{
	// auth.set_platform_admin: the only way to make a platform admin (the API role may
	// not write the flag).
	"grant":  {`select auth.set_platform_admin($1, true)::text, 0`, "is now a platform admin"},
	"revoke": {`select auth.set_platform_admin($1, false)::text, 0`, "is no longer a platform admin"},
	// auth.set_user_status: disabling revokes every live session (a trigger), so the
	// user's access tokens fail on their next request; enabling revives none.
	"disable": {`select user_id::text, sessions_revoked from auth.set_user_status($1, 'disabled')`, "is disabled"},
	"enable":  {`select user_id::text, sessions_revoked from auth.set_user_status($1, 'active')`, "is enabled again (signing in opens a new session)"},
}

// adminCmd runs one operator action on the account with an email. It connects like
// `migrate` (the owner's URL).
func adminCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("admin", stderr)
	if err := parseOnly(fs, args); err != nil {
		return err
	}
	action, known := adminActions[fs.Arg(0)]
	if fs.NArg() != 2 || !known {
		fs.Usage()
		return errUsage
	}
	email := fs.Arg(1)
	cfg, err := config.LoadMigrate()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var userID string
	var ended int
	err = withMigrationURL(ctx, cfg, io.Discard, stderr, func(url string, _ bool) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return fmt.Errorf("admin: connect: %w", err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		err = conn.QueryRow(ctx, action.query, email).Scan(&userID, &ended)
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
	fmt.Fprintf(stdout, "%s (user %s) %s\n", email, userID, action.done)
	if ended > 0 {
		fmt.Fprintf(stdout, "%d live session(s) revoked: their access tokens fail on their next request\n", ended)
	}
	return nil
}
