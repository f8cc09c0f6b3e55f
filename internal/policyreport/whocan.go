package policyreport

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard"
)

// WhoCan is the access model in application actors: for each table × command, which
// actors Postgres let reach which probed target, proven on the database reported on.
type WhoCan struct {
	// Actors are the actors probed, in order, with their labels.
	Actors []ActorLabel  `json:"actors"`
	Tables []WhoCanTable `json:"tables"`
	// Levels is each actor's effective role and finance/analytics level in a project, as
	// the kernel helpers answered.
	Levels []Levels `json:"levels"`
	// Mismatches are the cells where Postgres did not do what the declared expectation
	// table says (then `who-can` exits 1: the code and the expectation disagree).
	Mismatches []string `json:"mismatches"`
}

// ActorLabel names an actor.
type ActorLabel struct {
	Name  string `json:"name"`
	Label string `json:"label"`
}

// WhoCanTable is one table's four commands.
type WhoCanTable struct {
	Table    string          `json:"table"`
	Commands []WhoCanCommand `json:"commands"`
}

// WhoCanCommand is one table × command: the actors allowed (with their conditions in
// words) and, underneath, every probed target with the actors Postgres let reach it.
type WhoCanCommand struct {
	Command string         `json:"command"`
	Allowed []Cell         `json:"allowed"`
	Targets []TargetResult `json:"targets"`
}

// Cell is one actor allowed a table × command; Conditions (in words) say what it is
// limited to; none: every target probed.
type Cell struct {
	Actor      string   `json:"actor"`
	Label      string   `json:"label"`
	Conditions []string `json:"conditions"`
}

// TargetResult is one probe: its target and the actors it succeeded for.
type TargetResult struct {
	Target  string   `json:"target"`
	Allowed []string `json:"allowed"`
}

// matrixFixtures are the fixtures the role matrix runs on, in order (tests/pgtap/41).
var matrixFixtures = []string{"tenants.sql", "projects.sql", "bookings.sql", "finance.sql", "matrix.sql"}

// ErrNotSuperuser: probing plants fixtures under FORCE ROW LEVEL SECURITY, which only a
// superuser can do (as pg_prove does).
var ErrNotSuperuser = errors.New("policyreport: who-can plants the role matrix's fixtures in a rolled-back transaction and needs a superuser connection (as pg_prove does)")

// Probe proves the declared expectation table on the database conn is connected to: in
// one transaction, always rolled back, it builds the pgTAP fixtures, runs every probe as
// every actor and asks the kernel helpers every actor's levels. What Postgres did is the
// result; where it differs from the expectation, a mismatch is recorded.
func Probe(ctx context.Context, conn *pgx.Conn) (*WhoCan, error) {
	var super bool
	if err := conn.QueryRow(ctx, "select rolsuper from pg_catalog.pg_roles where rolname = current_user").Scan(&super); err != nil {
		return nil, fmt.Errorf("policyreport: who-can: %w", err)
	}
	if !super {
		return nil, ErrNotSuperuser
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("policyreport: who-can: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // always rolled back

	vars := map[string]string{}
	for _, name := range matrixFixtures {
		src, err := rowguard.PgTAPFixture(name)
		if err != nil {
			return nil, fmt.Errorf("policyreport: who-can: %w", err)
		}
		sql, err := expandPsql(src, vars)
		if err != nil {
			return nil, fmt.Errorf("policyreport: who-can: fixtures/%s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, sql); err != nil {
			return nil, fmt.Errorf("policyreport: who-can: fixtures/%s: %w", name, err)
		}
	}
	users := make([]*string, len(Actors))
	for i, a := range Actors {
		if a.Var == "" {
			continue
		}
		v, ok := vars[a.Var]
		if !ok {
			return nil, fmt.Errorf("policyreport: who-can: actor %s: no fixture sets :%s", a.Name, a.Var)
		}
		u := strings.Trim(v, "'")
		users[i] = &u
	}

	w := &WhoCan{Tables: []WhoCanTable{}, Levels: []Levels{}, Mismatches: []string{}}
	// Coverage: every exposed table of auth, app and platform (and any other the API role
	// holds a privilege on), each command, has a declared expectation.
	rows, err := tx.Query(ctx, `select t from (`+exposedTablesSQL+`) tables(oid, t, e, f) where t !~ '^api\.'`)
	if err != nil {
		return nil, fmt.Errorf("policyreport: who-can: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("policyreport: who-can: %w", err)
	}
	for _, t := range tables {
		for _, cmd := range Commands {
			if !slices.ContainsFunc(Expectations, func(e Expectation) bool { return e.Table == t && e.Command == cmd }) {
				w.Mismatches = append(w.Mismatches, fmt.Sprintf("%s %s: no declared expectation (internal/policyreport/expectations.go)", t, cmd))
			}
		}
	}
	for _, a := range Actors {
		w.Actors = append(w.Actors, ActorLabel{a.Name, a.Label})
	}
	for _, e := range Expectations {
		tr := TargetResult{Target: e.Target, Allowed: []string{}}
		for i, a := range Actors {
			var ok bool
			if err := tx.QueryRow(ctx, "select pg_temp.allowed($1::uuid, $2)", users[i], e.Probe).Scan(&ok); err != nil {
				return nil, fmt.Errorf("policyreport: who-can: %s %s %s as %s: %w", e.Table, e.Command, e.Target, a.Name, err)
			}
			if ok {
				tr.Allowed = append(tr.Allowed, a.Name)
			}
			if want := slices.Contains(e.Allowed, a.Name); ok != want {
				w.Mismatches = append(w.Mismatches, fmt.Sprintf("%s %s %s as %s: Postgres %s it, the expectation table says %s",
					e.Table, e.Command, e.Target, a.Name, allowedWord(ok), allowedWord(want)))
			}
		}
		w.add(e, tr)
	}

	for i, a := range Actors {
		got := Levels{Actor: a.Name}
		for _, r := range ProjectRoles {
			in, err := inApollo(ctx, tx, users[i], fmt.Sprintf("app.my_project_ids('%s')", r))
			if err != nil {
				return nil, err
			}
			if in {
				got.Role = r
			}
		}
		for _, d := range Domains {
			for _, l := range DomainLevels {
				in, err := inApollo(ctx, tx, users[i], fmt.Sprintf("app.my_domain_project_ids('%s', '%s')", d, l))
				if err != nil {
					return nil, err
				}
				if in && d == "finance" {
					got.Finance = l
				} else if in {
					got.Analytics = l
				}
			}
		}
		w.Levels = append(w.Levels, got)
		for _, want := range PermissionExpectations {
			if want.Actor == a.Name && want != got {
				w.Mismatches = append(w.Mismatches, fmt.Sprintf("levels of %s: Postgres says %s, the expectation table says %s",
					a.Name, got.words(), want.words()))
			}
		}
	}
	return w, nil
}

func inApollo(ctx context.Context, tx pgx.Tx, user *string, query string) (bool, error) {
	var in bool
	if err := tx.QueryRow(ctx, "select pg_temp.in_apollo($1::uuid, $2)", user, query).Scan(&in); err != nil {
		return false, fmt.Errorf("policyreport: who-can: %s: %w", query, err)
	}
	return in, nil
}

func allowedWord(ok bool) string {
	if ok {
		return "allowed"
	}
	return "refused"
}

// words is "role ADMIN, finance MANAGE, analytics MANAGE" ("none" for no access).
func (l Levels) words() string {
	if l.Role == "" && l.Finance == "" && l.Analytics == "" {
		return "no access"
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return fmt.Sprintf("role %s, finance %s, analytics %s", dash(l.Role), dash(l.Finance), dash(l.Analytics))
}

// add files one probe's result under its table and command, and recomputes that
// command's cells.
func (w *WhoCan) add(e Expectation, tr TargetResult) {
	if len(w.Tables) == 0 || w.Tables[len(w.Tables)-1].Table != e.Table {
		w.Tables = append(w.Tables, WhoCanTable{Table: e.Table, Commands: []WhoCanCommand{}})
	}
	t := &w.Tables[len(w.Tables)-1]
	i := slices.IndexFunc(t.Commands, func(c WhoCanCommand) bool { return c.Command == e.Command })
	if i < 0 {
		t.Commands = append(t.Commands, WhoCanCommand{Command: e.Command, Targets: []TargetResult{}})
		i = len(t.Commands) - 1
	}
	c := &t.Commands[i]
	c.Targets = append(c.Targets, tr)
	c.Allowed = cells(e.Table, e.Command, c.Targets)
}

// cells: an actor is allowed a command when some target let it in; every target that
// did not adds its condition ("live rows only", else "not: <target>").
func cells(table, command string, targets []TargetResult) []Cell {
	out := []Cell{}
	for _, a := range Actors {
		var allowed bool
		conds := []string{}
		for _, tr := range targets {
			if slices.Contains(tr.Allowed, a.Name) {
				allowed = true
				continue
			}
			c := "not: " + tr.Target
			if e := findExpectation(table, command, tr.Target); e != nil && e.Only != "" {
				c = e.Only
			}
			if !slices.Contains(conds, c) {
				conds = append(conds, c)
			}
		}
		if allowed {
			out = append(out, Cell{Actor: a.Name, Label: a.Label, Conditions: conds})
		}
	}
	return out
}

func findExpectation(table, command, target string) *Expectation {
	for i, e := range Expectations {
		if e.Table == table && e.Command == command && e.Target == target {
			return &Expectations[i]
		}
	}
	return nil
}

// psqlSet matches a `\set name 'value'` line of a fixture.
var psqlSet = regexp.MustCompile(`^\\set\s+([A-Za-z_][A-Za-z0-9_]*)\s+'((?:[^']|'')*)'\s*$`)

// psqlRef matches :name (not the second colon of a :: cast, not :=).
var psqlRef = regexp.MustCompile(`(^|[^:]):([A-Za-z_][A-Za-z0-9_]*)`)

// expandPsql turns a fixture (a psql script) into plain SQL: it records each \set into
// vars and replaces every :name of a variable set so far by its value, as psql does.
// Any other backslash command is an error (a fixture must stay plain).
func expandPsql(src string, vars map[string]string) (string, error) {
	var b strings.Builder
	for _, line := range strings.Split(src, "\n") {
		if strings.HasPrefix(line, `\`) {
			m := psqlSet.FindStringSubmatch(line)
			if m == nil {
				return "", fmt.Errorf("unsupported psql command %q", line)
			}
			vars[m[1]] = strings.ReplaceAll(m[2], "''", "'")
			continue
		}
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			line = psqlRef.ReplaceAllStringFunc(line, func(s string) string {
				m := psqlRef.FindStringSubmatch(s)
				if v, ok := vars[m[2]]; ok {
					return m[1] + v
				}
				return s
			})
		}
		b.WriteString(line)
		b.WriteString("\n")
	}
	return b.String(), nil
}
