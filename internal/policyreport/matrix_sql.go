package policyreport

import (
	"fmt"
	"strings"
)

// RoleMatrixSQLPath is where RoleMatrixSQL is written, from the module root.
const RoleMatrixSQLPath = "tests/pgtap/fixtures/role_matrix_expectations.sql"

// RoleMatrixSQL renders Actors, Expectations and PermissionExpectations as the temp
// tables tests/pgtap/41_role_matrix.sql proves (fixtures/role_matrix_expectations.sql).
func RoleMatrixSQL() string {
	var b strings.Builder
	b.WriteString(`-- GENERATED from internal/policyreport/expectations.go: do not edit. Regenerate with
--   go test ./internal/policyreport -run TestRoleMatrixSQLIsGenerated -update
-- The actors, THE EXPECTATION TABLE and THE PERMISSION EXPECTATION of the role matrix
-- (41_role_matrix.sql), on top of fixtures/matrix.sql. rowguard policies who-can proves
-- the same table on a live database.
create temp table actor (name text primary key, user_id uuid, ord int);
insert into actor values
`)
	for i, a := range Actors {
		user := "null"
		if a.Var != "" {
			user = ":" + a.Var
		}
		fmt.Fprintf(&b, "  (%s, %s, %d)%s\n", sqlLiteral(a.Name), user, i+1, sep(i, len(Actors)))
	}
	b.WriteString("\ncreate temp table expectation (tbl text, cmd text, variant text, probe text, allowed text[], ord serial);\n")
	b.WriteString("insert into expectation (tbl, cmd, variant, probe, allowed) values\n")
	for i, e := range Expectations {
		fmt.Fprintf(&b, "  (%s, %s, %s, $$%s$$, '{%s}')%s\n", sqlLiteral(e.Table), sqlLiteral(strings.ToLower(e.Command)),
			sqlLiteral(e.Target), e.Probe, strings.Join(e.Allowed, ","), sep(i, len(Expectations)))
	}
	b.WriteString("\ncreate temp table permission_expectation (actor text primary key, role app.project_role, finance app.domain_level, analytics app.domain_level);\n")
	b.WriteString("insert into permission_expectation values\n")
	for i, l := range PermissionExpectations {
		fmt.Fprintf(&b, "  (%s, %s, %s, %s)%s\n", sqlLiteral(l.Actor), sqlOrNull(l.Role), sqlOrNull(l.Finance), sqlOrNull(l.Analytics),
			sep(i, len(PermissionExpectations)))
	}
	return b.String()
}

func sep(i, n int) string {
	if i == n-1 {
		return ";"
	}
	return ","
}

func sqlLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func sqlOrNull(s string) string {
	if s == "" {
		return "null"
	}
	return sqlLiteral(s)
}
