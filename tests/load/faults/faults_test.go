package main

import (
	"io"
	"testing"
	"time"
)

// TestFaults is the short run of the harness (`go run ./tests/load/faults` is the long
// one): backends killed, then PostgreSQL stopped for a second and started again, then
// the API's pool held for a second, under
// 16 clients writing and reading for 8 tenants.
func TestFaults(t *testing.T) {
	o := options{
		duration: 8 * time.Second, clients: 16, tenants: 8, requestTimeout: 3 * time.Second,
		killAt: 2 * time.Second, restartAt: 4 * time.Second, exhaustAt: 6 * time.Second, downFor: time.Second,
		recoverWithin: 5 * time.Second, log: io.Discard,
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
