package api

import (
	"log/slog"
	"testing"
	"time"
)

// What counting one request costs (the access log calls start and observe once per
// API request), with as many goroutines as GOMAXPROCS spread over a few routes.
func BenchmarkMetricsObserve(b *testing.B) {
	m := newMetrics(nil, slog.Default())
	routes := []string{"/v1/orgs/{org_id}/projects", "/v1/orgs/{org_id}", "/v1/auth/me", ""}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			m.start()
			m.observe("GET", routes[i%len(routes)], 200, time.Duration(i%5000)*time.Microsecond, "")
		}
	})
}
