// Command instances measures what more API instances buy on this machine, and where
// the primary saturates: it runs the same mixed drive (a quarter project creates, the
// rest project lists and /v1/auth/me, from many tenants) through a round-robin proxy in
// front of 1, then 3 `rowguard serve` processes on one private PostgreSQL, then the 3
// behind PgBouncer (transaction pooling), and prints for each the requests per second
// (wall clock) and the CPU time per request of PostgreSQL, of the API processes and of
// PgBouncer, in one run. Every answer of the drive is checked for the caller's tenant.
//
//	go run ./tests/load/instances                       # 15 s per configuration
//	go run ./tests/load/instances -duration 30s -clients 64 -instances 1,2,3,3+pgbouncer
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/inprocess"
	"github.com/rowguard/rowguard/internal/pgcluster"
	"github.com/rowguard/rowguard/internal/proccpu"
	"github.com/rowguard/rowguard/internal/token"
)

func main() {
	duration := flag.Duration("duration", 15*time.Second, "drive length per configuration")
	clients := flag.Int("clients", 32, "concurrent HTTP clients")
	tenants := flag.Int("tenants", 20, "organizations, each with its own owner")
	counts := flag.String("instances", "1,3,3+pgbouncer", "numbers of API instances to compare, in order; N+pgbouncer puts PgBouncer between them and PostgreSQL")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *duration, *clients, *tenants, *counts); err != nil {
		fmt.Fprintln(os.Stderr, "instances:", err)
		os.Exit(1)
	}
}

// configuration is a number of API instances, connected directly or through PgBouncer.
type configuration struct {
	instances int
	pgbouncer bool
}

func (c configuration) String() string {
	if c.pgbouncer {
		return fmt.Sprintf("%d instance(s) via PgBouncer", c.instances)
	}
	return fmt.Sprintf("%d instance(s)", c.instances)
}

func parseConfigurations(list string) ([]configuration, error) {
	var out []configuration
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		count, bouncer := strings.CutSuffix(f, "+pgbouncer")
		n, err := strconv.Atoi(count)
		if err != nil || n < 1 || n > 16 {
			return nil, fmt.Errorf("-instances: %q is not a number from 1 to 16, optionally followed by +pgbouncer", f)
		}
		out = append(out, configuration{instances: n, pgbouncer: bouncer})
	}
	return out, nil
}

func run(ctx context.Context, duration time.Duration, clients, tenants int, counts string) error {
	configs, err := parseConfigurations(counts)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(pgcluster.ScratchDir(), "rowguard-instances-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o711); err != nil { // as root, the server runs as postgres
		return err
	}
	pg, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(dir, "pg"), Ephemeral: true})
	if err != nil {
		return err
	}
	defer pg.Stop()
	const db = "rowguard_instances"
	adminURL, err := database.PrepareScratch(ctx, pg, db)
	if err != nil {
		return err
	}
	var bouncer *pgcluster.PgBouncer
	if slices.ContainsFunc(configs, func(c configuration) bool { return c.pgbouncer }) {
		program, err := pgcluster.EnsurePgBouncer(ctx, os.Stderr)
		if err != nil {
			return err
		}
		// As many server connections as one instance's pool: the instances' 24 share 8.
		bouncer, err = pgcluster.StartPgBouncer(ctx, program, dir, pgcluster.PgBouncerOptions{
			ServerHost: pg.SocketDir(), ServerPort: pg.Port(), Users: []string{database.DevLoginRole}, PoolSize: 8,
			ServerLoginRetry: time.Second, QueryWaitTimeout: 5 * time.Second})
		if err != nil {
			return err
		}
		defer bouncer.Stop()
	}
	bin := filepath.Join(dir, "rowguard")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/rowguard/rowguard/cmd/rowguard").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	key, err := token.GenerateKey()
	if err != nil {
		return err
	}
	pem, err := token.MarshalPrivateKeyPEM(key)
	if err != nil {
		return err
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"ROWGUARD_JWT_PRIVATE_KEY=" + string(pem), "ROWGUARD_MANAGEMENT_ADDR=off", "ROWGUARD_LOG_LEVEL=error",
		"ROWGUARD_TRUSTED_PROXIES=127.0.0.1"}
	pidFile := filepath.Join(pg.DataDir(), "postmaster.pid")

	fmt.Printf("machine: %d CPUs (GOMAXPROCS %d); PostgreSQL, the proxy, the clients and the API instances share them\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0))
	var ts []tenant
	var results []float64
	var pgPerRequest []time.Duration
	for k, cfg := range configs {
		url := "DATABASE_URL=" + pg.URL(db, database.DevLoginRole)
		if cfg.pgbouncer {
			url = "DATABASE_URL=" + bouncer.URL(database.DevLoginRole, db)
		}
		var instances []*exec.Cmd
		var urls []string
		stopAll := func() {
			for _, c := range instances {
				_ = c.Process.Signal(syscall.SIGTERM)
				_ = c.Wait()
			}
		}
		for range cfg.instances {
			c, u, err := startServe(ctx, bin, append(append([]string{}, env...), url))
			if err != nil {
				stopAll()
				return err
			}
			instances = append(instances, c)
			urls = append(urls, u)
		}
		proxy, closeProxy, err := roundRobin(urls)
		if err != nil {
			stopAll()
			return err
		}
		if k == 0 {
			if ts, err = seed(ctx, adminURL, proxy, tenants); err != nil {
				closeProxy()
				stopAll()
				return err
			}
		}
		meter := cpuMeter{pidFile: pidFile, instances: instances}
		if cfg.pgbouncer {
			meter.bouncer = bouncer.PID()
		}
		before := meter.sample()
		rep := drive(ctx, proxy, ts, clients, duration, k)
		use := meter.sample().since(before)
		closeProxy()
		stopAll()
		fmt.Printf("%s: %d requests in %s = %.0f req/s (wall clock); statuses %v; leaks %d\n",
			cfg, rep.requests, duration, rep.perSecond, rep.statuses, rep.leaks)
		if rep.leaks > 0 {
			return fmt.Errorf("%d leaks", rep.leaks)
		}
		fmt.Printf("  CPU per request: %s\n", use.perRequest(rep.requests))
		results = append(results, rep.perSecond)
		pgPerRequest = append(pgPerRequest, use.postgres/time.Duration(max(rep.requests, 1)))
	}
	for i := 1; i < len(results); i++ {
		fmt.Printf("%s vs %s: throughput ratio %.2f\n", configs[i], configs[0], results[i]/results[0])
	}
	// PostgreSQL's CPU per request is what bounds the primary once the API has cores of
	// its own: one core serves at most 1/that requests per second of this mix.
	lowest := slices.Min(pgPerRequest)
	if lowest > 0 {
		fmt.Printf("the primary saturates at about %.0f req/s per core of this mix (PostgreSQL CPU per request %s at best), "+
			"if nothing else runs on it\n", float64(time.Second)/float64(lowest), lowest.Round(time.Microsecond))
	}
	return nil
}

// cpuMeter samples CPU time of the parts of one configuration.
type cpuMeter struct {
	pidFile   string      // PostgreSQL's postmaster.pid
	instances []*exec.Cmd // the API processes
	bouncer   int         // PgBouncer's pid, 0 without it
}

type cpuSample struct {
	postgres, api, bouncer, self, busy, all time.Duration
}

func (m cpuMeter) sample() cpuSample {
	var s cpuSample
	s.postgres, _, _ = proccpu.Server(m.pidFile)
	for _, c := range m.instances {
		d, _ := proccpu.Process(c.Process.Pid)
		s.api += d
	}
	if m.bouncer != 0 {
		s.bouncer, _ = proccpu.Process(m.bouncer)
	}
	s.self, _ = proccpu.Process(os.Getpid())
	s.busy, s.all, _ = proccpu.Machine()
	return s
}

func (b cpuSample) since(a cpuSample) cpuSample {
	return cpuSample{postgres: b.postgres - a.postgres, api: b.api - a.api, bouncer: b.bouncer - a.bouncer,
		self: b.self - a.self, busy: b.busy - a.busy, all: b.all - a.all}
}

func (u cpuSample) perRequest(requests int64) string {
	n := time.Duration(max(requests, 1))
	others := max(0, u.busy-u.postgres-u.api-u.bouncer-u.self)
	return fmt.Sprintf("PostgreSQL %s, API %s, PgBouncer %s, clients and proxy %s; other jobs used %.0f%% of the machine, idle %.0f%%",
		(u.postgres / n).Round(time.Microsecond), (u.api / n).Round(time.Microsecond), (u.bouncer / n).Round(time.Microsecond),
		(u.self / n).Round(time.Microsecond), 100*float64(others)/float64(max(u.all, 1)), 100*float64(u.all-u.busy)/float64(max(u.all, 1)))
}

// startServe runs one `rowguard serve` on a free loopback port and waits for /readyz.
func startServe(ctx context.Context, bin string, env []string) (*exec.Cmd, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := l.Addr().String()
	l.Close()
	c := exec.Command(bin, "serve")
	c.Env = append(append([]string{}, env...), "ROWGUARD_ADDR="+addr)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		return nil, "", err
	}
	u := "http://" + addr
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(u + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, u, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = c.Process.Kill()
			_ = c.Wait()
			return nil, "", fmt.Errorf("rowguard serve not ready within 2 minutes:\n%s", out.String())
		}
	}
}

// roundRobin serves a reverse proxy sending each request to the next backend in turn.
func roundRobin(backends []string) (string, func(), error) {
	targets := make([]*url.URL, len(backends))
	for i, b := range backends {
		u, err := url.Parse(b)
		if err != nil {
			return "", nil, err
		}
		targets[i] = u
	}
	var next atomic.Uint64
	transport := &http.Transport{MaxIdleConnsPerHost: 256}
	proxy := &httputil.ReverseProxy{Transport: transport, ErrorLog: log.New(io.Discard, "", 0), Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(targets[(next.Add(1)-1)%uint64(len(targets))])
		pr.SetXForwarded()
	}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = srv.Close(); transport.CloseIdleConnections() }, nil
}

type tenant struct{ userID, orgID, token string }

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: time.Minute}

func call(ctx context.Context, base, method, path, tok string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// seed writes n verified accounts, signs each in through the proxy and founds its
// organization on the business plan (the drive creates many projects).
func seed(ctx context.Context, adminURL, base string, n int) ([]tenant, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	hash, err := inprocess.CheapPasswords().Hash("correct horse battery")
	if err != nil {
		return nil, err
	}
	ts := make([]tenant, n)
	for i := range ts {
		email := fmt.Sprintf("instances-%d@example.com", i)
		if err := conn.QueryRow(ctx, `insert into auth.users (email, password_hash, email_verified_at) values ($1, $2, now())
		                              returning id::text`, email, hash).Scan(&ts[i].userID); err != nil {
			return nil, err
		}
		status, body, err := call(ctx, base, "POST", "/v1/auth/login", "", map[string]any{"email": email, "password": "correct horse battery"})
		var s struct {
			AccessToken string `json:"access_token"`
		}
		if err != nil || status != http.StatusOK || json.Unmarshal(body, &s) != nil {
			return nil, fmt.Errorf("login %s: %d %v %s", email, status, err, body)
		}
		ts[i].token = s.AccessToken
		status, body, err = call(ctx, base, "POST", "/v1/orgs", s.AccessToken, map[string]any{"name": fmt.Sprintf("Instances %d", i)})
		var o struct{ ID string }
		if err != nil || status != http.StatusCreated || json.Unmarshal(body, &o) != nil {
			return nil, fmt.Errorf("create org: %d %v %s", status, err, body)
		}
		ts[i].orgID = o.ID
	}
	if _, err := conn.Exec(ctx, `update app.subscriptions set plan_code = 'business'`); err != nil {
		return nil, err
	}
	return ts, nil
}

type report struct {
	requests  int64
	perSecond float64
	statuses  map[int]int64
	leaks     int64
}

// drive runs clients for d and counts the answers, checking each for its tenant.
func drive(ctx context.Context, base string, ts []tenant, clients int, d time.Duration, round int) report {
	var requests, leaks atomic.Int64
	var mu sync.Mutex
	statuses := map[int]int64{}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				i := rand.IntN(len(ts))
				tn := ts[i]
				var status int
				var body []byte
				var err error
				switch n % 4 {
				case 0:
					status, body, err = call(ctx, base, "POST", "/v1/orgs/"+tn.orgID+"/projects", tn.token,
						map[string]any{"name": fmt.Sprintf("t%d-r%d-%d-%d", i, round, c, n)})
					var p struct {
						OrgID string `json:"org_id"`
					}
					if err == nil && status == http.StatusCreated && (json.Unmarshal(body, &p) != nil || p.OrgID != tn.orgID) {
						leaks.Add(1)
					}
				case 1:
					status, body, err = call(ctx, base, "GET", "/v1/auth/me", tn.token, nil)
					var me struct{ User struct{ ID string } }
					if err == nil && status == http.StatusOK && (json.Unmarshal(body, &me) != nil || me.User.ID != tn.userID) {
						leaks.Add(1)
					}
				default:
					status, body, err = call(ctx, base, "GET", "/v1/orgs/"+tn.orgID+"/projects?limit=20", tn.token, nil)
					var pg struct {
						Items []struct {
							OrgID string `json:"org_id"`
						}
					}
					if err == nil && status == http.StatusOK {
						if json.Unmarshal(body, &pg) != nil {
							leaks.Add(1)
						}
						for _, it := range pg.Items {
							if it.OrgID != tn.orgID {
								leaks.Add(1)
							}
						}
					}
				}
				if err != nil {
					continue // the drive's end cancels requests in flight
				}
				requests.Add(1)
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return report{requests: requests.Load(), perSecond: float64(requests.Load()) / elapsed.Seconds(), statuses: statuses, leaks: leaks.Load()}
}
