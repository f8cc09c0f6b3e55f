package ha

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/pgcluster"
	"github.com/rowguard/rowguard/internal/testdb"
)

const (
	failoverTenants = 24
	failoverClients = 16
	// The drive runs by counts, never by the clock: wantBefore writes acknowledged, then
	// the kill, then wantAfter writes acknowledged after writes came back.
	wantBefore = 150
	wantAfter  = 150
	driveLimit = 5 * time.Minute // a hang, not a slow machine, fails it
)

// failoverTimeouts replace a lost primary in ~10 s instead of pg_auto_failover's ~50 s,
// keeping its rule that an isolated primary stops before its standby is promoted
// (docs/scaling.md lists them for operators).
var failoverTimeouts = pgcluster.FailoverTimeouts{
	HealthCheckPeriod: time.Second,
	Unhealthy:         4 * time.Second,
	PrimaryDemote:     6 * time.Second,
	NetworkPartition:  4 * time.Second,
}

// testWriter sends progress (apt-get, pg_autoctl) to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// outcome is what one request of the drive got.
type outcome struct {
	write       bool
	reqID       string
	tenant      int
	start, end  time.Time
	status      int
	retryAfter  string
	transportOK bool
}

// The API on a pg_auto_failover formation (monitor, primary, synchronous standby) under
// a mixed load from 24 tenants through two `rowguard serve` processes: the primary's
// machine is lost mid-run (SIGKILL to its pg_autoctl and its postmaster). The monitor promotes the standby; the API, connected
// with a multi-host DATABASE_URL (target_session_attrs=read-write), answers 503 with
// Retry-After meanwhile and writes again on the new primary without a restart; every
// write it acknowledged is on the new primary; the old primary comes back as a standby.
// Then the same again the other way. The primary's machine is lost, not only its
// postmaster: with its pg_autoctl alive, a SIGKILLed postmaster is restarted in place,
// in CI once before the monitor saw it down (no failover, nothing lost), a race that
// made the test prove nothing about failover that time.
func TestFailoverLosesNoAcknowledgedWrite(t *testing.T) {
	ctx := t.Context()
	in, err := pgcluster.EnsureInstall(ctx, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	program, err := pgcluster.EnsureAutoFailover(ctx, in, testWriter{t})
	if err != nil {
		t.Fatal(err) // never a skip: the claim is not proven without pg_auto_failover
	}
	setupStart := time.Now()
	f, err := pgcluster.StartFormation(ctx, program, in, "", pgcluster.FormationOptions{Timeouts: failoverTimeouts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			events, err := f.Autoctl(context.Background(), "show", "events", "--count", "40", "--pgdata", f.Monitor.PGData)
			t.Logf("pg_autoctl show events (%v):\n%s", err, events)
			for _, n := range append([]*pgcluster.AutoctlNode{f.Monitor}, f.Nodes...) {
				t.Logf("pg_autoctl %s (last 3000 bytes):\n%s", n.Name, lastBytes(n.Log(), 3000))
				t.Logf("postgres %s log:\n%s", n.Name, n.PostgresLog(3000))
			}
		}
		if err := f.Stop(); err != nil {
			t.Error(err)
		}
	})
	super := f.Superuser()
	primaryAdmin := f.URL(super, f.DBName) // the multi-host URL: whichever node is primary
	if err := database.Migrate(ctx, primaryAdmin, database.Latest, nil); err != nil {
		t.Fatal(err)
	}
	if err := database.BootstrapLoginRole(ctx, primaryAdmin, testdb.AppRole); err != nil {
		t.Fatal(err)
	}
	adminConn, err := pgx.Connect(ctx, primaryAdmin) // for the set-up, before the kill
	if err != nil {
		t.Fatal(err)
	}
	defer adminConn.Close(context.Background())
	admin := func(sql string, args ...any) pgx.Row { return adminConn.QueryRow(ctx, sql, args...) }
	var syncNames string
	if err := admin(`select current_setting('synchronous_standby_names')`).Scan(&syncNames); err != nil || syncNames == "" {
		t.Fatalf("the primary does not replicate synchronously: synchronous_standby_names %q (%v)", syncNames, err)
	}
	syncLatency, localLatency := commitLatency(t, primaryAdmin)

	env := map[string]string{
		"DATABASE_URL":                 f.URL(testdb.AppRole, f.DBName),
		"ROWGUARD_JWT_PRIVATE_KEY":     signingKeyPEM(t),
		"ROWGUARD_TRUSTED_PROXIES":     "127.0.0.1",
		"ROWGUARD_LOG_LEVEL":           "warn",
		"ROWGUARD_PASSWORD_MEMORY_KIB": "8192",
		"ROWGUARD_PASSWORD_ITERATIONS": "1",
	}
	api := []*instance{startInstance(t, "instance-1", env), startInstance(t, "instance-2", env)}
	pids := []int{api[0].pid, api[1].pid}
	proxy := startRoundRobin(t, api)
	t.Logf("setup: formation, migrations and two API instances in %s", time.Since(setupStart).Round(time.Millisecond))

	// Seed: each tenant's owner signs in and founds an organization on the business plan
	// (the drive writes more projects than the free plan allows).
	ts := make([]tenant, failoverTenants)
	for i := range ts {
		email := fmt.Sprintf("ha-%d@example.com", i)
		if err := admin(`insert into auth.users (email, password_hash, email_verified_at) values ($1, $2, now()) returning id::text`,
			email, cheapHash(t, "correct horse battery")).Scan(&ts[i].userID); err != nil {
			t.Fatal(err)
		}
		a := call(ctx, proxy.URL, "POST", "/v1/auth/login", "", map[string]any{"email": email, "password": "correct horse battery"},
			"X-Forwarded-For", fmt.Sprintf("198.18.1.%d", i+1))
		want(t, "login "+email, a, http.StatusOK, "")
		var s session
		a.decode(t, &s)
		ts[i].token = s.AccessToken
		a = call(ctx, proxy.URL, "POST", "/v1/orgs", s.AccessToken, map[string]any{"name": fmt.Sprintf("HA Tenant %d", i)})
		want(t, "create org", a, http.StatusCreated, "")
		var o struct{ ID string }
		a.decode(t, &o)
		ts[i].orgID = o.ID
	}
	var upgraded string
	if err := admin(`with u as (update app.subscriptions set plan_code = 'business' returning 1) select count(*)::text from u`).Scan(&upgraded); err != nil {
		t.Fatal(err)
	}

	e := &failoverEnv{f: f, proxy: proxy, api: api, pids: pids, ts: ts}
	// Two failovers with synchronous replication: node1 → node2, then, once node1 is
	// back as a standby, node2 → node1. Nothing acknowledged may be lost.
	t.Logf("synchronous_standby_names on node1: %s", syncNames)
	for k, prefix := range []string{"ha1", "ha2"} {
		r := e.round(t, prefix)
		t.Logf("failover %d, synchronous: %s", k+1, r)
		if r.acked == 0 || r.foundAcked != r.acked {
			t.Errorf("failover %d: writes acknowledged %d, found on the new primary %d", k+1, r.acked, r.foundAcked)
		}
		if r.foundOnOld != r.foundAcked {
			t.Errorf("failover %d: writes on the new primary %d, on the old primary back as standby %d", k+1, r.foundAcked, r.foundOnOld)
		}
		if t.Failed() {
			return
		}
	}
	// A third with asynchronous replication, to measure what it loses: the standby leaves
	// the quorum (pg_autoctl set node replication-quorum false), so the primary
	// acknowledges a commit before the standby has it.
	e.asynchronous(t)
	e.async = true
	r := e.round(t, "ha3")
	t.Logf("failover 3, asynchronous: %s; acknowledged writes lost: %d of %d", r, r.acked-r.foundAcked, r.acked)
	if r.acked == 0 {
		t.Error("failover 3: no write acknowledged")
	}
	t.Logf("commit latency (one-row insert, medians of 200, interleaved): %s with the synchronous standby, %s with synchronous_commit=local",
		syncLatency, localLatency)

	t.Logf("set-up, failover and checks: %s", time.Since(setupStart).Round(time.Second))
}

type tenant struct{ userID, orgID, token string }

// asynchronous takes every standby out of the replication quorum and waits until the
// primary no longer waits for one at commit.
func (e *failoverEnv) asynchronous(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	states, err := e.f.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var primary *pgcluster.AutoctlNode
	for _, n := range e.f.Nodes {
		if states[n.Name].Assigned == "primary" {
			primary = n
			continue
		}
		if out, err := e.f.Autoctl(ctx, "set", "node", "replication-quorum", "false", "--pgdata", n.PGData); err != nil {
			t.Fatalf("pg_autoctl set node replication-quorum false on %s: %v\n%s", n.Name, err, out)
		}
	}
	if primary == nil {
		t.Fatalf("no primary: %+v", states)
	}
	url := e.f.NodeURL(primary, e.f.Superuser(), "postgres")
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var names string
		if err := queryOne(ctx, url, `select current_setting('synchronous_standby_names')`, nil, &names); err == nil && names == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still replicates synchronously after 3 minutes", primary.Name)
		}
	}
}

// failoverEnv is what the rounds share: the formation, the API instances behind their
// proxy, and the tenants.
type failoverEnv struct {
	f     *pgcluster.Formation
	proxy *roundRobin
	api   []*instance
	pids  []int
	ts    []tenant
	async bool // the standby is out of the replication quorum
}

// roundResult holds one failover's figures.
type roundResult struct {
	from, to             string // the killed primary, the promoted standby
	requests             int
	drive, back          time.Duration // kill → end of the drive; kill → first write acknowledged again
	duringOutage         int           // requests started between the kill and writes coming back
	statuses             map[string]int
	unavailable, retried int // 503s, and those with Retry-After
	acked, foundAcked    int // writes answered 201; of those, on the new primary
	foundOnOld           int // of those on the new primary, on the old one once back as standby
	rejoined             time.Duration
	ambiguous, committed int // writes without a 201; of those, on the new primary
	leaks                int64
	lingering            int64 // writes acknowledged after the kill, before the outage showed
}

func (r roundResult) String() string {
	keys := make([]string, 0, len(r.statuses))
	for k := range r.statuses {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var by []string
	for _, k := range keys {
		by = append(by, fmt.Sprintf("%s×%d", k, r.statuses[k]))
	}
	return fmt.Sprintf("%s→%s; %d requests from %d clients for %d tenants through 2 API instances, %s from the SIGKILL to the end; "+
		"%d writes acknowledged after the SIGKILL by backends that outlived their postmaster; "+
		"writes succeeded again %s after the SIGKILL (%d requests started in that window); answers %s; 503 with Retry-After %d of %d; "+
		"writes acknowledged %d, found on the new primary %d, on the old primary back as standby (%s after the kill) %d; "+
		"writes without a 201 %d, of which committed %d (outcome unknown to the client); leaks %d; API restarts 0 (same pids)",
		r.from, r.to, r.requests, failoverClients, failoverTenants, r.drive.Round(time.Millisecond),
		r.lingering, r.back.Round(time.Millisecond), r.duringOutage, strings.Join(by, " "), r.retried, r.unavailable,
		r.acked, r.foundAcked, r.rejoined.Round(time.Second), r.foundOnOld, r.ambiguous, r.committed, r.leaks)
}

// round drives the API, loses the current primary (Formation.Lose) once wantBefore
// writes are acknowledged, drives on until wantAfter writes started after the kill are
// acknowledged, waits for the old primary to be back as a standby, and counts. Project
// names carry prefix, so each round counts its own writes.
func (e *failoverEnv) round(t *testing.T, prefix string) roundResult {
	t.Helper()
	ctx, f, ts, proxy := t.Context(), e.f, e.ts, e.proxy
	// Drive.
	var (
		mu        sync.Mutex
		outcomes  []outcome
		leaks     atomic.Int64
		before    atomic.Int64 // writes acknowledged before the kill
		after     atomic.Int64 // writes acknowledged that started after writes came back
		killedAt  atomic.Pointer[time.Time]
		outageAt  atomic.Pointer[time.Time] // end of the first failed request started after the kill
		lingering atomic.Int64              // writes acknowledged after the kill, before the outage showed
		requestNo atomic.Int64
	)
	leak := func(format string, args ...any) { leaks.Add(1); t.Errorf(format, args...) }
	driveCtx, stopDrive := context.WithTimeout(ctx, driveLimit)
	defer stopDrive()
	var wg sync.WaitGroup
	for c := range failoverClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; driveCtx.Err() == nil && after.Load() < wantAfter; n++ {
				i := rand.IntN(failoverTenants)
				tn := ts[i]
				o := outcome{tenant: i, start: time.Now(), write: n%4 == 0}
				var a answer
				switch n % 4 {
				case 0:
					o.reqID = fmt.Sprintf("%s-%d-%d", prefix, c, requestNo.Add(1))
					a = call(driveCtx, proxy.URL, "POST", "/v1/orgs/"+tn.orgID+"/projects", tn.token,
						map[string]any{"name": fmt.Sprintf("t%d-%s", i, o.reqID)}, "X-Request-Id", o.reqID)
					if a.Err == nil && a.Status == http.StatusCreated {
						var p struct {
							OrgID string `json:"org_id"`
						}
						if json.Unmarshal(a.Body, &p) != nil || p.OrgID != tn.orgID {
							leak("tenant %d's write answered %s", i, a)
						}
					}
				case 1:
					a = call(driveCtx, proxy.URL, "GET", "/v1/auth/me", tn.token, nil)
					if a.Err == nil && a.Status == http.StatusOK {
						var me struct{ User struct{ ID string } }
						if json.Unmarshal(a.Body, &me) != nil || me.User.ID != tn.userID {
							leak("tenant %d's /me answered %s", i, a)
						}
					}
				default:
					a = call(driveCtx, proxy.URL, "GET", "/v1/orgs/"+tn.orgID+"/projects?limit=20", tn.token, nil)
					if a.Err == nil && a.Status == http.StatusOK {
						var pg struct {
							Items []struct {
								OrgID string `json:"org_id"`
								Name  string
							}
						}
						if json.Unmarshal(a.Body, &pg) != nil {
							leak("tenant %d's list answered %s", i, a)
						}
						for _, it := range pg.Items {
							if it.OrgID != tn.orgID || !strings.HasPrefix(it.Name, fmt.Sprintf("t%d-", i)) {
								leak("tenant %d saw %s / %q", i, it.OrgID, it.Name)
							}
						}
					}
				}
				o.end = time.Now()
				if a.Err != nil {
					if driveCtx.Err() != nil {
						return
					}
				} else {
					o.transportOK, o.status, o.retryAfter = true, a.Status, a.Header.Get("Retry-After")
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				// A SIGKILLed postmaster's backends (and walsender) live on until they
				// notice: requests may still succeed on the old primary for a moment. The
				// outage starts with the first failure after the kill; writes are back
				// with the first write acknowledged that started after it.
				k := killedAt.Load()
				if failed := o.status == http.StatusServiceUnavailable || !o.transportOK; failed && k != nil && o.start.After(*k) {
					end := o.end
					outageAt.CompareAndSwap(nil, &end)
				}
				if o.write && o.status == http.StatusCreated {
					out := outageAt.Load()
					switch {
					case k == nil:
						before.Add(1)
					case out != nil && o.start.After(*out):
						after.Add(1)
					case o.start.After(*k):
						lingering.Add(1)
					}
				}
				if o.status == http.StatusServiceUnavailable || !o.transportOK {
					time.Sleep(100 * time.Millisecond) // a client backing off, briefly
				}
			}
		}()
	}

	// The kill, once wantBefore writes are acknowledged and the monitor holds both nodes
	// healthy in their roles (a standby it has not yet checked since it came back is no
	// candidate: pg_autoctl would restart the primary in place instead of failing over).
	for before.Load() < wantBefore && driveCtx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	var primary, standby *pgcluster.AutoctlNode
	var states map[string]pgcluster.NodeState
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var err error
		if states, err = f.States(ctx); err != nil {
			t.Fatal(err)
		}
		primary, standby = nil, nil
		for _, n := range f.Nodes {
			st := states[n.Name]
			switch {
			case !st.Healthy || st.Reported != st.Assigned:
			case st.Reported == "primary":
				primary = n
			case st.Reported == "secondary":
				standby = n
			}
		}
		if primary != nil && standby != nil && streaming(ctx, f.NodeURL(primary, f.Superuser(), "postgres"), !e.async) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no healthy primary with a streaming standby (synchronous: %t) within 3 minutes: %+v", !e.async, states)
		}
	}
	now := time.Now()
	killedAt.Store(&now)
	pid, err := f.Lose(primary)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s lost: SIGKILL to its pg_autoctl and its postmaster (pid %d) after %d acknowledged writes", primary.Name, pid, before.Load())
	wg.Wait()
	if driveCtx.Err() != nil {
		t.Fatalf("the drive did not finish within %s: writes acknowledged before the kill %d, after recovery %d",
			driveLimit, before.Load(), after.Load())
	}
	driveEnd := time.Now()

	// Writes are back, on the standby: nothing was left to restart the lost primary.
	if st, err := f.States(ctx); err != nil || st[standby.Name].Assigned != "primary" && st[standby.Name].Assigned != "wait_primary" {
		t.Fatalf("writes came back but the monitor did not promote %s (%+v, %v)", standby.Name, st, err)
	}
	// The lost machine reboots: its pg_autoctl starts postgres again, and the monitor makes
	// it a standby of the new primary (pg_rewind, then streaming).
	if err := f.Restart(primary); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitStates(ctx, 5*time.Minute, map[string]string{standby.Name: "primary", primary.Name: "secondary"}); err != nil {
		t.Fatal(err)
	}
	rejoined := time.Since(*killedAt.Load())

	// Every acknowledged write is on the new primary, in the right organization.
	acked := map[string]int{}
	var ambiguous []string // a write without an answer of 201: its outcome is unknown to the client
	statuses := map[string]int{}
	var unavailable, unavailableWithRetry int
	for _, o := range outcomes {
		key := "transport error"
		if o.transportOK {
			key = fmt.Sprintf("%d", o.status)
		}
		statuses[key]++
		if o.status == http.StatusServiceUnavailable {
			unavailable++
			if o.retryAfter != "" {
				unavailableWithRetry++
			}
		}
		if o.write {
			if o.status == http.StatusCreated {
				acked[o.reqID] = o.tenant
			} else {
				ambiguous = append(ambiguous, o.reqID)
			}
		}
	}
	newPrimary := f.NodeURL(standby, f.Superuser(), f.DBName)
	found := namesOn(t, newPrimary)
	foundAcked, foundAmbiguous := 0, 0
	for id, i := range acked {
		org, ok := found[fmt.Sprintf("t%d-%s", i, id)]
		if !ok {
			t.Logf("acknowledged write %s (tenant %d) is not on the new primary", id, i)
			continue
		}
		if org != ts[i].orgID {
			leak("write %s of tenant %d is in organization %s", id, i, org)
		}
		foundAcked++
	}
	// Writes were back with the first write acknowledged after the outage showed that is
	// on the new primary (with asynchronous replication, the old primary's lingering
	// backends may acknowledge writes the new primary never gets).
	var back time.Time
	for _, o := range outcomes {
		out := outageAt.Load()
		if !o.write || o.status != http.StatusCreated || out == nil || !o.start.After(*out) {
			continue
		}
		if _, ok := found[fmt.Sprintf("t%d-%s", o.tenant, o.reqID)]; ok && (back.IsZero() || o.end.Before(back)) {
			back = o.end
		}
	}
	duringOutage := 0
	for _, o := range outcomes {
		if o.start.After(*killedAt.Load()) && (back.IsZero() || o.start.Before(back)) {
			duringOutage++
		}
	}
	for _, id := range ambiguous {
		for i := range ts {
			if _, ok := found[fmt.Sprintf("t%d-%s", i, id)]; ok {
				foundAmbiguous++
			}
		}
	}
	// ... and on the old primary, now a standby, once it has replayed the new primary's WAL.
	var target string
	if err := queryOne(ctx, newPrimary, `select pg_current_wal_lsn()::text`, nil, &target); err != nil {
		t.Fatal(err)
	}
	oldPrimary := f.NodeURL(primary, f.Superuser(), f.DBName)
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var replayed bool
		if err := queryOne(ctx, oldPrimary, `select pg_is_in_recovery() and pg_last_wal_replay_lsn() >= $1::pg_lsn`,
			[]any{target}, &replayed); err == nil && replayed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old primary %s did not replay the new primary's WAL up to %s within 3 minutes", primary.Name, target)
		}
	}
	onStandby := namesOn(t, oldPrimary)
	foundOnStandby := 0
	for id, i := range acked {
		name := fmt.Sprintf("t%d-%s", i, id)
		if _, ok := found[name]; !ok {
			continue
		}
		if _, ok := onStandby[name]; ok {
			foundOnStandby++
		}
	}

	for k, in := range e.api {
		if !in.alive() || in.pid != e.pids[k] {
			t.Errorf("%s did not survive the failover without a restart", in.name)
		}
	}
	r := roundResult{from: primary.Name, to: standby.Name, requests: len(outcomes), drive: driveEnd.Sub(*killedAt.Load()),
		duringOutage: duringOutage, statuses: statuses, unavailable: unavailable, retried: unavailableWithRetry,
		acked: len(acked), foundAcked: foundAcked, foundOnOld: foundOnStandby, rejoined: rejoined,
		ambiguous: len(ambiguous), committed: foundAmbiguous, leaks: leaks.Load(), lingering: lingering.Load()}
	if !back.IsZero() {
		r.back = back.Sub(*killedAt.Load())
	}
	if r.leaks != 0 {
		t.Errorf("%d leaks", r.leaks)
	}
	if r.retried != r.unavailable {
		t.Errorf("%d of %d answers 503 lacked Retry-After", r.unavailable-r.retried, r.unavailable)
	}
	if r.back == 0 {
		t.Error("writes never succeeded again after the kill")
	}
	for k, n := range statuses {
		if !slices.Contains([]string{"200", "201", "503"}, k) {
			t.Errorf("%d requests answered %s: want only 200, 201 and 503 (with Retry-After) across a failover", n, k)
		}
	}
	return r
}

// streaming reports whether a standby streams from the primary at url and, when sync,
// counts for its commits.
func streaming(ctx context.Context, url string, sync bool) bool {
	states := []string{"sync", "quorum"}
	if !sync {
		states = []string{"async"}
	}
	var n int
	err := queryOne(ctx, url, `select count(*)::int from pg_stat_replication where state = 'streaming' and sync_state = any($1)`,
		[]any{states}, &n)
	return err == nil && n > 0
}

// namesOn reads every drive project (name → organization) on one node.
func namesOn(t *testing.T, url string) map[string]string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `select name, org_id::text from app.projects where name ~ '^t[0-9]+-ha[0-9]+-'`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var name, org string
		if err := rows.Scan(&name, &org); err != nil {
			t.Fatal(err)
		}
		out[name] = org
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// queryOne runs one query on its own connection to url and scans its row into dest.
func queryOne(ctx context.Context, url, sql string, args []any, dest ...any) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.QueryRow(ctx, sql, args...).Scan(dest...)
}

// commitLatency measures the median commit of a one-row insert on the primary with the
// synchronous standby (synchronous_commit=on, the formation's setting) and without
// waiting for it (synchronous_commit=local: what asynchronous replication costs).
func commitLatency(t *testing.T, url string) (sync, local time.Duration) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `create table public.ha_commit_latency (id bigint generated always as identity, at timestamptz default now())`); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.Background(), `drop table public.ha_commit_latency`)
	// Interleaved, so that both modes see the same machine (the CI machine is shared).
	var on, off []time.Duration
	for i := range 400 {
		mode := "on"
		if i%2 == 1 {
			mode = "local"
		}
		if _, err := conn.Exec(ctx, `select set_config('synchronous_commit', $1, false)`, mode); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := conn.Exec(ctx, `insert into public.ha_commit_latency default values`); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); mode == "on" {
			on = append(on, d)
		} else {
			off = append(off, d)
		}
	}
	median := func(ds []time.Duration) time.Duration {
		slices.Sort(ds)
		return ds[len(ds)/2].Round(time.Microsecond)
	}
	return median(on), median(off)
}
