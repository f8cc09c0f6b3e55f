package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard"
	"github.com/rowguard/rowguard/internal/config"
	"github.com/rowguard/rowguard/internal/policyreport"
)

// errViolations: the report was printed and lists violations (exit status 1).
var errViolations = errors.New("the access model breaks the rules")

// exitStatus ends the command with a status other than 0, 1 or 2 (the message, when
// there is one, goes to stderr like any error's).
type exitStatus struct {
	code int
	msg  string
}

func (e *exitStatus) Error() string { return e.msg }

// exitAccessChanged is the status of `policies diff` when access changed.
const exitAccessChanged = 3

// policiesCmd prints the access model read live from the catalog. It connects like
// migrate (MIGRATION_DATABASE_URL, else DATABASE_URL, else the development cluster);
// any role can read the catalog, and who-can needs a superuser (it plants fixtures in a
// rolled-back transaction, as pg_prove does).
func policiesCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "who-can":
			return policiesWhoCanCmd(args[1:], stdout, stderr)
		case "diff":
			return policiesDiffCmd(args[1:], stdout, stderr)
		}
	}
	fs := newFlagSet("policies", stderr)
	format := formatFlag(fs)
	whoCan := fs.Bool("who-can", false, "add who-can: every table × command in application actors, proven by running the role matrix's probes in a rolled-back transaction (needs a superuser)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkFormat(*format, stderr); err != nil {
		return err
	}
	return withPolicyConn(stderr, func(ctx context.Context, conn *pgx.Conn) error {
		rep, err := loadReport(ctx, conn, *whoCan)
		if err != nil {
			return err
		}
		if err := rep.Write(stdout, *format); err != nil {
			return err
		}
		return reportStatus(rep)
	})
}

// policiesWhoCanCmd prints who-can alone; exit 1 when Postgres disagrees with the
// declared expectation table.
func policiesWhoCanCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policies", stderr)
	format := formatFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkFormat(*format, stderr); err != nil {
		return err
	}
	return withPolicyConn(stderr, func(ctx context.Context, conn *pgx.Conn) error {
		w, err := policyreport.Probe(ctx, conn)
		if err != nil {
			return err
		}
		if err := w.Write(stdout, *format); err != nil {
			return err
		}
		if len(w.Mismatches) > 0 {
			return fmt.Errorf("%w: %s", errViolations, strings.Join(w.Mismatches, "; "))
		}
		return nil
	})
}

// policiesDiffCmd prints the access delta between two JSON reports, or between one and
// a live database (--against URL): exit 0 for no change, 3 for a change, 1 when the
// new side breaks a rule.
func policiesDiffCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policies", stderr)
	format := formatFlag(fs)
	against := fs.String("against", "", "compare OLD.json (default: the policies/access.json this binary was built with) with this database (a URL; a superuser's when OLD.json carries who-can) instead of NEW.json")
	var files []string
	for {
		if err := parseOnly(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if (*against == "" && len(files) != 2) || (*against != "" && len(files) > 1) {
		fmt.Fprintf(stderr, "rowguard policies diff: want OLD.json NEW.json, or --against DATABASE_URL [OLD.json] (got %d files)\n", len(files))
		return errUsage
	}
	if err := checkFormat(*format, stderr); err != nil {
		return err
	}
	var old *policyreport.Report
	var err error
	if len(files) == 0 {
		// The access model this binary was built with.
		files = []string{"policies/access.json (built in)"}
		old, err = parseReport(files[0], func() ([]byte, error) { return iofs.ReadFile(rowguard.Policies(), "access.json") })
	} else {
		old, err = readReport(files[0])
	}
	if err != nil {
		return err
	}
	var d *policyreport.Diff
	if *against == "" {
		new, err := readReport(files[1])
		if err != nil {
			return err
		}
		d = policyreport.Compare(files[0], old, files[1], new)
	} else {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		conn, err := pgx.Connect(ctx, *against)
		if err != nil {
			return fmt.Errorf("policies diff: --against: %w", err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		new, err := loadReport(ctx, conn, old.WhoCan != nil)
		if err != nil {
			return err
		}
		d = policyreport.Compare(files[0], old, "database "+conn.Config().Database, new)
	}
	if err := d.Write(stdout, *format); err != nil {
		return err
	}
	switch {
	case len(d.Violations) > 0:
		return fmt.Errorf("%w: %s", errViolations, strings.Join(d.Violations, "; "))
	case len(d.Changes) > 0:
		return &exitStatus{exitAccessChanged, fmt.Sprintf("the access model changed (%d changes): a reviewer should approve them", len(d.Changes))}
	}
	return nil
}

func formatFlag(fs *flag.FlagSet) *string {
	return fs.String("format", "text", "output format: "+strings.Join(policyreport.Formats, ", "))
}

func checkFormat(format string, stderr io.Writer) error {
	if !slices.Contains(policyreport.Formats, format) {
		fmt.Fprintf(stderr, "rowguard policies: --format must be one of %s (got %q)\n", strings.Join(policyreport.Formats, ", "), format)
		return errUsage
	}
	return nil
}

// withPolicyConn connects like migrate and runs f.
func withPolicyConn(stderr io.Writer, f func(ctx context.Context, conn *pgx.Conn) error) error {
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
		return f(ctx, conn)
	})
}

// loadReport reads the report, with who-can when asked.
func loadReport(ctx context.Context, conn *pgx.Conn, whoCan bool) (*policyreport.Report, error) {
	rep, err := policyreport.Load(ctx, conn)
	if err != nil {
		return nil, err
	}
	if whoCan {
		if rep.WhoCan, err = policyreport.Probe(ctx, conn); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// reportStatus is errViolations naming the report's violations and who-can mismatches.
func reportStatus(rep *policyreport.Report) error {
	problems := slices.Clone(rep.Violations)
	if rep.WhoCan != nil {
		problems = append(problems, rep.WhoCan.Mismatches...)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", errViolations, strings.Join(problems, "; "))
	}
	return nil
}

// readReport reads a `rowguard policies --format json` report.
func readReport(path string) (*policyreport.Report, error) {
	return parseReport(path, func() ([]byte, error) { return os.ReadFile(path) })
}

func parseReport(path string, read func() ([]byte, error)) (*policyreport.Report, error) {
	b, err := read()
	if err != nil {
		return nil, fmt.Errorf("policies diff: %w", err)
	}
	var rep policyreport.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("policies diff: %s: not a JSON report of rowguard policies --format json: %w", path, err)
	}
	if rep.Tables == nil {
		return nil, fmt.Errorf("policies diff: %s: not a JSON report of rowguard policies --format json (no \"tables\")", path)
	}
	return &rep, nil
}
