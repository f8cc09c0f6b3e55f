// Command instances measures what more API instances buy on this machine: it runs the
// same mixed drive (a quarter project creates, the rest project lists and /v1/auth/me,
// from many tenants) through a round-robin proxy in front of 1, then 3 `rowguard serve`
// processes on one private PostgreSQL, and prints requests per second of each and their
// ratio, in one run. Every answer of the drive is checked for the caller's tenant.
//
//	go run ./tests/load/instances                       # 15 s per configuration
//	go run ./tests/load/instances -duration 30s -clients 64 -instances 1,2,3
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
	"github.com/rowguard/rowguard/internal/token"
)

func main() {
	duration := flag.Duration("duration", 15*time.Second, "drive length per configuration")
	clients := flag.Int("clients", 32, "concurrent HTTP clients")
	tenants := flag.Int("tenants", 20, "organizations, each with its own owner")
	counts := flag.String("instances", "1,3", "numbers of API instances to compare, in order")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *duration, *clients, *tenants, *counts); err != nil {
		fmt.Fprintln(os.Stderr, "instances:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, duration time.Duration, clients, tenants int, counts string) error {
	var ns []int
	for _, f := range strings.Split(counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 16 {
			return fmt.Errorf("-instances: %q is not a number from 1 to 16", f)
		}
		ns = append(ns, n)
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
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "DATABASE_URL=" + pg.URL(db, database.DevLoginRole),
		"ROWGUARD_JWT_PRIVATE_KEY=" + string(pem), "ROWGUARD_MANAGEMENT_ADDR=off", "ROWGUARD_LOG_LEVEL=error",
		"ROWGUARD_TRUSTED_PROXIES=127.0.0.1"}

	fmt.Printf("machine: %d CPUs (GOMAXPROCS %d); PostgreSQL, the proxy, the clients and the API instances share them\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0))
	var ts []tenant
	var results []float64
	for k, n := range ns {
		var instances []*exec.Cmd
		var urls []string
		stopAll := func() {
			for _, c := range instances {
				_ = c.Process.Signal(syscall.SIGTERM)
				_ = c.Wait()
			}
		}
		for range n {
			c, u, err := startServe(ctx, bin, env)
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
		rep := drive(ctx, proxy, ts, clients, duration, k)
		closeProxy()
		stopAll()
		fmt.Printf("%d instance(s): %d requests in %s = %.0f req/s; statuses %v; leaks %d\n",
			n, rep.requests, duration, rep.perSecond, rep.statuses, rep.leaks)
		if rep.leaks > 0 {
			return fmt.Errorf("%d leaks", rep.leaks)
		}
		results = append(results, rep.perSecond)
	}
	for i := 1; i < len(results); i++ {
		fmt.Printf("%d vs %d instance(s): ratio %.2f\n", ns[i], ns[0], results[i]/results[0])
	}
	return nil
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
