package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/inprocess"
)

// options of one fault run.
//
// A run is paced by the clock (the command: faults at offsets of a drive of fixed
// length) or, when paceRequests > 0, by events (the test): each fault starts once
// paceRequests more requests have succeeded, lasts until paceRequests/4 requests were
// answered 503 during it, and the drive ends once paceRequests requests have succeeded
// after the last fault. An event-paced run proves the same on a machine of any speed;
// deadline bounds it and fails it with a clear message.
type options struct {
	duration       time.Duration // the whole drive (clock pacing)
	clients        int
	tenants        int
	requestTimeout time.Duration
	acquireTimeout time.Duration // the API's wait for a pool connection (0: requestTimeout/5)
	killAt         time.Duration // terminate every API backend (pg_terminate_backend)
	restartAt      time.Duration // stop PostgreSQL...
	downFor        time.Duration // ...and start it again after this long
	exhaustAt      time.Duration // take every connection of the API's pool for downFor
	recoverWithin  time.Duration // the API must answer 2xx again this soon after each fault
	// slack is what an answer may take beyond the timeout that produced it (the
	// scheduler's share on a busy machine): a request must end within requestTimeout
	// + slack, a 503 for a busy pool within acquireTimeout + slack.
	slack time.Duration

	paceRequests int           // > 0: event pacing (see above)
	deadline     time.Duration // event pacing: the whole drive must end within this
	log          io.Writer
}

// acquire is the API's effective acquire timeout.
func (o options) acquire() time.Duration {
	if o.acquireTimeout > 0 {
		return o.acquireTimeout
	}
	return o.requestTimeout / 5
}

// report of one fault run: the figures docs/testing.md quotes, and every broken promise.
type report struct {
	Requests        int                      `json:"requests"`
	Drive           time.Duration            `json:"drive_ns"`
	Tenants         int                      `json:"tenants"`
	Statuses        map[int]int              `json:"statuses"`
	MaxLatency      time.Duration            `json:"max_latency_ns"`
	Acknowledged    int                      `json:"writes_acknowledged"`
	Found           int                      `json:"writes_found"`
	Leaks           int                      `json:"leaks"`
	Recovery        map[string]time.Duration `json:"recovery_ns"`
	ReadyzWhileDown int                      `json:"readyz_while_down"`
	ReadyzAfter     int                      `json:"readyz_after"`
	PoolBusy503     int                      `json:"pool_busy_503"`
	Violations      []string                 `json:"violations"`
}

func (r *report) violate(format string, args ...any) {
	r.Violations = append(r.Violations, fmt.Sprintf(format, args...))
}

// outcome is one answered request.
type outcome struct {
	start, end time.Time
	status     int
	write      bool
	id         string // the created project's id (2xx writes)
	problemOK  bool   // a non-2xx answer was a problem document carrying the request id
	leak       bool
}

// run starts a private cluster and an in-process API, drives writes and reads for
// random tenants, does the faults at their offsets, and checks the promises.
func run(ctx context.Context, o options) (*report, error) {
	rep := &report{Tenants: o.tenants, Statuses: map[int]int{}, Recovery: map[string]time.Duration{}}
	c, err := startCluster(ctx, o.log)
	if err != nil {
		return nil, err
	}
	defer c.close()

	pool, err := database.Open(ctx, c.appURL()+fmt.Sprintf("&pool_max_conns=%d", max(8, o.clients/2)))
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	srv, err := inprocess.Start(api.Options{
		Pool: pool, RequestTimeout: o.requestTimeout, AcquireTimeout: o.acquire(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, o.clients)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	call := func(method, path, tok string, body any) (int, []byte, http.Header, error) {
		return srv.Call(ctx, method, path, tok, "", body)
	}

	ts := make([]inprocess.Tenant, o.tenants)
	for i := range ts {
		if ts[i], err = srv.SignUp(ctx, fmt.Sprintf("fault-%d@example.com", i), fmt.Sprintf("Fault %d", i)); err != nil {
			return nil, err
		}
	}

	// Unlimited plan for every tenant: the drive writes more projects than the free
	// plan allows, and a 402 is not what this harness is about.
	if err := unlimitedPlans(ctx, c.adminURL()); err != nil {
		return nil, err
	}

	var faultErr error // set by the fault goroutine (or the end of an event-paced drive)
	// Counters the event pacing waits on: 2xx answers and 503 answers so far.
	var succeeded, unavailable atomic.Int64
	start := time.Now()
	giveUp := start.Add(o.deadline)
	// waitFor blocks until counter has grown by n (event pacing) and reports false,
	// with faultErr set, when the deadline passes first.
	waitFor := func(counter *atomic.Int64, n int64, what string) bool {
		from := counter.Load()
		for counter.Load() < from+n {
			if time.Now().After(giveUp) {
				faultErr = fmt.Errorf("%s: only %d of %d within the run's deadline (%s): the API is stuck, or the machine far too slow",
					what, counter.Load()-from, n, o.deadline)
				return false
			}
			time.Sleep(5 * time.Millisecond)
		}
		return true
	}
	paced := o.paceRequests > 0
	step, during := int64(o.paceRequests), int64(max(1, o.paceRequests/4))
	// before waits for the moment of the next fault: its offset, or step more successes.
	before := func(at time.Duration, name string) bool {
		if paced {
			return waitFor(&succeeded, step, "successful requests before "+name)
		}
		time.Sleep(time.Until(start.Add(at)))
		return true
	}
	// hold keeps a fault on: for d, or until during more requests were answered 503.
	hold := func(d time.Duration, name string) bool {
		if paced {
			return waitFor(&unavailable, during, "503 answers while "+name)
		}
		time.Sleep(d)
		return true
	}

	// The faults, in order.
	var windows []window // the faults, in order
	var exhausted window // when the harness took and held the whole pool
	var faults sync.WaitGroup
	faultsOver := make(chan struct{}) // closed once the last fault is over
	faults.Add(1)
	go func() {
		defer faults.Done()
		defer close(faultsOver)
		if o.killAt > 0 {
			if !before(o.killAt, "killing backends") {
				return
			}
			from := time.Now()
			admin, err := pgxpool.New(ctx, c.adminURL())
			if err == nil {
				_, err = admin.Exec(ctx, `select pg_terminate_backend(pid) from pg_stat_activity where usename = $1`, database.DevLoginRole)
				admin.Close()
			}
			if err != nil {
				faultErr = err
				return
			}
			windows = append(windows, window{"kill backends", from, time.Now()})
		}
		if o.restartAt > 0 {
			if !before(o.restartAt, "the restart") {
				return
			}
			from := time.Now()
			if err := c.stop(); err != nil {
				faultErr = err
				return
			}
			if !hold(o.downFor/2, "PostgreSQL is down") {
				return
			}
			status, _, _, _ := call("GET", "/readyz", "", nil)
			rep.ReadyzWhileDown = status
			if !paced {
				time.Sleep(o.downFor - o.downFor/2)
			}
			if err := c.start(ctx); err != nil {
				faultErr = err
				return
			}
			windows = append(windows, window{"restart", from, time.Now()})
		}
		if o.exhaustAt > 0 {
			if !before(o.exhaustAt, "holding the pool") {
				return
			}
			from := time.Now()
			var held []*pgxpool.Conn
			for range pool.Config().MaxConns {
				conn, err := pool.Acquire(ctx)
				if err != nil {
					faultErr = err
					return
				}
				held = append(held, conn)
			}
			ok := hold(o.downFor, "the pool is held")
			for _, conn := range held {
				conn.Release()
			}
			if !ok {
				return
			}
			windows = append(windows, window{"pool exhausted", from, time.Now()})
			exhausted = windows[len(windows)-1]
		}
	}()

	// Clock pacing: the drive lasts o.duration, and at least o.recoverWithin past the
	// last fault (a restart on a busy machine can take seconds): recovery must have time
	// to show. Event pacing: it lasts until step requests succeeded after the last fault.
	driveUntil := make(chan struct{})
	go func() {
		defer close(driveUntil)
		if paced {
			<-faultsOver
			if faultErr == nil {
				waitFor(&succeeded, step, "successful requests after the last fault")
			}
			return
		}
		<-time.After(time.Until(start.Add(o.duration)))
		<-faultsOver
		time.Sleep(o.recoverWithin)
	}()
	driving := func() bool {
		select {
		case <-driveUntil:
			return false
		default:
			return true
		}
	}
	var mu sync.Mutex
	var outcomes []outcome
	var wg sync.WaitGroup
	for cl := range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; driving(); n++ {
				tn := ts[rand.IntN(len(ts))]
				oc := outcome{start: time.Now(), write: n%2 == 0}
				var status int
				var body []byte
				var hdr http.Header
				var err error
				if oc.write {
					status, body, hdr, err = call("POST", "/v1/orgs/"+tn.OrgID+"/projects", tn.Token,
						map[string]any{"name": fmt.Sprintf("fault-%d-%d", cl, n)})
				} else {
					status, body, hdr, err = call("GET", "/v1/orgs/"+tn.OrgID+"/projects?limit=100", tn.Token, nil)
				}
				oc.end, oc.status = time.Now(), status
				if err != nil {
					oc.status = -1
				}
				switch {
				case oc.status >= 200 && oc.status < 300:
					succeeded.Add(1)
				case oc.status == http.StatusServiceUnavailable:
					unavailable.Add(1)
				}
				if status >= 200 && status < 300 {
					oc.leak, oc.id = checkBody(oc.write, body, tn.OrgID)
				} else if status > 0 {
					var p api.Problem
					oc.problemOK = json.Unmarshal(body, &p) == nil && p.RequestID != "" && p.RequestID == hdr.Get(api.RequestIDHeader) &&
						p.Status == status && hdr.Get("Content-Type") == api.ProblemContentType
				}
				mu.Lock()
				outcomes = append(outcomes, oc)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	faults.Wait()
	rep.Drive = time.Since(start)
	if faultErr != nil {
		return nil, fmt.Errorf("fault injection: %w", faultErr)
	}
	status, _, _, _ := call("GET", "/readyz", "", nil)
	rep.ReadyzAfter = status

	// Check the promises.
	rep.Requests = len(outcomes)
	var acknowledged []string
	for _, oc := range outcomes {
		rep.Statuses[oc.status]++
		rep.MaxLatency = max(rep.MaxLatency, oc.end.Sub(oc.start))
		if oc.leak {
			rep.Leaks++
		}
		switch {
		case oc.status >= 200 && oc.status < 300:
			if oc.write {
				acknowledged = append(acknowledged, oc.id)
			}
		case oc.status == http.StatusServiceUnavailable || oc.status == http.StatusGatewayTimeout:
			if !oc.problemOK {
				rep.violate("a %d answer was not a problem document with the request id", oc.status)
			}
		default:
			rep.violate("status %d (want 2xx, or 503/504 while the database is away)", oc.status)
		}
	}
	if limit := o.requestTimeout + o.slack; rep.MaxLatency > limit {
		rep.violate("a request took %s (the request timeout is %s, slack %s)", rep.MaxLatency, o.requestTimeout, o.slack)
	}
	if rep.Leaks > 0 {
		rep.violate("%d answers held another tenant's rows", rep.Leaks)
	}
	end := time.Now()
	for i, w := range windows {
		// Recovery: the first 2xx of a request started after the fault ended.
		first := time.Time{}
		for _, oc := range outcomes {
			if oc.start.After(w.to) && oc.status >= 200 && oc.status < 300 && (first.IsZero() || oc.end.Before(first)) {
				first = oc.end
			}
		}
		if first.IsZero() {
			rep.violate("%s: no request succeeded afterwards", w.name)
			continue
		}
		rep.Recovery[w.name] = first.Sub(w.to)
		if rep.Recovery[w.name] > o.recoverWithin {
			rep.violate("%s: first success %s after the fault, want within %s", w.name, rep.Recovery[w.name], o.recoverWithin)
		}
		// Recovered for good: requests started from then on and answered before the
		// next fault began (those in flight when it hits may fail) succeed.
		until := end
		if i+1 < len(windows) {
			until = windows[i+1].from
		}
		for _, oc := range outcomes {
			if oc.start.After(first) && oc.end.Before(until) && (oc.status < 200 || oc.status >= 300) {
				rep.violate("%s: a request started after recovery got %d", w.name, oc.status)
				break
			}
		}
	}
	if o.exhaustAt > 0 {
		// While the harness held every connection, requests waited at most the acquire
		// timeout and got a 503, never a hang until the request timeout.
		bound := o.acquire() + o.slack
		busy := 0
		for _, oc := range outcomes {
			if oc.start.After(exhausted.from) && oc.start.Before(exhausted.to) && oc.status == http.StatusServiceUnavailable {
				busy++
				if d := oc.end.Sub(oc.start); d > bound {
					rep.violate("pool exhausted: a request waited %s for its 503 (bound %s)", d, bound)
					break
				}
			}
		}
		rep.PoolBusy503 = busy
		if busy == 0 {
			rep.violate("pool exhausted: no request got a 503 while every connection was held")
		}
	}
	if o.restartAt > 0 && rep.ReadyzWhileDown != http.StatusServiceUnavailable {
		rep.violate("/readyz answered %d while the database was down, want 503", rep.ReadyzWhileDown)
	}
	if rep.ReadyzAfter != http.StatusOK {
		rep.violate("/readyz answered %d after recovery, want 200", rep.ReadyzAfter)
	}
	if o.restartAt > 0 && rep.Statuses[http.StatusServiceUnavailable] == 0 {
		rep.violate("no 503 at all: was the database really down during the run?")
	}

	// Every acknowledged write exists.
	rep.Acknowledged = len(acknowledged)
	admin, err := pgxpool.New(ctx, c.adminURL())
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	if err := admin.QueryRow(ctx, `select count(*) from app.projects where id = any ($1::uuid[])`, acknowledged).Scan(&rep.Found); err != nil {
		return nil, err
	}
	if rep.Found != rep.Acknowledged {
		rep.violate("writes acknowledged %d, found afterwards %d", rep.Acknowledged, rep.Found)
	}
	if rep.Acknowledged == 0 {
		rep.violate("no write was acknowledged: the run proves nothing")
	}
	return rep, nil
}

// window is one fault: from its start to the moment it is over.
type window struct {
	name     string
	from, to time.Time
}

// checkBody checks a 2xx body: a created project belongs to the tenant (its id is
// returned), a page holds only the tenant's projects.
func checkBody(write bool, body []byte, orgID string) (leak bool, id string) {
	type project struct {
		ID    string `json:"id"`
		OrgID string `json:"org_id"`
	}
	if write {
		var p project
		if json.Unmarshal(body, &p) != nil || p.OrgID != orgID {
			return true, ""
		}
		return false, p.ID
	}
	var pg struct{ Items []project }
	if json.Unmarshal(body, &pg) != nil {
		return true, ""
	}
	for _, p := range pg.Items {
		if p.OrgID != orgID {
			return true, ""
		}
	}
	return false, ""
}

// unlimitedPlans puts every organization on the business plan (no limits).
func unlimitedPlans(ctx context.Context, adminURL string) error {
	admin, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	_, err = admin.Exec(ctx, `update app.subscriptions set plan_code = 'business'`)
	return err
}
