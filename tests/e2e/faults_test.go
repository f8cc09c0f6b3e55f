package e2e

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
)

// With every connection of the pool taken, a request waits at most the acquire
// timeout and gets a 503 problem (Retry-After), not a hang until its own timeout
// (2 minutes here, so that a slow machine cannot be mistaken for a hang).
func TestPoolExhaustion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMaxConns(2), withOptions(func(o *api.Options) {
		o.RequestTimeout = 2 * time.Minute
		o.AcquireTimeout = 300 * time.Millisecond
	}))
	a := e.newTenant(t, "Busy Acme")
	path := "/v1/orgs/" + a.Org.ID + "/projects"
	e.logs.expect("status=503") // the access log reports every 5xx at error level

	var held []interface{ Release() }
	for range 2 {
		c, err := e.pool.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			r := e.do(t, "GET", path, a.Member.Token, nil)
			p := wantProblem(t, r, api.ProblemUnavailable)
			if took := time.Since(start); took < 250*time.Millisecond || took > time.Minute {
				t.Errorf("answered after %s; want the acquire timeout (300ms), far below the request timeout (2m)", took)
			}
			if r.Header.Get("Retry-After") == "" || p.RequestID == "" {
				t.Errorf("503 without Retry-After or request id: %s", r)
			}
		}()
	}
	wg.Wait()
	for _, c := range held {
		c.Release()
	}
	e.do(t, "GET", path, a.Member.Token, nil).want(t, http.StatusOK)
}

// A statement that runs into statement_timeout (here: waiting on a row lock) answers
// 504 with the request id, and changes nothing. The request timeout is 2 minutes, so
// that only statement_timeout can answer within one.
func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withOptions(func(o *api.Options) { o.RequestTimeout = 2 * time.Minute }))
	a := e.newTenant(t, "Slow Acme")
	var db string
	if err := e.admin.QueryRow(context.Background(), "select current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	e.exec(t, `alter role rowguard_app in database "`+db+`" set statement_timeout = '300ms'`)
	e.pool.Reset() // new connections pick the setting up

	// A DBA holds the project's row lock.
	tx, err := e.admin.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), `select 1 from app.projects where id = $1 for update`, a.Project.ID); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot(t)
	e.logs.expect("request_id=slow-request-1")
	start := time.Now()
	r := e.do(t, "PATCH", "/v1/orgs/"+a.Org.ID+"/projects/"+a.Project.ID, a.Owner.Token,
		map[string]any{"description": "never written"}, withHeader(api.RequestIDHeader, "slow-request-1"))
	p := wantProblem(t, r, api.ProblemTimeout)
	if p.RequestID != "slow-request-1" {
		t.Errorf("request_id %q, want the caller's", p.RequestID)
	}
	if took := time.Since(start); took > time.Minute {
		t.Errorf("answered after %s: not by statement_timeout (300ms)", took)
	}
	if err := tx.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.unchanged(t, before, "a request cancelled by statement_timeout")
}
