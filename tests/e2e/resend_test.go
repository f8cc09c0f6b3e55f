package e2e

import (
	"context"
	"net/http"
	"testing"
)

// A pooled connection that is dead before the request's batch reaches the server is
// replaced, and the batch sent once more on the new connection, which has prepared none
// of the statements the dead one had: the request answers as if nothing happened.
func TestBatchResentOnAFreshConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMaxConns(1))
	tn := e.newTenant(t, "Resend Acme")
	list := "/v1/orgs/" + tn.Org.ID + "/projects"
	e.do(t, "GET", list, tn.Owner.Token, nil).want(t, http.StatusOK) // its statements prepared on the one connection

	for _, req := range []struct{ method, path, what string }{
		{"GET", list, "the request path (begin_request + api function)"},
		{"POST", "/v1/auth/login", "a sign-in batch (rate limits + credentials)"},
	} {
		// Close the connection's socket under pgx: its next write fails before a byte
		// leaves, which is what a connection that died with a database restart does.
		c, err := e.pool.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Conn().PgConn().Conn().Close()
		c.Release()
		if req.method == "GET" {
			e.do(t, req.method, req.path, tn.Owner.Token, nil).want(t, http.StatusOK)
		} else {
			e.do(t, req.method, req.path, "", map[string]any{"email": tn.Owner.Email, "password": fixturePassword}).want(t, http.StatusOK)
		}
	}
}
