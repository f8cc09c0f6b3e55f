// Package e2e holds rowguard's black-box tests: a real server (api.NewServer
// behind httptest.NewServer, so real HTTP on loopback) in front of a real,
// migrated PostgreSQL database (internal/testdb), talked to over HTTP only.
// Nothing is mocked. The admin (superuser) pool is used for two things only:
// building fixtures the API cannot build yet (memberships other than the
// founder's, disabling a user, revoking a session) and checking from the
// outside what was, or was not, written.
//
// Every response goes through env.do, which checks it against the embedded
// OpenAPI document (api/apitest), refuses a 500, and checks every error is a
// well-formed RFC 9457 problem that leaks no SQL or PostgreSQL text.
package e2e

import (
	"testing"

	"github.com/rowguard/rowguard/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }
