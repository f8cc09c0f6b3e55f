package main

import (
	"io"
	"testing"
	"time"
)

// TestFaults is the short run of the harness (`go run ./tests/load/faults` is the long
// one): backends killed, then PostgreSQL stopped and started again, then the API's pool
// held, under 16 clients writing and reading for 8 tenants. The run is paced by events,
// not the clock, so that it proves the same on a machine of any speed: each fault comes
// after 400 more successful requests, PostgreSQL stays down and the pool held until 100
// requests were answered 503, and the drive ends 400 successes after the last fault.
// Every bound is generous (a request must end within its 30 s timeout plus 30 s; a busy
// pool answers 503 within its 0.3 s acquire timeout plus 30 s; the API must succeed again
// within 2 minutes of each fault; the whole run within 10 minutes): they catch a hang,
// not a slow machine.
func TestFaults(t *testing.T) {
	o := options{
		clients: 16, tenants: 8, requestTimeout: 30 * time.Second, acquireTimeout: 300 * time.Millisecond,
		killAt: 1, restartAt: 2, exhaustAt: 3, // event pacing: only the order counts
		recoverWithin: 2 * time.Minute, slack: 30 * time.Second,
		paceRequests: 400, deadline: 10 * time.Minute, log: io.Discard,
	}
	rep, err := run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	var b testLog
	printReport(&b, o, rep)
	t.Log("\n" + string(b))
	for _, v := range rep.Violations {
		t.Error(v)
	}
}

type testLog []byte

func (l *testLog) Write(p []byte) (int, error) { *l = append(*l, p...); return len(p), nil }
