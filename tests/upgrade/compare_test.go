package upgrade

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowguard/rowguard/internal/pgcluster"
	"github.com/rowguard/rowguard/internal/policyreport"
)

// catalog is what the test compares of one database.
type catalog struct {
	Version  int32             // newest migration applied (tern's version table)
	Tables   map[string]string // policyreport, one indented JSON document per table
	Problems string            // policyreport's violations, one a line
	Dump     map[string]string // normalised pg_dump --schema-only, by object
	Raw      string            // the dump in pg_dump's order, without the session setup
}

// loadCatalog reads the catalog of the database at url: `rowguard policies --format
// json` (through policyreport, which that command prints) and pg_dump --schema-only.
func loadCatalog(ctx context.Context, url, versionTable string) (*catalog, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	c := &catalog{Tables: map[string]string{}}
	if err := conn.QueryRow(ctx, "select coalesce(max(version), 0) from "+versionTable).Scan(&c.Version); err != nil {
		return nil, fmt.Errorf("read %s: %w", versionTable, err)
	}
	rep, err := policyreport.Load(ctx, conn)
	if err != nil {
		return nil, err
	}
	for _, t := range rep.Tables {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // a diff shows "<", not "\u003c"
		if err := enc.Encode(t); err != nil {
			return nil, err
		}
		c.Tables[t.Name] = strings.TrimSuffix(b.String(), "\n")
	}
	c.Problems = strings.Join(rep.Violations, "\n")

	var server int
	if err := conn.QueryRow(ctx, "select current_setting('server_version_num')::int / 10000").Scan(&server); err != nil {
		return nil, err
	}
	dump, err := pgDump(ctx, url, server)
	if err != nil {
		return nil, err
	}
	c.Dump = normaliseDump(dump)
	raw := strings.Split(dump, "\n")
	c.Raw = strings.Join(slices.DeleteFunc(raw, sessionRE.MatchString), "\n")
	return c, nil
}

// pgDump runs pg_dump --schema-only on url with the pg_dump of the PostgreSQL
// installation the test cluster runs on (pgcluster.FindInstall). pg_dump refuses a
// server newer than itself, and an older server is dumped differently by newer
// pg_dumps: the test wants the server's own major version.
func pgDump(ctx context.Context, url string, serverMajor int) (string, error) {
	install, err := pgcluster.FindInstall()
	if err != nil {
		return "", fmt.Errorf("pg_dump: %w", err)
	}
	if install.Major != serverMajor {
		return "", fmt.Errorf("pg_dump: the server is PostgreSQL %d but the binaries found are %s (%s): "+
			"install pg_dump %d or test against a private cluster (unset ROWGUARD_TEST_DATABASE_URL and DATABASE_URL)",
			serverMajor, install.Version, install.BinDir, serverMajor)
	}
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, install.Bin("pg_dump"), "--schema-only", "--no-password")
	// libpq's environment: the unambiguous way to hand pgx's parsed URL to pg_dump.
	cmd.Env = append(os.Environ(),
		"PGHOST="+cfg.Host, "PGPORT="+strconv.Itoa(int(cfg.Port)), "PGUSER="+cfg.User,
		"PGPASSWORD="+cfg.Password, "PGDATABASE="+cfg.Database, "PGSSLMODE=disable")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("pg_dump %s: %w: %s", cfg.Database, err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// headerRE is the comment pg_dump writes before each object ("TOC entry").
var headerRE = regexp.MustCompile(`^-- (?:Data for )?Name: (.*); Type: (.*); Schema: (.*); Owner: (.*)$`)

// sessionRE matches what pg_dump writes to set up the restoring session, not objects:
// SET lines (written whenever a setting changes, so they land next to whichever object
// comes first), the search_path reset, and the \restrict guards (a random key).
var sessionRE = regexp.MustCompile(`^(SET [a-z_]+ = .*;|SELECT pg_catalog\.set_config\('search_path', '', false\);|\\(un)?restrict .*)$`)

// normaliseDump turns pg_dump's script into its objects, keyed "type schema.name",
// so that comparing two dumps ignores the order pg_dump chose (it follows
// dependencies and OIDs, which differ between an upgraded and a fresh database):
//   - everything before the first object (the dump's header and session setup) and
//     pg_dump's own comments and SET lines are dropped, and runs of blank lines
//     become one;
//   - an object's text is kept exactly, with its owner, except that the statements of
//     an ACL (GRANT/REVOKE, one a line) are sorted: their order is the order of the
//     grants, not a property of the catalog;
//   - objects sharing a key (the default privileges of two roles) are sorted and joined.
func normaliseDump(dump string) map[string]string {
	type object struct {
		key, owner string
		acl        bool
		lines      []string
	}
	var objects []*object
	var cur *object
	for _, line := range strings.Split(dump, "\n") {
		if m := headerRE.FindStringSubmatch(line); m != nil {
			cur = &object{key: m[2] + " " + m[3] + "." + m[1], owner: m[4], acl: strings.HasSuffix(m[2], "ACL")}
			objects = append(objects, cur)
			continue
		}
		if cur == nil || sessionRE.MatchString(line) {
			continue
		}
		cur.lines = append(cur.lines, line)
	}
	out := map[string]string{}
	parts := map[string][]string{}
	for _, o := range objects {
		lines := o.lines
		// pg_dump frames each object with "--" lines and blank lines; the dump ends with
		// "-- PostgreSQL database dump complete".
		trim := func(s string) bool { return s == "" || s == "--" || s == "-- PostgreSQL database dump complete" }
		for len(lines) > 0 && trim(lines[0]) {
			lines = lines[1:]
		}
		for len(lines) > 0 && trim(lines[len(lines)-1]) {
			lines = lines[:len(lines)-1]
		}
		// Runs of blank lines become one: pg_dump's spacing around a dropped SET line
		// depends on which object came first.
		lines = slices.CompactFunc(slices.Clone(lines), func(a, b string) bool { return a == "" && b == "" })
		if o.acl {
			lines = slices.DeleteFunc(lines, func(s string) bool { return s == "" })
			slices.Sort(lines)
		}
		parts[o.key] = append(parts[o.key], "-- owner: "+o.owner+"\n"+strings.Join(lines, "\n"))
	}
	for key, p := range parts {
		slices.Sort(p)
		out[key] = strings.Join(p, "\n\n")
	}
	return out
}

// difference is one part of two catalogs that differs, with a unified diff.
type difference struct {
	What string // "pg_dump: FUNCTION auth.f()", "policies: app.x", ...
	Diff string
}

// compareCatalogs lists every part where a (named nameA) and b differ, in a stable
// order: version, policy report (violations, then tables), then pg_dump objects.
func compareCatalogs(a, b *catalog, nameA, nameB string) []difference {
	var out []difference
	add := func(what, x, y string) {
		if x != y {
			out = append(out, difference{what, unifiedDiff(x, y, nameA, nameB)})
		}
	}
	add("schema_version: newest migration", fmt.Sprint(a.Version), fmt.Sprint(b.Version))
	add("policies: violations", a.Problems, b.Problems)
	for _, k := range unionKeys(a.Tables, b.Tables) {
		add("policies: "+k, a.Tables[k], b.Tables[k])
	}
	for _, k := range unionKeys(a.Dump, b.Dump) {
		add("pg_dump: "+k, a.Dump[k], b.Dump[k])
	}
	return out
}

func unionKeys(a, b map[string]string) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// unifiedDiff is a line diff of a and b in the unified format, three lines of context.
// A side that does not have the part at all is shown as "(absent)".
func unifiedDiff(a, b, nameA, nameB string) string {
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	}
	x, y := split(a), split(b)
	// Longest common subsequence, by dynamic programming: the parts are objects of a
	// dump or tables of a report, a few hundred lines at most.
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type edit struct {
		op   byte // ' ', '-', '+'
		text string
		i, j int // line numbers (0-based) in x and y before this edit
	}
	var edits []edit
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			edits = append(edits, edit{' ', x[i], i, j})
			i, j = i+1, j+1
		case j == len(y) || (i < len(x) && lcs[i+1][j] >= lcs[i][j+1]):
			edits = append(edits, edit{'-', x[i], i, j})
			i++
		default:
			edits = append(edits, edit{'+', y[j], i, j})
			j++
		}
	}

	var out strings.Builder
	label := func(name string, lines []string) string {
		if lines == nil {
			return name + " (absent)"
		}
		return name
	}
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", label(nameA, x), label(nameB, y))
	const context = 3
	for k := 0; k < len(edits); {
		if edits[k].op == ' ' {
			k++
			continue
		}
		// A hunk: from context lines before this change to context lines after the
		// last change that is at most 2*context lines further on.
		start := max(0, k-context)
		end := k
		for n := k; n < len(edits); n++ {
			if edits[n].op != ' ' {
				end = n
			} else if n-end > 2*context {
				break
			}
		}
		end = min(len(edits), end+context+1)
		var nx, ny int
		for _, e := range edits[start:end] {
			if e.op != '+' {
				nx++
			}
			if e.op != '-' {
				ny++
			}
		}
		// A side with no line in the hunk names the line before it (0 for none).
		fx, fy := edits[start].i+1, edits[start].j+1
		if nx == 0 {
			fx--
		}
		if ny == 0 {
			fy--
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", fx, nx, fy, ny)
		for _, e := range edits[start:end] {
			fmt.Fprintf(&out, "%c%s\n", e.op, e.text)
		}
		k = end
	}
	return out.String()
}
