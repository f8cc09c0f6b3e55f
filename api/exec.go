package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"
)

// BeginRequestSQL tells Postgres who is asking, in which organization. It
// raises RG401 for a dead session (a disabled user's are revoked) and RG404 when
// the organization does not exist or the caller is not a member. Exported for
// tests/load, which measures what the session check in it costs.
//
// The same statement names the request for the audit trail (app.audit_row_change
// reads app.request_id; auth.begin_request sets app.session_id): transaction-local
// like everything else, and folded into this statement so that the batch has no
// extra statement to bind and execute.
const BeginRequestSQL = `select auth.begin_request($1::uuid, $2::uuid, $3::uuid),
       pg_catalog.set_config('app.request_id', $4::text, true)`

// BeginRequestTracedSQL is BeginRequestSQL naming the request's trace too, for the audit
// trail (app.trace_id): sent instead of it when tracing is on, so that a server without
// tracing sends nothing more.
const BeginRequestTracedSQL = BeginRequestSQL + `,
       pg_catalog.set_config('app.trace_id', $5::text, true)`

// call runs one api.* SQL function for an authenticated request and writes
// its json result unchanged with status (204: no body).
//
// query must select exactly one json value; args are its parameters. The
// caller's user and session come from the verified token, the organization
// from the {org_id} path variable when the route has one.
//
// Both statements go out as one pgx batch on one pooled connection: one
// network round trip, and — the extended protocol sends a single Sync for
// the batch — one implicit transaction, so the transaction-local settings
// made by auth.begin_request are seen by the function and die with the
// transaction (safe behind PgBouncer in transaction mode). If any
// statement fails, Postgres rolls the whole batch back.
func (s *Server) call(w http.ResponseWriter, r *http.Request, status int, query string, args ...any) {
	body, err := s.callJSON(r.Context(), r, query, args...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSONBytes(w, r, status, body)
}

func (s *Server) callJSON(ctx context.Context, r *http.Request, query string, args ...any) ([]byte, error) {
	var orgID any // NULL unless the route names an organization
	if id, ok := mux.Vars(r)["org_id"]; ok {
		orgID = id
	}
	return s.callJSONIn(ctx, orgID, query, args...)
}

// callOutsideOrg is call for a route whose {org_id} must not be checked by
// auth.begin_request (a deleted organization, which it refuses): the request runs in no
// organization, and the SQL function takes the id as an argument and checks it itself.
func (s *Server) callOutsideOrg(w http.ResponseWriter, r *http.Request, status int, query string, args ...any) {
	body, err := s.callJSONIn(r.Context(), nil, query, args...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSONBytes(w, r, status, body)
}

// callJSONIn runs query for the authenticated caller in organization orgID (nil: none).
func (s *Server) callJSONIn(ctx context.Context, orgID any, query string, args ...any) ([]byte, error) {
	claims, ok := claimsFrom(ctx)
	if !ok {
		// A route wired without s.authenticate: a programming error.
		return nil, errors.New("api: call on an unauthenticated route")
	}
	if s.replica != nil && replicaSafe(ctx) {
		return s.callOnReplica(ctx, claims, orgID, query, args...)
	}
	batch := requestBatch(claims.UserID, claims.SessionID, orgID, RequestIDFrom(ctx), s.traceID(ctx), query, args...)
	return s.withConn(ctx, batch, ReadRequestBatch)
}

// errPoolExhausted: no database connection became free within the acquire timeout.
var errPoolExhausted = errors.New("api: every database connection is busy")

// acquire takes a pooled connection. When every connection is in use, the wait for
// one is bounded by the acquire timeout (errPoolExhausted beyond); while the pool can
// still grow, opening a connection is bounded only by the request (a busy machine may
// take seconds to start many backends at once, which is no reason to refuse).
func (s *Server) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	return s.acquireFrom(ctx, s.pool)
}

// acquireFrom is acquire on pool (the primary's or the read replica's).
func (s *Server) acquireFrom(ctx context.Context, pool *pgxpool.Pool) (*pgxpool.Conn, error) {
	st := pool.Stat()
	if st.TotalConns() < st.MaxConns() || st.IdleConns() > 0 {
		return pool.Acquire(ctx)
	}
	actx, cancel := context.WithTimeout(ctx, s.acquireTimeout)
	defer cancel()
	conn, err := pool.Acquire(actx)
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("%w (waited %s): %w", errPoolExhausted, s.acquireTimeout, err)
	}
	return conn, err
}

// withConn sends batch on a pooled connection and reads its results with read: the one
// path of every batch to the database. Waiting for a free connection is bounded by the
// acquire timeout (503 beyond, not a request hanging until its own timeout). When the
// batch fails before anything reached the server (a pooled connection that died with a
// database restart), it is sent once more on another connection: nothing was executed,
// so repeating it is safe even for writes (as a copy: resend). With tracing on, the whole of it (the wait
// for a connection included) is the request's database span.
func (s *Server) withConn(ctx context.Context, batch *pgx.Batch, read func(pgx.BatchResults) ([]byte, error)) (body []byte, err error) {
	return s.withPool(ctx, s.pool, batch, read)
}

// withPool is withConn on pool (the primary's or the read replica's).
func (s *Server) withPool(ctx context.Context, pool *pgxpool.Pool, batch *pgx.Batch, read func(pgx.BatchResults) ([]byte, error)) (body []byte, err error) {
	if pool == nil {
		return nil, errNoPool
	}
	if s.tracer != nil {
		var span trace.Span
		ctx, span = s.startBatchSpan(ctx, batch.QueuedQueries[batch.Len()-1].SQL, batch.Len())
		defer func() { endBatchSpan(span, err) }()
	}
	for attempt := 0; ; attempt++ {
		conn, err := s.acquireFrom(ctx, pool)
		if err != nil {
			return nil, err
		}
		body, err := read(conn.SendBatch(ctx, batch))
		conn.Release()
		if err != nil && attempt == 0 && ctx.Err() == nil && pgconn.SafeToRetry(err) {
			batch = resend(batch)
			continue
		}
		return body, err
	}
}

// resend is a copy of a sent batch to send on another connection: pgx remembers in a
// sent batch the statements it prepared on the first connection, which the other does
// not have.
func resend(sent *pgx.Batch) *pgx.Batch {
	batch := &pgx.Batch{}
	for _, q := range sent.QueuedQueries {
		batch.Queue(q.SQL, q.Arguments...)
	}
	return batch
}

// RequestBatch is the one round trip of an authenticated request: auth.begin_request
// for the caller (orgID nil or an organization id) with the request id for the audit
// trail, then query, which must select exactly one json value. Exported so that
// tests/load sends exactly what the server sends when it measures the API against the
// bare SQL.
func RequestBatch(userID, sessionID string, orgID any, requestID string, query string, args ...any) *pgx.Batch {
	return requestBatch(userID, sessionID, orgID, requestID, "", query, args...)
}

// requestBatch is RequestBatch naming the request's trace too (traceID "": none, and
// then the very batch RequestBatch sends).
func requestBatch(userID, sessionID string, orgID any, requestID, traceID string, query string, args ...any) *pgx.Batch {
	batch := &pgx.Batch{}
	queueBeginRequest(batch, userID, sessionID, orgID, requestID, traceID)
	batch.Queue(query, args...)
	return batch
}

// queueBeginRequest queues requestBatch's first statement on batch.
func queueBeginRequest(batch *pgx.Batch, userID, sessionID string, orgID any, requestID, traceID string) {
	if traceID == "" {
		batch.Queue(BeginRequestSQL, userID, sessionID, orgID, requestID)
	} else {
		batch.Queue(BeginRequestTracedSQL, userID, sessionID, orgID, requestID, traceID)
	}
}

// ReadRequestBatch reads the json value of a sent RequestBatch (or of any batch of one
// statement whose result is ignored, then one selecting a json value) and closes it.
func ReadRequestBatch(br pgx.BatchResults) ([]byte, error) {
	var body []byte
	err := readBatch(br, 1, &body)
	return body, err
}

// readBatch is the one reader of a sent batch: it executes the first skip statements'
// results (a rate-limit hit, begin_request, a setting) and discards them, scans the
// next statement's row into dest (with no dest it only executes it), and closes the
// batch. The first error wins: a bucket over its limit (RG429) stops it before the
// work's result is read.
func readBatch(br pgx.BatchResults, skip int, dest ...any) error {
	defer br.Close()
	for range skip {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	if len(dest) == 0 {
		if _, err := br.Exec(); err != nil {
			return err
		}
	} else if err := br.QueryRow().Scan(dest...); err != nil {
		return err
	}
	return br.Close()
}

// sendBatch is the one way a batch reaches the database outside an organization's
// request path: on a connection from withConn (the acquire timeout, and one safe retry
// when nothing reached the server), read by readBatch (every statement but the last
// discarded, the last one's row scanned into dest).
func (s *Server) sendBatch(ctx context.Context, batch *pgx.Batch, dest ...any) error {
	_, err := s.withConn(ctx, batch, func(br pgx.BatchResults) ([]byte, error) {
		return nil, readBatch(br, batch.Len()-1, dest...)
	})
	return err
}

// sendOne runs one statement through sendBatch.
func (s *Server) sendOne(ctx context.Context, dest []any, query string, args ...any) error {
	batch := &pgx.Batch{}
	batch.Queue(query, args...)
	return s.sendBatch(ctx, batch, dest...)
}

// queryJSON runs one statement outside any request context (sign-up and sign-in,
// before a session exists), batched after the request id for the audit trail: one
// round trip, one implicit transaction.
func (s *Server) queryJSON(ctx context.Context, query string, args ...any) ([]byte, error) {
	batch := &pgx.Batch{}
	s.queueRequestNames(ctx, batch)
	batch.Queue(query, args...)
	return s.withConn(ctx, batch, ReadRequestBatch) // the same shape: one setting, one json value
}

// queueRequestNames queues the statement naming the request for the audit trail outside
// auth.begin_request: its id, and its trace's id when tracing is on.
func (s *Server) queueRequestNames(ctx context.Context, batch *pgx.Batch) {
	if id := s.traceID(ctx); id != "" {
		batch.Queue(`select set_config('app.request_id', $1, true), set_config('app.trace_id', $2, true)`, RequestIDFrom(ctx), id)
		return
	}
	batch.Queue(`select set_config('app.request_id', $1, true)`, RequestIDFrom(ctx))
}

// traceID is the id of the trace of ctx's request, "" when tracing is off.
func (s *Server) traceID(ctx context.Context) string {
	if s.tracer == nil {
		return ""
	}
	return traceID(ctx)
}

// writeJSONBytes writes a json document built elsewhere (by Postgres),
// compacted (compact.go: one JSON style for every answer). A SQL NULL (nil) is
// the answer of the delete functions: 204 when that is the status asked for; on
// any other route the function found nothing.
func writeJSONBytes(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	if status == http.StatusNoContent {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if body == nil || string(body) == "null" {
		writeProblem(w, r, newError(ProblemNotFound, "The resource does not exist."))
		return
	}
	body, pooled := compactJSON(body)
	defer releaseCompact(pooled)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// The whole body is in hand: a Content-Length spares net/http chunked framing.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
