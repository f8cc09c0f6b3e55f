// Command replica measures what a read replica (ROWGUARD_READ_DATABASE_URL) buys on this
// machine: a private primary and a streaming hot standby made from it (pg_basebackup -R),
// the same analytics drive (GET …/analytics/summary, trends, categories and recent of
// many tenants' ledgers, optionally mixed with record creates) through an in-process API
// on the primary alone, then through one that reads the replica-safe routes on the
// standby, and prints requests per second of each, their ratio, what share the standby
// answered and how many transactions each request cost the primary, in one run. Every
// summary is checked against its tenant's own record count (another tenant's figures,
// or a stale standby's, would not match).
//
//	go run ./tests/load/replica                           # 15 s per configuration
//	go run ./tests/load/replica -order replica,primary    # the other order, to see the drift
//	go run ./tests/load/replica -writes 10                # 10 % of requests create a record
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/inprocess"
	"github.com/rowguard/rowguard/internal/pgcluster"
	"github.com/rowguard/rowguard/internal/token"
)

func main() {
	duration := flag.Duration("duration", 15*time.Second, "drive length per configuration")
	clients := flag.Int("clients", 32, "concurrent HTTP clients")
	tenants := flag.Int("tenants", 20, "organizations, each with its own owner and ledger")
	records := flag.Int("records", 40, "records of the smallest ledger (tenant i has records+i)")
	order := flag.String("order", "primary,replica", "configurations to drive, in order: primary (no replica), replica")
	writes := flag.Int("writes", 0, "percentage of requests that create a record (0 to 50)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *duration, *clients, *tenants, *records, *order, *writes); err != nil {
		fmt.Fprintln(os.Stderr, "replica:", err)
		os.Exit(1)
	}
}

// ledger is one tenant's project.
type ledger struct {
	inprocess.Tenant
	projectID, category string
	records             atomic.Int64 // records created so far (seeded and driven)
}

func (l *ledger) path(rest string) string {
	return "/v1/orgs/" + l.OrgID + "/projects/" + l.projectID + rest
}

func run(ctx context.Context, duration time.Duration, clients, tenants, records int, order string, writes int) error {
	if writes < 0 || writes > 50 {
		return fmt.Errorf("-writes %d: want 0 to 50", writes)
	}
	configs := strings.Split(order, ",")
	for _, c := range configs {
		if c != "primary" && c != "replica" {
			return fmt.Errorf("-order: %q is neither primary nor replica", c)
		}
	}
	dir, err := os.MkdirTemp(pgcluster.ScratchDir(), "rowguard-replica-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o711); err != nil { // as root, the servers run as postgres
		return err
	}
	// Not Ephemeral: its synchronous_commit = off leaves commits in the WAL buffers for up to
	// 3 × wal_writer_delay (600 ms), and a standby is streamed only what was flushed, so a
	// read would wait that long for a write acknowledged before it. Production keeps the
	// default (on). The directory is in memory anyway (ScratchDir): fsync costs little.
	primary, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(dir, "primary")})
	if err != nil {
		return err
	}
	defer primary.Stop()
	const db = "rowguard_replica"
	adminURL, err := database.PrepareScratch(ctx, primary, db)
	if err != nil {
		return err
	}
	standby, err := pgcluster.StartStandby(ctx, primary, pgcluster.StandbyOptions{Dir: filepath.Join(dir, "standby"),
		Settings: map[string]string{"hot_standby_feedback": "on"}})
	if err != nil {
		return err
	}
	defer standby.Stop() // before the primary's (deferred earlier, runs later)
	admin, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		return err
	}
	defer admin.Close()

	key, err := token.GenerateKey()
	if err != nil {
		return err
	}
	tokens, err := token.NewAuthority(key, "", "rowguard", "rowguard-api", time.Hour, -1)
	if err != nil {
		return err
	}
	start := func(withReplica bool) (*inprocess.Server, error) {
		pool, err := database.Open(ctx, primary.URL(db, database.DevLoginRole))
		if err != nil {
			return nil, err
		}
		opts := api.Options{Pool: pool, Tokens: tokens, Logger: slog.New(slog.DiscardHandler), MetricsOnAPIPort: true}
		if withReplica {
			rp, err := database.OpenReplica(ctx, standby.URL(db, database.DevLoginRole))
			if err != nil {
				return nil, err
			}
			opts.Replica = api.ReplicaOptions{Pool: rp}
		}
		return inprocess.Start(opts, clients)
	}
	servers := map[string]*inprocess.Server{}
	for _, c := range []string{"primary", "replica"} {
		s, err := start(c == "replica")
		if err != nil {
			return err
		}
		defer s.Close()
		servers[c] = s
	}

	fmt.Printf("machine: %d CPUs (GOMAXPROCS %d); the primary, the standby, the clients and the API share them\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0))
	ledgers, err := seed(ctx, servers["primary"], tenants, records)
	if err != nil {
		return err
	}
	var rates []float64
	for _, c := range configs {
		s := servers[c]
		before, err := primaryCommits(ctx, admin)
		if err != nil {
			return err
		}
		m0 := routing(ctx, s)
		rep := drive(ctx, s, ledgers, clients, duration, writes)
		after, err := primaryCommits(ctx, admin)
		if err != nil {
			return err
		}
		m1 := routing(ctx, s)
		fmt.Printf("%-7s: %d requests in %s = %.0f req/s; statuses %v; wrong answers %d; primary transactions per request %.2f",
			c, rep.requests, duration, rep.perSecond, rep.statuses, rep.wrong, float64(after-before)/float64(max(rep.requests, 1)))
		if c == "replica" {
			reads, fallbacks := m1.reads-m0.reads, m1.fallbacks-m0.fallbacks
			fmt.Printf("; standby answered %.0f %% of the replica-safe requests (%0.f), the primary %0.f (%s)",
				100*reads/max(reads+fallbacks, 1), reads, fallbacks, m1.reasons)
		}
		fmt.Println()
		if rep.wrong > 0 {
			return fmt.Errorf("%d wrong answers", rep.wrong)
		}
		rates = append(rates, rep.perSecond)
	}
	for i := 1; i < len(rates); i++ {
		fmt.Printf("%s vs %s: ratio %.2f\n", configs[i], configs[0], rates[i]/rates[0])
	}
	return nil
}

// seed signs tenants up, each with a project, a category and records+i records (created
// through the API, so the rollups the analytics read are the triggers' own).
func seed(ctx context.Context, s *inprocess.Server, tenants, records int) ([]*ledger, error) {
	ledgers := make([]*ledger, tenants)
	var wg sync.WaitGroup
	errs := make(chan error, tenants)
	sem := make(chan struct{}, 8)
	for i := range tenants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			l, err := seedOne(ctx, s, i, records+i)
			if err != nil {
				errs <- err
				return
			}
			ledgers[i] = l
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return ledgers, nil
}

func seedOne(ctx context.Context, s *inprocess.Server, i, n int) (*ledger, error) {
	t, err := s.SignUp(ctx, fmt.Sprintf("owner%d@replica.example", i), fmt.Sprintf("Ledger %d", i))
	if err != nil {
		return nil, err
	}
	l := &ledger{Tenant: t}
	var p, c struct{ ID string }
	if err := post(ctx, s, t.Token, "/v1/orgs/"+t.OrgID+"/projects", map[string]any{"name": "Books"}, &p); err != nil {
		return nil, err
	}
	l.projectID = p.ID
	if err := post(ctx, s, t.Token, l.path("/categories"), map[string]any{"kind": "income", "name": "Sales"}, &c); err != nil {
		return nil, err
	}
	l.category = c.ID
	for range n {
		if err := post(ctx, s, t.Token, l.path("/records"), recordBody(l, nil), nil); err != nil {
			return nil, err
		}
		l.records.Add(1)
	}
	return l, nil
}

func recordBody(l *ledger, rng *rand.Rand) map[string]any {
	day := 1
	if rng != nil {
		day = 1 + rng.IntN(28)
	}
	return map[string]any{"kind": "income", "amount": "10.00", "currency": "EUR", "category_id": l.category,
		"payment_source": "card", "occurred_on": fmt.Sprintf("2030-01-%02d", day)}
}

func post(ctx context.Context, s *inprocess.Server, tok, path string, body, into any) error {
	status, data, _, err := s.Call(ctx, http.MethodPost, path, tok, "", body)
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return fmt.Errorf("POST %s: %d %s", path, status, data)
	}
	if into != nil {
		return json.Unmarshal(data, into)
	}
	return nil
}

const summaryPath = "/analytics/summary?from=2029-01-01&to=2031-12-31"

type report struct {
	requests   int
	perSecond  float64
	statuses   map[int]int
	wrong      int
	firstWrong string
}

// drive runs clients for d: each request a random tenant's analytics GET (or, for
// writes %, a record create), every summary checked against the tenant's record count.
func drive(ctx context.Context, s *inprocess.Server, ledgers []*ledger, clients int, d time.Duration, writes int) report {
	analytics := []string{summaryPath, "/analytics/trends?from=2029-01-01&to=2030-12-31", "/analytics/categories", "/analytics/recent?limit=10"}
	var mu sync.Mutex
	rep := report{statuses: map[int]int{}}
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 17))
			n, statuses, wrong := 0, map[int]int{}, 0
			for time.Now().Before(end) && ctx.Err() == nil {
				l := ledgers[rng.IntN(len(ledgers))]
				if rng.IntN(100) < writes {
					status, _, _, err := s.Call(ctx, http.MethodPost, l.path("/records"), l.Token, "", recordBody(l, rng))
					if err == nil && status == http.StatusCreated {
						l.records.Add(1)
					}
					statuses[status]++
					n++
					continue
				}
				// The count before the request: the summary holds at least it (read-your-writes:
				// every create counted here was acknowledged before the request was sent).
				floor := l.records.Load()
				which := analytics[rng.IntN(len(analytics))]
				status, body, _, err := s.Call(ctx, http.MethodGet, l.path(which), l.Token, "", nil)
				if err != nil {
					status = 0
				}
				statuses[status]++
				n++
				if status == http.StatusOK && which == summaryPath {
					// At most the creates acknowledged since, and those still on their way.
					if got := summaryCount(body); got < floor || got > l.records.Load()+int64(clients) {
						wrong++
						mu.Lock()
						if rep.firstWrong == "" {
							rep.firstWrong = fmt.Sprintf("summary count %d, want at least %d: %s", got, floor, body)
						}
						mu.Unlock()
					}
				}
			}
			mu.Lock()
			rep.requests += n
			rep.wrong += wrong
			for k, v := range statuses {
				rep.statuses[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	rep.perSecond = float64(rep.requests) / d.Seconds()
	if rep.firstWrong != "" {
		fmt.Println("first wrong answer:", rep.firstWrong)
	}
	return rep
}

func summaryCount(body []byte) int64 {
	var s struct {
		Currencies []struct {
			Count int64 `json:"count"`
		} `json:"currencies"`
	}
	if json.Unmarshal(body, &s) != nil {
		return -1
	}
	var n int64
	for _, c := range s.Currencies {
		n += c.Count
	}
	return n
}

// primaryCommits is the primary's committed transactions so far (every database).
func primaryCommits(ctx context.Context, admin *pgxpool.Pool) (int64, error) {
	var n int64
	err := admin.QueryRow(ctx, `select sum(xact_commit + xact_rollback)::int8 from pg_stat_database`).Scan(&n)
	return n, err
}

type routed struct {
	reads, fallbacks float64
	reasons          string
}

// routing reads the replica families of s's /metrics.
func routing(ctx context.Context, s *inprocess.Server) routed {
	var r routed
	_, body, _, err := s.Call(ctx, http.MethodGet, "/metrics", "", "", nil)
	if err != nil {
		return r
	}
	var reasons []string
	for _, line := range bytes.Split(body, []byte("\n")) {
		var v float64
		name, value, ok := strings.Cut(string(line), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if _, err := fmt.Sscan(value, &v); err != nil {
			continue
		}
		switch {
		case name == "rowguard_replica_reads_total":
			r.reads = v
		case strings.HasPrefix(name, "rowguard_replica_fallbacks_total{"):
			r.fallbacks += v
			if v > 0 {
				reasons = append(reasons, strings.TrimPrefix(name, "rowguard_replica_fallbacks_total")+"="+value)
			}
		}
	}
	r.reasons = strings.Join(reasons, " ")
	return r
}
