package api

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"
)

// CSV answers (issue 18): GET …/records and …/analytics/* answer text/csv when the
// client asks with Accept: text/csv or ?format=csv, with the same filters and the same
// permissions as their JSON. RFC 4180: comma-separated, CRLF line ends, a field holding
// a comma, a quote or a line break is quoted, quotes doubled; the first line is the
// header. Spreadsheet formula injection: a cell starting with = + - @ (or a tab or a
// carriage return) is prefixed with a single quote, unless it is a plain decimal number
// (a negative net stays a number).

// CSVContentType is the media type of every CSV answer.
const CSVContentType = "text/csv; charset=utf-8; header=present"

// csvFlushRows: how many rows are buffered before they are pushed to the client.
const csvFlushRows = 512

// RecordCSVHeader is the header of the records' CSV, in the order of the cells
// api.financial_record_cells builds (sql/api/finance_export.sql).
var RecordCSVHeader = []string{"id", "occurred_on", "kind", "amount", "currency", "category_id", "category_name",
	"tags", "payment_source", "payment_reference", "description", "created_by", "updated_by",
	"created_at", "updated_at", "deleted_at", "version"}

// ExportRecordsSQL is the statement of GET …/records as CSV; exported for tests/load.
const ExportRecordsSQL = `select api.export_financial_records($1::uuid, $2::boolean,
  $3::app.finance_kind, $4::uuid, $5::text[], $6::text[], $7::text, $8::app.payment_source,
  $9::date, $10::date, $11::numeric, $12::numeric, $13::text)`

// wantsCSV reads the format the client asked for: ?format=csv|json wins (anything
// else is a 422 naming format), then an Accept header naming text/csv.
func wantsCSV(r *http.Request, q *queryFilters) bool {
	if f := q.get("format", oneOf("csv", "json")); f != nil {
		return f == "csv"
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == "text/csv" && params["q"] != "0" && !strings.HasPrefix(params["q"], "0.0") {
			return true
		}
	}
	return false
}

var plainNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// csvCell defuses a cell a spreadsheet would run as a formula.
func csvCell(s string) string {
	if s == "" || plainNumber.MatchString(s) {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// csvWriter writes an answer's CSV rows, defused, flushing every csvFlushRows rows.
type csvWriter struct {
	w    *csv.Writer
	rc   *http.ResponseController
	rows int
}

func startCSV(w http.ResponseWriter, filename string, header []string) *csvWriter {
	writeCSVHeaders(w, filename)
	cw := &csvWriter{w: csv.NewWriter(w), rc: http.NewResponseController(w)}
	cw.w.UseCRLF = true
	_ = cw.w.Write(header)
	return cw
}

func (cw *csvWriter) write(cells []string) error {
	for i, c := range cells {
		cells[i] = csvCell(c)
	}
	if err := cw.w.Write(cells); err != nil {
		return err
	}
	if cw.rows++; cw.rows%csvFlushRows == 0 {
		return cw.flush()
	}
	return nil
}

func (cw *csvWriter) flush() error {
	cw.w.Flush()
	if err := cw.w.Error(); err != nil {
		return err
	}
	_ = cw.rc.Flush()
	return nil
}

// writeCSVHeaders writes the status and headers of a CSV answer.
func writeCSVHeaders(w http.ResponseWriter, filename string) {
	h := w.Header()
	h.Set("Content-Type", CSVContentType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	w.WriteHeader(http.StatusOK)
}

// auditExport asks api.audit_export whether the caller may make the export kind (of
// projectID; "" for none) and, for anything but a HEAD, records it on the audit trail:
// one entry (who, what, the query asked), in its own transaction, committed before the
// export's first row is read, so an export broken off midway is on the trail too.
func (s *Server) auditExport(r *http.Request, kind, projectID string) error {
	var project any
	if projectID != "" {
		project = projectID
	}
	query, err := json.Marshal(r.URL.Query())
	if err != nil {
		return err
	}
	_, err = s.callJSON(r.Context(), r, `select api.audit_export($1, $2::uuid, $3::jsonb, $4)`,
		kind, project, string(query), r.Method != http.MethodHead)
	return err
}

// answerCSV answers a CSV export: for HEAD, the permission check of api.audit_export and
// the headers GET would send, without running the export (no entry on the trail either);
// for GET, the audit entry, then stream.
func (s *Server) answerCSV(w http.ResponseWriter, r *http.Request, kind, filename string, stream func()) {
	if err := s.auditExport(r, kind, mux.Vars(r)["project_id"]); err != nil {
		s.fail(w, r, err)
		return
	}
	if r.Method == http.MethodHead {
		answerHeadOnly(w)
		writeCSVHeaders(w, filename)
		return
	}
	stream()
}

// csvFileName is "<what>-<project id>-<UTC date>.csv".
func csvFileName(r *http.Request, what string) string {
	return what + "-" + mux.Vars(r)["project_id"] + "-" + time.Now().UTC().Format("20060102") + ".csv"
}

// streamCSV runs query (selecting one text[] of cells per row) and writes each row as
// CSV as it arrives (streamQuery).
func (s *Server) streamCSV(w http.ResponseWriter, r *http.Request, filename string, header []string, query string, args ...any) {
	var cw *csvWriter
	var cells []string
	s.streamQuery(w, r, func() { cw = startCSV(w, filename, header) },
		func(rows pgx.Rows) error {
			if err := rows.Scan(&cells); err != nil {
				return err
			}
			return cw.write(cells)
		},
		func() error { return cw.flush() },
		query, args...)
}

// exportRecords: GET …/records as CSV. The list's filters, every matching record
// (no limit, no cursor: the export is the whole selection).
func (s *Server) exportRecords(w http.ResponseWriter, r *http.Request, q *queryFilters) {
	for _, name := range []string{"limit", "cursor"} {
		if r.URL.Query().Has(name) {
			q.errs = append(q.errs, FieldError{name, "is not taken by the CSV export, which holds every matching record"})
		}
	}
	filters := recordFilterArgs(q)
	if err := q.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	kind := "records"
	if deleted, _ := filters[deletedFilterArg].(bool); deleted {
		kind = "records.deleted"
	}
	filename := csvFileName(r, "records")
	s.answerCSV(w, r, kind, filename, func() {
		s.streamCSV(w, r, filename, RecordCSVHeader, ExportRecordsSQL, append([]any{mux.Vars(r)["project_id"]}, filters...)...)
	})
}

// analyticsCSV is how one analytics answer becomes rows: the array member holding
// them and, in order, the columns (members of each item).
type analyticsCSV struct {
	name, rows string
	columns    []string
}

var (
	summaryCSV    = analyticsCSV{"summary", "currencies", []string{"currency", "income", "expense", "net", "income_count", "expense_count", "count"}}
	categoriesCSV = analyticsCSV{"categories", "items", []string{"category_id", "name", "archived", "kind", "currency", "total", "count", "share"}}
	trendsCSV     = analyticsCSV{"trends", "items", []string{"period", "currency", "income", "expense", "net", "count"}}
	recentCSV     = analyticsCSV{"recent", "items", slices.DeleteFunc(slices.Clone(RecordCSVHeader), func(c string) bool { return c == "category_name" })}
)

// answerAnalytics answers an analytics query as JSON, or as CSV when asked.
func (s *Server) answerAnalytics(w http.ResponseWriter, r *http.Request, asCSV bool, spec analyticsCSV, query string, args ...any) {
	if asCSV {
		s.answerCSV(w, r, "analytics."+spec.name, csvFileName(r, spec.name), func() {
			s.writeAnalyticsCSV(w, r, spec, query, args...)
		})
		return
	}
	s.call(w, r, http.StatusOK, query, args...)
}

// writeAnalyticsCSV answers an analytics query as CSV: the JSON it builds (small: a
// rollup's rows, at most one per period, category or currency) turned into rows.
// Nested values are written as JSON; arrays of strings (tags) space-separated, as in
// the records' CSV.
func (s *Server) writeAnalyticsCSV(w http.ResponseWriter, r *http.Request, spec analyticsCSV, query string, args ...any) {
	body, err := s.callJSON(r.Context(), r, query, args...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var doc map[string]json.RawMessage
	var items []map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		s.fail(w, r, fmt.Errorf("api: analytics answer: %w", err))
		return
	}
	if err := json.Unmarshal(doc[spec.rows], &items); err != nil {
		s.fail(w, r, fmt.Errorf("api: analytics answer %q: %w", spec.rows, err))
		return
	}
	columns := spec.columns
	cw := startCSV(w, csvFileName(r, spec.name), columns)
	for _, item := range items {
		cells := make([]string, len(columns))
		for i, c := range columns {
			cells[i] = csvValue(item[c])
		}
		if err := cw.write(cells); err != nil {
			panic(http.ErrAbortHandler)
		}
	}
	if err := cw.flush(); err != nil {
		panic(http.ErrAbortHandler)
	}
}

func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%f", x), "0"), ".")
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				b, _ := json.Marshal(x)
				return string(b)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, " ")
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}
