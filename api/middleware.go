package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"go.opentelemetry.io/otel/trace"
)

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-Id"

// validRequestID accepts an incoming id worth echoing and logging: short,
// printable, no spaces or quotes (nothing that could forge a log line or a
// header). Anything else is replaced by a fresh UUID.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:+/=-]{1,128}$`)

// reqInfo is what the middleware learns about a request as it goes down
// the chain (route, user), read back by the access log on the way up.
type reqInfo struct {
	id string
	// client is the client's address (see client_address.go), peer the TCP peer's;
	// the zero Addr when unknown.
	client, peer netip.Addr
	route        string // path template, e.g. /v1/orgs/{org_id}
	userID       string
	// authFailure is why authentication was refused (metrics), "" otherwise.
	authFailure string
}

type ctxKey int

const (
	infoKey ctxKey = iota
	claimsKey
)

func infoFrom(ctx context.Context) *reqInfo {
	if i, ok := ctx.Value(infoKey).(*reqInfo); ok {
		return i
	}
	return nil
}

// RequestIDFrom returns the id of the request ctx belongs to, or "".
func RequestIDFrom(ctx context.Context) string {
	if i := infoFrom(ctx); i != nil {
		return i.id
	}
	return ""
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestInfo starts the request's reqInfo: it adopts a sane incoming
// X-Request-Id or makes one (echoed on the response), and works out the
// client's address once, trusting forwarded addresses only from proxies.
func requestInfo(proxies trustedProxies) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(RequestIDHeader)
			if !validRequestID.MatchString(id) {
				id = uuid.NewString()
			}
			w.Header().Set(RequestIDHeader, id)
			info := &reqInfo{id: id}
			info.peer, _ = parsePeer(r.RemoteAddr)
			info.client = info.peer
			if len(proxies) > 0 {
				info.client = proxies.clientAddr(r.RemoteAddr, r.Header.Values(forwardedForHeader))
			}
			ctx := context.WithValue(r.Context(), infoKey, info)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// The listeners a Server answers on (accessLog).
const (
	listenerAPI        = "api"
	listenerManagement = "management"
)

// accessLog writes one structured line per request once it is answered. On the API
// listener it counts the request in the metrics and logs at info; on the management
// listener (scrapes, probes every few seconds) it counts nothing and logs at debug,
// with listener=management. A 5xx is an error on either.
func (s *Server) accessLog(listener string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.logRequest(w, r, next, listener)
		})
	}
}

func (s *Server) logRequest(w http.ResponseWriter, r *http.Request, next http.Handler, listener string) {
	counted := listener == listenerAPI
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	info := infoFrom(r.Context())
	var span trace.Span // nil unless tracing is on; only the API listener is traced
	if counted {
		s.metrics.start()
		if s.tracer != nil {
			r, span = s.startServerSpan(r, info)
		}
	}
	next.ServeHTTP(sw, r)

	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	if counted {
		s.metrics.observe(r.Method, info.route, status, time.Since(start), info.authFailure)
	}
	if span != nil {
		endServerSpan(span, r, info, status)
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("route", info.route),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", sw.bytes),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		slog.String("request_id", info.id),
		slog.String("remote_ip", clientIP(r)),
	}
	if info.peer != info.client { // forwarded by a trusted proxy
		attrs = append(attrs, slog.String("proxy_ip", info.peer.String()))
	}
	if info.userID != "" {
		attrs = append(attrs, slog.String("user_id", info.userID))
	}
	if span != nil {
		if sc := span.SpanContext(); sc.HasTraceID() {
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
		}
	}
	level := slog.LevelInfo
	if !counted {
		attrs = append(attrs, slog.String("listener", listener))
		level = slog.LevelDebug
	}
	if status >= 500 && status != statusClientClosedRequest {
		level = slog.LevelError
	}
	s.logger.LogAttrs(r.Context(), level, "request", attrs...)
}

// recoverer turns a panic into a logged stack and a 500 problem (when
// nothing was written yet). http.ErrAbortHandler keeps its meaning.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler {
				panic(rec)
			}
			s.log(r).Error("panic", "panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			if sw.status == 0 {
				writeProblem(sw, r, newError(ProblemInternal, "An unexpected error occurred. Quote the request_id when reporting it."))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// limitBody caps request bodies at max bytes: a declared Content-Length
// over the cap is refused at once, a longer stream fails while decoding
// (both 413).
func limitBody(max int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > max {
				writeProblem(w, r, newError(ProblemPayloadTooLarge,
					fmt.Sprintf("The request body must not exceed %d bytes.", max)))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, max)
			next.ServeHTTP(w, r)
		})
	}
}

// timeout bounds the work done for one request: the context is cancelled
// after d, which aborts database calls (their error maps to 504).
func timeout(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// secureHeaders sets conservative defaults for an API that serves JSON;
// the docs handlers loosen the CSP for their own page.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// recordRoute is mux middleware (it runs only on matched routes): it tells
// the access log which route template served the request.
func recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := infoFrom(r.Context()); info != nil {
			if route := mux.CurrentRoute(r); route != nil {
				info.route = route.GetName()
			}
		}
		next.ServeHTTP(w, r)
	})
}
