// Command rowguard is the one binary of rowguard: the HTTP API server, the migration
// tool, the demo seeder and the version reporter. It only wires packages together.
//
//	rowguard serve                 run the API (DATABASE_URL unset: a private dev database)
//	rowguard migrate [--to N]      apply sql/migrations, then the sql/api and policies packages
//	rowguard policies [--format F] print every exposed table's RLS and policies (exit 1 on a violation)
//	rowguard admin grant|revoke|disable|enable EMAIL   platform admin flag; disable (revokes every session) or enable an account
//	rowguard seed-demo [--password P]   fill serve's database with a demo (two organizations), through the API
//	rowguard version               print the version
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rowguard/rowguard"
	"github.com/rowguard/rowguard/internal/config"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// errUsage reports a command line mistake (exit status 2); the message was printed.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = serve(rest, stdout, stderr)
	case "migrate":
		err = migrateCmd(rest, stdout, stderr)
	case "policies":
		err = policiesCmd(rest, stdout, stderr)
	case "admin":
		err = adminCmd(rest, stdout, stderr)
	case "seed-demo":
		err = seedDemoCmd(rest, stdout, stderr)
	case "purge-deleted":
		err = purgeDeletedCmd(rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "rowguard %s\n", rowguard.Version)
	case "help", "-h", "-help", "--help":
		usage(stdout)
	default:
		fmt.Fprintf(stderr, "rowguard: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "rowguard: %v\n", err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: rowguard <command> [flags]

Commands:
  serve             run the HTTP API. Without DATABASE_URL it starts a private
                    PostgreSQL cluster in ROWGUARD_DATA_DIR, migrates it and serves
                    as the login role rowguard_app (development mode).
  migrate [--to N]  apply the embedded migrations (to the latest, or to version N;
                    going down drops the api schema), then install the sql/api and
                    policies code packages (latest only). Uses MIGRATION_DATABASE_URL,
                    else DATABASE_URL, else the development cluster.
  policies [--format text|markdown|json]
                    print, read live from the catalog, every exposed table with RLS
                    enabled/forced, each policy (command, roles, USING, WITH CHECK,
                    comment) and a table × command × role summary. Exits 1 when a
                    table lacks enabled+forced RLS or a policy lacks a comment.
                    Connects like migrate.
  admin grant|revoke EMAIL
                    make (or unmake) the user with this email a platform admin:
                    the only way to, never over HTTP; the action is audited. Uses
                    the same database URL as migrate.
  admin disable|enable EMAIL
                    disable the account (every live session is revoked at once:
                    its access tokens fail on their next request, its refresh
                    tokens are refused) or enable it again (no session revives:
                    the user signs in again). Audited; same URL as migrate.
  purge-deleted     delete for good, with every row they hold, the organizations
                    soft-deleted (DELETE /v1/orgs/{org_id}) over 30 days ago; each
                    is recorded in platform.admin_audit. serve never runs it:
                    schedule it (cron, systemd timer). Same URL as migrate.
  seed-demo [--password P]
                    fill the database serve uses (connects like serve, starting
                    the development cluster when DATABASE_URL is unset) with a
                    demo: organizations acme-demo and globex-demo, users in
                    every role (owner@acme.example, analyst@acme.example, ...),
                    projects, a pending invitation, a year of finance records
                    in EUR and USD, exchange rates, services and bookings. All
                    of it through the API, as those users. Prints the accounts
                    and requests to try. The password is P, else
                    "`+demoDevPassword+`" on the development database, else a
                    random one (printed). Does nothing when the demo is there.
  version           print the version

Environment:
`)
	for _, v := range config.Variables {
		def := v.Default
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(w, "  %-30s default: %s\n      %s\n", v.Name, def, wrap(v.Meaning, 78, "      "))
	}
}

// wrap folds s at width columns, indenting continuation lines.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	col := 0
	for i, word := range strings.Fields(s) {
		if i > 0 {
			if col+1+len(word) > width-len(indent) {
				b.WriteString("\n" + indent)
				col = 0
			} else {
				b.WriteByte(' ')
				col++
			}
		}
		b.WriteString(word)
		col += len(word)
	}
	return b.String()
}

// newFlagSet returns a flag set that prints its usage to stderr and returns errors.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: rowguard %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, mapping a bad command line to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "rowguard %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}
