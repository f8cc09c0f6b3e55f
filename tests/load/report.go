package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"
	"time"
)

// report is the run's outcome; -json prints it as is.
type report struct {
	Target  string        `json:"target"`
	Machine machineFacts  `json:"machine"`
	Setup   setupFacts    `json:"setup"`
	Seed    seedFacts     `json:"seed"`
	Load    loadFacts     `json:"load"`
	Phases  []phaseReport `json:"phases"`
	Ratios  *ratios       `json:"ratios,omitempty"`

	Revocation *revocationCost `json:"revocation_check,omitempty"`
	Cross      *crossResult    `json:"cross_tenant,omitempty"`
	Notes      []string        `json:"notes"`

	TotalErrors int `json:"total_errors"`
	inProcess   bool
	TotalLeaks  int `json:"total_leaks"`
}

type machineFacts struct {
	GoVersion  string `json:"go_version"`
	OS         string `json:"os_arch"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Postgres   string `json:"postgres_version"`
}

type setupFacts struct {
	API        string `json:"api"`
	Database   string `json:"database"`
	PoolSize   int32  `json:"pool_max_conns"`
	SharedPool bool   `json:"direct_uses_api_pool"`
	SeedConns  string `json:"seed_connections"`
	ExecMode   string `json:"query_exec_mode"`
	AccessLog  string `json:"access_log"`
	Statements string `json:"direct_statements"`
}

type seedFacts struct {
	Orgs           int     `json:"orgs"`
	ProjectsPerOrg int     `json:"projects_per_org"`
	Seconds        float64 `json:"seconds"`
}

type loadFacts struct {
	Request     string  `json:"request"`
	Concurrency int     `json:"concurrency"`
	Duration    string  `json:"duration_per_round"`
	Warmup      string  `json:"warmup"`
	Rounds      int     `json:"rounds"`
	Seed        uint64  `json:"seed,omitempty"`
	Seconds     float64 `json:"measured_seconds_per_phase"`
}

type phaseReport struct {
	Name         string         `json:"name"`
	Requests     int            `json:"requests"`
	ReqPerSec    float64        `json:"req_per_sec"`
	P50ms        float64        `json:"p50_ms"`
	P90ms        float64        `json:"p90_ms"`
	P99ms        float64        `json:"p99_ms"`
	MaxMs        float64        `json:"max_ms"`
	Errors       int            `json:"errors"`
	Leaks        int            `json:"leaks"`
	CPU          *cpuPerRequest `json:"cpu,omitempty"`
	ErrorSamples []string       `json:"error_samples,omitempty"`
	LeakSamples  []string       `json:"leak_samples,omitempty"`
}

// cpuPerRequest is the CPU time of the measured window divided by the
// requests completed in it, and how busy the rest of the machine was.
type cpuPerRequest struct {
	SelfMicros     float64 `json:"this_process_us_per_req"`
	PostgresMicros float64 `json:"postgres_us_per_req,omitempty"`
	PostgresFaults float64 `json:"postgres_minor_faults_per_req"`
	OthersPercent  float64 `json:"other_processes_percent_of_machine"`
	IdlePercent    float64 `json:"idle_percent_of_machine"`
}

// ratios compare the api phase with the direct one.
type ratios struct {
	Throughput float64 `json:"throughput_api_over_direct"`
	P50        float64 `json:"p50_api_over_direct"`
	P99        float64 `json:"p99_api_over_direct"`
	// CPUBound is (CPU µs per direct request) / (CPU µs per API request),
	// this process and PostgreSQL together: the verdict (the throughput ratio to
	// expect when they have the machine to themselves; it does not move with other
	// load as req/s does). 0 when not measured.
	CPUBound float64 `json:"cpu_ratio"`
	Target   float64 `json:"throughput_target"`
	// Traced is the traced phase's throughput over the api phase's (tracing on / off);
	// TracedDirect over the direct phase's. 0 without a traced phase.
	Traced       float64 `json:"throughput_traced_over_api,omitempty"`
	TracedDirect float64 `json:"throughput_traced_over_direct,omitempty"`
	TracedP50    float64 `json:"p50_traced_over_api,omitempty"`
}

// throughputTarget is the project's goal for the API/direct throughput ratio
// on a 2-core machine.
const throughputTarget = 0.70

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func newReport(cfg *config, e *env) *report {
	r := &report{
		inProcess: e.inProcess,
		Target:    "GET /v1/orgs/{org_id}/projects?limit=N through the API vs the same SQL batch sent directly with pgx",
		Machine: machineFacts{
			GoVersion:  runtime.Version(),
			OS:         runtime.GOOS + "/" + runtime.GOARCH,
			NumCPU:     runtime.NumCPU(),
			GOMAXPROCS: runtime.GOMAXPROCS(0),
			Postgres:   e.pgVersion,
		},
		Setup: setupFacts{
			API:        e.baseURL,
			Database:   e.dbSource,
			PoolSize:   e.poolSize(),
			SharedPool: e.sharedPool,
			SeedConns:  "closed after seeding: both phases start on fresh backends",
			ExecMode:   e.execMode,
			AccessLog:  e.logNote,
			Statements: "api.RequestBatch(…, api.ListProjectsSQL, limit, NULL): the server's own batch",
		},
		Load: loadFacts{
			Request:     fmt.Sprintf("GET /v1/orgs/{org_id}/projects?limit=%d", cfg.pageLimit),
			Concurrency: cfg.concurrency,
			Duration:    cfg.duration.String(),
			Warmup:      cfg.warmup.String(),
			Rounds:      cfg.rounds,
			Seed:        cfg.seed,
			Seconds:     (cfg.duration * time.Duration(cfg.rounds)).Seconds(),
		},
	}
	if !e.inProcess {
		r.Setup.SeedConns = "the external API's (not ours to reset)"
	} else if cfg.keepConns {
		r.Setup.SeedConns = "kept (-keep-seed-conns): the API's backends served the seeding"
	}
	if e.inProcess {
		r.Setup.API = "in-process api.NewServer on " + e.baseURL + " (same pool size as direct)"
		r.Notes = append(r.Notes, "client, API server and PostgreSQL share the machine's CPUs: compare the ratios, not the absolute figures")
	} else {
		r.Setup.API = "external server " + e.baseURL + " (its pool size is its own; direct uses the size shown)"
	}
	return r
}

func (r *report) addPhase(p *phaseResult) {
	r.Phases = append(r.Phases, phaseReport{
		Name:         p.name,
		Requests:     len(p.latencies),
		ReqPerSec:    round(p.rate(), 1),
		P50ms:        ms(p.percentile(0.50)),
		P90ms:        ms(p.percentile(0.90)),
		P99ms:        ms(p.percentile(0.99)),
		MaxMs:        ms(p.percentile(1)),
		Errors:       p.errors,
		Leaks:        p.leaks,
		ErrorSamples: p.errorMsgs,
		LeakSamples:  p.leakMsgs,
		CPU:          cpuReport(p),
	})
}

func cpuReport(p *phaseResult) *cpuPerRequest {
	n := len(p.latencies)
	if !p.cpuOK || n == 0 || p.cpu.Capacity <= 0 {
		return nil
	}
	per := func(d time.Duration) float64 { return round(float64(d.Microseconds())/float64(n), 1) }
	pct := func(d time.Duration) float64 { return round(100*float64(d)/float64(p.cpu.Capacity), 1) }
	return &cpuPerRequest{
		SelfMicros:     per(p.cpu.Self),
		PostgresMicros: per(p.cpu.Postgres),
		PostgresFaults: round(float64(p.cpu.PgFaults)/float64(n), 2),
		OthersPercent:  pct(p.cpu.Others),
		IdlePercent:    pct(p.cpu.Idle),
	}
}

func meets(ok bool) string {
	if ok {
		return "meets"
	}
	return "BELOW"
}

func round(f float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(f*p+0.5)) / p
}

// phase is the report of the named phase, or nil.
func (r *report) phase(name string) *phaseReport {
	for i := range r.Phases {
		if r.Phases[i].Name == name {
			return &r.Phases[i]
		}
	}
	return nil
}

// finish computes the ratios and the totals.
func (r *report) finish() {
	var api, direct, unchecked, traced *phaseReport
	for i := range r.Phases {
		p := &r.Phases[i]
		r.TotalErrors += p.Errors
		r.TotalLeaks += p.Leaks
		switch p.Name {
		case "api":
			api = p
		case "direct":
			direct = p
		case "unchecked":
			unchecked = p
		case "traced":
			traced = p
		}
	}
	if r.Cross != nil {
		r.TotalErrors += r.Cross.Errors
		r.TotalLeaks += r.Cross.Leaks
	}
	r.Revocation = newRevocationCost(direct, unchecked)
	if api != nil && direct != nil && direct.ReqPerSec > 0 && direct.P50ms > 0 {
		r.Ratios = &ratios{
			Throughput: round(api.ReqPerSec/direct.ReqPerSec, 3),
			P50:        round(api.P50ms/direct.P50ms, 3),
			Target:     throughputTarget,
		}
		if direct.P99ms > 0 {
			r.Ratios.P99 = round(api.P99ms/direct.P99ms, 3)
		}
		if a, d := api.CPU, direct.CPU; a != nil && d != nil && a.PostgresMicros > 0 && d.PostgresMicros > 0 {
			r.Ratios.CPUBound = round((d.SelfMicros+d.PostgresMicros)/(a.SelfMicros+a.PostgresMicros), 3)
		}
		if traced != nil && api.ReqPerSec > 0 && api.P50ms > 0 {
			r.Ratios.Traced = round(traced.ReqPerSec/api.ReqPerSec, 3)
			r.Ratios.TracedDirect = round(traced.ReqPerSec/direct.ReqPerSec, 3)
			r.Ratios.TracedP50 = round(traced.P50ms/api.P50ms, 3)
		}
	}
}

func (r *report) writeJSON(w io.Writer) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(r)
}

func (r *report) writeText(w io.Writer) {
	m, s := r.Machine, r.Setup
	fmt.Fprintf(w, "rowguard load: %s\n", r.Target)
	fmt.Fprintf(w, "machine   %s %s, NumCPU %d, GOMAXPROCS %d, PostgreSQL %s\n", m.GoVersion, m.OS, m.NumCPU, m.GOMAXPROCS, m.Postgres)
	pools := "API and direct pools of"
	switch {
	case s.SharedPool:
		pools = "one pool (API and direct) of"
	case !r.inProcess:
		pools = "direct pool of"
	}
	fmt.Fprintf(w, "database  %s; %s %d conns as rowguard_app, query exec mode %s\n", s.Database, pools, s.PoolSize, s.ExecMode)
	fmt.Fprintf(w, "conns     %s\n", s.SeedConns)
	fmt.Fprintf(w, "api       %s\n", s.API)
	fmt.Fprintf(w, "logging   %s\n", s.AccessLog)
	fmt.Fprintf(w, "seed      %d orgs × %d projects, each org founded by its own user, via HTTP in %.1fs\n", r.Seed.Orgs, r.Seed.ProjectsPerOrg, r.Seed.Seconds)
	fmt.Fprintf(w, "load      %s, %d clients, random tenant per request, %s measured after %s warm-up, %d round(s)\n",
		r.Load.Request, r.Load.Concurrency, r.Load.Duration, r.Load.Warmup, r.Load.Rounds)
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\trequests\treq/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\tleaks\t")
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%d\t\n",
			p.Name, p.Requests, p.ReqPerSec, p.P50ms, p.P90ms, p.P99ms, p.MaxMs, p.Errors, p.Leaks)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)

	if len(r.Phases) > 0 && r.Phases[0].CPU != nil {
		who := "this process = load client + in-process API server"
		if !r.inProcess {
			who = "this process = load client; the external API and its database count as other processes"
		}
		fmt.Fprintf(w, "CPU per request in the measured window (µs; %s):\n", who)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "phase\tthis process\tpostgres\tpg page faults/req\tother processes\tidle\t")
		for _, p := range r.Phases {
			if c := p.CPU; c != nil {
				pg, faults := "n/a", "n/a"
				if c.PostgresMicros > 0 {
					pg, faults = fmt.Sprintf("%.0f", c.PostgresMicros), fmt.Sprintf("%.2f", c.PostgresFaults)
				}
				fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%.0f%% of machine\t%.0f%%\t\n", p.Name, c.SelfMicros, pg, faults, c.OthersPercent, c.IdlePercent)
			}
		}
		_ = tw.Flush()
		fmt.Fprintln(w)
	}

	if q := r.Ratios; q != nil {
		if q.CPUBound > 0 {
			// The verdict: CPU per request does not count the time a process waits for a
			// CPU, so it stays put when other work shares the machine; req/s does not.
			fmt.Fprintf(w, "API/direct  CPU ratio %.2f (%s the %.2f target): CPU per direct request / per API request, this process + PostgreSQL\n",
				q.CPUBound, meets(q.CPUBound >= q.Target), q.Target)
			fmt.Fprintf(w, "            wall-clock: throughput %.2f   p50 latency %.2f×   p99 latency %.2f× (these move with the machine's load)\n",
				q.Throughput, q.P50, q.P99)
		} else {
			fmt.Fprintf(w, "API/direct  wall-clock throughput %.2f (%s the %.2f target; CPU not measured, so this moves with the machine's load)   p50 latency %.2f×   p99 latency %.2f×\n",
				q.Throughput, meets(q.Throughput >= q.Target), q.Target, q.P50, q.P99)
		}
		if q.Traced > 0 {
			fmt.Fprintf(w, "traced/API  throughput %.2f (tracing on / off)   traced/direct %.2f   p50 latency %.2f×\n", q.Traced, q.TracedDirect, q.TracedP50)
		}
	}
	if r.Revocation != nil {
		r.Revocation.writeText(w)
	}
	if c := r.Cross; c != nil {
		fmt.Fprintf(w, "cross-tenant probes  %d HTTP (want 404) + %d direct (want RG404): %d errors, %d leaks\n",
			c.HTTPProbes, c.DirectProbes, c.Errors, c.Leaks)
	}
	for _, p := range r.Phases {
		for _, msg := range p.LeakSamples {
			fmt.Fprintf(w, "LEAK  %s: %s\n", p.Name, msg)
		}
		for _, msg := range p.ErrorSamples {
			fmt.Fprintf(w, "error %s: %s\n", p.Name, msg)
		}
	}
	if c := r.Cross; c != nil {
		for _, msg := range c.LeakSamples {
			fmt.Fprintf(w, "LEAK  cross-tenant: %s\n", msg)
		}
		for _, msg := range c.ErrorSamples {
			fmt.Fprintf(w, "error cross-tenant: %s\n", msg)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	status := "OK"
	if r.TotalLeaks > 0 || r.TotalErrors > 0 {
		status = "FAIL"
	}
	fmt.Fprintf(w, "result: %s (%d errors, %d leaks)\n", status, r.TotalErrors, r.TotalLeaks)
}
