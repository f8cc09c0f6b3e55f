package api

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// listAuditSQL is the statement of GET /v1/orgs/{org_id}/audit: $1 limit, $2 cursor,
// then the filters table, action, actor, row_id, since, until (each NULL when absent).
const listAuditSQL = `select api.list_audit($1::int, $2::uuid, $3::text, $4::text, $5::uuid, $6::text, $7::timestamptz, $8::timestamptz)`

func (s *Server) routeAudit() {
	s.handle(http.MethodGet, "/v1/orgs/{org_id}/audit", s.listAudit, true)
}

// auditFilters are the optional filters of the audit list; nil means "any".
type auditFilters struct {
	table, action, actor, rowID, since, until any
}

// tableNameRE is a table as the audit log names it: schema.table or just table.
var tableNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$`)

// MaxAuditRowIDLength bounds the row_id filter (a primary key, comma-joined).
const MaxAuditRowIDLength = 200

// auditFilterParams reads and checks the filter query parameters.
func auditFilterParams(r *http.Request) (auditFilters, []FieldError) {
	q := r.URL.Query()
	f := auditFilters{}
	var errs []FieldError
	one := func(name string) (string, bool) {
		vs, ok := q[name]
		if !ok {
			return "", false
		}
		if len(vs) > 1 {
			errs = append(errs, FieldError{name, "must be given once"})
			return "", false
		}
		return vs[0], true
	}
	if v, ok := one("table"); ok {
		if tableNameRE.MatchString(v) {
			f.table = v
		} else {
			errs = append(errs, FieldError{"table", "must be a table name such as projects (optionally schema-qualified)"})
		}
	}
	if v, ok := one("action"); ok {
		switch a := strings.ToUpper(v); a {
		case "INSERT", "UPDATE", "DELETE", "EXPORT":
			f.action = a
		default:
			errs = append(errs, FieldError{"action", "must be INSERT, UPDATE, DELETE or EXPORT"})
		}
	}
	if v, ok := one("actor"); ok {
		if isUUID(v) {
			f.actor = strings.ToLower(v)
		} else {
			errs = append(errs, FieldError{"actor", "must be a user id (UUID)"})
		}
	}
	if v, ok := one("row_id"); ok {
		switch {
		case v == "" || len(v) > MaxAuditRowIDLength || !utf8.ValidString(v) || strings.ContainsRune(v, 0):
			errs = append(errs, FieldError{"row_id", "must be 1 to 200 bytes of text"})
		default:
			f.rowID = v
		}
	}
	for _, p := range []struct {
		name string
		dst  *any
	}{{"since", &f.since}, {"until", &f.until}} {
		if v, ok := one(p.name); ok {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil || t.Year() < 1 || t.Year() > 9999 {
				errs = append(errs, FieldError{p.name, "must be an RFC 3339 date-time like 2024-01-31T12:00:00Z"})
				continue
			}
			*p.dst = t
		}
	}
	return f, errs
}

// GET /v1/orgs/{org_id}/audit
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	f, errs := auditFilterParams(r)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			s.fail(w, r, err)
			return
		}
		// Every bad parameter at once: the paging ones, then the filters.
		errs = append(ae.errors, errs...)
	}
	if len(errs) > 0 {
		s.fail(w, r, validationError(errs...))
		return
	}
	s.call(w, r, http.StatusOK, listAuditSQL, limit, cursor, f.table, f.action, f.actor, f.rowID, f.since, f.until)
}
