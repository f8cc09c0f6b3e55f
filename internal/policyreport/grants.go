package policyreport

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// APIRole is the group role the serving login role belongs to: what it may reach is
// what the HTTP layer may reach.
const APIRole = "rowguard_api"

// Schemas are rowguard's own schemas; a PUBLIC grant on anything in them is a violation.
var Schemas = []string{"auth", "app", "api", "platform"}

// Function is one function the API role may execute.
type Function struct {
	Signature  string  `json:"signature"` // schema.name(argument types)
	Security   string  `json:"security"`  // DEFINER or INVOKER
	Owner      string  `json:"owner"`
	SearchPath *string `json:"search_path"` // the pinned search_path, null when not pinned
	Volatility string  `json:"volatility"`  // IMMUTABLE, STABLE or VOLATILE
	Language   string  `json:"language"`
}

// secretColumn matches the names of columns that hold a secret or a value derived from
// one (a hash of a token, a sealed token, a password hash, a PKCE verifier).
var secretColumn = regexp.MustCompile(`(^|_)(hash|sealed|secret|password|token|verifier|nonce|private_key)$`)

// NotSecret lists the columns whose name looks secret but whose value is not, with why:
// the API role may read them.
var NotSecret = map[string]string{
	"app.finance_idempotency_keys.request_hash": "a fingerprint of the caller's own request body, compared to tell a replay from a changed request",
}

// tableGrantsSQL: every explicit table privilege (the owner's implicit ones left out).
const tableGrantsSQL = `
select c.oid, case when a.grantee = 0 then 'PUBLIC' else pg_catalog.pg_get_userbyid(a.grantee)::text end, a.privilege_type
  from pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
 where c.relkind in ('r', 'p') and a.grantee <> c.relowner
 order by 1, 2, 3`

// columnGrantsSQL: every column privilege granted on its own (not through a table grant).
const columnGrantsSQL = `
select c.oid, case when a.grantee = 0 then 'PUBLIC' else pg_catalog.pg_get_userbyid(a.grantee)::text end,
       a.privilege_type, att.attname
  from pg_catalog.pg_class c
  join pg_catalog.pg_attribute att on att.attrelid = c.oid and att.attnum > 0 and not att.attisdropped,
       pg_catalog.aclexplode(att.attacl) a
 where c.relkind in ('r', 'p') and a.grantee <> c.relowner
 order by 1, 2, 3, att.attnum`

// apiFunctionsSQL: every function the API role may execute, outside the system schemas
// and extensions.
const apiFunctionsSQL = `
select p.oid::regprocedure::text,
       case when p.prosecdef then 'DEFINER' else 'INVOKER' end,
       pg_catalog.pg_get_userbyid(p.proowner)::text,
       (select substr(c, length('search_path=') + 1) from unnest(p.proconfig) c where c like 'search_path=%'),
       case p.provolatile when 'i' then 'IMMUTABLE' when 's' then 'STABLE' else 'VOLATILE' end,
       l.lanname::text
  from pg_catalog.pg_proc p
  join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  join pg_catalog.pg_language l on l.oid = p.prolang
 where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\_%'
   and not exists (select from pg_catalog.pg_depend d where d.classid = 'pg_catalog.pg_proc'::regclass
                      and d.objid = p.oid and d.deptype = 'e')
   and pg_catalog.has_function_privilege($1, p.oid, 'EXECUTE')
 order by 1`

// unpinnedDefinersSQL: SECURITY DEFINER functions without a pinned search_path, anywhere
// but the system schemas and extensions (a caller could plant objects they resolve).
const unpinnedDefinersSQL = `
select p.oid::regprocedure::text
  from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
 where p.prosecdef
   and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\_%'
   and not exists (select from pg_catalog.pg_depend d where d.classid = 'pg_catalog.pg_proc'::regclass
                      and d.objid = p.oid and d.deptype = 'e')
   and not exists (select from unnest(p.proconfig) c where c like 'search_path=%')
 order by 1`

// publicGrantsSQL: every privilege granted to PUBLIC on rowguard's schemas and what they
// hold, and on any function the API role may execute (outside the system schemas and
// extensions): the PostgreSQL default EXECUTE TO PUBLIC on a new function counts.
const publicGrantsSQL = `
select format('schema %I: %s', n.nspname, a.privilege_type)
  from pg_catalog.pg_namespace n, pg_catalog.aclexplode(coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
 where n.nspname = any ($1) and a.grantee = 0
union all
select format('%s %s: %s', case c.relkind when 'S' then 'sequence' when 'v' then 'view' else 'table' end,
              c.oid::regclass, a.privilege_type)
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace,
       pg_catalog.aclexplode(c.relacl) a
 where (n.nspname = any ($1) or c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
                                  and n.nspname not like 'pg\_%')
   and a.grantee = 0
union all
select format('column %s.%I: %s', c.oid::regclass, att.attname, a.privilege_type)
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  join pg_catalog.pg_attribute att on att.attrelid = c.oid and att.attnum > 0 and not att.attisdropped,
       pg_catalog.aclexplode(att.attacl) a
 where (n.nspname = any ($1) or c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
                                  and n.nspname not like 'pg\_%')
   and a.grantee = 0
union all
select format('function %s: EXECUTE', p.oid::regprocedure)
  from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace,
       pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
 where a.grantee = 0
   and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\_%'
   and not exists (select from pg_catalog.pg_depend d where d.classid = 'pg_catalog.pg_proc'::regclass
                      and d.objid = p.oid and d.deptype = 'e')
 order by 1`

// secretColumnsSQL: every column of a table in the report the API role may SELECT.
const readableColumnsSQL = `
select c.oid, att.attname
  from pg_catalog.pg_class c
  join pg_catalog.pg_attribute att on att.attrelid = c.oid and att.attnum > 0 and not att.attisdropped
 where c.relkind in ('r', 'p', 'v', 'm')
   and pg_catalog.has_column_privilege($1, c.oid, att.attnum, 'SELECT')
 order by 1, att.attnum`

// loadGrants fills each table's grants, the API role's functions and their violations.
func (rep *Report) loadGrants(ctx context.Context, conn *pgx.Conn, byOID map[uint32]int) error {
	rows, err := conn.Query(ctx, tableGrantsSQL)
	if err != nil {
		return fmt.Errorf("policyreport: read table grants: %w", err)
	}
	for rows.Next() {
		var oid uint32
		var role, priv string
		if err := rows.Scan(&oid, &role, &priv); err != nil {
			return fmt.Errorf("policyreport: read table grants: %w", err)
		}
		if i, ok := byOID[oid]; ok {
			t := &rep.Tables[i]
			t.Grants[role] = append(t.Grants[role], priv)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("policyreport: read table grants: %w", err)
	}

	rows, err = conn.Query(ctx, columnGrantsSQL)
	if err != nil {
		return fmt.Errorf("policyreport: read column grants: %w", err)
	}
	type key struct {
		table       int
		role, privs string
	}
	cols := map[key][]string{}
	var keys []key
	for rows.Next() {
		var oid uint32
		var role, priv, col string
		if err := rows.Scan(&oid, &role, &priv, &col); err != nil {
			return fmt.Errorf("policyreport: read column grants: %w", err)
		}
		if i, ok := byOID[oid]; ok {
			k := key{i, role, priv}
			if _, seen := cols[k]; !seen {
				keys = append(keys, k)
			}
			cols[k] = append(cols[k], col)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("policyreport: read column grants: %w", err)
	}
	for _, k := range keys {
		t := &rep.Tables[k.table]
		t.ColumnGrants[k.role] = append(t.ColumnGrants[k.role], k.privs+" ("+strings.Join(cols[k], ", ")+")")
	}

	rows, err = conn.Query(ctx, apiFunctionsSQL, APIRole)
	if err != nil {
		return fmt.Errorf("policyreport: read functions: %w", err)
	}
	for rows.Next() {
		var f Function
		if err := rows.Scan(&f.Signature, &f.Security, &f.Owner, &f.SearchPath, &f.Volatility, &f.Language); err != nil {
			return fmt.Errorf("policyreport: read functions: %w", err)
		}
		rep.Functions = append(rep.Functions, f)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("policyreport: read functions: %w", err)
	}

	unpinned, err := strings1(ctx, conn, unpinnedDefinersSQL)
	if err != nil {
		return err
	}
	for _, f := range unpinned {
		rep.Violations = append(rep.Violations, "function "+f+": SECURITY DEFINER without a pinned search_path")
	}
	public, err := strings1(ctx, conn, publicGrantsSQL, Schemas)
	if err != nil {
		return err
	}
	for _, g := range public {
		rep.Violations = append(rep.Violations, g+" is granted to PUBLIC")
	}

	rows, err = conn.Query(ctx, readableColumnsSQL, APIRole)
	if err != nil {
		return fmt.Errorf("policyreport: read column privileges: %w", err)
	}
	for rows.Next() {
		var oid uint32
		var col string
		if err := rows.Scan(&oid, &col); err != nil {
			return fmt.Errorf("policyreport: read column privileges: %w", err)
		}
		i, ok := byOID[oid]
		if !ok || !secretColumn.MatchString(col) {
			continue
		}
		name := rep.Tables[i].Name + "." + col
		if _, ok := NotSecret[name]; ok {
			continue
		}
		rep.Violations = append(rep.Violations, fmt.Sprintf("%s: a secret column %s may read", name, APIRole))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("policyreport: read column privileges: %w", err)
	}
	for i := range rep.Tables {
		for _, privs := range rep.Tables[i].Grants {
			sort.Strings(privs)
		}
	}
	return nil
}

// strings1 runs a query returning one text column.
func strings1(ctx context.Context, conn *pgx.Conn, sql string, args ...any) ([]string, error) {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("policyreport: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("policyreport: %w", err)
	}
	return out, nil
}
