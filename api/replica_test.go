package api

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// The replica-safe mark is on registered, authenticated GET routes only (a write on a
// standby fails, and an unauthenticated route runs no request batch), and the handler
// of each carries it — and no other route's does.
func TestReplicaSafeRoutesAreRegisteredGETs(t *testing.T) {
	srv := newTestServer(t, &bytes.Buffer{})
	registered := map[string]Route{}
	for _, r := range srv.Routes() {
		registered[r.Method+" "+r.Path] = r
	}
	safe := ReplicaSafeRoutes()
	if len(safe) == 0 {
		t.Fatal("openapi.json marks no operation x-rowguard-replica-safe")
	}
	for _, r := range safe {
		reg, ok := registered[r.Method+" "+r.Path]
		switch {
		case !ok:
			t.Errorf("%s %s is marked replica-safe but is not a route", r.Method, r.Path)
		case r.Method != http.MethodGet:
			t.Errorf("%s %s is marked replica-safe: only GETs may be", r.Method, r.Path)
		case !reg.Auth:
			t.Errorf("%s %s is marked replica-safe but needs no token", r.Method, r.Path)
		}
	}
	// What the handlers see: the mark in the request's context on exactly those routes.
	for key := range registered {
		var seen bool
		h := func(w http.ResponseWriter, r *http.Request) { seen = replicaSafe(r.Context()) }
		wrapped := http.HandlerFunc(h)
		if replicaSafeRoutes[key] {
			wrapped = markReplicaSafe(h)
		}
		wrapped(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		if seen != replicaSafeRoutes[key] {
			t.Errorf("%s: marked %v in the context, listed %v", key, seen, replicaSafeRoutes[key])
		}
	}
}

// A request never uses a WAL position read before it arrived: while a read is under
// way, arriving requests wait for the next one.
func TestWALFenceNeverUsesAnEarlierRead(t *testing.T) {
	var f walFence
	var reads atomic.Int64
	release := make(chan struct{})
	read := func(context.Context) (string, error) {
		n := reads.Add(1)
		if n == 1 {
			<-release // the first read is under way while others arrive
		}
		return strconv.FormatInt(n, 10), nil
	}
	first := make(chan string)
	go func() {
		lsn, _ := f.position(context.Background(), read)
		first <- lsn
	}()
	for reads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	var wg sync.WaitGroup
	later := make([]string, 20)
	for i := range later {
		wg.Add(1)
		go func() {
			defer wg.Done()
			later[i], _ = f.position(context.Background(), read)
		}()
	}
	time.Sleep(20 * time.Millisecond) // most queue behind the first read; any that come later must not get it either
	close(release)
	if got := <-first; got != "1" {
		t.Errorf("the first request got read %s, want 1", got)
	}
	wg.Wait()
	for i, lsn := range later {
		if lsn == "1" {
			t.Errorf("request %d arrived during read 1 and used it", i)
		}
	}
}

// Why the standby could not answer, or "" when its answer is the primary's.
func TestReplicaFailure(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&pgconn.PgError{Code: "RGR01"}, fallbackBehind},
		{&pgconn.PgError{Code: "RGR02"}, fallbackNotStandby},
		{&pgconn.PgError{Code: "25006"}, fallbackReadOnly},
		{&pgconn.PgError{Code: "40001"}, fallbackConflict},
		{&pgconn.PgError{Code: "57P01"}, fallbackUnavailable},
		{&pgconn.PgError{Code: "RG401"}, ""},
		{&pgconn.PgError{Code: "RG404"}, ""},
		{&pgconn.PgError{Code: "42501"}, ""},
		{errPoolExhausted, fallbackBusy},
		{&pgconn.ConnectError{}, fallbackUnavailable},
		{errors.New("something else"), ""},
	} {
		if got := replicaFailure(c.err); got != c.want {
			t.Errorf("replicaFailure(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
