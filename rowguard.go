// Package rowguard holds what the rowguard binary carries besides Go code: the SQL that
// is the security kernel. The versioned migrations (sql/migrations), the API functions
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

//go:embed sql/migrations sql/api policies
var sqlFiles embed.FS

// Migrations returns the tern migrations (NNN_name.sql), at the root of the returned FS.
func Migrations() fs.FS { return sub("sql/migrations") }

// APICode returns the tern code package of the SQL functions the HTTP layer calls
// (install.sql at the root). It is dropped and recreated on every install.
func APICode() fs.FS { return sub("sql/api") }

// Policies returns the tern code package holding ENABLE/FORCE ROW LEVEL SECURITY, every
// policy and every grant (install.sql at the root). Install it after APICode.
func Policies() fs.FS { return sub("policies") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(sqlFiles, dir)
	if err != nil {
		panic(err) // unreachable: dir is embedded above
	}
	return f
}
