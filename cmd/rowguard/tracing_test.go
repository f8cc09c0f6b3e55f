package main

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/rowguard/rowguard/internal/testdb"
)

// otlpSpan is one span as an OTLP/HTTP receiver got it.
type otlpSpan struct {
	service, name, traceID, spanID, parentID string
}

// otlpReceiver is an in-process OTLP/HTTP (protobuf) trace receiver.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []otlpSpan
}

func (rc *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "not an OTLP/HTTP protobuf export", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	for _, rs := range req.ResourceSpans {
		service := ""
		for _, kv := range rs.Resource.GetAttributes() {
			if kv.Key == "service.name" {
				service = kv.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				rc.spans = append(rc.spans, spanOf(service, s))
			}
		}
	}
	rc.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func spanOf(service string, s *tracepb.Span) otlpSpan {
	return otlpSpan{service: service, name: s.Name, traceID: hex.EncodeToString(s.TraceId),
		spanID: hex.EncodeToString(s.SpanId), parentID: hex.EncodeToString(s.ParentSpanId)}
}

func (rc *otlpReceiver) got() []otlpSpan {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]otlpSpan(nil), rc.spans...)
}

// `rowguard serve` with OTEL_EXPORTER_OTLP_ENDPOINT exports each request's trace over
// OTLP/HTTP: the server span named by the route, the database batch under it, the
// service named by OTEL_SERVICE_NAME; the access log line carries the trace id; the
// spans still queued at SIGTERM are flushed before exit.
func TestServeExportsTraces(t *testing.T) {
	rc := &otlpReceiver{}
	collector := httptest.NewServer(rc)
	defer collector.Close()

	db := testdb.New(t)
	clearEnv(t)
	setSigningKey(t)
	t.Setenv("DATABASE_URL", db.AppURL)
	t.Setenv("ROWGUARD_ADDR", freeAddr(t))
	t.Setenv("ROWGUARD_MANAGEMENT_ADDR", "off")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_SERVICE_NAME", "rowguard-under-test")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "3600000") // only the flush at exit sends them

	srv := startServe(t)
	req, _ := http.NewRequest("POST", srv.base+"/v1/auth/login", strings.NewReader(`{"email":"nobody@example.com","password":"a wrong guess"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "req-serve-traced")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	if n := len(rc.got()); n != 0 {
		t.Fatalf("%d spans exported before the flush at exit (OTEL_BSP_SCHEDULE_DELAY not read?)", n)
	}
	srv.stop(t)

	var server, batch otlpSpan
	for _, s := range rc.got() {
		switch s.name {
		case "POST /v1/auth/login":
			server = s
		case "auth.credentials_for":
			batch = s
		}
	}
	if server.traceID == "" || batch.parentID != server.spanID || batch.traceID != server.traceID ||
		server.service != "rowguard-under-test" {
		t.Fatalf("exported spans %+v: want POST /v1/auth/login of rowguard-under-test with its batch under it", rc.got())
	}
	found, traceID := false, ""
	for _, l := range strings.Split(srv.stderr.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil {
			continue
		}
		switch m["msg"] {
		case "serving":
			if m["tracing"] != collector.URL+"/v1/traces" {
				t.Errorf("start-up line names tracing %v, want %s", m["tracing"], collector.URL+"/v1/traces")
			}
		case "request":
			if m["request_id"] == "req-serve-traced" {
				found = true
				traceID, _ = m["trace_id"].(string)
			}
		}
	}
	if !found || traceID != server.traceID {
		t.Errorf("access log trace_id %q, want %s:\n%s", traceID, server.traceID, srv.stderr.String())
	}
}
