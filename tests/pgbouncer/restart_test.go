package pgbouncer

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/inprocess"
	"github.com/rowguard/rowguard/internal/pgcluster"
)

// The PgBouncer settings README recommends for fast recovery (Operations, "Behind
// PgBouncer"): retry a failed server login after half a second instead of 15, and fail
// a client that waited 2 s for a server connection instead of 120.
const (
	recommendedServerLoginRetry = 500 * time.Millisecond
	recommendedQueryWaitTimeout = 2 * time.Second
)

// PostgreSQL stopped and started again behind PgBouncer with the recommended settings:
// while it is away every request answers 503 with Retry-After within the query wait
// timeout (never a wait to the API's 10 s request timeout, 504), and writes succeed
// again soon after it is back (with pgbouncer's default server_login_retry of 15 s they
// came back after 15–30 s).
func TestRestartBehindPgBouncerFailsFastAndRecovers(t *testing.T) {
	ctx := t.Context()
	program, err := pgcluster.EnsurePgBouncer(ctx, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	// A private cluster this test may stop and start (the package's shared one is not).
	dir, err := os.MkdirTemp(pgcluster.ScratchDir(), "rowguard-pgbouncer-restart-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o711); err != nil { // as root, the server runs as postgres
		t.Fatal(err)
	}
	var pgLog strings.Builder
	pg, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Log: &pgLog, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop(); _ = os.RemoveAll(dir) })
	const dbName = "rowguard_restart"
	if err := pg.CreateDatabase(ctx, dbName); err != nil {
		t.Fatal(err)
	}
	adminURL := pg.URL(dbName, pgcluster.Superuser)
	if err := database.Migrate(ctx, adminURL, database.Latest, nil); err != nil {
		t.Fatal(err)
	}
	if err := database.BootstrapLoginRole(ctx, adminURL, database.DevLoginRole); err != nil {
		t.Fatal(err)
	}
	bouncer, err := pgcluster.StartPgBouncer(ctx, program, "", pgcluster.PgBouncerOptions{
		ServerHost: pg.SocketDir(), ServerPort: pg.Port(), Users: []string{database.DevLoginRole}, PoolSize: serverConns,
		ServerLoginRetry: recommendedServerLoginRetry, QueryWaitTimeout: recommendedQueryWaitTimeout,
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
	pool, err := database.Open(ctx, bouncer.URL(database.DevLoginRole, dbName)+"&pool_max_conns=16")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	srv, err := inprocess.Start(api.Options{Pool: pool}, 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)

	const tenants, clients = 8, 8
	ts := make([]inprocess.Tenant, tenants)
	for i := range ts {
		if ts[i], err = srv.SignUp(ctx, fmt.Sprintf("restart-%d@example.com", i), fmt.Sprintf("Restart %d", i)); err != nil {
			t.Fatal(err)
		}
	}

	// Unlimited plan: the drive writes more projects than the free plan allows.
	if err := execOnce(ctx, adminURL, `update app.subscriptions set plan_code = 'business'`); err != nil {
		t.Fatal(err)
	}

	type answer struct {
		start, end time.Time
		status     int
		retryAfter string
		write      bool
	}
	var (
		mu        sync.Mutex
		answers   []answer
		successes atomic.Int64 // 2xx answers
		down503   atomic.Int64 // 503s to requests started while PostgreSQL was away
		downAt    atomic.Pointer[time.Time]
		upAt      atomic.Pointer[time.Time]
		afterUp   atomic.Int64 // writes acknowledged that started after PostgreSQL was back
	)
	driveCtx, stop := context.WithTimeout(ctx, driveLimit)
	defer stop()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; driveCtx.Err() == nil && afterUp.Load() < 100; n++ {
				tn := ts[(c+n)%tenants]
				a := answer{start: time.Now(), write: n%2 == 0}
				var status int
				var h http.Header
				var err error
				if a.write {
					status, _, h, err = srv.Call(driveCtx, "POST", "/v1/orgs/"+tn.OrgID+"/projects", tn.Token, "",
						map[string]any{"name": fmt.Sprintf("r-%d-%d", c, n)})
				} else {
					status, _, h, err = srv.Call(driveCtx, "GET", "/v1/orgs/"+tn.OrgID+"/projects?limit=5", tn.Token, "", nil)
				}
				if err != nil {
					if driveCtx.Err() == nil {
						t.Errorf("transport error: %v", err)
					}
					return
				}
				a.end, a.status, a.retryAfter = time.Now(), status, h.Get("Retry-After")
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
				if status/100 == 2 {
					successes.Add(1)
					if u := upAt.Load(); a.write && u != nil && a.start.After(*u) {
						afterUp.Add(1)
					}
				}
				if d := downAt.Load(); status == http.StatusServiceUnavailable && d != nil && upAt.Load() == nil && a.start.After(*d) {
					down503.Add(1)
				}
				if status == http.StatusServiceUnavailable {
					time.Sleep(50 * time.Millisecond) // a client backing off, briefly
				}
			}
		}()
	}
	waitFor := func(what string, cond func() bool) {
		for !cond() {
			if driveCtx.Err() != nil {
				t.Fatalf("the drive ended (%s limit) waiting for %s", driveLimit, what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("200 successes", func() bool { return successes.Load() >= 200 })
	now := time.Now()
	downAt.Store(&now)
	if err := pg.Stop(); err != nil { // fast shutdown: every backend terminated
		t.Fatal(err)
	}
	// Down until 40 requests started meanwhile were answered 503 (each after at most the
	// query wait timeout): by count, not by clock.
	waitFor("40 answers 503 while PostgreSQL is away", func() bool { return down503.Load() >= 40 })
	if pg, err = pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Log: &pgLog, Ephemeral: true}); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	upAt.Store(&up)
	waitFor("100 writes acknowledged after PostgreSQL was back", func() bool { return afterUp.Load() >= 100 })
	stop()
	wg.Wait()

	statuses := map[int]int{}
	var slowestDown time.Duration
	var firstBack time.Time
	without := 0
	for _, a := range answers {
		statuses[a.status]++
		if a.status == http.StatusServiceUnavailable && a.retryAfter == "" {
			without++
		}
		if a.start.After(*downAt.Load()) && a.start.Before(up) && a.end.Sub(a.start) > slowestDown {
			slowestDown = a.end.Sub(a.start)
		}
		if a.write && a.status == http.StatusCreated && a.start.After(up) && (firstBack.IsZero() || a.end.Before(firstBack)) {
			firstBack = a.end
		}
	}
	var codes []int
	for s := range statuses {
		codes = append(codes, s)
	}
	sort.Ints(codes)
	var by []string
	for _, s := range codes {
		by = append(by, fmt.Sprintf("%d×%d", s, statuses[s]))
	}
	recovery := firstBack.Sub(up)
	t.Logf("PostgreSQL restarted behind pgbouncer (server_login_retry %s, query_wait_timeout %s): down %s; answers %s; "+
		"slowest answer to a request started while down %s; first write acknowledged %s after PostgreSQL was back",
		recommendedServerLoginRetry, recommendedQueryWaitTimeout, up.Sub(*downAt.Load()).Round(time.Millisecond), strings.Join(by, " "),
		slowestDown.Round(time.Millisecond), recovery.Round(time.Millisecond))
	for _, s := range codes {
		if s != http.StatusOK && s != http.StatusCreated && s != http.StatusServiceUnavailable {
			t.Errorf("%d answers %d: want only 200, 201 and 503 across a restart (a 504 is a request that waited to the timeout)", statuses[s], s)
		}
	}
	if without > 0 {
		t.Errorf("%d answers 503 lacked Retry-After", without)
	}
	// Generous, so that a slow machine passes, yet below pgbouncer's default
	// server_login_retry (15 s), which this configuration exists to avoid.
	if recovery <= 0 || recovery > 10*time.Second {
		t.Errorf("writes came back %s after PostgreSQL did; want well within pgbouncer's default retry of 15 s", recovery)
	}
}

// execOnce runs one statement on its own connection.
func execOnce(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}
