package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// A bodyField declares one member of a JSON object request body: its name,
// whether it must be present, and how to decode and check its raw value
// (set returns "" when the value is accepted, else a message for errors[]).
type bodyField struct {
	name     string
	required bool
	set      func(raw json.RawMessage) string
	// setNested, instead of set, decodes a member holding objects and names
	// each problem by its own path (e.g. projects[1].role).
	setNested func(raw json.RawMessage) []FieldError
}

// decodeBody reads r's body as exactly one JSON object whose members are
// among fields, strictly: the Content-Type must be application/json (415);
// the body must fit the size limit (413); it must be valid UTF-8 JSON, one
// object, nothing after it, no unknown or repeated member, every required
// member present and every value of the right type (422, each problem
// named in errors[]).
func decodeBody(r *http.Request, fields ...bodyField) error {
	if err := checkJSONContentType(r); err != nil {
		return err
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return newError(ProblemPayloadTooLarge, fmt.Sprintf("The request body must not exceed %d bytes.", mbe.Limit))
		}
		return newError(ProblemBadRequest, "The request body could not be read.")
	}
	members, ferr := parseObject(data)
	if ferr != nil {
		return validationError(*ferr)
	}
	if errs := members.check(fields); len(errs) > 0 {
		return validationError(errs...)
	}
	return nil
}

// check decodes the members into fields: every required one present, every
// value accepted, no unknown member. It returns every problem found.
func (members objectMembers) check(fields []bodyField) []FieldError {
	known := make(map[string]bool, len(fields))
	var errs []FieldError
	for _, f := range fields {
		known[f.name] = true
		raw, ok := members.values[f.name]
		if !ok {
			if f.required {
				errs = append(errs, FieldError{f.name, "is required"})
			}
			continue
		}
		if f.setNested != nil {
			errs = append(errs, f.setNested(raw)...)
		} else if msg := f.set(raw); msg != "" {
			errs = append(errs, FieldError{f.name, msg})
		}
	}
	for _, name := range members.order {
		switch {
		case name == "":
			errs = append(errs, FieldError{"body", "has a member with an empty name, which is not a known field"})
		case !known[name]:
			errs = append(errs, FieldError{name, "is not a known field"})
		}
	}
	return errs
}

// checkJSONContentType accepts application/json with no parameter but an
// optional charset=utf-8.
func checkJSONContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && mt == "application/json" {
		cs, hasCS := params["charset"]
		if len(params) == 0 || (len(params) == 1 && hasCS && strings.EqualFold(cs, "utf-8")) {
			return nil
		}
	}
	if ct == "" {
		ct = "none"
	}
	return newError(ProblemUnsupportedMediaType,
		fmt.Sprintf("The request body must be application/json (got %s).", ct))
}

// objectMembers are an object's raw member values, with their order.
type objectMembers struct {
	values map[string]json.RawMessage
	order  []string
}

// parseObject splits data, which must be one JSON object and nothing else,
// into its members. Repeated names are refused (RFC 8259 leaves their
// meaning open; we do not guess).
func parseObject(data []byte) (objectMembers, *FieldError) {
	if len(bytes.TrimSpace(data)) == 0 {
		return objectMembers{}, &FieldError{"body", "is empty; a JSON object is required"}
	}
	if !utf8.Valid(data) {
		return objectMembers{}, &FieldError{"body", "is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return objectMembers{}, syntaxError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return objectMembers{}, &FieldError{"body", "must be a JSON object"}
	}
	m := objectMembers{values: map[string]json.RawMessage{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return objectMembers{}, syntaxError(err)
		}
		name := tok.(string) // inside an object, dec.Token returns keys as strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return objectMembers{}, syntaxError(err)
		}
		if _, dup := m.values[name]; dup {
			return objectMembers{}, &FieldError{name, "is given more than once"}
		}
		m.values[name] = raw
		m.order = append(m.order, name)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return objectMembers{}, syntaxError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return objectMembers{}, &FieldError{"body", "has data after the JSON object"}
	}
	return m, nil
}

func syntaxError(err error) *FieldError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &FieldError{"body", fmt.Sprintf("is not valid JSON (offset %d: %s)", se.Offset, strings.TrimPrefix(se.Error(), "json: "))}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &FieldError{"body", "is not valid JSON (unexpected end)"}
	}
	return &FieldError{"body", "is not valid JSON"}
}

// --- field decoders ---------------------------------------------------------

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// decodeString decodes a JSON string value, refusing other types and NUL
// characters (PostgreSQL text cannot hold them).
func decodeString(raw json.RawMessage) (string, string) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", "must be a string"
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", "must be a string"
	}
	if strings.ContainsRune(s, 0) {
		return "", "must not contain NUL characters"
	}
	return s, ""
}

// str is a required (or optional but non-null) string member. check, if
// given, validates the value and returns a message when it is refused.
func str(name string, required bool, dst *string, check func(string) string) bodyField {
	return bodyField{name: name, required: required, set: func(raw json.RawMessage) string {
		if isNull(raw) {
			return "must not be null"
		}
		s, msg := decodeChecked(raw, check)
		if msg == "" {
			*dst = s
		}
		return msg
	}}
}

// nullableStr is an optional string member that may be null; *dst stays
// nil when the member is absent or null.
func nullableStr(name string, dst **string, check func(string) string) bodyField {
	return bodyField{name: name, set: func(raw json.RawMessage) string {
		if isNull(raw) {
			*dst = nil
			return ""
		}
		s, msg := decodeChecked(raw, check)
		if msg == "" {
			*dst = &s
		}
		return msg
	}}
}

// decodeChecked decodes a JSON string and validates it with check (if any):
// the value, or the message saying why it is refused.
func decodeChecked(raw json.RawMessage, check func(string) string) (string, string) {
	s, msg := decodeString(raw)
	if msg == "" && check != nil {
		msg = check(s)
	}
	return s, msg
}

// patchString puts a string member, when present, into patch (a JSON merge
// style patch the SQL function applies key by key). nullable says whether
// null (clear the value) is allowed.
func patchString(name string, nullable bool, patch map[string]any, check func(string) string) bodyField {
	return bodyField{name: name, set: func(raw json.RawMessage) string {
		if isNull(raw) {
			if !nullable {
				return "must not be null"
			}
			patch[name] = nil
			return ""
		}
		s, msg := decodeChecked(raw, check)
		if msg == "" {
			patch[name] = s
		}
		return msg
	}}
}

// decodePatch decodes a PATCH body into the jsonb patch passed to SQL: only
// the members present, each checked; an empty object is refused.
func decodePatch(r *http.Request, fields func(patch map[string]any) []bodyField) ([]byte, error) {
	patch := map[string]any{}
	if err := decodeBody(r, fields(patch)...); err != nil {
		return nil, err
	}
	if len(patch) == 0 {
		return nil, validationError(FieldError{"body", "must change at least one field"})
	}
	return json.Marshal(patch)
}
