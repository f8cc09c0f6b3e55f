// Command load is rowguard's benchmark: it measures what the HTTP layer costs
// on top of the SQL it sends, and checks on every response that no tenant
// ever sees another tenant's rows.
//
//	go run ./tests/load                    # self-contained: private Postgres, in-process API
//	go run ./tests/load -concurrency 64 -duration 20s
//	go run ./tests/load -json > load.json  # machine-readable report
//	go run ./tests/load -signup-timing 60  # does register take as long for a taken address as a new one?
//
// # What it does
//
// Setup (default): a private ephemeral PostgreSQL cluster in a temporary
// directory (fsync off), migrated with database.Migrate, the login role
// rowguard_app bootstrapped, a pool opened as rowguard_app with
// database.Open, and api.NewServer served by net/http on 127.0.0.1:0 in this
// process. The API's access log goes to slog.DiscardHandler so that logging
// is not what is measured. With -database-url (a superuser URL) the same is
// done in that database instead of a private cluster. With -url the API is an
// external server; -database-url (or -app-database-url) then names its
// database for the direct phase.
//
// Seed, through the HTTP API: -orgs organizations, each registered by its
// own user (POST /v1/auth/register, then /v1/auth/register/verify with the code
// read from the outbox, which returns the access token), with
// -projects projects each (POST /v1/orgs/{org_id}/projects).
//
// Phase "api": -concurrency clients for -duration (after -warmup, not
// counted), each request a random tenant's
// GET /v1/orgs/{org_id}/projects?limit=20 with that tenant's token over
// keep-alive connections.
//
// Phase "unchecked": the direct batch with auth.begin_request replaced by a copy
// without the session read (tests/load/revocation.go), to report what instant
// revocation costs per request: the "revocation check" lines, with the same two
// timed inside one backend.
//
// Phase "traced" (-phases api,traced,direct): the api phase's request against a second
// in-process API on the same pool with OpenTelemetry tracing on (every trace sampled,
// exported over OTLP/HTTP to an in-process receiver): the traced/api ratio is what
// tracing costs.
//
// Phase "direct": the same transaction without HTTP: one pgx batch on a
// rowguard_app pool of the same size as the API's,
//
//	select auth.begin_request($1::uuid, $2::uuid, $3::uuid), set_config('app.request_id', …, true)
//	select api.list_projects($1::int, $2::uuid)
//
// — built by the api package itself (api.RequestBatch with api.ListProjectsSQL,
// the handler's argument types), same concurrency, same duration, same random
// tenant choice.
//
// After seeding, both pools' connections are closed (-keep-seed-conns keeps
// them): PostgreSQL backends that served the seeding's writes were measured
// to spend 2-3× the CPU per list request afterwards (glibc trimming and
// regrowing their heap: minor page faults in every request; fixed
// MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ in the server's environment
// make it vanish), which would be charged to the api phase alone. With
// -share-pool the direct phase runs on the API's own pool.
//
// Every response of both phases is checked: a status other than 200 (or a
// SQL error), bad JSON or a page of the wrong size is an error; an item whose
// org_id is not the org asked for, or whose id is not one of that org's
// seeded projects, is a leak. Afterwards -cross probes ask for another
// tenant's projects with a tenant's credentials, over HTTP (must be 404) and
// directly (begin_request must raise RG404); any data is a leak.
//
// # Reading the output
//
// For each phase: requests completed inside the measured window, req/s,
// latency p50/p90/p99/max (ms, client side: for "api" the whole HTTP
// exchange, for "direct" the pgx batch), errors and leaks.
//
// The client, the server and PostgreSQL share the machine's CPUs, and on a
// shared machine wall-clock figures (req/s, latency) move with whatever else
// runs: a process that waits for a CPU is counted as if it worked. The
// verdicts are therefore taken in CPU time, which does not count that wait.
// The CPU table (Linux) shows per phase the µs per request of this process
// (the load client, plus the API server in-process: the direct phase's figure
// is the client and pgx alone), of the private cluster's PostgreSQL
// processes, and how much of the machine other processes took during the
// window. The verdict "API/direct CPU ratio" is CPU per direct request over
// CPU per API request (this process plus PostgreSQL; the project's target is
// ≥ 0.70): the throughput ratio to expect with the machine to themselves. The
// wall-clock throughput and latency ratios are printed beside it, labelled as
// such. The revocation check is priced in the backend's own CPU time
// (/proc/<pid>/schedstat of pg_backend_pid(), around alternating blocks of
// requests with and without it; see revocation.go). -rounds N alternates the
// phases N times and sums them.
//
// The exit status is 1 when any leak or error was seen (and, with -min-ratio,
// when the throughput ratio is below it), 2 when the setup failed.
//
// # Flags
//
//	-orgs 50 -projects 20     tenants seeded, projects per tenant
//	-concurrency 32           clients per phase
//	-duration 10s -warmup 2s  measured time and unmeasured warm-up, per phase
//	-rounds 1                 repeat api+direct, alternating the order
//	-limit 20                 ?limit= of the list request
//	-pool 0                   pool size of both pools (0: database.Open's default)
//	-phases api,direct        run one phase only
//	-cross 100                cross-tenant probes per path after the phases
//	-database-url URL         superuser URL instead of a private cluster
//	-url URL                  external API (with -database-url or -app-database-url)
//	-share-pool               direct phase on the API's own pool
//	-keep-seed-conns          do not reset the pools after seeding
//	-access-log               keep the in-process API's access log (stderr)
//	-json                     report as JSON on stdout
//	-min-ratio 0              exit 1 below this API/direct CPU ratio
//	-seed 0                   random seed of the tenant choice
//	-writes                   the write phases instead (writes.go): create project, record,
//	                          booking; API vs direct, and at the database the API function,
//	                          its INSERT, the bare INSERT without our triggers, each trigger
//
// Profiling the in-process API: -cpuprofile F writes a CPU profile of the api
// phase's measured window (the client is in the same process:
// go tool pprof -focus 'rowguard/api' F); -memprofile F writes the
// allocation profiles F.base and F at the start and the end of that window
// (go tool pprof -sample_index=alloc_space -diff_base F.base F); -pprof ADDR
// serves net/http/pprof.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rowguard/rowguard/internal/password"
)

// config holds the command line.
type config struct {
	url          string
	databaseURL  string
	pgSettings   string
	appURL       string
	orgs         int
	projects     int
	concurrency  int
	duration     time.Duration
	warmup       time.Duration
	rounds       int
	pageLimit    int
	pool         int
	sharePool    bool
	keepConns    bool
	seedWorkers  int
	cross        int
	phases       string
	jsonOut      bool
	minRatio     float64
	cpuProfile   string
	memProfile   string
	pprofAddr    string
	keepLog      bool
	verbose      bool
	seed         uint64
	requestLimit time.Duration
	passwords    password.Params
	// -finance: the ledger scenarios of finance.go instead of the projects phases.
	writes         bool // -writes: tests/load/writes.go
	finance        bool
	financeScale   float64
	financeSamples int
	financeExplain bool
	financeExport  bool
	financeDBOnly  bool
	// -signup-timing N: time N pairs of sign-ups (existing address, new one) and stop.
	signupTiming int
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.StringVar(&c.url, "url", "", "base URL of an external API (e.g. http://127.0.0.1:8080); requires -database-url or -app-database-url. Empty: serve api.NewServer in-process")
	fs.StringVar(&c.pgSettings, "pg-settings", "shared_buffers=1GB",
		"comma-separated name=value server settings of the private cluster (ignored with -database-url). "+
			"The default gives the 1M-record finance ledger (~300 MB of heap) a buffer cache that holds it, as a "+
			"production server's would; PostgreSQL's own 128MB made the walks measure cache misses")
	fs.StringVar(&c.databaseURL, "database-url", "", "superuser URL of the database to use: migrated and rowguard_app bootstrapped (in-process mode), or the external API's database (-url mode). Empty: a private ephemeral cluster")
	fs.StringVar(&c.appURL, "app-database-url", "", "-url mode: URL of the serving login role for the direct phase (default: -database-url with the user replaced by rowguard_app)")
	fs.IntVar(&c.orgs, "orgs", 50, "organizations (tenants) to seed, each founded by its own user")
	fs.IntVar(&c.projects, "projects", 20, "projects per organization")
	fs.IntVar(&c.concurrency, "concurrency", 32, "concurrent clients in each phase")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured time of each phase")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each phase")
	fs.IntVar(&c.rounds, "rounds", 1, "repeat both phases, alternating their order; figures are summed over rounds")
	fs.IntVar(&c.pageLimit, "limit", 20, "page size asked for (?limit=)")
	fs.IntVar(&c.pool, "pool", 0, "max connections of the API's pool and of the direct pool (0: database.Open's default)")
	fs.BoolVar(&c.sharePool, "share-pool", false, "in-process mode: the direct phase uses the API's own pool (same backends) instead of a second pool of the same size")
	fs.BoolVar(&c.keepConns, "keep-seed-conns", false, "in-process mode: keep the API pool's connections that served the seeding (by default both pools are reset after seeding, so both phases start on fresh backends)")
	fs.IntVar(&c.seedWorkers, "seed-concurrency", 8, "concurrent requests while seeding")
	fs.IntVar(&c.cross, "cross", 100, "cross-tenant probes per path (HTTP and direct) after the phases; 0 disables")
	fs.StringVar(&c.phases, "phases", "api,direct,unchecked", "phases to run: api, direct, unchecked (direct without the revocation check), login (POST /v1/auth/login: the password hash's cost), traced (api on a second in-process API with OpenTelemetry tracing on, every trace exported over OTLP/HTTP to an in-process receiver), comma-separated")
	fs.BoolVar(&c.jsonOut, "json", false, "print the report as JSON on stdout (progress still goes to stderr)")
	fs.Float64Var(&c.minRatio, "min-ratio", 0, "exit 1 when the API/direct CPU ratio (throughput ratio when CPU is not measured) is below this (0: report only)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the api phase's measured window to this file")
	fs.StringVar(&c.memProfile, "memprofile", "", "write allocation profiles F.base and F at the start and end of the api phase's measured window (compare with pprof -diff_base)")
	fs.StringVar(&c.pprofAddr, "pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060) during the run")
	fs.BoolVar(&c.keepLog, "access-log", false, "keep the in-process API's access log (JSON on stderr) instead of discarding it")
	fs.BoolVar(&c.verbose, "v", false, "progress details on stderr (cluster start, migrations)")
	fs.Uint64Var(&c.seed, "seed", 0, "random seed of the tenant choice (0: from the clock)")
	fs.DurationVar(&c.requestLimit, "request-timeout", 30*time.Second, "client-side time limit of one request")
	c.passwords = password.DefaultParams
	var memory, iterations, parallelism uint
	fs.UintVar(&memory, "password-memory-kib", uint(c.passwords.Memory), "in-process API: argon2id memory cost (KiB) of the hashes it makes and of the seeded accounts")
	fs.UintVar(&iterations, "password-iterations", uint(c.passwords.Iterations), "in-process API: argon2id time cost")
	fs.UintVar(&parallelism, "password-parallelism", uint(c.passwords.Parallelism), "in-process API: argon2id lanes")
	fs.BoolVar(&c.writes, "writes", false, "run the write phases (create project, record, booking: API vs direct end to end, and at the database the API function vs its INSERT vs the bare INSERT without our triggers; tests/load/writes.go) instead of the projects phases")
	fs.BoolVar(&c.finance, "finance", false, "run the finance scenarios (records list/create, trends; ledger sizes at the database) instead of the projects phases")
	fs.Float64Var(&c.financeScale, "finance-scale", 1, "-finance: multiplies the ledgers' sizes (1: one tenant at 1,000,000 records, one at 100,000, the others 1,000 to 10,000)")
	fs.IntVar(&c.financeSamples, "finance-samples", 200, "-finance: timed requests per statement and tenant size")
	fs.BoolVar(&c.financeExport, "finance-export", false, "-finance: also export the largest and the smallest ledger as CSV through the API and print the time and the process's peak RSS (tests/load/export.go)")
	fs.BoolVar(&c.financeExplain, "finance-explain", false, "-finance: print the plans chosen inside the records list for small and large ledgers (auto_explain, ANALYZE)")
	fs.BoolVar(&c.financeDBOnly, "finance-db-only", false, "-finance: skip the API/direct scenarios, time the statements at the database only")
	fs.IntVar(&c.signupTiming, "signup-timing", 0, "time this many pairs (at least 30) of POST /v1/auth/register for an address that has an account and a new one, print the ratio of the medians, and stop (no phases)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./tests/load [flags]\n\n"+
			"Benchmarks GET /v1/orgs/{org_id}/projects through the API against the same SQL sent directly,\n"+
			"checking every response for cross-tenant leaks. Flags:\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	c.passwords.Memory, c.passwords.Iterations, c.passwords.Parallelism = uint32(memory), uint32(iterations), uint8(min(parallelism, 255))
	var errs []error
	if c.financeScale <= 0 || c.financeScale > 10 {
		errs = append(errs, errors.New("-finance-scale must be above 0 and at most 10"))
	}
	if c.financeSamples < 1 {
		errs = append(errs, errors.New("-finance-samples must be at least 1"))
	}
	if c.signupTiming != 0 && c.signupTiming < 30 {
		errs = append(errs, errors.New("-signup-timing needs at least 30 pairs"))
	}
	if c.orgs < 2 {
		errs = append(errs, errors.New("-orgs must be at least 2 (tenants must mix)"))
	}
	if c.projects < 1 {
		errs = append(errs, errors.New("-projects must be at least 1"))
	}
	if c.concurrency < 1 || c.seedWorkers < 1 {
		errs = append(errs, errors.New("-concurrency and -seed-concurrency must be at least 1"))
	}
	if c.duration <= 0 || c.warmup < 0 {
		errs = append(errs, errors.New("-duration must be positive and -warmup not negative"))
	}
	if c.rounds < 1 {
		errs = append(errs, errors.New("-rounds must be at least 1"))
	}
	if c.pageLimit < 1 || c.pageLimit > 100 {
		errs = append(errs, errors.New("-limit must be from 1 to 100"))
	}
	if c.pool < 0 || c.cross < 0 {
		errs = append(errs, errors.New("-pool and -cross must not be negative"))
	}
	if c.url != "" && c.databaseURL == "" && c.appURL == "" {
		errs = append(errs, errors.New("-url needs -database-url (superuser) or -app-database-url (serving role) for the direct phase"))
	}
	if c.url != "" && c.sharePool {
		errs = append(errs, errors.New("-share-pool needs the in-process API (no -url)"))
	}
	if c.url == "" && c.appURL != "" {
		errs = append(errs, errors.New("-app-database-url is for -url mode; in-process mode derives it from -database-url"))
	}
	c.url = strings.TrimRight(c.url, "/")
	for _, p := range strings.Split(c.phases, ",") {
		switch strings.TrimSpace(p) {
		case "api", "direct", "unchecked", "login", "traced":
		default:
			errs = append(errs, fmt.Errorf("-phases: unknown phase %q (api, direct, unchecked, login, traced)", p))
		}
	}
	if c.url != "" && c.runs("traced") {
		errs = append(errs, errors.New("-phases traced needs the in-process API (no -url)"))
	}
	return c, errors.Join(errs...)
}

func (c *config) runs(phase string) bool {
	for _, p := range strings.Split(c.phases, ",") {
		if strings.TrimSpace(p) == phase {
			return true
		}
	}
	return false
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, cfg, os.Stdout, os.Stderr))
}

// run returns the exit status.
func run(ctx context.Context, cfg *config, stdout, stderr io.Writer) int {
	progress := func(format string, args ...any) {
		fmt.Fprintf(stderr, "load: "+format+"\n", args...)
	}
	env, err := setup(ctx, cfg, stderr, progress)
	if env != nil {
		defer env.close(progress)
	}
	if err != nil {
		fmt.Fprintln(stderr, "load: setup:", err)
		return 2
	}
	if cfg.pprofAddr != "" {
		addr, err := servePprof(cfg.pprofAddr)
		if err != nil {
			fmt.Fprintln(stderr, "load: -pprof:", err)
			return 2
		}
		progress("pprof on http://%s/debug/pprof/", addr)
	}

	if cfg.signupTiming > 0 {
		if err := signUpTiming(ctx, env, cfg.signupTiming, stdout, progress); err != nil {
			fmt.Fprintln(stderr, "load: -signup-timing:", err)
			return 2
		}
		return 0
	}

	progress("seeding %d orgs × %d projects through %s", cfg.orgs, cfg.projects, env.baseURL)
	start := time.Now()
	tenants, err := seed(ctx, cfg, env)
	if err != nil {
		fmt.Fprintln(stderr, "load: seed:", err)
		return 2
	}
	if env.apiPool != nil && !cfg.keepConns {
		// Backends that served the seeding's writes can cost PostgreSQL 2-3×
		// the CPU per read afterwards (see the doc comment): both phases
		// start on fresh backends instead, with the same history.
		env.apiPool.Reset()
		if !env.sharedPool {
			env.direct.Reset()
		}
	}
	if cfg.writes {
		return runWrites(ctx, cfg, env, tenants, stdout, progress)
	}
	if cfg.finance {
		return runFinance(ctx, cfg, env, tenants, stdout, progress)
	}
	rep := newReport(cfg, env)
	rep.Seed = seedFacts{Orgs: len(tenants), ProjectsPerOrg: cfg.projects, Seconds: time.Since(start).Seconds()}
	progress("seeded in %.1fs", rep.Seed.Seconds)

	if cfg.runs("unchecked") {
		drop, err := installProbe(ctx, env.adminURL)
		if err != nil {
			fmt.Fprintln(stderr, "load:", err)
			return 2
		}
		defer drop()
	}
	var results = map[string]*phaseResult{}
	var roundRatios []float64 // direct / unchecked req/s, per round
	for round := range cfg.rounds {
		rates := map[string]float64{}
		order := []string{"api", "traced", "direct", "unchecked", "login"}
		if round%2 == 1 {
			order = []string{"unchecked", "direct", "traced", "api", "login"}
		}
		for _, name := range order {
			if !cfg.runs(name) || ctx.Err() != nil {
				continue
			}
			progress("round %d/%d: phase %s: %d clients, %s warm-up + %s", round+1, cfg.rounds, name, cfg.concurrency, cfg.warmup, cfg.duration)
			r, err := runPhase(ctx, cfg, env, name, tenants)
			if err != nil {
				fmt.Fprintf(stderr, "load: phase %s: %v\n", name, err)
				return 2
			}
			progress("phase %s: %.0f req/s, p50 %.2f ms, %d errors, %d leaks", name, r.rate(), ms(r.percentile(0.50)), r.errors, r.leaks)
			rates[name] = r.rate()
			if results[name] == nil {
				results[name] = r
			} else {
				results[name].merge(r)
			}
		}
		if rates["direct"] > 0 && rates["unchecked"] > 0 {
			roundRatios = append(roundRatios, rates["direct"]/rates["unchecked"])
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "load: interrupted")
		return 2
	}
	for _, name := range []string{"api", "traced", "direct", "unchecked", "login"} {
		if r := results[name]; r != nil {
			rep.addPhase(r)
		}
	}
	var backend backendTiming
	if results["direct"] != nil && results["unchecked"] != nil {
		progress("timing %d requests with and %d without the revocation check inside one backend", backendBlocks*backendBlockSize, backendBlocks*backendBlockSize)
		if backend, err = timeRequestsInBackend(ctx, env.direct, tenants[0], cfg.pageLimit); err != nil {
			fmt.Fprintln(stderr, "load: timing the revocation check:", err)
			return 2
		}
	}
	if env.tracer != nil && results["traced"] != nil {
		_ = env.tracer.ForceFlush(ctx)
		rep.Notes = append(rep.Notes, fmt.Sprintf("traced phase: the in-process OTLP receiver got %d export requests, %d bytes of spans",
			env.otlp.requests.Load(), env.otlp.bytes.Load()))
	}
	if cfg.cross > 0 {
		progress("cross-tenant probes: %d over HTTP, %d direct", cfg.cross, cfg.cross)
		rep.Cross = crossProbes(ctx, cfg, env, tenants)
	}
	rep.finish()
	if rep.Revocation != nil {
		for _, r := range roundRatios {
			rep.Revocation.RoundRatios = append(rep.Revocation.RoundRatios, round(r, 3))
		}
		if backend.CheckedWall > 0 {
			rep.Revocation.addBackend(backend, rep.phase("direct"), rep.phase("api"))
		}
	}

	if cfg.jsonOut {
		rep.writeJSON(stdout)
	} else {
		rep.writeText(stdout)
	}
	status := 0
	if rep.TotalLeaks > 0 || rep.TotalErrors > 0 {
		status = 1
	}
	if cfg.minRatio > 0 && rep.Ratios != nil {
		// The CPU ratio when measured (it does not move with the machine's load), else req/s.
		name, got := "CPU", rep.Ratios.CPUBound
		if got == 0 {
			name, got = "throughput", rep.Ratios.Throughput
		}
		if got < cfg.minRatio {
			fmt.Fprintf(stderr, "load: API/direct %s ratio %.2f is below -min-ratio %.2f\n", name, got, cfg.minRatio)
			status = 1
		}
	}
	return status
}
