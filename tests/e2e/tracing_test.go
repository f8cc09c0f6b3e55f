package e2e

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/syncbuf"
)

// traced is a server whose spans go to an in-memory exporter (synchronously: a span is
// there once it ended) and whose log lines to a buffer.
type traced struct {
	*env
	spans *tracetest.InMemoryExporter
	log   *syncbuf.Buffer
}

// newTracedEnv starts a server with tracing on (provider nil: off, the spans of a global
// provider then recorded instead), its log lines kept, and proxies as its trusted proxies.
func newTracedEnv(t *testing.T, tracingOn bool, proxies ...netip.Prefix) *traced {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	log := &syncbuf.Buffer{}
	e := newEnv(t, withOptions(func(o *api.Options) {
		if tracingOn {
			o.TracerProvider = tp
		}
		o.TrustedProxies = proxies
		o.Logger = slog.New(slog.NewJSONHandler(log, nil))
	}))
	return &traced{env: e, spans: spans, log: log}
}

// accessLine is the access log line of the request with id requestID.
func (tr *traced) accessLine(t *testing.T, requestID string) map[string]any {
	t.Helper()
	text := tr.log.String()
	for _, line := range strings.Split(text, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "request" && m["request_id"] == requestID {
			return m
		}
	}
	t.Fatalf("no access log line for request %s in:\n%s", requestID, text)
	return nil
}

// requestSpans are the server span of the request with id requestID and its children.
func (tr *traced) requestSpans(t *testing.T, requestID string) (server tracetest.SpanStub, children []tracetest.SpanStub) {
	t.Helper()
	all := tr.spans.GetSpans()
	found := false
	for _, s := range all {
		if s.SpanKind == trace.SpanKindServer && attr(s, "rowguard.request_id") == requestID {
			server, found = s, true
		}
	}
	if !found {
		t.Fatalf("no server span for request %s among %d spans", requestID, len(all))
	}
	for _, s := range all {
		if s.Parent.SpanID() == server.SpanContext.SpanID() {
			children = append(children, s)
		}
	}
	return server, children
}

func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// auditTraceIDs are the trace_id column of the audit rows request requestID wrote.
func (e *env) auditTraceIDs(t *testing.T, requestID string) []*string {
	t.Helper()
	rows, err := e.admin.Query(context.Background(), `select trace_id from app.audit_log where request_id = $1`, requestID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []*string
	for rows.Next() {
		var id *string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ids) == 0 {
		t.Fatalf("request %s wrote no audit row", requestID)
	}
	return ids
}

// One request, one trace: a server span named by the route template with the HTTP
// attributes, the database batch as its child, and the trace id in the access log line,
// in the audit row the request wrote, and in the audit API's answer.
func TestTraceOfOneRequest(t *testing.T) {
	t.Parallel()
	tr := newTracedEnv(t, true)
	tn := tr.newTenant(t, "Traced Acme")
	const reqID = "req-trace-create"
	var p project
	tr.do(t, "POST", "/v1/orgs/"+tn.Org.ID+"/projects", tn.Admin.Token, map[string]any{"name": "Traced"},
		withHeader(api.RequestIDHeader, reqID)).want(t, http.StatusCreated).decode(t, &p)

	server, children := tr.requestSpans(t, reqID)
	traceID := server.SpanContext.TraceID().String()
	if server.Name != "POST /v1/orgs/{org_id}/projects" {
		t.Errorf("server span %q", server.Name)
	}
	for k, want := range map[string]string{
		"http.request.method": "POST", "http.route": "/v1/orgs/{org_id}/projects",
		"http.response.status_code": "201", "url.path": "/v1/orgs/" + tn.Org.ID + "/projects",
		"rowguard.user_id": tn.Admin.ID,
	} {
		if got := attr(server, k); got != want {
			t.Errorf("server span %s = %q, want %q", k, got, want)
		}
	}
	if server.Parent.IsValid() {
		t.Errorf("a request without traceparent has a parent: %v", server.Parent)
	}
	if len(children) != 1 {
		t.Fatalf("%d children of the server span, want the batch: %+v", len(children), children)
	}
	batch := children[0]
	if batch.Name != "api.create_project" || batch.SpanKind != trace.SpanKindClient ||
		attr(batch, "db.system") != "postgresql" || attr(batch, "db.system.name") != "postgresql" ||
		attr(batch, "db.stored_procedure.name") != "api.create_project" || attr(batch, "db.operation.batch.size") != "2" {
		t.Errorf("batch span %q kind %v attributes %v", batch.Name, batch.SpanKind, batch.Attributes)
	}
	if batch.Status.Code.String() == "Error" {
		t.Errorf("batch span status %v", batch.Status)
	}

	if line := tr.accessLine(t, reqID); line["trace_id"] != traceID || line["span_id"] != server.SpanContext.SpanID().String() {
		t.Errorf("access log line %v, want trace_id %s", line, traceID)
	}
	for _, id := range tr.auditTraceIDs(t, reqID) {
		if id == nil || *id != traceID {
			t.Errorf("audit row trace_id %v, want %s", id, traceID)
		}
	}
	var pg page[auditEntry]
	tr.do(t, "GET", "/v1/orgs/"+tn.Org.ID+"/audit?row_id="+p.ID, tn.Owner.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 1 || pg.Items[0].TraceID == nil || *pg.Items[0].TraceID != traceID {
		t.Errorf("audit API: %+v, want trace_id %s", pg.Items, traceID)
	}

	// A refused request: the batch span records the database's error, the server span
	// stays unset (a 4xx is the client's).
	const refused = "req-trace-refused"
	tr.do(t, "POST", "/v1/orgs/"+tn.Org.ID+"/projects", tn.Member.Token, map[string]any{"name": "Nope"},
		withHeader(api.RequestIDHeader, refused)).want(t, http.StatusForbidden)
	server, children = tr.requestSpans(t, refused)
	if len(children) != 1 || children[0].Status.Code.String() != "Error" || len(children[0].Events) == 0 ||
		children[0].Events[0].Name != "exception" || attr(children[0], "db.response.status_code") == "" {
		t.Errorf("refused batch span: %+v", children)
	}
	if server.Status.Code.String() == "Error" || attr(server, "http.response.status_code") != "403" {
		t.Errorf("refused server span: status %v, attributes %v", server.Status, server.Attributes)
	}

	// A path no route serves: the span is named by the method alone, and has no route.
	const unknown = "req-trace-404"
	tr.do(t, "GET", "/v1/nowhere", "", nil, withHeader(api.RequestIDHeader, unknown)).want(t, http.StatusNotFound)
	if server, _ := tr.requestSpans(t, unknown); server.Name != "GET" || attr(server, "http.route") != "" {
		t.Errorf("unrouted span %q, route %q", server.Name, attr(server, "http.route"))
	}
}

// A traceparent is continued only when the TCP peer is a trusted proxy: from anyone else
// it is ignored and the request starts a trace of its own (the tests' client connects
// from loopback).
func TestTraceparentOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	const (
		callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		callerSpan  = "00f067aa0ba902b7"
		traceparent = "00-" + callerTrace + "-" + callerSpan + "-01"
	)
	for _, tc := range []struct {
		name    string
		proxies []netip.Prefix
		trusted bool
	}{
		{"no trusted proxies", nil, false},
		{"another network trusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, false},
		{"loopback trusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := newTracedEnv(t, true, tc.proxies...)
			tn := tr.newTenant(t, "Traceparent "+tc.name)
			reqID := "req-traceparent-" + strings.ReplaceAll(tc.name, " ", "-")
			tr.do(t, "POST", "/v1/orgs/"+tn.Org.ID+"/projects", tn.Admin.Token, map[string]any{"name": "P"},
				withHeader(api.RequestIDHeader, reqID), withHeader("traceparent", traceparent)).want(t, http.StatusCreated)
			server, children := tr.requestSpans(t, reqID)
			got := server.SpanContext.TraceID().String()
			if tc.trusted {
				if got != callerTrace || server.Parent.SpanID().String() != callerSpan || !server.Parent.IsRemote() {
					t.Errorf("trusted proxy: trace %s parent %v, want %s under %s", got, server.Parent, callerTrace, callerSpan)
				}
			} else if got == callerTrace || server.Parent.IsValid() {
				t.Errorf("untrusted peer: trace %s parent %v, want a new root trace", got, server.Parent)
			}
			if len(children) != 1 || children[0].SpanContext.TraceID().String() != got {
				t.Errorf("batch span %+v not in trace %s", children, got)
			}
			for _, id := range tr.auditTraceIDs(t, reqID) {
				if id == nil || *id != got {
					t.Errorf("audit row trace_id %v, want %s", id, got)
				}
			}
		})
	}
}

// Tracing off (no TracerProvider): no span at all, not even through the global
// provider; no trace_id in the log line nor in the audit row.
func TestTracingOff(t *testing.T) {
	// Not parallel: it sets the process's global tracer provider for its duration.
	global := tracetest.NewInMemoryExporter()
	gtp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(global))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(gtp)
	t.Cleanup(func() { otel.SetTracerProvider(prev); _ = gtp.Shutdown(context.Background()) })

	tr := newTracedEnv(t, false, netip.MustParsePrefix("127.0.0.0/8"))
	tn := tr.newTenant(t, "Untraced Acme")
	const reqID = "req-untraced"
	tr.do(t, "POST", "/v1/orgs/"+tn.Org.ID+"/projects", tn.Admin.Token, map[string]any{"name": "Untraced"},
		withHeader(api.RequestIDHeader, reqID),
		withHeader("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).want(t, http.StatusCreated)
	if n := len(tr.spans.GetSpans()) + len(global.GetSpans()); n != 0 {
		t.Errorf("%d spans with tracing off", n)
	}
	if line := tr.accessLine(t, reqID); line["trace_id"] != nil || line["span_id"] != nil {
		t.Errorf("access log line with tracing off: %v", line)
	}
	for _, id := range tr.auditTraceIDs(t, reqID) {
		if id != nil {
			t.Errorf("audit row trace_id %q with tracing off", *id)
		}
	}
}
