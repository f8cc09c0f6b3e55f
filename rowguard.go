// Package rowguard holds what the rowguard binary carries besides Go code: the SQL that
// is the security kernel. The versioned migrations (sql/migrations: tables, types,
// constraints, data), the kernel functions and triggers (sql/kernel), the API functions
// (sql/api) and the row-level-security policies and grants (policies) are embedded, so
// `rowguard migrate` installs exactly the SQL the binary was built with.
//
// The same folders are plain files for a DBA's own tern CLI (see tern.conf).
package rowguard

import (
	"embed"
	"io/fs"
)

// Version is the release version, set at build time:
//
//	go build -ldflags "-X github.com/rowguard/rowguard.Version=1.2.3" ./cmd/rowguard
var Version = "dev"

// Commit and BuildDate name the build's commit and its date where the go command
// records none (a build outside a git checkout, as in the Docker image, whose context
// has no .git): set with -ldflags "-X github.com/rowguard/rowguard.Commit=…" (see the
// Dockerfile). The go command's own vcs.revision and vcs.time win when present.
var Commit, BuildDate string

//go:embed sql/migrations sql/kernel sql/api policies
var sqlFiles embed.FS

// Migrations returns the tern migrations (NNN_name.sql), at the root of the returned FS.
func Migrations() fs.FS { return sub("sql/migrations") }

// KernelCode returns the tern code package of the security kernel: every function and
// trigger outside the api schema, each defined once with CREATE OR REPLACE (install.sql
// at the root). Install it after the migrations and before APICode.
func KernelCode() fs.FS { return sub("sql/kernel") }

// KernelUninstall is the SQL that removes the kernel before migrating down: every policy
// (they call kernel functions), every trigger and every kernel function. The functions a
// table's default, CHECK or index needs are schema, not kernel, and stay.
func KernelUninstall() string {
	b, err := sqlFiles.ReadFile("sql/kernel/uninstall.sql")
	if err != nil {
		panic(err) // unreachable: embedded above
	}
	return string(b)
}

// APICode returns the tern code package of the SQL functions the HTTP layer calls
// (install.sql at the root). It is dropped and recreated on every install.
func APICode() fs.FS { return sub("sql/api") }

// Policies returns the tern code package holding ENABLE/FORCE ROW LEVEL SECURITY, every
// policy and every grant (install.sql at the root). Install it after APICode.
func Policies() fs.FS { return sub("policies") }

//go:embed tests/pgtap/fixtures/*.sql
var pgtapFixtures embed.FS

// PgTAPFixture returns tests/pgtap/fixtures/NAME, a psql script the pgTAP suite includes
// with \ir. `rowguard policies who-can` runs the role matrix's fixtures with it, in a
// rolled-back transaction, so that it proves the cells the suite proves.
func PgTAPFixture(name string) (string, error) {
	b, err := pgtapFixtures.ReadFile("tests/pgtap/fixtures/" + name)
	return string(b), err
}

func sub(dir string) fs.FS {
	f, err := fs.Sub(sqlFiles, dir)
	if err != nil {
		panic(err) // unreachable: dir is embedded above
	}
	return f
}
