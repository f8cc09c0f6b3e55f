package main

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"
)

func TestCheckPage(t *testing.T) {
	ten := &tenant{orgID: "org-a", userID: "u", projects: map[string]bool{"p1": true, "p2": true}}
	w := &worker{}
	cases := []struct {
		name, body   string
		leak, failed bool
	}{
		{"own projects", `{"items":[{"id":"p2","org_id":"org-a"},{"id":"p1","org_id":"org-a"}],"next_cursor":null}`, false, false},
		{"other org", `{"items":[{"id":"p1","org_id":"org-a"},{"id":"x","org_id":"org-b"}]}`, true, false},
		{"unknown id in own org", `{"items":[{"id":"p1","org_id":"org-a"},{"id":"p9","org_id":"org-a"}]}`, true, false},
		{"short page", `{"items":[{"id":"p1","org_id":"org-a"}]}`, false, true},
		{"bad json", `{"items":`, false, true},
	}
	for _, tc := range cases {
		// The worker's page is reused between calls, as in a phase.
		leak, err := checkPage(w, ten, []byte(tc.body), 20)
		if (leak != "") != tc.leak || (err != nil) != tc.failed {
			t.Errorf("%s: leak=%q err=%v", tc.name, leak, err)
		}
	}
}

func TestPercentile(t *testing.T) {
	r := &phaseResult{}
	for i := 100; i >= 1; i-- {
		r.latencies = append(r.latencies, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{0.5: 50 * time.Millisecond, 0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond} {
		if got := r.percentile(p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
}

func TestTokenIDs(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"user-1","sid":"session-1"}`))
	sub, sid, err := tokenIDs("e30." + payload + ".sig")
	if err != nil || sub != "user-1" || sid != "session-1" {
		t.Fatalf("sub=%q sid=%q err=%v", sub, sid, err)
	}
	if _, _, err := tokenIDs("not-a-token"); err == nil {
		t.Fatal("accepted a string without dots")
	}
}

func TestFlags(t *testing.T) {
	if _, err := parseFlags(nil); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	_, err := parseFlags([]string{"-url", "http://x", "-orgs", "1", "-phases", "api,nope"})
	for _, want := range []string{"-url needs", "-orgs", "nope"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to mention %q", err, want)
		}
	}
}

func TestWithUser(t *testing.T) {
	got, err := withUser("postgres://postgres@/db?host=/tmp/s&port=5432", "rowguard_app")
	if err != nil || !strings.HasPrefix(got, "postgres://rowguard_app@/db?") {
		t.Fatalf("got %q, %v", got, err)
	}
	if got := withParam(got, "pool_max_conns", "4"); !strings.Contains(got, "pool_max_conns=4") {
		t.Fatalf("withParam: %q", got)
	}
}

func TestRevocationVerdict(t *testing.T) {
	phase := func(name string, rate, self, pg float64) *phaseReport {
		return &phaseReport{Name: name, ReqPerSec: rate, P50ms: 8, CPU: &cpuPerRequest{SelfMicros: self, PostgresMicros: pg}}
	}
	direct, unchecked, apiPhase := phase("direct", 3900, 150, 350), phase("unchecked", 4000, 150, 340), phase("api", 3000, 280, 360)
	for _, tc := range []struct {
		bt   backendTiming
		want []string
	}{
		// 10 µs of CPU of a 500 µs direct request: 2 %, whatever the wall clock says.
		{backendTiming{CPUOK: true, CheckedCPU: 210, UncheckedCPU: 200, MedianCostCPU: 10, CheckedWall: 900, UncheckedWall: 300, CheckedWait: 40, UncheckedWait: 20},
			[]string{"+10.0 µs of backend CPU per request", "= 2.0% of a direct request's CPU (500 µs", "meets the target", "5.0% of the in-backend request alone", "1.6% of an API request's CPU", "900.0 vs 300.0 µs, of which 30.0 µs waiting"}},
		// 30 µs: 6 %.
		{backendTiming{CPUOK: true, CheckedCPU: 230, UncheckedCPU: 200, MedianCostCPU: 30, CheckedWall: 230, UncheckedWall: 200},
			[]string{"+30.0 µs of backend CPU", "= 6.0% of a direct request's CPU", "ABOVE the target"}},
		// No CPU time to read: the wall clock, said so.
		{backendTiming{CheckedWall: 210, UncheckedWall: 200},
			[]string{"+10.0 µs per request WALL-CLOCK", "= 2.0% of a direct request's CPU"}},
	} {
		c := newRevocationCost(direct, unchecked)
		c.RoundRatios = []float64{0.97, 0.98}
		c.addBackend(tc.bt, direct, apiPhase)
		var out strings.Builder
		c.writeText(&out)
		for _, w := range append(tc.want, "throughput 0.975 (-2.5%), per round 0.970 0.980", "CPU per request +2.0%") {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%+v: output lacks %q:\n%s", tc.bt, w, out.String())
			}
		}
	}
}

func TestSchedStat(t *testing.T) {
	run, _, ok := schedStat(os.Getpid())
	if !ok {
		t.Skip("no /proc/<pid>/schedstat on this kernel")
	}
	if run <= 0 {
		t.Errorf("this process ran %v", run)
	}
	if _, _, ok := schedStat(-1); ok {
		t.Error("read a schedstat for pid -1")
	}
}

func TestFinanceSizes(t *testing.T) {
	s := financeSizes(50, 1)
	if s[0] != 1_000_000 || s[1] != 100_000 || s[2] != 1000 || s[49] != 10_000 {
		t.Fatalf("sizes %v", s)
	}
	for i := 3; i < 50; i++ {
		if s[i] < s[i-1] {
			t.Fatalf("small sizes not rising at %d: %v", i, s)
		}
	}
	if s := financeSizes(4, 0.001); s[0] != 1000 || s[1] != 100 || s[2] != 60 || s[3] != 60 {
		t.Errorf("scaled down: %v (a ledger keeps at least 60 records)", s)
	}
	ls := make([]*financeLedger, 50)
	for i := range ls {
		ls[i] = &financeLedger{size: s[i]}
	}
	var labels []string
	for _, c := range sizeClasses(ls) {
		labels = append(labels, c.label)
	}
	if got := strings.Join(labels, "|"); got != "1000000|100000|10000|1000|1000-10000 ×48" {
		t.Errorf("classes %q", got)
	}
}
