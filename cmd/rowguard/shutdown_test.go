package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rowguard/rowguard/internal/password"
	"github.com/rowguard/rowguard/internal/testdb"
)

// SIGTERM stops accepting connections on both listeners (the API's and the management
// listener), lets the request in flight finish with its answer, and exits 0.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	db := testdb.New(t)
	clearEnv(t)
	setSigningKey(t)
	t.Setenv("DATABASE_URL", db.AppURL)
	t.Setenv("ROWGUARD_ADDR", freeAddr(t))
	t.Setenv("ROWGUARD_MANAGEMENT_ADDR", freeAddr(t))
	t.Setenv("ROWGUARD_LOG_LEVEL", "warn")

	srv := startServe(t)
	base, stderr, exited := srv.base, srv.stderr, srv.exited
	if status, _ := get(srv.management + "/metrics"); status != http.StatusOK {
		t.Fatalf("management listener %q: /metrics %d", srv.management, status)
	}

	post := func(method, path, tok, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// An account (a sign-up's emailed code is not what this test is about: the account
	// is written as the superuser), signed in over HTTP, founding an organization.
	hash, err := password.Default().Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.AdminPool(t).Exec(context.Background(),
		`insert into auth.users (email, password_hash, email_verified_at) values ('drain@example.com', $1, now())`, hash); err != nil {
		t.Fatal(err)
	}
	status, body := post("POST", "/v1/auth/login", "", `{"email":"drain@example.com","password":"correct horse battery"}`)
	var reg struct {
		Organization struct{ ID string }
		AccessToken  string `json:"access_token"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &reg) != nil {
		t.Fatalf("login: %d %s", status, body)
	}
	status, body = post("POST", "/v1/orgs", reg.AccessToken, `{"name":"Drain"}`)
	if status != http.StatusCreated || json.Unmarshal([]byte(body), &reg.Organization) != nil {
		t.Fatalf("create organization: %d %s", status, body)
	}
	status, body = post("POST", "/v1/orgs/"+reg.Organization.ID+"/projects", reg.AccessToken, `{"name":"In flight"}`)
	var p struct{ ID string }
	if status != http.StatusCreated || json.Unmarshal([]byte(body), &p) != nil {
		t.Fatalf("create: %d %s", status, body)
	}

	// Hold the project's row lock, so that a PATCH is in flight when SIGTERM arrives.
	admin := db.AdminPool(t)
	tx, err := admin.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), `select 1 from app.projects where id = $1 for update`, p.ID); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		status int
		body   string
	}
	inFlight := make(chan answer, 1)
	go func() {
		s, b := post("PATCH", "/v1/orgs/"+reg.Organization.ID+"/projects/"+p.ID, reg.AccessToken, `{"description":"finished while draining"}`)
		inFlight <- answer{s, b}
	}()
	// SIGTERM once the PATCH is in flight: its backend waits on our lock.
	waitUntil(t, "the PATCH waiting on the row lock", func() bool {
		var n int
		err := admin.QueryRow(context.Background(), `select count(*) from pg_stat_activity
		  where datname = current_database() and usename = $1 and wait_event_type = 'Lock'`, testdb.AppRole).Scan(&n)
		return err == nil && n > 0
	})
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Both listeners close (a new connection is refused) while the PATCH still waits.
	waitUntil(t, "the API listener refusing connections after SIGTERM", func() bool {
		s, _ := post("GET", "/healthz", "", "")
		return s == 0
	})
	waitUntil(t, "the management listener refusing connections after SIGTERM", func() bool {
		s, _ := get(srv.management + "/metrics")
		return s == 0
	})
	select {
	case a := <-inFlight:
		t.Fatalf("the in-flight request ended before its lock was released: %d %s", a.status, a.body)
	case code := <-exited:
		t.Fatalf("serve exited %d with a request in flight", code)
	default:
	}
	if err := tx.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-inFlight:
		if a.status != http.StatusOK || !strings.Contains(a.body, "finished while draining") {
			t.Errorf("in-flight request: %d %s", a.status, a.body)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the in-flight request never finished")
	}
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("serve exited %d after SIGTERM, want 0\n%s", code, stderr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("serve did not exit after SIGTERM")
	}
}

// waitUntil polls cond until it holds, failing t with what was awaited after two
// minutes: a wait for an event, bounded so that a hang fails instead of blocking.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 2 minutes for %s", what)
		}
	}
}
