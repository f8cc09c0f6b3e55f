package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// OpenTelemetry tracing (Options.TracerProvider). Off, it costs a nil check per request
// and per batch: no span, no context value, no extra setting sent to Postgres. On, each
// request of the API port is one server span named by its route template
// ("GET /v1/orgs/{org_id}/projects"), with the database batch as a child span; the
// access log line carries the trace id, and so do the audit rows the request writes
// (app.trace_id, set transaction-locally in the batch like app.request_id).
//
// An incoming W3C traceparent is continued only when the TCP peer is a trusted proxy
// (Options.TrustedProxies): anyone else could otherwise pick the trace id our audit rows
// carry, or force sampling. From any other peer the request starts a new trace.

// tracerName names rowguard's instrumentation scope.
const tracerName = "github.com/rowguard/rowguard/api"

// traceContext reads and writes the W3C traceparent and tracestate headers.
var traceContext propagation.TraceContext

// startServerSpan starts the server span of r (Server.tracer is set), continuing the
// caller's trace when a trusted proxy forwarded it. The span is named by the method
// until the route is known (endServerSpan).
func (s *Server) startServerSpan(r *http.Request, info *reqInfo) (*http.Request, trace.Span) {
	ctx := r.Context()
	if info != nil && s.proxies.trusts(info.peer) {
		ctx = traceContext.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	method := httpMethod(r.Method)
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(method),
		semconv.URLPath(r.URL.Path),
		semconv.URLScheme(scheme(r)),
		semconv.NetworkProtocolVersion(protocolVersion(r)),
	}
	if method == "_OTHER" {
		attrs = append(attrs, semconv.HTTPRequestMethodOriginal(r.Method))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	if info != nil {
		if info.client.IsValid() {
			attrs = append(attrs, semconv.ClientAddress(info.client.String()))
		}
		if info.peer.IsValid() {
			attrs = append(attrs, semconv.NetworkPeerAddress(info.peer.String()))
		}
		attrs = append(attrs, attribute.String("rowguard.request_id", info.id))
	}
	ctx, span := s.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	return r.WithContext(ctx), span
}

// endServerSpan names the span by its route (semantic conventions: "{method} {route}";
// the method alone for a path no route serves), records the status and ends it. A 5xx
// is an error of the server span; a 4xx is the client's, and leaves the status unset.
func endServerSpan(span trace.Span, r *http.Request, info *reqInfo, status int) {
	method := httpMethod(r.Method)
	if info != nil && info.route != "" {
		span.SetName(method + " " + info.route)
		span.SetAttributes(semconv.HTTPRoute(info.route))
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	if info != nil && info.userID != "" {
		span.SetAttributes(attribute.String("rowguard.user_id", info.userID))
	}
	if status >= 500 {
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

// httpMethod is the method as the semantic conventions name it: a known one, else _OTHER.
func httpMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func protocolVersion(r *http.Request) string {
	switch {
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		return "1.1"
	case r.ProtoMajor == 2:
		return "2"
	default:
		return strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)
	}
}

// traceID is the id of ctx's trace ("" when there is none: tracing off).
func traceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}

// startBatchSpan starts the client span of one database batch (Server.tracer is set),
// named by the SQL function its last statement calls (the work; the statements before
// it are the request's settings and rate-limit hits).
func (s *Server) startBatchSpan(ctx context.Context, query string, statements int) (context.Context, trace.Span) {
	fn := sqlFunction(query)
	return s.tracer.Start(ctx, fn, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		semconv.DBSystemNamePostgreSQL,
		attribute.String("db.system", "postgresql"), // the name older backends know
		semconv.DBStoredProcedureName(fn),
		semconv.DBOperationBatchSize(statements),
	))
}

// endBatchSpan records the batch's error, if any (with its SQLSTATE), and ends the span.
func endBatchSpan(span trace.Span, err error) {
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			span.SetAttributes(semconv.DBResponseStatusCode(pgErr.Code))
			span.SetAttributes(semconv.ErrorTypeKey.String(pgErr.Code))
		} else {
			span.SetAttributes(semconv.ErrorTypeKey.String("_OTHER"))
		}
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// sqlCall finds the first schema-qualified function call of a statement.
var sqlCall = regexp.MustCompile(`\b([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)\s*\(`)

// sqlFunction names the function a statement calls ("api.list_projects"), or "batch"
// when it calls none that is schema-qualified.
func sqlFunction(query string) string {
	if m := sqlCall.FindStringSubmatch(query); m != nil {
		return m[1]
	}
	return "batch"
}
