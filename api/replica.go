package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowguard/rowguard/internal/token"
)

// Reads from a hot standby (ROWGUARD_READ_DATABASE_URL, docs/scaling.md#read-replicas).
//
// The routes openapi.json marks "x-rowguard-replica-safe" (lists and analytics, whose SQL
// functions write nothing) are answered by the standby when it can answer as the primary
// would, and by the primary otherwise — never with an error the primary would not give:
//
//   - Freshness: when such a request arrives, the primary's WAL insert position is read
//     (one `select pg_current_wal_insert_lsn()` serves every request that arrived before it
//     was sent: walFence), and the standby's batch starts with auth.await_replay, which
//     waits (ReplayWait at most) until the standby has replayed up to it. Whatever was
//     acknowledged before the request arrived — the client's own write through any API
//     instance, a revoked session, a removed membership — is therefore seen. The state
//     lives in PostgreSQL (the primary's WAL position), none in the API instances.
//   - A standby that is down, lags by more than MaxLag at its last check, has not caught
//     up within ReplayWait, is no longer in recovery, or cancels the query for a recovery
//     conflict: the primary answers (rowguard_replica_fallbacks_total says why).
//   - The session is checked on the standby (auth.begin_request reads the replayed row);
//     the last_used_at touch it cannot write there is sent to the primary (touchSession).

// Defaults of ReplicaOptions.
const (
	DefaultReplicaMaxLag        = time.Second
	DefaultReplicaReplayWait    = 50 * time.Millisecond
	DefaultReplicaCheckInterval = 500 * time.Millisecond
)

// ReplicaOptions configure reads from a hot standby.
type ReplicaOptions struct {
	// Pool connects to the standby as the serving role. Nil: the primary answers everything.
	Pool *pgxpool.Pool
	// MaxLag: a standby whose replay lag (at its last check) is above it is not asked.
	// Zero: DefaultReplicaMaxLag.
	MaxLag time.Duration
	// ReplayWait bounds the wait on the standby for it to replay the primary's WAL up to
	// the position read when the request arrived. Zero: DefaultReplicaReplayWait;
	// negative: no wait (one look).
	ReplayWait time.Duration
	// CheckInterval is how often, at most, the standby's state (up, in recovery, lag) is
	// measured; it is measured only while requests want it. Zero: DefaultReplicaCheckInterval.
	CheckInterval time.Duration
}

// Why a replica-safe request was answered by the primary (label values of
// rowguard_replica_fallbacks_total).
const (
	fallbackUnavailable = "unavailable" // no connection to the standby (or it went away)
	fallbackNotStandby  = "not_standby" // the server is not in recovery (promoted)
	fallbackLagging     = "lagging"     // its last measured lag is above MaxLag
	fallbackBehind      = "behind"      // it had not replayed up to the request's fence within ReplayWait
	fallbackConflict    = "conflict"    // the query was cancelled by a recovery conflict
	fallbackBusy        = "busy"        // every connection to it was busy
	fallbackReadOnly    = "read_only"   // the route tried to write: it must not be marked replica-safe
	fallbackFence       = "fence"       // the primary's WAL position could not be read
)

var replicaFallbackReasons = []string{fallbackUnavailable, fallbackNotStandby, fallbackLagging, fallbackBehind,
	fallbackConflict, fallbackBusy, fallbackReadOnly, fallbackFence}

// replicaSafeRoutes are the "METHOD /template" of the operations openapi.json marks
// x-rowguard-replica-safe: the one list of what a standby may answer.
var replicaSafeRoutes = func() map[string]bool {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		panic("api: openapi.json: " + err.Error())
	}
	safe := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			var op struct {
				Safe bool `json:"x-rowguard-replica-safe"`
			}
			if json.Unmarshal(raw, &op) == nil && op.Safe {
				safe[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	return safe
}()

// ReplicaSafeRoutes lists the routes a read replica may answer (openapi.json's
// x-rowguard-replica-safe operations), sorted.
func ReplicaSafeRoutes() []Route {
	var out []Route
	for key := range replicaSafeRoutes {
		method, path, _ := strings.Cut(key, " ")
		out = append(out, Route{Method: method, Path: path, Auth: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path+out[i].Method < out[j].Path+out[j].Method })
	return out
}

type replicaSafeKey struct{}

// markReplicaSafe tells callJSONIn that the request may be answered by the standby.
func markReplicaSafe(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next(w, r.WithContext(context.WithValue(r.Context(), replicaSafeKey{}, true)))
	}
}

func replicaSafe(ctx context.Context) bool {
	safe, _ := ctx.Value(replicaSafeKey{}).(bool)
	return safe
}

// replicaRouter is the standby's pool and what is known of it.
type replicaRouter struct {
	pool       *pgxpool.Pool
	maxLag     time.Duration
	replayWait string // auth.await_replay's p_wait, as an interval literal
	every      time.Duration
	fence      walFence

	mu       sync.Mutex
	checked  time.Time // last check, or the last failure seen by a request
	checking bool
	up       atomic.Bool
	lag      atomic.Int64 // nanoseconds, at the last check

	touching sync.Map // session id → struct{}: a last_used_at touch on its way to the primary
}

func newReplicaRouter(opts ReplicaOptions) *replicaRouter {
	if opts.Pool == nil {
		return nil
	}
	if opts.MaxLag <= 0 {
		opts.MaxLag = DefaultReplicaMaxLag
	}
	if opts.ReplayWait == 0 {
		opts.ReplayWait = DefaultReplicaReplayWait
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = DefaultReplicaCheckInterval
	}
	rr := &replicaRouter{pool: opts.Pool, maxLag: opts.MaxLag, every: opts.CheckInterval,
		replayWait: strconv.FormatInt(max(opts.ReplayWait, 0).Microseconds(), 10) + " microseconds"}
	rr.up.Store(true) // until a check or a request says otherwise
	return rr
}

// usable reports whether the standby may be asked now, and why not; it starts a check of
// the standby when the last one is older than the check interval.
func (s *Server) replicaUsable() (bool, string) {
	rr := s.replica
	rr.mu.Lock()
	if !rr.checking && time.Since(rr.checked) >= rr.every {
		rr.checking = true
		go s.checkReplica()
	}
	rr.mu.Unlock()
	switch {
	case !rr.up.Load():
		return false, fallbackUnavailable
	case time.Duration(rr.lag.Load()) > rr.maxLag:
		return false, fallbackLagging
	}
	return true, ""
}

// replicaLagSQL measures the standby: in recovery, and how far its replay is behind what
// it received (0 when it replayed everything it has; otherwise the age of the last
// transaction it replayed — an upper bound).
const replicaLagSQL = `select pg_catalog.pg_is_in_recovery(),
       coalesce(extract(epoch from case
         when pg_catalog.pg_last_wal_receive_lsn() is not distinct from pg_catalog.pg_last_wal_replay_lsn() then interval '0'
         else pg_catalog.now() - pg_catalog.pg_last_xact_replay_timestamp() end), 0)::float8`

// checkReplica measures the standby and records it (rowguard_replica_up and _lag_seconds).
func (s *Server) checkReplica() {
	rr := s.replica
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var inRecovery bool
	var lag float64
	conn, err := s.acquireFrom(ctx, rr.pool) // not withPool: a check is no request's span
	if err == nil {
		err = conn.QueryRow(ctx, replicaLagSQL).Scan(&inRecovery, &lag)
		conn.Release()
	}
	up := err == nil && inRecovery
	if was := rr.up.Swap(up); was != up {
		switch {
		case err != nil:
			s.logger.Warn("read replica unavailable: the primary answers its reads", "error", err.Error())
		case !inRecovery:
			s.logger.Warn("read replica is not a hot standby (promoted?): the primary answers its reads")
		default:
			s.logger.Info("read replica available")
		}
	}
	if err == nil {
		rr.lag.Store(int64(lag * float64(time.Second)))
	}
	s.metrics.replica.state(up, lag)
	rr.mu.Lock()
	rr.checked, rr.checking = time.Now(), false
	rr.mu.Unlock()
}

// markDown records what a request found: the standby is not answering. The primary
// answers until a check finds it back (one check interval at least).
func (rr *replicaRouter) markDown() {
	rr.up.Store(false)
	rr.mu.Lock()
	rr.checked = time.Now()
	rr.mu.Unlock()
}

// callOnReplica is callJSONIn for a replica-safe route: the standby answers when it can
// answer as the primary would, the primary otherwise.
func (s *Server) callOnReplica(ctx context.Context, claims token.Claims, orgID any, query string, args ...any) ([]byte, error) {
	requestID, traceID := RequestIDFrom(ctx), s.traceID(ctx)
	onPrimary := func(reason string) ([]byte, error) {
		s.metrics.replica.fallback(reason)
		return s.withConn(ctx, requestBatch(claims.UserID, claims.SessionID, orgID, requestID, traceID, query, args...), ReadRequestBatch)
	}
	if ok, reason := s.replicaUsable(); !ok {
		return onPrimary(reason)
	}
	lsn, err := s.replica.fence.position(ctx, s.primaryWALPosition)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return onPrimary(fallbackFence)
	}
	batch := &pgx.Batch{}
	batch.Queue(`select auth.await_replay($1::pg_lsn, $2::interval)`, lsn, s.replica.replayWait)
	queueBeginRequest(batch, claims.UserID, claims.SessionID, orgID, requestID, traceID)
	batch.Queue(`select pg_catalog.current_setting('app.session_touch_due', true) is not distinct from 'on'`)
	batch.Queue(query, args...) // last: the batch's span is named after it
	var touch bool
	body, err := s.withPool(ctx, s.replica.pool, batch, func(br pgx.BatchResults) ([]byte, error) {
		defer br.Close()
		for range 2 {
			if _, err := br.Exec(); err != nil {
				return nil, err
			}
		}
		if err := br.QueryRow().Scan(&touch); err != nil {
			return nil, err
		}
		var body []byte
		if err := br.QueryRow().Scan(&body); err != nil {
			return nil, err
		}
		return body, br.Close()
	})
	if err == nil {
		s.metrics.replica.read()
		if touch {
			s.touchSession(claims, requestID)
		}
		return body, nil
	}
	if ctx.Err() != nil {
		return nil, err
	}
	reason := replicaFailure(err)
	switch reason {
	case "":
		s.metrics.replica.read()
		return nil, err // the standby's answer is the primary's (RG401, RG404, 42501, …)
	case fallbackUnavailable, fallbackNotStandby:
		s.replica.markDown()
		s.logger.Warn("read replica failed a request: the primary answers", "reason", reason, "error", err.Error())
	case fallbackReadOnly:
		s.logger.Error("a replica-safe route wrote: remove its x-rowguard-replica-safe mark", "query", query, "error", err.Error())
	}
	return onPrimary(reason)
}

// replicaFailure names why the standby could not answer err, "" when err is an answer.
func replicaFailure(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "RGR01":
			return fallbackBehind
		case pe.Code == "RGR02":
			return fallbackNotStandby
		case pe.Code == "25006": // read_only_sql_transaction
			return fallbackReadOnly
		case pe.Code == "40001" || pe.Code == "40P01": // canceled by a conflict with recovery
			return fallbackConflict
		case connectionLost(pe.Code):
			return fallbackUnavailable
		}
		return ""
	}
	switch {
	case errors.Is(err, errPoolExhausted):
		return fallbackBusy
	case isUnavailable(err):
		return fallbackUnavailable
	}
	return ""
}

// primaryWALPosition reads the primary's WAL insert position: at least the end of every
// commit record acknowledged so far, whatever synchronous_commit is.
func (s *Server) primaryWALPosition(ctx context.Context) (string, error) {
	var lsn string
	err := s.sendOne(ctx, []any{&lsn}, `select pg_catalog.pg_current_wal_insert_lsn()::text`)
	return lsn, err
}

// touchSession sends auth.begin_request to the primary for a session whose last_used_at
// the standby found due for its touch (once a minute at most; one at a time per session
// and instance). Nothing waits for it: the answer was the standby's.
func (s *Server) touchSession(claims token.Claims, requestID string) {
	if _, busy := s.replica.touching.LoadOrStore(claims.SessionID, struct{}{}); busy {
		return
	}
	go func() {
		defer s.replica.touching.Delete(claims.SessionID)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.sendOne(ctx, nil, BeginRequestSQL, claims.UserID, claims.SessionID, nil, requestID); err != nil {
			s.logger.Info("touch of a session read on the replica", "error", err.Error())
		}
	}()
}

// walFence reads the primary's WAL position for requests that wait for it, one read for
// every request that arrived before it was sent: a request never uses a read sent before
// it arrived (which could miss a write acknowledged just before), and a burst of requests
// costs the primary one tiny query per round trip, not one each.
type walFence struct {
	mu       sync.Mutex
	inflight bool
	next     *fenceRead // the read the requests arriving now will use
}

type fenceRead struct {
	done chan struct{}
	lsn  string
	err  error
}

// fenceTimeout bounds one read of the primary's position.
const fenceTimeout = 5 * time.Second

// position returns a WAL position of the primary read after the call began.
func (f *walFence) position(ctx context.Context, read func(context.Context) (string, error)) (string, error) {
	f.mu.Lock()
	if f.next == nil {
		f.next = &fenceRead{done: make(chan struct{})}
	}
	c := f.next
	if !f.inflight {
		f.startLocked(read)
	}
	f.mu.Unlock()
	select {
	case <-c.done:
		return c.lsn, c.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// startLocked sends the pending read (f.mu held); when it ends, the next one if requests
// arrived meanwhile.
func (f *walFence) startLocked(read func(context.Context) (string, error)) {
	c := f.next
	f.next, f.inflight = nil, true
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), fenceTimeout)
		c.lsn, c.err = read(ctx)
		cancel()
		close(c.done)
		f.mu.Lock()
		f.inflight = false
		if f.next != nil {
			f.startLocked(read)
		}
		f.mu.Unlock()
	}()
}
