// Package pgbouncer proves the API keeps tenants apart behind PgBouncer in transaction
// pooling mode: many tenants' requests share a few server connections, and every
// request sees only its own caller's context. The test installs Debian's pgbouncer when
// it is missing (as root; otherwise it fails with the apt-get line to run) and starts
// it on loopback in front of its own test cluster.
package pgbouncer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/inprocess"
	"github.com/rowguard/rowguard/internal/pgcluster"
	"github.com/rowguard/rowguard/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

const (
	tenants     = 24
	serverConns = 3  // pgbouncer default_pool_size: server connections for the whole API
	clients     = 48 // concurrent HTTP clients; the API's pool holds up to 40 bouncer connections
	// The drive runs until it has made wantRequests requests, however long that takes on
	// this machine, within driveLimit (a hang, not a slow machine, fails it).
	wantRequests = 1500
	driveLimit   = 10 * time.Minute
)

type errorLog struct {
	mu   sync.Mutex
	recs []string
}

func (l *errorLog) Enabled(_ context.Context, lvl slog.Level) bool { return lvl >= slog.LevelError }
func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	l.mu.Lock()
	l.recs = append(l.recs, b.String())
	l.mu.Unlock()
	return nil
}
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *errorLog) WithGroup(string) slog.Handler      { return l }

func TestTransactionPoolingKeepsTenantsApart(t *testing.T) {
	ctx := t.Context()
	program, err := pgcluster.EnsurePgBouncer(ctx, testWriter{t})
	if err != nil {
		t.Fatal(err) // never a skip: the claim is not proven without pgbouncer
	}
	db := testdb.New(t)
	server, err := pgconn.ParseConfig(db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	bouncer, err := pgcluster.StartPgBouncer(ctx, program, "", pgcluster.PgBouncerOptions{
		ServerHost: server.Host, ServerPort: int(server.Port), Users: []string{testdb.AppRole}, PoolSize: serverConns,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgbouncer log:\n%s", bouncer.Log())
		}
		if err := bouncer.Stop(); err != nil {
			t.Error(err)
		}
	})

	// The production pool settings, through the bouncer.
	pool, err := database.Open(ctx, bouncer.URL(testdb.AppRole, db.Name)+"&pool_max_conns=40")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	errs := &errorLog{}
	srv, err := inprocess.Start(api.Options{Pool: pool, Logger: slog.New(errs)}, clients)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	call := func(method, path, tok, reqID string, body any) (int, []byte, error) {
		status, data, _, err := srv.Call(ctx, method, path, tok, reqID, body)
		return status, data, err
	}

	// Seed: each tenant signs up (its own organization) and creates two projects.
	ts := make([]inprocess.Tenant, tenants)
	for i := range ts {
		if ts[i], err = srv.SignUp(ctx, fmt.Sprintf("pgb-%d@example.com", i), fmt.Sprintf("PgB Tenant %d", i)); err != nil {
			t.Fatal(err)
		}
		for j := range 2 {
			if status, body, err := call("POST", "/v1/orgs/"+ts[i].OrgID+"/projects", ts[i].Token, "",
				map[string]any{"name": fmt.Sprintf("t%d-seed-%d", i, j)}); err != nil || status != http.StatusCreated {
				t.Fatalf("seed project: %d %v %s", status, err, body)
			}
		}
	}

	// Unlimited plan for every tenant: the drive writes more projects than the free
	// plan allows, and a 402 is not what this test is about.
	admin := db.AdminPool(t)
	if _, err := admin.Exec(ctx, `update app.subscriptions set plan_code = 'business'`); err != nil {
		t.Fatal(err)
	}

	// Watch how many server connections the whole API uses while it runs.
	var maxBackends atomic.Int64
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watched sync.WaitGroup
	watched.Add(1)
	go func() {
		defer watched.Done()
		for watchCtx.Err() == nil {
			var n int64
			if err := admin.QueryRow(watchCtx, `select count(*) from pg_stat_activity where usename = $1 and datname = $2`,
				testdb.AppRole, db.Name).Scan(&n); err == nil && n > maxBackends.Load() {
				maxBackends.Store(n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	// Drive: every client picks a random tenant per request: list projects, read /me,
	// or create a project under a unique request id (recorded, checked in the audit log).
	var requests, leaks, failures atomic.Int64
	var created sync.Map // request id → tenant index
	var wg sync.WaitGroup
	deadline := time.Now().Add(driveLimit)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline) && requests.Add(1) <= wantRequests; n++ {
				i := rand.IntN(tenants)
				tn := ts[i]
				switch n % 5 {
				case 0:
					reqID := fmt.Sprintf("pgb-%d-%d", c, n)
					status, body, err := call("POST", "/v1/orgs/"+tn.OrgID+"/projects", tn.Token, reqID,
						map[string]any{"name": fmt.Sprintf("t%d-%s", i, reqID)})
					var p struct {
						OrgID string `json:"org_id"`
					}
					if err != nil || status != http.StatusCreated || json.Unmarshal(body, &p) != nil {
						failures.Add(1)
						t.Errorf("create as tenant %d: %d %v %.200s", i, status, err, body)
						continue
					}
					if p.OrgID != tn.OrgID {
						leaks.Add(1)
					}
					created.Store(reqID, i)
				case 1:
					status, body, err := call("GET", "/v1/auth/me", tn.Token, "", nil)
					var me struct{ User struct{ ID string } }
					if err != nil || status != http.StatusOK || json.Unmarshal(body, &me) != nil {
						failures.Add(1)
						t.Errorf("me as tenant %d: %d %v %.200s", i, status, err, body)
						continue
					}
					if me.User.ID != tn.UserID {
						leaks.Add(1)
						t.Errorf("tenant %d's /me answered user %s", i, me.User.ID)
					}
				default:
					status, body, err := call("GET", "/v1/orgs/"+tn.OrgID+"/projects?limit=100", tn.Token, "", nil)
					var pg struct {
						Items []struct {
							OrgID string `json:"org_id"`
							Name  string
						}
					}
					if err != nil || status != http.StatusOK || json.Unmarshal(body, &pg) != nil || len(pg.Items) < 2 {
						failures.Add(1)
						t.Errorf("list as tenant %d: %d %v %.200s", i, status, err, body)
						continue
					}
					for _, it := range pg.Items {
						if it.OrgID != tn.OrgID || !strings.HasPrefix(it.Name, fmt.Sprintf("t%d-", i)) {
							leaks.Add(1)
							t.Errorf("tenant %d saw %s / %q", i, it.OrgID, it.Name)
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	stopWatch()
	watched.Wait()
	// Every client stops after the request that made the count exceed wantRequests.
	requests.Store(min(requests.Load(), wantRequests))

	// Every acknowledged write is in the audit log under its own request id, with the
	// user and organization of the request that made it: the transaction-local context
	// travelled with its own transaction, never another's.
	rows, err := admin.Query(ctx, `select request_id, actor_user_id::text, org_id::text from app.audit_log
	                                where request_id like 'pgb-%' and table_name = 'app.projects'`)
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for rows.Next() {
		var reqID, actor, org string
		if err := rows.Scan(&reqID, &actor, &org); err != nil {
			t.Fatal(err)
		}
		v, ok := created.Load(reqID)
		if !ok {
			t.Errorf("audit entry for unknown request %s", reqID)
			continue
		}
		if tn := ts[v.(int)]; actor != tn.UserID || org != tn.OrgID {
			leaks.Add(1)
			t.Errorf("request %s of tenant %d was audited as user %s in org %s", reqID, v.(int), actor, org)
		}
		audited++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	acknowledged := 0
	created.Range(func(any, any) bool { acknowledged++; return true })

	t.Logf("behind pgbouncer (transaction mode, %d server connections): %d requests from %d clients for %d tenants; "+
		"max server backends seen %d; writes acknowledged %d, audited %d; leaks %d, failures %d",
		serverConns, requests.Load(), clients, tenants, maxBackends.Load(), acknowledged, audited, leaks.Load(), failures.Load())
	if leaks.Load() != 0 || failures.Load() != 0 {
		t.Errorf("%d leaks, %d failures", leaks.Load(), failures.Load())
	}
	if audited != acknowledged || acknowledged == 0 {
		t.Errorf("writes acknowledged %d, audited %d", acknowledged, audited)
	}
	if requests.Load() < wantRequests {
		t.Errorf("only %d of %d requests within %s: the API hangs behind pgbouncer (or the machine is far too slow)",
			requests.Load(), wantRequests, driveLimit)
	}
	if m := maxBackends.Load(); m > serverConns || m == 0 {
		t.Errorf("the API used %d server connections, want 1..%d (is pgbouncer in the path?)", m, serverConns)
	}
	errs.mu.Lock()
	defer errs.mu.Unlock()
	for _, r := range errs.recs {
		t.Errorf("server logged an error: %s", r)
	}
}

// testWriter sends progress (apt-get) to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
