package policyreport

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// grantWords is "SELECT, INSERT; SELECT (a, b)": a role's table, then column privileges.
func (t Table) grantWords(role string) string {
	var parts []string
	if privs := t.Grants[role]; len(privs) > 0 {
		parts = append(parts, strings.Join(privs, ", "))
	}
	parts = append(parts, t.ColumnGrants[role]...)
	return strings.Join(parts, "; ")
}

// grantRoles is every role holding a table or column privilege on t.
func (t Table) grantRoles() []string {
	set := map[string]bool{}
	for r := range t.Grants {
		set[r] = true
	}
	for r := range t.ColumnGrants {
		set[r] = true
	}
	return sortedKeys(set)
}

func (f Function) searchPathWords() string {
	if f.SearchPath == nil {
		return "not pinned"
	}
	if *f.SearchPath == "" || *f.SearchPath == `""` {
		return `''`
	}
	return *f.SearchPath
}

func (r *Report) writeGrantsText(b *strings.Builder) {
	b.WriteString("\nGrants (table → role: table privileges; column privileges):\n")
	for _, t := range r.Tables {
		roles := t.grantRoles()
		if len(roles) == 0 {
			fmt.Fprintf(b, "  %s: no grant\n", t.Name)
			continue
		}
		fmt.Fprintf(b, "  %s\n", t.Name)
		for _, role := range roles {
			fmt.Fprintf(b, "    %s: %s\n", role, t.grantWords(role))
		}
	}
	fmt.Fprintf(b, "\nFunctions %s may execute (%d):\n", APIRole, len(r.Functions))
	rows := [][]string{{"security", "owner", "search_path", "volatility", "language", "function"}}
	for _, f := range r.Functions {
		rows = append(rows, []string{f.Security, f.Owner, f.searchPathWords(), f.Volatility, f.Language, f.Signature})
	}
	writeColumns(b, rows)
}

func (r *Report) writeGrantsMarkdown(b *strings.Builder) {
	b.WriteString("\n## Grants\n\n| table | role | table privileges | column privileges |\n|---|---|---|---|\n")
	for _, t := range r.Tables {
		for _, role := range t.grantRoles() {
			fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", t.Name, role, mdCell(strings.Join(t.Grants[role], ", ")),
				mdCell(strings.Join(t.ColumnGrants[role], "; ")))
		}
	}
	fmt.Fprintf(b, "\n## Functions `%s` may execute\n\n| function | security | owner | search_path | volatility | language |\n|---|---|---|---|---|---|\n", APIRole)
	for _, f := range r.Functions {
		fmt.Fprintf(b, "| `%s` | %s | %s | `%s` | %s | %s |\n", mdCell(f.Signature), f.Security, f.Owner, mdCell(f.searchPathWords()), f.Volatility, f.Language)
	}
}

// writeColumns prints rows as left-aligned columns, two spaces in.
func writeColumns(b *strings.Builder, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, row := range rows {
		line := ""
		for i, c := range row {
			line += fmt.Sprintf("  %-*s", widths[i], c)
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
}

// words is "project VIEWER: live rows only".
func (c Cell) words() string {
	if len(c.Conditions) == 0 {
		return c.Label
	}
	return c.Label + ": " + strings.Join(c.Conditions, "; ")
}

// lines is the command's actors in words: one line when none has a condition, else
// one actor a line.
func (c WhoCanCommand) lines() []string {
	if len(c.Allowed) == 0 {
		return []string{"nobody"}
	}
	parts := make([]string, len(c.Allowed))
	conditional := false
	for i, cell := range c.Allowed {
		parts[i] = cell.words()
		conditional = conditional || len(cell.Conditions) > 0
	}
	if !conditional {
		return []string{strings.Join(parts, ", ")}
	}
	return parts
}

func (w *WhoCan) label(actor string) string {
	for _, a := range w.Actors {
		if a.Name == actor {
			return a.Label
		}
	}
	return actor
}

func (w *WhoCan) probes() int {
	n := 0
	for _, t := range w.Tables {
		for _, c := range t.Commands {
			n += len(c.Targets)
		}
	}
	return n * len(w.Actors)
}

// Write prints the who-can section alone in format (text, markdown or json).
func (w *WhoCan) Write(out io.Writer, format string) error {
	var b strings.Builder
	switch format {
	case "text":
		w.writeText(&b)
	case "markdown":
		w.writeMarkdown(&b)
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(w)
	default:
		return fmt.Errorf("policyreport: unknown format %q (want %s)", format, strings.Join(Formats, ", "))
	}
	_, err := io.WriteString(out, b.String())
	return err
}

func (w *WhoCan) writeText(b *strings.Builder) {
	fmt.Fprintf(b, "Who can (application actors acting in an organization; %d probes run as them in a rolled-back transaction):\n", w.probes())
	b.WriteString(wrapLegend("  "))
	for _, t := range w.Tables {
		fmt.Fprintf(b, "\n%s\n", t.Table)
		for _, c := range t.Commands {
			for i, line := range c.lines() {
				cmd := c.Command
				if i > 0 {
					cmd = ""
				}
				fmt.Fprintf(b, "  %-7s %s\n", cmd, line)
			}
		}
	}
	b.WriteString("\nLevels in a project (effective project role, finance, analytics; - = not in the project):\n")
	rows := [][]string{{"actor", "role", "finance", "analytics"}}
	for _, l := range w.Levels {
		rows = append(rows, []string{w.label(l.Actor), dash(l.Role), dash(l.Finance), dash(l.Analytics)})
	}
	writeColumns(b, rows)
	if len(w.Mismatches) > 0 {
		b.WriteString("\nMismatches (Postgres disagrees with the declared expectation table):\n")
		for _, m := range w.Mismatches {
			fmt.Fprintf(b, "- %s\n", m)
		}
	}
}

func (w *WhoCan) writeMarkdown(b *strings.Builder) {
	fmt.Fprintf(b, "## Who can\n\nApplication actors acting in an organization; %d probes run as them in a rolled-back transaction.\n%s\n", w.probes(), legend)
	b.WriteString("| table | command | who |\n|---|---|---|\n")
	for _, t := range w.Tables {
		for _, c := range t.Commands {
			lines := c.lines()
			for i := range lines {
				lines[i] = mdCell(lines[i])
			}
			fmt.Fprintf(b, "| `%s` | %s | %s |\n", t.Table, c.Command, strings.Join(lines, "<br>"))
		}
	}
	b.WriteString("\n### Levels in a project\n\n| actor | role | finance | analytics |\n|---|---|---|---|\n")
	for _, l := range w.Levels {
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", w.label(l.Actor), dash(l.Role), dash(l.Finance), dash(l.Analytics))
	}
	if len(w.Mismatches) > 0 {
		b.WriteString("\n### Mismatches\n\n")
		for _, m := range w.Mismatches {
			fmt.Fprintf(b, "- %s\n", m)
		}
	}
}

// legend says who the actors are.
const legend = "An org MEMBER holds no project role; a project OWNER/ADMIN/ANALYST/VIEWER is an org MEMBER holding " +
	"that role in the project, at its default levels unless an override is named (finance or analytics raised to MANAGE " +
	"or lowered to NONE); org OWNERs and ADMINs act as project " +
	"OWNER and ADMIN in every project. A signed-in " +
	"non-member is a user of another organization naming this one; a platform admin is a member of none. " +
	"Conditions name what an actor is refused among the rows probed (tests/pgtap/41_role_matrix.sql)."

func wrapLegend(indent string) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(legend) {
		if len(line)+1+len(word) > 100 && line != indent {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
