package replica

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rowguard/rowguard/internal/inprocess"
)

// deadline bounds every wait: generous, a busy machine is slow, never wrong.
const deadline = 90 * time.Second

// eventually polls cond until it holds, failing the test at the deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("waited %s for %s", deadline, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// answer is one HTTP answer.
type answer struct {
	status int
	body   []byte
}

func (a answer) want(t *testing.T, status int) answer {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	return a
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

// ids are the ids of a list answer's items.
func (a answer) ids(t *testing.T) []string {
	t.Helper()
	var list struct{ Items []struct{ ID string } }
	a.decode(t, &list)
	var ids []string
	for _, it := range list.Items {
		ids = append(ids, it.ID)
	}
	return ids
}

var requestSeq atomic.Int64

func call(t *testing.T, s *inprocess.Server, method, path, tok string, body any) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status, data, _, err := s.Call(ctx, method, path, tok, fmt.Sprintf("replica-test-%d", requestSeq.Add(1)), body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if status >= 500 {
		t.Fatalf("%s %s: %d %s", method, path, status, data)
	}
	return answer{status, data}
}

// routing is what an instance's /metrics says of its replica-safe requests.
type routing struct {
	reads     float64
	fallbacks map[string]float64 // by reason
	lag       float64
	up        float64
}

func (r routing) fallbackTotal() float64 {
	n := 0.0
	for _, v := range r.fallbacks {
		n += v
	}
	return n
}

func routingOf(t *testing.T, s *inprocess.Server) routing {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status, data, _, err := s.Call(ctx, http.MethodGet, "/metrics", "", "", nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", status, err)
	}
	r := routing{fallbacks: map[string]float64{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch {
		case name == "rowguard_replica_reads_total":
			r.reads = v
		case strings.HasPrefix(name, `rowguard_replica_fallbacks_total{reason="`):
			r.fallbacks[strings.TrimSuffix(strings.TrimPrefix(name, `rowguard_replica_fallbacks_total{reason="`), `"}`)] = v
		case name == "rowguard_replica_lag_seconds":
			r.lag = v
		case name == "rowguard_replica_up":
			r.up = v
		}
	}
	return r
}

// onReplica sends a replica-safe GET until the standby answers it (a request the
// primary answered — the standby was briefly behind on a busy machine — is sent again)
// and returns the standby's answer. A fallback because the route wrote fails the test.
func onReplica(t *testing.T, s *inprocess.Server, path, tok string) answer {
	t.Helper()
	var a answer
	eventually(t, "the standby to answer GET "+path, func() bool {
		before := routingOf(t, s)
		a = call(t, s, http.MethodGet, path, tok, nil)
		after := routingOf(t, s)
		if after.fallbacks["read_only"] != before.fallbacks["read_only"] {
			t.Fatalf("GET %s wrote on the standby: it must not be marked x-rowguard-replica-safe", path)
		}
		return after.reads == before.reads+1
	})
	return a
}

// onPrimary sends a replica-safe GET that the primary must answer (the standby cannot
// answer it as the primary would), and checks that it did.
func onPrimary(t *testing.T, s *inprocess.Server, path, tok string) answer {
	t.Helper()
	before := routingOf(t, s)
	a := call(t, s, http.MethodGet, path, tok, nil)
	after := routingOf(t, s)
	if after.reads != before.reads || after.fallbackTotal() != before.fallbackTotal()+1 {
		t.Fatalf("GET %s: replica reads %v→%v, fallbacks %v→%v: the primary should have answered it alone",
			path, before.reads, after.reads, before.fallbacks, after.fallbacks)
	}
	return a
}

func exec(t *testing.T, on string, sql string, args ...any) {
	t.Helper()
	pool := env.primaryAdmin
	if on == "standby" {
		pool = env.standbyAdmin
	}
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %s: %v", on, sql, err)
	}
}

func queryInt(t *testing.T, on string, sql string, args ...any) int64 {
	t.Helper()
	pool := env.primaryAdmin
	if on == "standby" {
		pool = env.standbyAdmin
	}
	var n int64
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %s: %v", on, sql, err)
	}
	return n
}

// pauseReplay stops the standby from applying WAL (it still receives it) until
// resumeReplay; the test resumes it when it ends in any case.
func pauseReplay(t *testing.T) {
	t.Helper()
	exec(t, "standby", `select pg_wal_replay_pause()`)
	t.Cleanup(func() { _, _ = env.standbyAdmin.Exec(context.Background(), `select pg_wal_replay_resume()`) })
	eventually(t, "the standby's replay to pause", func() bool {
		var state string
		_ = env.standbyAdmin.QueryRow(context.Background(), `select pg_get_wal_replay_pause_state()`).Scan(&state)
		return state == "paused"
	})
}

func resumeReplay(t *testing.T) {
	t.Helper()
	exec(t, "standby", `select pg_wal_replay_resume()`)
}

// caughtUp waits until the standby has replayed everything the primary had written.
func caughtUp(t *testing.T) {
	t.Helper()
	var lsn string
	if err := env.primaryAdmin.QueryRow(context.Background(), `select pg_current_wal_insert_lsn()::text`).Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the standby to replay up to "+lsn, func() bool {
		var ok bool
		_ = env.standbyAdmin.QueryRow(context.Background(), `select pg_last_wal_replay_lsn() >= $1::pg_lsn`, lsn).Scan(&ok)
		return ok
	})
}

// calls is how many times server on ran function (schema.name), per its statistics.
func calls(t *testing.T, on, schema, name string) int64 {
	t.Helper()
	return queryInt(t, on, `select coalesce(sum(calls), 0)::int8 from pg_stat_user_functions where schemaname = $1 and funcname = $2`, schema, name)
}

// tenant is a user who founded an organization, with one project holding finance data.
type tenant struct {
	inprocess.Tenant
	email, projectID string
}

var tenantSeq atomic.Int64

func newTenant(t *testing.T, name string) tenant {
	t.Helper()
	n := tenantSeq.Add(1)
	email := fmt.Sprintf("%s-%d@example.com", strings.ToLower(name), n)
	tn, err := env.api1.SignUp(context.Background(), email, fmt.Sprintf("%s %d", name, n))
	if err != nil {
		t.Fatal(err)
	}
	ten := tenant{Tenant: tn, email: email}
	var p struct{ ID string }
	call(t, env.api1, http.MethodPost, "/v1/orgs/"+tn.OrgID+"/projects", tn.Token,
		map[string]any{"name": name + " books"}).want(t, http.StatusCreated).decode(t, &p)
	ten.projectID = p.ID
	var c struct{ ID string }
	call(t, env.api1, http.MethodPost, ten.projectPath("/categories"), tn.Token,
		map[string]any{"kind": "income", "name": "Sales"}).want(t, http.StatusCreated).decode(t, &c)
	call(t, env.api1, http.MethodPost, ten.projectPath("/records"), tn.Token, map[string]any{
		"kind": "income", "amount": "120.00", "currency": "EUR", "category_id": c.ID,
		"payment_source": "card", "occurred_on": "2030-01-10"}).want(t, http.StatusCreated)
	return ten
}

func (tn tenant) projectPath(rest string) string {
	return "/v1/orgs/" + tn.OrgID + "/projects/" + tn.projectID + rest
}

// path fills a route template's ids with the tenant's.
func (tn tenant) path(template string) string {
	return strings.NewReplacer("{org_id}", tn.OrgID, "{project_id}", tn.projectID).Replace(template)
}

// login opens another session of the tenant's user.
func (tn tenant) login(t *testing.T, s *inprocess.Server) string {
	t.Helper()
	var res struct {
		AccessToken string `json:"access_token"`
	}
	call(t, s, http.MethodPost, "/v1/auth/login", "", map[string]any{
		"email": tn.email, "password": "correct horse battery"}).want(t, http.StatusOK).decode(t, &res)
	return res.AccessToken
}
