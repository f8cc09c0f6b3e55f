package pgtap

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A reviewer runs this suite against a live deployment (docs/security-review.md),
// where each file's transaction lasts seconds. Row locks on the file's own
// fixtures are harmless there; a lock on a whole live table is not: TRUNCATE, ALTER
// TABLE … DISABLE TRIGGER or a foreign key to app.projects would stall every request
// touching that table until the file rolls back. So every statement that locks a table
// the file did not create itself, more strongly than a row lock, must be avoided (plant
// the violation on a table the file creates; check the catalog instead), or be
// documented for reviewers in a `-- lock:` comment right above it.
func TestPgTAPTakesNoTableLocks(t *testing.T) {
	files, err := filepath.Glob("*.sql")
	if err != nil {
		t.Fatal(err)
	}
	fixtures, err := filepath.Glob("fixtures/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, fixtures...)
	if len(files) < 4 {
		t.Fatalf("expected the pgTAP suite here, found only %v", files)
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range scanTableLocks(string(src)) {
			if f.documented {
				t.Logf("%s:%d: documented for reviewers: %s: holds %s", file, f.line, f.statement, f.lock)
				continue
			}
			t.Errorf("%s:%d: %s holds %s on the live table %s until the file rolls back: avoid it (plant the violation on a "+
				"table the file creates, or check the catalog), or say in a `-- lock:` comment right above it what it "+
				"locks and why it is needed", file, f.line, f.statement, f.lock, f.table)
		}
	}
}

// The scanner itself, on planted statements: each kind is caught on a live table, not
// on a table the file created, and a `-- lock:` comment documents it.
func TestScanTableLocksCatchesPlantedStatements(t *testing.T) {
	for _, stmt := range []string{
		"truncate app.audit_log;",
		"select throws_ok($$truncate table platform.admin_audit$$, 'RG403');",
		"alter table app.projects disable trigger projects_audit;",
		"lock table app.projects in share mode;",
		"lock app.projects in exclusive mode;",
		"drop table app.projects;",
		"drop trigger projects_audit on app.projects;",
		"drop policy projects_select on app.projects;",
		"create index on app.projects (name);",
		"create unique index projects_x on app.projects (name);",
		"create trigger t after insert on app.projects for each row execute function f();",
		"create policy p on app.projects for select to rowguard_api using (true);",
		"alter policy projects_select on app.projects using (true);",
		"create table app.canary_child (org_id uuid, project_id uuid references app.projects (id));",
		"comment on table app.projects is 'x';",
		"grant update (org_id) on app.projects to rowguard_api;",
		"revoke insert on table app.memberships from rowguard_api;",
		"reindex table app.projects;",
	} {
		found := scanTableLocks("begin;\n" + stmt + "\nrollback;\n")
		if len(found) != 1 || found[0].documented || found[0].line != 2 {
			t.Errorf("%q: found %+v, want one undocumented statement on line 2", stmt, found)
		}
		documented := scanTableLocks("begin;\n-- lock: planted, for the scanner's test.\n" + stmt + "\nrollback;\n")
		if len(documented) != 1 || !documented[0].documented {
			t.Errorf("%q after a lock: comment: found %+v, want it documented", stmt, documented)
		}
	}
	for _, src := range []string{
		"create table app.canary (org_id uuid not null, id int primary key);\nalter table app.canary enable row level security;\n" +
			"create policy canary_select on app.canary for select using (true);\ncreate table app.canary_child (canary_id int references app.canary (id));\n" +
			"create trigger t after insert on app.canary_child for each row execute function f();\ntruncate app.canary_child;\n",
		"create temp table catalogue as select 1;\ngrant select on pg_temp.catalogue to rowguard_api;\n",
		"select has_table_privilege('rowguard_api', t, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER');\n",
		"select array['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES'];\n",
		"-- truncate app.audit_log would lock it\nselect 1;\n",
		"update auth.email_outbox set attempts = 1 where id = any (array(select id from auth.email_outbox for update skip locked));\n",
		"select is((select 1), 1, 'auth.open_session locks the user row');\n",
	} {
		if found := scanTableLocks(src); len(found) != 0 {
			t.Errorf("%q: found %+v, want nothing (tables the file created, privilege names, comments, row locks)", src, found)
		}
	}
}

// tableLock is one statement that locks (or holds the catalog row of) a table.
type tableLock struct {
	line       int    // 1-based, where the statement's keyword is
	statement  string // its first words
	table      string
	lock       string
	documented bool // a `-- lock:` comment is right above it (or on its line)
}

var lockingStatements = []struct {
	re   *regexp.Regexp
	lock string
}{
	{regexp.MustCompile(`(?i)\btruncate\s+(?:table\s+)?(?:only\s+)?([\w."]+)`), "an ACCESS EXCLUSIVE lock"},
	{regexp.MustCompile(`(?i)\balter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?([\w."]+)`), "a SHARE ROW EXCLUSIVE to ACCESS EXCLUSIVE lock"},
	{regexp.MustCompile(`(?i)\block\s+(?:table\s+)?(?:only\s+)?([\w."]+)\s+in\s`), "the named table lock"},
	{regexp.MustCompile(`(?i)\block\s+table\s+(?:only\s+)?([\w."]+)`), "an ACCESS EXCLUSIVE lock (the default mode)"},
	{regexp.MustCompile(`(?i)\bdrop\s+(?:table|index|view|materialized\s+view)\s+(?:if\s+exists\s+)?([\w."]+)`), "an ACCESS EXCLUSIVE lock"},
	{regexp.MustCompile(`(?i)\bdrop\s+(?:trigger|policy|rule)\s+(?:if\s+exists\s+)?[\w"]+\s+on\s+([\w."]+)`), "an ACCESS EXCLUSIVE lock"},
	{regexp.MustCompile(`(?i)\bcreate\s+(?:unique\s+)?index\b[^;\n]*?\bon\s+(?:only\s+)?([\w."]+)`), "a SHARE lock"},
	{regexp.MustCompile(`(?i)\bcreate\s+(?:or\s+replace\s+)?(?:constraint\s+)?trigger\b[^;]*?\bon\s+([\w."]+)`), "a SHARE ROW EXCLUSIVE lock"},
	{regexp.MustCompile(`(?i)\b(?:create|alter)\s+policy\b[^;]*?\bon\s+([\w."]+)`), "an ACCESS EXCLUSIVE lock"},
	{regexp.MustCompile(`(?i)\breferences\s+([\w."]+)`), "a SHARE ROW EXCLUSIVE lock (a new foreign key's referenced table)"},
	{regexp.MustCompile(`(?i)\bcomment\s+on\s+(?:table|column)\s+([\w."]+)`), "a SHARE UPDATE EXCLUSIVE lock"},
	{regexp.MustCompile(`(?i)\bcomment\s+on\s+(?:policy|trigger)\s+[\w"]+\s+on\s+([\w."]+)`), "a SHARE UPDATE EXCLUSIVE lock"},
	{regexp.MustCompile(`(?i)\b(?:grant|revoke)\b[^;\n]*?\bon\s+(?:table\s+)?((?:all\s+tables\s+in\s+schema\s+)?[\w."]+)`),
		"its catalog row (no table lock, but a concurrent GRANT or ALTER of it waits)"},
	{regexp.MustCompile(`(?i)\b(?:reindex|cluster|vacuum)\s+(?:\([^)]*\)\s*)?(?:table\s+|index\s+|full\s+)?([\w."]+)`), "an exclusive lock"},
}

// nonTables are words the GRANT pattern can capture that name no table.
var nonTables = map[string]bool{"schema": true, "function": true, "functions": true, "procedure": true, "routine": true,
	"sequence": true, "database": true, "language": true, "type": true, "domain": true, "foreign": true, "large": true,
	"parameter": true, "tablespace": true}

var createdTable = regexp.MustCompile(`(?i)\bcreate\s+(?:(?:global\s+|local\s+)?(?:temp|temporary)\s+|unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?([\w."]+)`)

// scanTableLocks lists the statements of src (SQL and psql) that lock a table src did
// not create. It reads what runs: code, dollar-quoted text (pgTAP runs the statements
// it is given) and quoted text that starts like a statement; comments and other quoted
// text (test descriptions) are ignored.
func scanTableLocks(src string) []tableLock {
	text, comments := executableSQL(src)
	code := strings.Split(text, "\n")

	created := map[string]bool{}
	for _, m := range createdTable.FindAllStringSubmatch(text, -1) {
		created[tableName(m[1])] = true
	}

	var found []tableLock
	seen := map[int]bool{} // byte offset of a statement already reported
	for _, ls := range lockingStatements {
		for _, m := range ls.re.FindAllStringSubmatchIndex(text, -1) {
			table := tableName(text[m[2]:m[3]])
			if created[table] || nonTables[table] || seen[m[0]] {
				continue
			}
			seen[m[0]] = true
			line := strings.Count(text[:m[0]], "\n")
			stmt := strings.Join(strings.Fields(text[m[0]:m[1]]), " ")
			found = append(found, tableLock{line: line + 1, statement: stmt, table: table, lock: ls.lock,
				documented: documentedLock(code, comments, line)})
		}
	}
	return found
}

var (
	dollarQuote   = regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)?\$`)
	statementLike = regexp.MustCompile(`(?i)^\s*(select|insert|update|delete|truncate|alter|lock|drop|create|grant|revoke|comment|with|reindex|cluster|vacuum|do|execute|perform)\s`)
)

// executableSQL returns src with comments and prose blanked to spaces (offsets and
// newlines kept), and the comment text of each line.
func executableSQL(src string) (string, map[int]string) {
	out := []byte(src)
	comments := map[int]string{}
	blank := func(from, to int) {
		for k := from; k < to; k++ {
			if out[k] != '\n' {
				out[k] = ' '
			}
		}
	}
	var walk func(from, to int)
	walk = func(from, to int) {
		for i := from; i < to; {
			switch {
			case strings.HasPrefix(src[i:to], "--"):
				end := strings.IndexByte(src[i:to], '\n')
				if end < 0 {
					end = to - i
				}
				comments[strings.Count(src[:i], "\n")] += src[i+2 : i+end]
				blank(i, i+end)
				i += end
			case strings.HasPrefix(src[i:to], "/*"):
				end := strings.Index(src[i:to], "*/")
				if end < 0 {
					end = to - i - 2
				}
				blank(i, i+end+2)
				i += end + 2
			case src[i] == '\'':
				j := i + 1
				for j < to && (src[j] != '\'' || j+1 < to && src[j+1] == '\'') {
					if src[j] == '\'' {
						j++
					}
					j++
				}
				if statementLike.MatchString(src[i+1 : min(j, to)]) {
					blank(i, i+1)
					if j < to {
						blank(j, j+1)
					}
				} else {
					blank(i, min(j+1, to))
				}
				i = j + 1
			case src[i] == '$' && dollarQuote.MatchString(src[i:to]):
				tag := dollarQuote.FindString(src[i:to])
				end := strings.Index(src[i+len(tag):to], tag)
				if end < 0 {
					end = to - i - len(tag)
				}
				blank(i, i+len(tag))
				walk(i+len(tag), i+len(tag)+end)
				blank(min(i+len(tag)+end, to), min(i+2*len(tag)+end, to))
				i += 2*len(tag) + end
			default:
				i++
			}
		}
	}
	walk(0, len(src))
	return string(out), comments
}

// tableName normalises a table as written: unquoted, lower case, without pg_temp.
func tableName(s string) string {
	s = strings.ToLower(strings.ReplaceAll(s, `"`, ""))
	return strings.TrimPrefix(s, "pg_temp.")
}

// documentedLock: a `-- lock:` comment on line i, or in the lines just above it, up to
// the previous statement's end (a line ending in ;) or a blank line.
func documentedLock(code []string, comments map[int]string, i int) bool {
	isLockComment := func(c string) bool { return strings.HasPrefix(strings.ToLower(strings.TrimSpace(c)), "lock:") }
	if isLockComment(comments[i]) {
		return true
	}
	for j := i - 1; j >= 0; j-- {
		c := strings.TrimSpace(code[j])
		if strings.HasSuffix(c, ";") || c == "" && strings.TrimSpace(comments[j]) == "" {
			return false
		}
		if isLockComment(comments[j]) {
			return true
		}
	}
	return false
}

func (l tableLock) String() string {
	return fmt.Sprintf("line %d %q (%s on %s, documented %v)", l.line, l.statement, l.lock, l.table, l.documented)
}
