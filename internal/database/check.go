package database

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Querier is what CheckServingRole reads through: a *pgxpool.Pool, or one *pgx.Conn (a
// read replica's connection, checked as it opens).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// UnsafeRoleError is returned by CheckServingRole when the server's login role could
// see or change rows that row-level security would hide from it.
type UnsafeRoleError struct {
	Role    string
	Reasons []string
}

func (e *UnsafeRoleError) Error() string {
	return fmt.Sprintf("refusing to serve as database role %q: %s. "+
		"rowguard must log in as a role that is NOSUPERUSER, NOBYPASSRLS, NOCREATEROLE, owns nothing and is only a member of rowguard_api, "+
		"e.g. CREATE ROLE rowguard_app LOGIN PASSWORD '...' NOSUPERUSER NOBYPASSRLS IN ROLE rowguard_api; "+
		"run migrations with a separate URL (MIGRATION_DATABASE_URL)",
		e.Role, strings.Join(e.Reasons, "; "))
}

// ownedSchemas are the schemas whose objects the serving role must not own: an owner
// may disable RLS, drop policies or redefine the functions policies rely on.
var ownedSchemas = []string{"auth", "app", "api"}

// CheckServingRole refuses (with an *UnsafeRoleError) a serving role that could
// bypass row-level security: a superuser, a role with BYPASSRLS or CREATEROLE (which
// can grant itself anything that is not superuser), a member of rowguard_owner or
// rowguard_kernel, or the owner (directly or through membership) of any schema, table
// or function in auth, app and api. It also fails when the role cannot use the API's
// grants (not a member of rowguard_api with INHERIT) or when the database has not been
// migrated.
func CheckServingRole(ctx context.Context, pool Querier) error {
	var (
		role                          string
		super, bypass, createRole     bool
		ownerExists, kernel, apiExist bool
	)
	err := pool.QueryRow(ctx, `
		select current_user, r.rolsuper, r.rolbypassrls, r.rolcreaterole,
		       exists(select from pg_catalog.pg_roles where rolname = 'rowguard_owner'),
		       exists(select from pg_catalog.pg_roles where rolname = 'rowguard_kernel'),
		       exists(select from pg_catalog.pg_roles where rolname = 'rowguard_api')
		  from pg_catalog.pg_roles r
		 where r.rolname = current_user`).Scan(&role, &super, &bypass, &createRole, &ownerExists, &kernel, &apiExist)
	if err != nil {
		return fmt.Errorf("database: read the serving role: %w", err)
	}
	var reasons []string
	if super {
		reasons = append(reasons, "it is a superuser, and superusers bypass row-level security")
	}
	if bypass && !super {
		reasons = append(reasons, "it has BYPASSRLS")
	}
	if createRole && !super {
		reasons = append(reasons, "it has CREATEROLE, so it could grant itself the owner role")
	}
	if !ownerExists || !apiExist {
		if len(reasons) > 0 {
			return &UnsafeRoleError{Role: role, Reasons: reasons}
		}
		return fmt.Errorf("database: the roles rowguard_owner and rowguard_api do not exist: the database is not migrated; run rowguard migrate first")
	}
	for _, group := range []string{"rowguard_owner", "rowguard_kernel"} {
		if group == "rowguard_kernel" && !kernel {
			continue
		}
		var member bool
		if err := pool.QueryRow(ctx, "select pg_catalog.pg_has_role(current_user, $1::text::name, 'MEMBER')", group).Scan(&member); err != nil {
			return fmt.Errorf("database: check membership in %s: %w", group, err)
		}
		if member && !super {
			reasons = append(reasons, fmt.Sprintf("it is a member of %s, which owns the tables and functions", group))
		}
	}

	rows, err := pool.Query(ctx, `
		select kind, name, owner from (
		  select 'schema' as kind, n.nspname::text as name, n.nspowner as owner_oid
		    from pg_catalog.pg_namespace n
		   where n.nspname = any($1)
		  union all
		  select case c.relkind when 'r' then 'table' when 'p' then 'table' when 'v' then 'view'
		              when 'm' then 'materialized view' when 'S' then 'sequence' when 'f' then 'foreign table'
		              else 'relation' end,
		         n.nspname || '.' || c.relname, c.relowner
		    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
		   where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
		  union all
		  select 'function', n.nspname || '.' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')', p.proowner
		    from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
		   where n.nspname = any($1)
		) o
		cross join lateral (select pg_catalog.pg_get_userbyid(o.owner_oid)::text as owner) u
		where pg_catalog.pg_has_role(current_user, o.owner_oid, 'MEMBER')
		order by kind, name`, ownedSchemas)
	if err != nil {
		return fmt.Errorf("database: list objects owned by the serving role: %w", err)
	}
	type owned struct{ Kind, Name, Owner string }
	objs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[owned])
	if err != nil {
		return fmt.Errorf("database: list objects owned by the serving role: %w", err)
	}
	if len(objs) > 0 && !super {
		var names []string
		for i, o := range objs {
			if i == 5 {
				names = append(names, fmt.Sprintf("and %d more", len(objs)-5))
				break
			}
			names = append(names, fmt.Sprintf("%s %s (owner %s)", o.Kind, o.Name, o.Owner))
		}
		reasons = append(reasons, "it owns (directly or through membership) "+strings.Join(names, ", "))
	}
	if len(reasons) > 0 {
		return &UnsafeRoleError{Role: role, Reasons: reasons}
	}

	var usesAPI bool
	if err := pool.QueryRow(ctx, "select pg_catalog.pg_has_role(current_user, 'rowguard_api', 'USAGE')").Scan(&usesAPI); err != nil {
		return fmt.Errorf("database: check membership in rowguard_api: %w", err)
	}
	if !usesAPI {
		return fmt.Errorf("database: role %q cannot use the API's grants: make it a member of rowguard_api with INHERIT (GRANT rowguard_api TO %s)", role, pgx.Identifier{role}.Sanitize())
	}
	return nil
}
