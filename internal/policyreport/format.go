package policyreport

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Formats are the output formats Write accepts.
var Formats = []string{"text", "markdown", "json"}

// Write prints the report in format (text, markdown or json).
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "text":
		return r.writeText(w)
	case "markdown":
		return r.writeMarkdown(w)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return fmt.Errorf("policyreport: unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

func orDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

func onOff(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func (r *Report) matrixRow(t Table) []string {
	row := []string{t.Name}
	for _, cmd := range Commands {
		if roles := t.Matrix[cmd]; len(roles) > 0 {
			row = append(row, strings.Join(roles, ", "))
		} else {
			row = append(row, "-")
		}
	}
	return row
}

func (r *Report) writeText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Row-level security of database %q: %d exposed tables\n", r.Database, len(r.Tables))
	for _, t := range r.Tables {
		fmt.Fprintf(&b, "\n%s  (RLS enabled: %s, forced: %s, %d policies)\n", t.Name, onOff(t.RLSEnabled), onOff(t.RLSForced), len(t.Policies))
		for _, p := range t.Policies {
			kind := ""
			if !p.Permissive {
				kind = " RESTRICTIVE"
			}
			fmt.Fprintf(&b, "  %s%s  %s  to %s\n", p.Name, kind, p.Command, strings.Join(p.Roles, ", "))
			fmt.Fprintf(&b, "    using:      %s\n", orDash(p.Using))
			fmt.Fprintf(&b, "    with check: %s\n", orDash(p.WithCheck))
			fmt.Fprintf(&b, "    comment:    %s\n", orDash(p.Comment))
		}
	}
	b.WriteString("\nSummary (table × command → roles a policy admits):\n")
	rows := [][]string{append([]string{"table"}, Commands...)}
	for _, t := range r.Tables {
		rows = append(rows, r.matrixRow(t))
	}
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, row := range rows {
		for i, c := range row {
			fmt.Fprintf(&b, "  %-*s", widths[i], c)
		}
		b.WriteString("\n")
	}
	r.writeGrantsText(&b)
	if r.WhoCan != nil {
		b.WriteString("\n")
		r.WhoCan.writeText(&b)
	}
	r.writeViolations(&b, "")
	_, err := io.WriteString(w, b.String())
	return err
}

// mdCell keeps a value inside one Markdown table cell.
func mdCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

func (r *Report) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Row-level security of `%s`\n\n## Summary: table × command → roles\n\n", r.Database)
	b.WriteString("| table | RLS enabled | forced | " + strings.Join(Commands, " | ") + " |\n")
	b.WriteString("|---|---|---|" + strings.Repeat("---|", len(Commands)) + "\n")
	for _, t := range r.Tables {
		row := r.matrixRow(t)
		cells := make([]string, 0, len(Commands))
		for _, c := range row[1:] {
			cells = append(cells, mdCell(c))
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", row[0], onOff(t.RLSEnabled), onOff(t.RLSForced), strings.Join(cells, " | "))
	}
	for _, t := range r.Tables {
		fmt.Fprintf(&b, "\n## `%s`\n\n", t.Name)
		if len(t.Policies) == 0 {
			b.WriteString("No policy: nobody reads or writes a row.\n")
			continue
		}
		b.WriteString("| policy | command | roles | using | with check | comment |\n|---|---|---|---|---|---|\n")
		for _, p := range t.Policies {
			cmd := p.Command
			if !p.Permissive {
				cmd += " (restrictive)"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | `%s` | `%s` | %s |\n", mdCell(p.Name), cmd, mdCell(strings.Join(p.Roles, ", ")),
				mdCell(orDash(p.Using)), mdCell(orDash(p.WithCheck)), mdCell(orDash(p.Comment)))
		}
	}
	r.writeGrantsMarkdown(&b)
	if r.WhoCan != nil {
		b.WriteString("\n")
		r.WhoCan.writeMarkdown(&b)
	}
	r.writeViolations(&b, "\n## Violations\n\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) writeViolations(b *strings.Builder, heading string) {
	if len(r.Violations) == 0 {
		return
	}
	if heading == "" {
		heading = "\nViolations:\n"
	}
	b.WriteString(heading)
	for _, v := range r.Violations {
		fmt.Fprintf(b, "- %s\n", v)
	}
}
