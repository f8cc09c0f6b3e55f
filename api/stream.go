package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"
)

// ExportTimeout bounds one streamed answer (a CSV export of records, an organization's
// archive). The request timeout bounds the work of a JSON answer, which is one page; an
// export is every matching row, so it gets its own, longer bound (and its own write
// deadline). A client that goes away still stops it at once.
var ExportTimeout = 15 * time.Minute

// streamQuery runs query for the authenticated caller in the route's organization, as
// every request does (one batch: begin_request, then the query, in one transaction),
// and hands each row to each as it arrives: the server holds one row at a time. An
// error before the first row is the usual problem answer; start writes the status and
// headers just before the first row is handed over; finish ends the answer. After
// start, an error aborts the connection (the client sees a truncated answer, never a
// short file that looks complete).
func (s *Server) streamQuery(w http.ResponseWriter, r *http.Request, start func(), each func(pgx.Rows) error, finish func() error, query string, args ...any) {
	claims, ok := claimsFrom(r.Context())
	if !ok {
		s.fail(w, r, errors.New("api: streamQuery on an unauthenticated route"))
		return
	}
	// Free of the request timeout (an export is not one page), not of the client.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), ExportTimeout)
	defer cancel()
	stop := context.AfterFunc(r.Context(), func() {
		if errors.Is(r.Context().Err(), context.Canceled) {
			cancel()
		}
	})
	defer stop()
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(ExportTimeout))
	if s.pool == nil {
		s.fail(w, r, errNoPool)
		return
	}
	conn, err := s.acquire(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer conn.Release()
	var orgID any // NULL unless the route names an organization
	if id, ok := mux.Vars(r)["org_id"]; ok {
		orgID = id
	}
	br := conn.SendBatch(ctx, requestBatch(claims.UserID, claims.SessionID, orgID, RequestIDFrom(r.Context()), s.traceID(ctx), query, args...))
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		s.fail(w, r, err)
		return
	}
	rows, err := br.Query()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer rows.Close()
	first := rows.Next()
	if !first && rows.Err() != nil {
		s.fail(w, r, rows.Err())
		return
	}
	start()
	n := 0
	for more := first; more && err == nil; more = rows.Next() {
		err = each(rows)
		n++
	}
	if err == nil {
		err = rows.Err()
	}
	if err == nil {
		err = finish()
	}
	if err != nil {
		s.log(r).Error("streamed answer aborted", "error", err.Error(), "rows", n)
		panic(http.ErrAbortHandler)
	}
}
