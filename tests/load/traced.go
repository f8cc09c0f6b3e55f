package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/rowguard/rowguard"
	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/tracing"
)

// Phase "traced": the api phase's request against a second in-process API, on the same
// pool, with OpenTelemetry tracing on, every trace sampled (the default sampler with no
// parent), its spans batched by the SDK and exported over OTLP/HTTP (protobuf), as in
// production, to an in-process receiver that reads and discards them. Its ratio to the
// api phase (tracing off) is what tracing costs; the api phase against an earlier
// build's is what the code being there costs when it is off.

// otlpReceiver is an OTLP/HTTP trace receiver that counts what it is sent.
type otlpReceiver struct {
	requests, bytes atomic.Int64
	server          *http.Server
	url             string
}

func startOTLPReceiver() (*otlpReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &otlpReceiver{url: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		rc.requests.Add(1)
		rc.bytes.Add(n)
		// An empty ExportTraceServiceResponse is zero bytes of protobuf: all accepted.
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
	rc.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = rc.server.Serve(ln) }()
	return rc, nil
}

// serveTraced serves a copy of the in-process API (opts, already built) with tracing on,
// exporting to a receiver of its own, and sets e.tracedURL.
func (e *env) serveTraced(ctx context.Context, opts api.Options, stderr io.Writer) error {
	rc, err := startOTLPReceiver()
	if err != nil {
		return err
	}
	e.otlp = rc
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(rc.url+"/v1/traces"))
	if err != nil {
		return err
	}
	res, err := tracing.Resource(ctx, rowguard.Version)
	if err != nil {
		return err
	}
	e.tracer = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	opts.TracerProvider = e.tracer
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	e.tracedServer = &http.Server{Handler: api.NewServer(opts), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := e.tracedServer.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(stderr, "load: traced http server:", err)
		}
	}()
	e.tracedURL = "http://" + ln.Addr().String()
	return nil
}

// closeTraced flushes the spans still queued and stops the traced server and receiver.
func (e *env) closeTraced() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if e.tracedServer != nil {
		_ = e.tracedServer.Shutdown(ctx)
	}
	if e.tracer != nil {
		_ = e.tracer.Shutdown(ctx)
	}
	if e.otlp != nil {
		_ = e.otlp.server.Shutdown(ctx)
	}
}
