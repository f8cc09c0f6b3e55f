package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// statusClientClosedRequest is logged (never seen by anyone) when the
// client went away before the answer was ready, as nginx does.
const statusClientClosedRequest = 499

// fail answers r with the problem err maps to, and logs what the client
// must not see. It is the only place errors become HTTP responses.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.failWith(w, r, err, nil)
}

// failWith is fail with the problem already chosen (nil: map err).
func (s *Server) failWith(w http.ResponseWriter, r *http.Request, err error, e *apiError) {
	if errors.Is(r.Context().Err(), context.Canceled) {
		// Not our timeout (that is DeadlineExceeded): the client hung up,
		// and whatever failed (a cancelled query, 57014, a broken batch)
		// failed because of it. Nobody is left to read an answer.
		s.log(r).Info("client closed request", "error", err.Error())
		w.WriteHeader(statusClientClosedRequest)
		return
	}
	if e == nil {
		e = s.mapError(r, err)
	}
	writeProblem(w, r, e)
}

// mapError turns any error into the problem to answer with, per the
// SQLSTATE table of the contract. Internal details are logged here and
// never put in the returned detail, except the messages of RGnnn errors,
// which SQL functions write for clients.
func (s *Server) mapError(r *http.Request, err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return s.mapPgError(r, pe)
	}
	switch {
	case errors.Is(err, errPoolExhausted):
		s.log(r).Warn("database pool exhausted", "error", err.Error())
		return newError(ProblemUnavailable, "Every database connection is busy. Retry shortly.")
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		s.log(r).Warn("request timed out", "error", err.Error())
		return newError(ProblemTimeout, "The request took too long and was cancelled.")
	case isUnavailable(err):
		s.log(r).Error("database unavailable", "error", err.Error())
		return newError(ProblemUnavailable, "The service cannot reach its database. Retry shortly.")
	}
	s.log(r).Error("internal error", "error", err.Error())
	return newError(ProblemInternal, "An unexpected error occurred. Quote the request_id when reporting it.")
}

// isUnavailable reports errors that mean "no database right now" rather
// than "this request is wrong": failed connects, connections lost mid-request
// (the server restarted or killed the backend), a closed pool.
func isUnavailable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.Is(err, errNoPool) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "closed pool") || strings.Contains(msg, "conn closed") || strings.Contains(msg, "unexpected EOF")
}

// connectionLost reports SQLSTATEs of a server going away: connection exceptions
// (class 08) and admin_shutdown, crash_shutdown, cannot_connect_now (57P01-57P03).
func connectionLost(code string) bool {
	return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03"
}

var errNoPool = errors.New("api: no database pool configured")

func (s *Server) mapPgError(r *http.Request, pe *pgconn.PgError) *apiError {
	attrs := []any{"sqlstate", pe.Code}
	for _, kv := range [][2]string{
		{"schema", pe.SchemaName}, {"table", pe.TableName},
		{"column", pe.ColumnName}, {"constraint", pe.ConstraintName},
	} {
		if kv[1] != "" {
			attrs = append(attrs, kv[0], kv[1])
		}
	}
	code := pe.Code
	switch {
	case len(code) == 5 && strings.HasPrefix(code, "RG"):
		status, err := strconv.Atoi(code[2:])
		kind, ok := kindForStatus(status)
		if named, isNamed := namedCodes[code]; isNamed {
			kind, status, ok, err = named, named.Status, true, nil
		}
		if err != nil || !ok {
			break // an undocumented RG code: internal error below
		}
		e := newError(kind, pe.Message)
		if pe.ColumnName != "" && (status == http.StatusUnprocessableEntity || status == http.StatusConflict) {
			e.errors = []FieldError{{Field: pe.ColumnName, Message: pe.Message}}
		}
		if status == http.StatusUnauthorized {
			e.authenticate = bearerChallenge("invalid_token", pe.Message)
		}
		if status == http.StatusTooManyRequests {
			// auth.enforce_rate_limit puts the seconds to wait in DETAIL.
			e.retryAfter, _ = strconv.Atoi(pe.Detail)
			e.retryAfter = max(e.retryAfter, 1)
		}
		s.log(r).Debug("database refused request", append(attrs, "message", pe.Message)...)
		return e

	case code == "42501": // insufficient_privilege: an RLS WITH CHECK refused the row
		s.log(r).Info("row-level security refused a write", attrs...)
		return newError(ProblemForbidden, "Your role in this organization does not allow this action.")

	case code == "23505": // unique_violation
		s.log(r).Info("unique violation", attrs...)
		e := newError(ProblemConflict, "A resource with the same unique value already exists.")
		if f := constraintField(pe, "_key"); f != "" {
			e.errors = []FieldError{{Field: f, Message: "is already taken"}}
		}
		return e

	case code == "23503": // foreign_key_violation
		s.log(r).Info("foreign key violation", attrs...)
		return fieldProblem(pe, "_fkey", "refers to a resource that does not exist")
	case code == "23514": // check_violation
		s.log(r).Info("check violation", attrs...)
		if strings.HasSuffix(pe.ConstraintName, "currency_check") { // app.is_iso_currency, on every currency column
			return fieldProblem(pe, "_check", "is not an ISO 4217 currency code")
		}
		return fieldProblem(pe, "_check", "is not valid")
	case code == "22P02": // invalid_text_representation
		s.log(r).Info("invalid text representation", attrs...)
		return fieldProblem(pe, "", "has an invalid format")
	case code == "22001": // string_data_right_truncation
		s.log(r).Info("value too long", attrs...)
		return fieldProblem(pe, "", "is too long")
	case code == "23502": // not_null_violation
		s.log(r).Info("not-null violation", attrs...)
		return fieldProblem(pe, "", "must not be null")

	case code == "P0002": // no_data_found
		return newError(ProblemNotFound, "The resource does not exist.")
	case connectionLost(code):
		s.log(r).Error("database connection lost", append(attrs, "message", pe.Message)...)
		return newError(ProblemUnavailable, "The service cannot reach its database. Retry shortly.")
	case code == "57014": // query_canceled: statement_timeout or our cancel
		s.log(r).Warn("statement cancelled", attrs...)
		return newError(ProblemTimeout, "The request took too long and was cancelled.")
	}
	s.log(r).Error("database error", append(attrs,
		"message", pe.Message, "detail", pe.Detail, "hint", pe.Hint,
		"where", pe.Where, "routine", pe.Routine)...)
	return newError(ProblemInternal, "An unexpected error occurred. Quote the request_id when reporting it.")
}

// namedCodes are the RG codes whose problem type is not the generic one of
// their status (RGnnn → the first kind with status nnn).
var namedCodes = map[string]ProblemKind{
	"RGS03": ProblemOrganizationSuspended,    // auth.begin_request: an operator suspended the organization
	"RGV03": ProblemEmailUnverified,          // the caller's address is unproven (invitations)
	"RGL09": ProblemInvitationLapsed,         // app.accept_invitation: the inviter no longer holds what it grants
	"RGR03": ProblemReauthenticationRequired, // auth.require_recent_reauthentication: no fresh proof on the session
	"RGA03": ProblemAccountDeletionPending,   // auth.open_session: the account is pending deletion
}

// fieldProblem is a 422 naming the column the error is about: the
// error's column when Postgres gives one, else the constraint name less
// "<table>_" and suffix, else "body".
func fieldProblem(pe *pgconn.PgError, suffix, message string) *apiError {
	field := pe.ColumnName
	if field == "" && suffix != "" {
		field = constraintField(pe, suffix)
	}
	if field == "" {
		field = "body"
	}
	return validationError(FieldError{Field: field, Message: message})
}

// constraintField derives a field name from a constraint named
// "<table>_<field><suffix>" (Postgres' default naming):
// organizations_name_check → name. Tenant-scoped unique keys lead with
// org_id (projects_org_id_name_key → name).
func constraintField(pe *pgconn.PgError, suffix string) string {
	c, ok := strings.CutSuffix(pe.ConstraintName, suffix)
	if !ok {
		return ""
	}
	c, ok = strings.CutPrefix(c, pe.TableName+"_")
	if !ok {
		return ""
	}
	if rest, ok := strings.CutPrefix(c, "org_id_"); ok {
		c = rest
	}
	return c
}

// log returns the logger annotated with the request's id (and its trace's, when
// tracing is on).
func (s *Server) log(r *http.Request) *slog.Logger {
	if id := s.traceID(r.Context()); id != "" {
		return s.logger.With("request_id", RequestIDFrom(r.Context()), "trace_id", id)
	}
	return s.logger.With("request_id", RequestIDFrom(r.Context()))
}
