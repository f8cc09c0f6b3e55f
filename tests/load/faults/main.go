// Command faults drives the API under load while it breaks its database: it kills
// every API backend (pg_terminate_backend), then stops PostgreSQL and starts it again,
// then holds every connection of the API's pool, and checks the promises: while the
// database is away or busy the API answers 503 problems (a busy pool within the acquire
// timeout; never a hang past the request timeout; /readyz 503), it recovers by itself within
// seconds, no tenant sees another's rows, and every write that got a 2xx exists
// afterwards. A short run of the same harness is part of `go test ./...`.
//
//	go run ./tests/load/faults                    # 20 s, 32 clients, 20 tenants
//	go run ./tests/load/faults -duration 60s -json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"time"
)

func main() {
	o := options{}
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "length of the whole drive")
	flag.IntVar(&o.clients, "clients", 32, "concurrent HTTP clients")
	flag.IntVar(&o.tenants, "tenants", 20, "organizations, each with its own owner")
	flag.DurationVar(&o.requestTimeout, "request-timeout", 3*time.Second, "the API's request timeout")
	flag.DurationVar(&o.downFor, "down", 2*time.Second, "how long PostgreSQL stays stopped")
	flag.DurationVar(&o.recoverWithin, "recover-within", 5*time.Second, "the API must succeed again this soon after each fault")
	asJSON := flag.Bool("json", false, "print the report as JSON")
	verbose := flag.Bool("v", false, "show the cluster's progress messages")
	flag.Parse()
	o.killAt, o.restartAt, o.exhaustAt = o.duration/4, o.duration/2, 3*o.duration/4
	o.slack = time.Second
	o.log = io.Discard
	if *verbose {
		o.log = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printReport(os.Stdout, o, rep)
	}
	if len(rep.Violations) > 0 {
		os.Exit(1)
	}
}

func printReport(w io.Writer, o options, rep *report) {
	if o.paceRequests > 0 {
		fmt.Fprintf(w, "faults: %d requests from %d clients for %d tenants in %s; backends killed, PostgreSQL stopped, pool held, "+
			"each after %d more successes; PostgreSQL down and the pool held until %d requests were answered 503\n",
			rep.Requests, o.clients, rep.Tenants, rep.Drive.Round(time.Millisecond), o.paceRequests, max(1, o.paceRequests/4))
	} else {
		fmt.Fprintf(w, "faults: %d requests from %d clients for %d tenants in %s; backends killed at %s, PostgreSQL stopped at %s for %s, pool held at %s\n",
			rep.Requests, o.clients, rep.Tenants, rep.Drive.Round(time.Millisecond), o.killAt, o.restartAt, o.downFor, o.exhaustAt)
	}
	var codes []int
	for c := range rep.Statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	fmt.Fprint(w, "  statuses:")
	for _, c := range codes {
		fmt.Fprintf(w, " %d×%d", c, rep.Statuses[c])
	}
	fmt.Fprintf(w, "\n  slowest answer: %s (request timeout %s)\n", rep.MaxLatency.Round(time.Millisecond), o.requestTimeout)
	for name, d := range rep.Recovery {
		fmt.Fprintf(w, "  recovered from %s in %s\n", name, d.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "  /readyz while down: %d, after: %d\n", rep.ReadyzWhileDown, rep.ReadyzAfter)
	if o.exhaustAt > 0 {
		held := "pool held for " + o.downFor.String()
		if o.paceRequests > 0 {
			held = "pool held"
		}
		fmt.Fprintf(w, "  %s: %d requests answered 503 within the acquire timeout (%s)\n", held, rep.PoolBusy503, o.acquire())
	}
	fmt.Fprintf(w, "  writes acknowledged %d, found %d; leaks %d\n", rep.Acknowledged, rep.Found, rep.Leaks)
	if len(rep.Violations) == 0 {
		fmt.Fprintln(w, "  every promise held")
	}
	for _, v := range rep.Violations {
		fmt.Fprintln(w, "  VIOLATION:", v)
	}
}
