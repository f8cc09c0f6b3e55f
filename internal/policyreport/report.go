// Package policyreport reads the access model of a rowguard database live from the
// catalog — every exposed table with its row-level security switches, every policy
// (command, roles, USING, WITH CHECK, comment), a table × command × role matrix, the
// table and column grants, and every function the API role may execute — and prints it
// for DBAs (`rowguard policies`). Violations of the project's rules (a table without
// enabled and forced RLS, a policy without a comment, a SECURITY DEFINER function
// without a pinned search_path, a PUBLIC grant, a secret column the API role may read)
// make the report fail, so CI can run it.
//
// WhoCan (whocan.go) restates the model in application actors (org OWNER, project
// VIEWER, …) from the declared expectation table the pgTAP role matrix is generated
// from, proven by running every probe in a rolled-back transaction; Diff (diff.go) says
// what changed between two reports.
package policyreport

import (
	"context"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
)

// Commands are the four commands a policy can cover, in report order.
var Commands = []string{"SELECT", "INSERT", "UPDATE", "DELETE"}

// Report is the access model of one database.
type Report struct {
	Database string  `json:"database"`
	Tables   []Table `json:"tables"`
	// Functions are the functions the API role may execute (outside the system schemas
	// and extensions), by signature.
	Functions []Function `json:"functions"`
	// WhoCan is the access model in application actors, proven by probes (Probe); nil
	// unless asked for.
	WhoCan     *WhoCan  `json:"who_can,omitempty"`
	Violations []string `json:"violations"`
}

// Table is one exposed table.
type Table struct {
	Name       string   `json:"table"` // schema.table
	RLSEnabled bool     `json:"rls_enabled"`
	RLSForced  bool     `json:"rls_forced"`
	Policies   []Policy `json:"policies"`
	// Matrix maps each command to the roles some policy lets act (sorted); a command
	// nobody may use is absent.
	Matrix map[string][]string `json:"matrix"`
	// Grants maps each role (or PUBLIC) to its table privileges; ColumnGrants to its
	// column privileges, as "SELECT (col, col)". The owner's own are left out.
	Grants       map[string][]string `json:"grants"`
	ColumnGrants map[string][]string `json:"column_grants"`
}

// Policy is one row-level security policy.
type Policy struct {
	Name       string   `json:"name"`
	Command    string   `json:"command"` // SELECT, INSERT, UPDATE, DELETE or ALL
	Permissive bool     `json:"permissive"`
	Roles      []string `json:"roles"` // PUBLIC when the policy names none
	Using      *string  `json:"using"`
	WithCheck  *string  `json:"with_check"`
	Comment    *string  `json:"comment"`
}

// exposedTablesSQL: every table in the rowguard schemas, and any other table the API
// role holds a privilege on (the same definition as tests/pgtap/00_rls_coverage.sql).
const exposedTablesSQL = `
select c.oid, format('%I.%I', n.nspname, c.relname), c.relrowsecurity, c.relforcerowsecurity
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p')
   and (n.nspname in ('auth', 'app', 'api', 'platform')
        or (exists (select from pg_catalog.pg_roles where rolname = 'rowguard_api')
            and pg_catalog.has_table_privilege('rowguard_api', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')))
   and n.nspname not in ('pg_catalog', 'information_schema')
   and n.nspname not like 'pg\_temp\_%' and n.nspname not like 'pg\_toast%'
 order by 2`

const policiesSQL = `
select p.polrelid, p.polname,
       case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE'
                     when 'd' then 'DELETE' else 'ALL' end,
       p.polpermissive,
       array(select case when r = 0 then 'PUBLIC' else pg_catalog.pg_get_userbyid(r)::text end
               from unnest(p.polroles) r order by 1),
       pg_catalog.pg_get_expr(p.polqual, p.polrelid),
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid),
       pg_catalog.obj_description(p.oid, 'pg_policy')
  from pg_catalog.pg_policy p
 order by p.polrelid, p.polname`

// Load reads the report from the database conn is connected to.
func Load(ctx context.Context, conn *pgx.Conn) (*Report, error) {
	rep := &Report{Database: conn.Config().Database, Tables: []Table{}, Functions: []Function{}, Violations: []string{}}
	rows, err := conn.Query(ctx, exposedTablesSQL)
	if err != nil {
		return nil, fmt.Errorf("policyreport: read tables: %w", err)
	}
	byOID := map[uint32]int{}
	for rows.Next() {
		var oid uint32
		t := Table{Policies: []Policy{}, Matrix: map[string][]string{}, Grants: map[string][]string{}, ColumnGrants: map[string][]string{}}
		if err := rows.Scan(&oid, &t.Name, &t.RLSEnabled, &t.RLSForced); err != nil {
			return nil, fmt.Errorf("policyreport: read tables: %w", err)
		}
		byOID[oid] = len(rep.Tables)
		rep.Tables = append(rep.Tables, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("policyreport: read tables: %w", err)
	}

	rows, err = conn.Query(ctx, policiesSQL)
	if err != nil {
		return nil, fmt.Errorf("policyreport: read policies: %w", err)
	}
	for rows.Next() {
		var oid uint32
		var p Policy
		if err := rows.Scan(&oid, &p.Name, &p.Command, &p.Permissive, &p.Roles, &p.Using, &p.WithCheck, &p.Comment); err != nil {
			return nil, fmt.Errorf("policyreport: read policies: %w", err)
		}
		if i, ok := byOID[oid]; ok {
			rep.Tables[i].Policies = append(rep.Tables[i].Policies, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("policyreport: read policies: %w", err)
	}
	for i := range rep.Tables {
		rep.Tables[i].buildMatrix()
		rep.Violations = append(rep.Violations, rep.Tables[i].violations()...)
	}
	if err := rep.loadGrants(ctx, conn, byOID); err != nil {
		return nil, err
	}
	return rep, nil
}

// buildMatrix fills Matrix from the permissive policies (a restrictive policy grants
// nothing on its own).
func (t *Table) buildMatrix() {
	sets := map[string]map[string]bool{}
	for _, p := range t.Policies {
		if !p.Permissive {
			continue
		}
		for _, cmd := range Commands {
			if p.Command != cmd && p.Command != "ALL" {
				continue
			}
			if sets[cmd] == nil {
				sets[cmd] = map[string]bool{}
			}
			for _, r := range p.Roles {
				sets[cmd][r] = true
			}
		}
	}
	for cmd, set := range sets {
		roles := make([]string, 0, len(set))
		for r := range set {
			roles = append(roles, r)
		}
		sort.Strings(roles)
		t.Matrix[cmd] = roles
	}
}

// violations lists what breaks the project's rules for this table.
func (t *Table) violations() []string {
	var v []string
	if !t.RLSEnabled {
		v = append(v, t.Name+": row-level security is not enabled")
	}
	if !t.RLSForced {
		v = append(v, t.Name+": row-level security is not forced (the owner bypasses it)")
	}
	for _, p := range t.Policies {
		if p.Comment == nil || *p.Comment == "" {
			v = append(v, fmt.Sprintf("%s: policy %s has no COMMENT ON POLICY", t.Name, p.Name))
		}
	}
	return v
}
