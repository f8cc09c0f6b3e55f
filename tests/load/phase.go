package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/google/uuid"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowguard/rowguard/api"
)

// maxSamples bounds the error and leak messages kept for the report.
const maxSamples = 5

// phaseResult is what one phase measured.
type phaseResult struct {
	name      string
	window    time.Duration   // measured time (summed over rounds)
	latencies []time.Duration // of requests completed inside the window
	sorted    bool
	errors    int // counted in warm-up and window alike
	leaks     int
	errorMsgs []string
	leakMsgs  []string
	cpu       cpuUse // of the measured window, when cpuOK
	cpuOK     bool
}

func (r *phaseResult) rate() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(len(r.latencies)) / r.window.Seconds()
}

func (r *phaseResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	if !r.sorted {
		slices.Sort(r.latencies)
		r.sorted = true
	}
	i := int(math.Ceil(p*float64(len(r.latencies)))) - 1
	return r.latencies[min(max(i, 0), len(r.latencies)-1)]
}

func (r *phaseResult) merge(o *phaseResult) {
	r.window += o.window
	r.latencies = append(r.latencies, o.latencies...)
	r.sorted = false
	r.errors += o.errors
	r.leaks += o.leaks
	r.errorMsgs = appendSamples(r.errorMsgs, o.errorMsgs...)
	r.leakMsgs = appendSamples(r.leakMsgs, o.leakMsgs...)
	if o.cpuOK {
		r.cpu.add(o.cpu)
		r.cpuOK = true
	}
}

func appendSamples(dst []string, msgs ...string) []string {
	for _, m := range msgs {
		if len(dst) < maxSamples {
			dst = append(dst, m)
		}
	}
	return dst
}

// worker is one client's state; it is never shared.
type worker struct {
	rng  *rand.Rand
	buf  bytes.Buffer
	page pageDoc
}

// pageDoc is the part of a page of projects the checks read.
type pageDoc struct {
	Items []struct {
		ID    string `json:"id"`
		OrgID string `json:"org_id"`
	} `json:"items"`
}

// op performs one request for tenant t and checks the answer: leak is set
// when the answer shows data that is not t's, err for any other failure.
type op func(ctx context.Context, w *worker, t *tenant) (leak string, err error)

func runPhase(ctx context.Context, cfg *config, e *env, name string, tenants []*tenant) (*phaseResult, error) {
	var f op
	switch name {
	case "api":
		f = apiOp(e, cfg.pageLimit, false)
	case "traced":
		f = apiOp(e, cfg.pageLimit, true)
	case "direct":
		f = directOp(e, cfg.pageLimit)
	case "unchecked":
		f = uncheckedOp(e.direct, cfg.pageLimit)
	case "login":
		f = loginOp(e)
	default:
		return nil, fmt.Errorf("unknown phase %q", name)
	}
	res := &phaseResult{name: name}
	if cfg.warmup > 0 {
		w := drive(ctx, cfg, nil, cfg.warmup, f, tenants)
		res.errors, res.leaks = w.errors, w.leaks
		res.errorMsgs, res.leakMsgs = w.errorMsgs, w.leakMsgs
	}
	profiling := name == "api" && e.inProcess
	if profiling && cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	}
	if profiling && cfg.memProfile != "" {
		// Allocation profiles are cumulative: the window is the difference.
		if err := writeAllocs(cfg.memProfile + ".base"); err != nil {
			return nil, err
		}
	}
	m := drive(ctx, cfg, &e.cpu, cfg.duration, f, tenants)
	if profiling && cfg.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if profiling && cfg.memProfile != "" {
		if err := writeAllocs(cfg.memProfile); err != nil {
			return nil, err
		}
		cfg.memProfile = "" // one window only, also with -rounds
	}
	if profiling {
		cfg.cpuProfile = ""
	}
	res.merge(m)
	return res, nil
}

func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// drive runs f on cfg.concurrency clients for d, each request for a random
// tenant. Requests that end after d are checked but not timed. With a meter,
// the CPU time used during d is recorded.
func drive(ctx context.Context, cfg *config, meter *cpuMeter, d time.Duration, f op, tenants []*tenant) *phaseResult {
	seed := cfg.seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	results := make([]*phaseResult, cfg.concurrency)
	var wg sync.WaitGroup
	var cpu0 cpuSnapshot
	if meter != nil {
		cpu0 = meter.snapshot()
	}
	start := time.Now()
	deadline := start.Add(d)
	cpuDone := make(chan cpuSnapshot, 1)
	if meter != nil {
		// The window ends at the deadline, not when the last request returns.
		time.AfterFunc(d, func() { cpuDone <- meter.snapshot() })
	}
	for i := range cfg.concurrency {
		r := &phaseResult{latencies: make([]time.Duration, 0, 4096)}
		results[i] = r
		w := &worker{rng: rand.New(rand.NewPCG(seed, uint64(i)))}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				t := tenants[w.rng.IntN(len(tenants))]
				leak, err := f(ctx, w, t)
				t1 := time.Now()
				switch {
				case leak != "":
					r.leaks++
					r.leakMsgs = appendSamples(r.leakMsgs, leak)
				case err != nil:
					if ctx.Err() != nil {
						return // interrupted: not the server's fault
					}
					r.errors++
					r.errorMsgs = appendSamples(r.errorMsgs, err.Error())
				}
				if t1.Before(deadline) || t1.Equal(deadline) {
					r.latencies = append(r.latencies, t1.Sub(t0))
				}
			}
		}()
	}
	wg.Wait()
	total := &phaseResult{window: d}
	for _, r := range results {
		total.merge(r)
	}
	total.window = d
	if meter != nil {
		total.cpu, total.cpuOK = cpu0.to(<-cpuDone)
	}
	return total
}

// apiOp is GET /v1/orgs/{org_id}/projects?limit=N with the tenant's token.
func apiOp(e *env, limit int, traced bool) op {
	return func(ctx context.Context, w *worker, t *tenant) (string, error) {
		u := t.listURL
		if traced {
			u = t.tracedURL
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", t.auth)
		if err := sendOK(e, w, req); err != nil {
			return "", fmt.Errorf("org %s: %w", t.orgID, err)
		}
		return checkPage(w, t, w.buf.Bytes(), limit)
	}
}

// sendOK sends req and reads the answer into w.buf; anything but 200 is an error.
func sendOK(e *env, w *worker, req *http.Request) error {
	status, err := send(e, w, req)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("status %d: %s", status, truncate(w.buf.String(), 200))
	}
	return nil
}

// sendAs sends req with tenant t's token and reads the whole answer into w.buf.
func (e *env) sendAs(w *worker, t *tenant, req *http.Request) (status int, err error) {
	req.Header.Set("Authorization", t.auth)
	return send(e, w, req)
}

// send sends req and reads the whole answer into w.buf.
func send(e *env, w *worker, req *http.Request) (status int, err error) {
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, err
	}
	w.buf.Reset()
	_, err = w.buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, fmt.Errorf("reading the body: %w", err)
	}
	return resp.StatusCode, nil
}

// directOp sends what the API sends, as one pgx batch on the direct pool.
func directOp(e *env, limit int) op {
	return func(ctx context.Context, w *worker, t *tenant) (string, error) {
		body, err := directList(ctx, e, t.userID, t.sessionID, t.orgID, limit)
		if err != nil {
			return "", fmt.Errorf("org %s: %w", t.orgID, err)
		}
		return checkPage(w, t, body, limit)
	}
}

// directList sends the API's own transaction for listProjects (api.RequestBatch with
// api.ListProjectsSQL, the arguments the handler passes: int limit, NULL cursor),
// without HTTP.
func directList(ctx context.Context, e *env, userID, sessionID, orgID string, limit int) ([]byte, error) {
	// A fresh id per request, as the server's requestID middleware makes one.
	batch := api.RequestBatch(userID, sessionID, orgID, uuid.NewString(), api.ListProjectsSQL, limit, nil)
	return api.ReadRequestBatch(e.direct.SendBatch(ctx, batch))
}

// checkPage checks a page of projects asked for as tenant t: every item must
// belong to t's org and be one of its seeded projects (else a leak), and the
// page must hold min(limit, seeded) items.
func checkPage(w *worker, t *tenant, body []byte, limit int) (string, error) {
	w.page.Items = w.page.Items[:0]
	if err := json.Unmarshal(body, &w.page); err != nil {
		return "", fmt.Errorf("org %s: bad JSON (%v): %s", t.orgID, err, truncate(string(body), 200))
	}
	for _, it := range w.page.Items {
		if it.OrgID != t.orgID {
			return fmt.Sprintf("asked org %s as user %s, got project %s of org %s", t.orgID, t.userID, it.ID, it.OrgID), nil
		}
		if !t.projects[it.ID] {
			return fmt.Sprintf("asked org %s as user %s, got project %s, not one seeded in that org", t.orgID, t.userID, it.ID), nil
		}
	}
	if want := min(limit, len(t.projects)); len(w.page.Items) != want {
		return "", fmt.Errorf("org %s: page has %d items, want %d", t.orgID, len(w.page.Items), want)
	}
	return "", nil
}

// crossResult is the outcome of the cross-tenant probes.
type crossResult struct {
	HTTPProbes   int      `json:"http_probes"`
	DirectProbes int      `json:"direct_probes"`
	Errors       int      `json:"errors"`
	Leaks        int      `json:"leaks"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	LeakSamples  []string `json:"leak_samples,omitempty"`
}

// crossProbes asks, as tenant a, for tenant b's projects: over HTTP the
// answer must be 404, directly auth.begin_request must raise RG404.
func crossProbes(ctx context.Context, cfg *config, e *env, tenants []*tenant) *crossResult {
	res := &crossResult{}
	rng := rand.New(rand.NewPCG(cfg.seed, 42))
	w := &worker{}
	fail := func(err error) {
		res.Errors++
		res.ErrorSamples = appendSamples(res.ErrorSamples, err.Error())
	}
	leak := func(msg string) {
		res.Leaks++
		res.LeakSamples = appendSamples(res.LeakSamples, msg)
	}
	pick := func(i int) (a, b *tenant) {
		a = tenants[i%len(tenants)]
		b = tenants[(i%len(tenants)+1+rng.IntN(len(tenants)-1))%len(tenants)]
		return a, b
	}
	for i := range cfg.cross {
		if ctx.Err() != nil {
			return res
		}
		a, b := pick(i)
		res.HTTPProbes++
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.listURL, nil)
		if err != nil {
			fail(err)
			continue
		}
		req.Header.Set("Authorization", a.auth)
		resp, err := e.client.Do(req)
		if err != nil {
			fail(err)
			continue
		}
		w.buf.Reset()
		_, _ = w.buf.ReadFrom(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusNotFound:
		case resp.StatusCode == http.StatusOK:
			if l := itemsOf(w, a, b, w.buf.Bytes()); l != "" {
				leak("HTTP: " + l)
			} else {
				fail(fmt.Errorf("HTTP: user %s of org %s asking org %s: status 200 (want 404)", a.userID, a.orgID, b.orgID))
			}
		default:
			fail(fmt.Errorf("HTTP: user %s of org %s asking org %s: status %d (want 404): %s",
				a.userID, a.orgID, b.orgID, resp.StatusCode, truncate(w.buf.String(), 200)))
		}
	}
	for i := range cfg.cross {
		if ctx.Err() != nil {
			return res
		}
		a, b := pick(i)
		res.DirectProbes++
		body, err := directList(ctx, e, a.userID, a.sessionID, b.orgID, cfg.pageLimit)
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && pgErr.Code == "RG404":
		case err != nil:
			fail(fmt.Errorf("direct: user %s of org %s asking org %s: %v (want SQLSTATE RG404)", a.userID, a.orgID, b.orgID, err))
		default:
			if l := itemsOf(w, a, b, body); l != "" {
				leak("direct: " + l)
			} else {
				fail(fmt.Errorf("direct: user %s of org %s asking org %s: no error (want SQLSTATE RG404)", a.userID, a.orgID, b.orgID))
			}
		}
	}
	return res
}

// itemsOf describes the items of a page a should not have received, or "".
func itemsOf(w *worker, a, b *tenant, body []byte) string {
	w.page.Items = w.page.Items[:0]
	if json.Unmarshal(body, &w.page) != nil || len(w.page.Items) == 0 {
		return ""
	}
	return fmt.Sprintf("user %s of org %s asking org %s got %d items (first: project %s of org %s)",
		a.userID, a.orgID, b.orgID, len(w.page.Items), w.page.Items[0].ID, w.page.Items[0].OrgID)
}
