package pgtap

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/internal/testdb"
)

// The role matrix of docs/roles.md says what app.project_role_matrix() says: the
// matrix is written once in SQL, and the documentation cannot drift from it.
func TestRolesDocMatrixMatchesSQL(t *testing.T) {
	doc, err := os.ReadFile("../../docs/roles.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- role-matrix:begin -->")
	table, _, ok2 := strings.Cut(rest, "<!-- role-matrix:end -->")
	if !ok || !ok2 {
		t.Fatal("docs/roles.md has no <!-- role-matrix:begin/end --> table")
	}
	var documented []string
	for _, line := range strings.Split(strings.TrimSpace(table), "\n")[2:] { // skip header and rule
		cells := strings.Split(strings.Trim(line, "| "), "|")
		if len(cells) < 3 {
			t.Fatalf("docs/roles.md matrix row %q", line)
		}
		documented = append(documented, strings.TrimSpace(cells[0])+" "+strings.TrimSpace(cells[1])+" "+strings.TrimSpace(cells[2]))
	}

	db := testdb.New(t)
	conn, err := pgx.Connect(context.Background(), db.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(),
		`select role::text || ' ' || finance || ' ' || analytics from app.project_role_matrix() order by role desc`)
	if err != nil {
		t.Fatal(err)
	}
	inSQL, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(documented, "\n") != strings.Join(inSQL, "\n") {
		t.Errorf("docs/roles.md role matrix:\n%s\napp.project_role_matrix():\n%s", strings.Join(documented, "\n"), strings.Join(inSQL, "\n"))
	}
}
