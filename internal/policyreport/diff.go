package policyreport

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Change is one difference in access between two reports, in words.
type Change struct {
	// Kind is table, policy, grant, function, who-can or levels.
	Kind  string `json:"kind"`
	Words string `json:"change"`
	// Old and New are the SQL expressions of a changed USING or WITH CHECK.
	Old *string `json:"old,omitempty"`
	New *string `json:"new,omitempty"`
}

// Diff is what changed in access from Old to New.
type Diff struct {
	Old     string   `json:"old"`
	New     string   `json:"new"`
	Changes []Change `json:"changes"`
	// Notes say what could not be compared (a report without who-can).
	Notes []string `json:"notes"`
	// Violations are the new report's.
	Violations []string `json:"violations"`
}

// Compare says what changed in access from old to new: tables and their RLS switches,
// policies (command, roles, permissive, USING, WITH CHECK), table and column grants,
// the functions the API role may execute, and — when both reports carry it — every
// who-can cell (actor × table × command × target) and actor level.
func Compare(oldName string, old *Report, newName string, new *Report) *Diff {
	d := &Diff{Old: oldName, New: newName, Changes: []Change{}, Notes: []string{}, Violations: new.Violations}
	if d.Violations == nil {
		d.Violations = []string{}
	}
	add := func(kind, format string, args ...any) {
		d.Changes = append(d.Changes, Change{Kind: kind, Words: fmt.Sprintf(format, args...)})
	}

	oldTables, newTables := tableMap(old), tableMap(new)
	for _, name := range unionKeys(oldTables, newTables) {
		ot, inOld := oldTables[name]
		nt, inNew := newTables[name]
		switch {
		case !inOld:
			add("table", "table %s added (RLS enabled: %s, forced: %s)", name, onOff(nt.RLSEnabled), onOff(nt.RLSForced))
		case !inNew:
			add("table", "table %s removed", name)
		default:
			if ot.RLSEnabled != nt.RLSEnabled {
				add("table", "table %s: row-level security enabled: was %s, now %s", name, onOff(ot.RLSEnabled), onOff(nt.RLSEnabled))
			}
			if ot.RLSForced != nt.RLSForced {
				add("table", "table %s: row-level security forced: was %s, now %s", name, onOff(ot.RLSForced), onOff(nt.RLSForced))
			}
		}
		d.comparePolicies(name, ot.Policies, nt.Policies)
		lost, gained := setDiff(grantItems(ot), grantItems(nt))
		for _, g := range gained {
			add("grant", "grant gained: %s on %s", g, name)
		}
		for _, g := range lost {
			add("grant", "grant lost: %s on %s", g, name)
		}
	}

	oldFuncs, newFuncs := map[string]Function{}, map[string]Function{}
	for _, f := range old.Functions {
		oldFuncs[f.Signature] = f
	}
	for _, f := range new.Functions {
		newFuncs[f.Signature] = f
	}
	for _, sig := range unionKeys(oldFuncs, newFuncs) {
		of, inOld := oldFuncs[sig]
		nf, inNew := newFuncs[sig]
		switch {
		case !inOld:
			add("function", "%s may now execute %s (%s, owner %s, search_path %s, %s)", APIRole, sig, nf.Security, nf.Owner, nf.searchPathWords(), nf.Volatility)
		case !inNew:
			add("function", "%s may no longer execute %s", APIRole, sig)
		default:
			for _, attr := range [][3]string{
				{"security", of.Security, nf.Security}, {"owner", of.Owner, nf.Owner},
				{"search_path", of.searchPathWords(), nf.searchPathWords()}, {"volatility", of.Volatility, nf.Volatility},
				{"language", of.Language, nf.Language},
			} {
				if attr[1] != attr[2] {
					add("function", "function %s: %s was %s, now %s", sig, attr[0], attr[1], attr[2])
				}
			}
		}
	}

	switch {
	case old.WhoCan != nil && new.WhoCan != nil:
		d.compareWhoCan(old.WhoCan, new.WhoCan)
	case old.WhoCan != nil || new.WhoCan != nil:
		d.Notes = append(d.Notes, "who-can: only one report carries it (make both with --who-can): not compared")
	}
	return d
}

func (d *Diff) comparePolicies(table string, old, new []Policy) {
	om, nm := map[string]Policy{}, map[string]Policy{}
	for _, p := range old {
		om[p.Name] = p
	}
	for _, p := range new {
		nm[p.Name] = p
	}
	for _, name := range unionKeys(om, nm) {
		op, inOld := om[name]
		np, inNew := nm[name]
		subject := fmt.Sprintf("policy %s on %s", name, table)
		switch {
		case !inOld:
			d.Changes = append(d.Changes, Change{Kind: "policy", Words: fmt.Sprintf("%s added: %s", subject, np.words())})
		case !inNew:
			d.Changes = append(d.Changes, Change{Kind: "policy", Words: fmt.Sprintf("%s removed (was: %s)", subject, op.words())})
		default:
			if op.Command != np.Command {
				d.Changes = append(d.Changes, Change{Kind: "policy", Words: fmt.Sprintf("%s: command was %s, now %s", subject, op.Command, np.Command)})
			}
			if op.Permissive != np.Permissive {
				d.Changes = append(d.Changes, Change{Kind: "policy", Words: fmt.Sprintf("%s: was %s, now %s", subject, permissiveWord(op.Permissive), permissiveWord(np.Permissive))})
			}
			if !slices.Equal(op.Roles, np.Roles) {
				d.Changes = append(d.Changes, Change{Kind: "policy", Words: fmt.Sprintf("%s: roles were %s, now %s", subject, strings.Join(op.Roles, ", "), strings.Join(np.Roles, ", "))})
			}
			if orDash(op.Using) != orDash(np.Using) {
				d.Changes = append(d.Changes, Change{Kind: "policy", Words: subject + ": USING changed", Old: op.Using, New: np.Using})
			}
			if orDash(op.WithCheck) != orDash(np.WithCheck) {
				d.Changes = append(d.Changes, Change{Kind: "policy", Words: subject + ": WITH CHECK changed", Old: op.WithCheck, New: np.WithCheck})
			}
		}
	}
}

func permissiveWord(p bool) string {
	if p {
		return "permissive"
	}
	return "restrictive"
}

// words is "SELECT to rowguard_api using (…) with check (…)".
func (p Policy) words() string {
	s := p.Command
	if !p.Permissive {
		s += " (restrictive)"
	}
	s += " to " + strings.Join(p.Roles, ", ")
	if p.Using != nil {
		s += " using (" + *p.Using + ")"
	}
	if p.WithCheck != nil {
		s += " with check (" + *p.WithCheck + ")"
	}
	return s
}

func (d *Diff) compareWhoCan(old, new *WhoCan) {
	type key struct{ table, command, target string }
	collect := func(w *WhoCan) (map[key][]string, []key) {
		m := map[key][]string{}
		var order []key
		for _, t := range w.Tables {
			for _, c := range t.Commands {
				for _, tr := range c.Targets {
					k := key{t.Table, c.Command, tr.Target}
					m[k] = tr.Allowed
					order = append(order, k)
				}
			}
		}
		return m, order
	}
	om, oldOrder := collect(old)
	nm, newOrder := collect(new)
	// An actor probed on one side only is a change of the matrix, not of access: it is one
	// change (with what it may reach), not one "now allowed" per cell.
	probed := func(w *WhoCan, name string) bool {
		return slices.ContainsFunc(w.Actors, func(a ActorLabel) bool { return a.Name == name })
	}
	reach := func(m map[key][]string, name string) int {
		n := 0
		for _, allowed := range m {
			if slices.Contains(allowed, name) {
				n++
			}
		}
		return n
	}
	for _, a := range new.Actors {
		if !probed(old, a.Name) {
			levels := ""
			if i := slices.IndexFunc(new.Levels, func(l Levels) bool { return l.Actor == a.Name }); i >= 0 {
				levels = " (" + new.Levels[i].words() + ")"
			}
			d.Changes = append(d.Changes, Change{Kind: "who-can", Words: fmt.Sprintf("%s: newly probed actor%s, allowed %d of %d targets", a.Label, levels, reach(nm, a.Name), len(nm))})
		}
	}
	for _, a := range old.Actors {
		if !probed(new, a.Name) {
			d.Changes = append(d.Changes, Change{Kind: "who-can", Words: fmt.Sprintf("%s: no longer probed (was allowed %d of %d targets)", a.Label, reach(om, a.Name), len(om))})
		}
	}
	for _, k := range newOrder {
		allowedNew := nm[k]
		allowedOld, ok := om[k]
		if !ok {
			d.Changes = append(d.Changes, Change{Kind: "who-can", Words: fmt.Sprintf("%s on %s: %s: newly probed, allowed %s", k.command, k.table, k.target, labels(new, allowedNew))})
			continue
		}
		for _, a := range new.Actors {
			if !probed(old, a.Name) {
				continue
			}
			was, is := slices.Contains(allowedOld, a.Name), slices.Contains(allowedNew, a.Name)
			if was != is {
				d.Changes = append(d.Changes, Change{Kind: "who-can", Words: fmt.Sprintf("%s: %s on %s: %s: now %s", a.Label, k.command, k.table, k.target, allowedWord(is))})
			}
		}
	}
	for _, k := range oldOrder {
		if _, ok := nm[k]; !ok {
			d.Changes = append(d.Changes, Change{Kind: "who-can", Words: fmt.Sprintf("%s on %s: %s: no longer probed (was allowed %s)", k.command, k.table, k.target, labels(old, om[k]))})
		}
	}
	oldLevels := map[string]Levels{}
	for _, l := range old.Levels {
		oldLevels[l.Actor] = l
	}
	for _, l := range new.Levels {
		if o, ok := oldLevels[l.Actor]; ok && o != l {
			d.Changes = append(d.Changes, Change{Kind: "levels", Words: fmt.Sprintf("%s in a project: was %s, now %s", new.label(l.Actor), o.words(), l.words())})
		}
	}
}

func labels(w *WhoCan, actors []string) string {
	if len(actors) == 0 {
		return "to nobody"
	}
	out := make([]string, len(actors))
	for i, a := range actors {
		out[i] = w.label(a)
	}
	return "to " + strings.Join(out, ", ")
}

func tableMap(r *Report) map[string]Table {
	m := map[string]Table{}
	for _, t := range r.Tables {
		m[t.Name] = t
	}
	return m
}

// grantItems explodes a table's grants into "role PRIV" and "role PRIV (column)".
func grantItems(t Table) []string {
	var items []string
	for role, privs := range t.Grants {
		for _, p := range privs {
			items = append(items, role+" "+p)
		}
	}
	for role, grants := range t.ColumnGrants {
		for _, g := range grants {
			priv, cols, ok := strings.Cut(strings.TrimSuffix(g, ")"), " (")
			if !ok {
				items = append(items, role+" "+g)
				continue
			}
			for _, c := range strings.Split(cols, ", ") {
				items = append(items, fmt.Sprintf("%s %s (%s)", role, priv, c))
			}
		}
	}
	slices.Sort(items)
	return items
}

// setDiff returns what is only in a and only in b (both sorted).
func setDiff(a, b []string) (onlyA, onlyB []string) {
	for _, x := range a {
		if !slices.Contains(b, x) {
			onlyA = append(onlyA, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			onlyB = append(onlyB, x)
		}
	}
	return onlyA, onlyB
}

func unionKeys[V any](a, b map[string]V) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	return sortedKeys(set)
}

// Write prints the diff in format (text, markdown or json).
func (d *Diff) Write(w io.Writer, format string) error {
	var b strings.Builder
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	case "text":
		if len(d.Changes) == 0 {
			fmt.Fprintf(&b, "No access change from %s to %s.\n", d.Old, d.New)
		} else {
			fmt.Fprintf(&b, "Access changes from %s to %s (%d):\n", d.Old, d.New, len(d.Changes))
		}
		for _, c := range d.Changes {
			fmt.Fprintf(&b, "- %s\n", c.Words)
			if c.Old != nil || c.New != nil {
				fmt.Fprintf(&b, "    - %s\n    + %s\n", orDash(c.Old), orDash(c.New))
			}
		}
		for _, n := range d.Notes {
			fmt.Fprintf(&b, "Note: %s\n", n)
		}
		if len(d.Violations) > 0 {
			fmt.Fprintf(&b, "\nViolations in %s:\n", d.New)
			for _, v := range d.Violations {
				fmt.Fprintf(&b, "- %s\n", v)
			}
		}
	case "markdown":
		fmt.Fprintf(&b, "# Access changes from `%s` to `%s`\n\n", d.Old, d.New)
		if len(d.Changes) == 0 {
			b.WriteString("No access change.\n")
		}
		for _, c := range d.Changes {
			fmt.Fprintf(&b, "- **%s**: %s\n", c.Kind, mdCell(c.Words))
			if c.Old != nil || c.New != nil {
				fmt.Fprintf(&b, "\n  ```diff\n  - %s\n  + %s\n  ```\n", strings.Join(strings.Fields(orDash(c.Old)), " "), strings.Join(strings.Fields(orDash(c.New)), " "))
			}
		}
		for _, n := range d.Notes {
			fmt.Fprintf(&b, "\n> %s\n", n)
		}
		if len(d.Violations) > 0 {
			fmt.Fprintf(&b, "\n## Violations in `%s`\n\n", d.New)
			for _, v := range d.Violations {
				fmt.Fprintf(&b, "- %s\n", v)
			}
		}
	default:
		return fmt.Errorf("policyreport: unknown format %q (want %s)", format, strings.Join(Formats, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
