// Command rowguard is the one binary of rowguard: the HTTP API server, the migration
// tool, the demo seeder and the version reporter. It only wires packages together.
// `rowguard help` lists the commands (see commands below), `rowguard help CMD` and
// `rowguard CMD -h` print one command's usage.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rowguard/rowguard/internal/config"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// errUsage reports a command line mistake (exit status 2); the message was printed.
var errUsage = errors.New("usage")

// commands documents each subcommand, in the order `rowguard help` lists them: its
// synopsis and what it does (rowguard help, rowguard help CMD, rowguard CMD -h).
var commands = []struct{ name, synopsis, about string }{
	{"serve", "serve", "run the HTTP API. Without DATABASE_URL it starts a private PostgreSQL cluster in " +
		"ROWGUARD_DATA_DIR, migrates it and serves as the login role rowguard_app (development mode). " +
		"Both listeners are bound first: a port in use fails the start before any database work. " +
		"Configured by environment variables (rowguard help lists them); every problem with them is " +
		"reported at once, one line each."},
	{"migrate", "migrate [--to N]", "apply the embedded migrations (to the latest, or to version N; going down " +
		"first removes the code packages), then install the sql/kernel, sql/api and policies code packages " +
		"(latest only). Uses " +
		"MIGRATION_DATABASE_URL, else DATABASE_URL, else the development cluster."},
	{"policies", "policies [--format text|markdown|json] [--who-can] | policies who-can | policies diff [--against URL] OLD.json [NEW.json]",
		"print, read live from the catalog, every exposed table with RLS enabled/forced, each policy (command, roles, " +
			"USING, WITH CHECK, comment), a table × command × role summary, the table and column grants of each role, and " +
			"every function rowguard_api may execute (SECURITY DEFINER or INVOKER, owner, pinned search_path, volatility). " +
			"Exits 1 on a violation: a table without enabled+forced RLS, a policy without a comment, a SECURITY DEFINER " +
			"function without a pinned search_path, a grant to PUBLIC, a secret column (hash, token, sealed, password) " +
			"rowguard_api may read. who-can (or --who-can, added to the report): for every table × command, the " +
			"application actors allowed (anonymous, signed-in non-member, org OWNER/ADMIN/MEMBER, project " +
			"OWNER/ADMIN/ANALYST/VIEWER, platform admin) with their conditions in words, and each actor's finance and " +
			"analytics level; computed by running the pgTAP role matrix's probes as each actor in a rolled-back " +
			"transaction (needs a superuser), exit 1 when Postgres disagrees with the declared expectation table. " +
			"diff: the access delta between two JSON reports (or a report and a live database): policies added, " +
			"removed or changed (USING/WITH CHECK), grants gained or lost, functions, who-can cells; exit 0 for no " +
			"change, 3 for a change, 1 when the new side breaks a rule; --against URL without OLD.json compares with the " +
			"policies/access.json this binary was built with. who-can and diff take --format too. Connects " +
			"like migrate (diff --against: that URL). See docs/dba-guide.md."},
	{"admin", "admin grant|revoke|disable|enable EMAIL", "grant or revoke: make (or unmake) the user with this " +
		"email a platform admin: the only way to, never over HTTP. disable: disable the account (every live " +
		"session is revoked at once: its access tokens fail on their next request, its refresh tokens are " +
		"refused); enable: enable it again (no session revives: the user signs in again). Each action is " +
		"audited. Uses the same database URL as migrate."},
	{"purge-deleted", "purge-deleted", "delete for good, with every row they hold, the organizations soft-deleted " +
		"(DELETE /v1/orgs/{org_id}) over 30 days ago; each is recorded in platform.admin_audit. serve never " +
		"runs it: schedule it (cron, systemd timer). Same URL as migrate."},
	{"seed-demo", "seed-demo [--password P]", "fill the database serve uses (connects like serve, starting the " +
		"development cluster when DATABASE_URL is unset) with a demo: organizations acme-demo and globex-demo, " +
		"users in every role (owner@acme.example, analyst@acme.example, ...), projects, a pending invitation, " +
		"a year of finance records in EUR and USD, exchange rates, services and bookings. All of it through " +
		"the API, as those users. Prints the accounts and requests to try. The password is P, else \"" +
		demoDevPassword + "\" on the development database, else a random one (printed). Does nothing when " +
		"the demo is there."},
	{"version", "version", "print the version, the commit it was built from (with -dirty when the checkout had " +
		"changes) and that commit's date, as the Go toolchain recorded them in the binary."},
	{"help", "help [COMMAND]", "print every command and every environment variable, or one command's usage."},
}

// commandNames is "serve, migrate, ...".
func commandNames() string {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	return strings.Join(names, ", ")
}

// unknownCommand says, on one line, that name is no command, and lists them.
func unknownCommand(stderr io.Writer, name string) int {
	fmt.Fprintf(stderr, "rowguard: unknown command %q; commands: %s\n", name, commandNames())
	return 2
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		commandList(stderr)
		fmt.Fprintln(stderr, "\nrowguard help: every command and environment variable; rowguard help COMMAND: one command.")
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
		err = versionCmd(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		switch {
		case len(rest) == 0:
			usage(stdout)
		case len(rest) > 1:
			fmt.Fprintln(stderr, "Usage: rowguard help [COMMAND]")
			return 2
		case rest[0] == "help":
			commandUsage(stdout, "help")
		case commandKnown(rest[0]):
			// The command prints its own usage, flags included, for -h: here on stdout.
			return run([]string{rest[0], "-h"}, stdout, stdout)
		default:
			return unknownCommand(stderr, rest[0])
		}
	default:
		return unknownCommand(stderr, cmd)
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, new(*exitStatus)):
		var status *exitStatus
		errors.As(err, &status)
		if status.msg != "" {
			fmt.Fprintf(stderr, "rowguard: %s\n", status.msg)
		}
		return status.code
	case err != nil:
		// One line per problem (a configuration may have several), each on its own
		// "rowguard: " line.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "rowguard: %s\n", line)
		}
		return 1
	}
	return 0
}

func commandKnown(name string) bool {
	for _, c := range commands {
		if c.name == name {
			return true
		}
	}
	return false
}

// commandList prints the usage line and every command with what it does.
func commandList(w io.Writer) {
	fmt.Fprint(w, "Usage: rowguard <command> [flags]\n\nCommands:\n")
	const indent = "                    " // 20 columns
	for _, c := range commands {
		if len(c.synopsis) < len(indent)-3 {
			fmt.Fprintf(w, "  %-*s%s\n", len(indent)-2, c.synopsis, wrap(c.about, 80, indent))
		} else {
			fmt.Fprintf(w, "  %s\n%s%s\n", c.synopsis, indent, wrap(c.about, 80, indent))
		}
	}
}

// commandUsage prints one command's synopsis and what it does.
func commandUsage(w io.Writer, name string) {
	for _, c := range commands {
		if c.name == name {
			fmt.Fprintf(w, "Usage: rowguard %s\n\n  %s\n", c.synopsis, wrap(c.about, 80, "  "))
		}
	}
}

func usage(w io.Writer) {
	commandList(w)
	fmt.Fprint(w, "\nEnvironment:\n")
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

// newFlagSet returns a flag set for the command name that returns errors and prints
// the command's usage, and its flags, to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		commandUsage(fs.Output(), name)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, mapping a bad command line to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := parseOnly(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "rowguard %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// parseOnly parses args, mapping a bad command line to errUsage (flag.ErrHelp for -h);
// for commands that take arguments.
func parseOnly(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}
