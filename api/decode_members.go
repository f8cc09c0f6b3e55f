package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A valueParser decodes one JSON member value: the value to pass on to SQL,
// or a message saying why it is refused.
type valueParser func(raw json.RawMessage) (any, string)

// member puts a body member, when present, into m under its name, as parse
// decodes it. It serves both create bodies (required members) and PATCH
// bodies (only the members present change). nullable allows null, kept as
// nil (a JSON null in the jsonb handed to SQL).
func member(name string, required, nullable bool, m map[string]any, parse valueParser) bodyField {
	return bodyField{name: name, required: required, set: func(raw json.RawMessage) string {
		if isNull(raw) {
			if !nullable {
				return "must not be null"
			}
			m[name] = nil
			return ""
		}
		v, msg := parse(raw)
		if msg == "" {
			m[name] = v
		}
		return msg
	}}
}

// stringValue is a JSON string, checked by check (nil: any string).
func stringValue(check func(string) string) valueParser {
	return func(raw json.RawMessage) (any, string) {
		return decodeChecked(raw, check)
	}
}

// intValue is a JSON integer from lo to hi (no fraction, no exponent).
func intValue(lo, hi int) valueParser {
	return func(raw json.RawMessage) (any, string) {
		msg := "must be an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)
		n, err := strconv.Atoi(string(raw))
		if err != nil || n < lo || n > hi {
			return nil, msg
		}
		return n, ""
	}
}

// boolValue is true or false.
func boolValue(raw json.RawMessage) (any, string) {
	switch string(raw) {
	case "true":
		return true, ""
	case "false":
		return false, ""
	}
	return nil, "must be true or false"
}

// amountRE is a non-negative decimal amount with at most two decimals: money
// travels as a string, never as a JSON number (no binary rounding).
var amountRE = regexp.MustCompile(`^[0-9]{1,10}(\.[0-9]{1,2})?$`)

func checkAmount(s string) string {
	if !amountRE.MatchString(s) {
		return `must be a decimal string like "25.00" (at most 10 digits before the point and 2 after)`
	}
	return ""
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

func checkCurrency(s string) string {
	if !currencyRE.MatchString(s) {
		return "must be an ISO 4217 code of three capital letters, like EUR"
	}
	return ""
}

// checkTimestamp accepts an RFC 3339 date-time with an offset.
func checkTimestamp(s string) string {
	if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
		return "must be an RFC 3339 date-time with a time zone, like 2030-01-31T09:00:00Z"
	}
	return ""
}

// oneOf accepts exactly one of the given words.
func oneOf(words ...string) func(string) string {
	return func(s string) string {
		for _, w := range words {
			if s == w {
				return ""
			}
		}
		return "must be one of " + strings.Join(words, ", ")
	}
}

// maxRunes limits a free text to n characters.
func maxRunes(n int) func(string) string {
	return func(s string) string {
		if len([]rune(s)) > n {
			return "must be at most " + strconv.Itoa(n) + " characters long"
		}
		return ""
	}
}

// decodeJSONObject decodes a create body into the jsonb passed to SQL: the
// members present, each checked.
func decodeJSONObject(r *http.Request, fields func(m map[string]any) []bodyField) ([]byte, error) {
	m := map[string]any{}
	if err := decodeBody(r, fields(m)...); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// queryFilters reads optional query parameters (list filters), each given
// at most once and checked; absent ones are nil (SQL NULL). Problems are
// collected, so one answer names every bad parameter.
type queryFilters struct {
	r    *http.Request
	errs []FieldError
	// query is r's query string parsed by the first get (r.URL.Query() parses the
	// whole string at every call: the records list reads 15 parameters).
	query url.Values
}

func (q *queryFilters) get(name string, check func(string) string) any {
	if q.query == nil {
		q.query = q.r.URL.Query() // never nil
	}
	vs, ok := q.query[name]
	switch {
	case !ok:
		return nil
	case len(vs) > 1:
		q.errs = append(q.errs, FieldError{name, "must be given once"})
	case !utf8.ValidString(vs[0]) || strings.ContainsRune(vs[0], 0):
		// PostgreSQL text holds neither (SQLSTATE 22021): refused here, by name, for
		// every parameter, before any check or the database sees it.
		q.errs = append(q.errs, FieldError{name, "must be valid UTF-8 without NUL characters"})
	default:
		if msg := check(vs[0]); msg != "" {
			q.errs = append(q.errs, FieldError{name, msg})
			return nil
		}
		return vs[0]
	}
	return nil
}

// err is the 422 naming every refused parameter, or nil.
func (q *queryFilters) err() error {
	if len(q.errs) == 0 {
		return nil
	}
	return validationError(q.errs...)
}

// object is a member whose value is a JSON object with the given members,
// decoded as strictly as a body. Its problems are reported under the
// object's name, each prefixed with the inner member's name.
func object(name string, required bool, fields ...bodyField) bodyField {
	return bodyField{name: name, required: required, set: func(raw json.RawMessage) string {
		if len(raw) == 0 || raw[0] != '{' {
			return "must be a JSON object"
		}
		members, ferr := parseObject(raw)
		if ferr != nil {
			return ferr.Message
		}
		var msgs []string
		known := map[string]bool{}
		for _, f := range fields {
			known[f.name] = true
			v, ok := members.values[f.name]
			switch {
			case !ok && f.required:
				msgs = append(msgs, f.name+" is required")
			case ok:
				if msg := f.set(v); msg != "" {
					msgs = append(msgs, f.name+" "+msg)
				}
			}
		}
		for _, n := range members.order {
			if !known[n] {
				msgs = append(msgs, n+" is not a known field")
			}
		}
		return strings.Join(msgs, "; ")
	}}
}
