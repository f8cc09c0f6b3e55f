// Package apitest checks HTTP responses against the API's embedded
// OpenAPI 3.1 document, so tests fail when the server and its published
// contract drift apart.
//
// Schemas are compiled with github.com/santhosh-tekuri/jsonschema/v6 as
// JSON Schema draft 2020-12 (the dialect of OpenAPI 3.1), with format
// assertions on (uuid, date-time, email, uri ... are checked, not just
// annotations).
//
//	resp, _ := http.Get(srv.URL + "/v1/orgs/" + id)
//	apitest.Validate(t, resp, "/v1/orgs/{org_id}")
package apitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rowguard/rowguard/api"
)

// docURL is the base URL the document is registered under; $refs inside
// it ("#/components/...") resolve against it.
const docURL = "https://rowguard.dev/openapi.json"

// Spec is a parsed OpenAPI document with compiled response schemas.
type Spec struct {
	doc      map[string]any
	compiler *jsonschema.Compiler

	mu      sync.Mutex
	schemas map[string]*jsonschema.Schema // by JSON pointer
}

var (
	defaultOnce sync.Once
	defaultSpec *Spec
	defaultErr  error
)

// Default returns the Spec of api.OpenAPI(), parsed once.
func Default() (*Spec, error) {
	defaultOnce.Do(func() { defaultSpec, defaultErr = Load(api.OpenAPI()) })
	return defaultSpec, defaultErr
}

// Load parses an OpenAPI 3.1 document.
func Load(openapiJSON []byte) (*Spec, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(openapiJSON))
	if err != nil {
		return nil, fmt.Errorf("apitest: parsing OpenAPI document: %w", err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("apitest: OpenAPI document is not an object")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(docURL, doc); err != nil {
		return nil, fmt.Errorf("apitest: %w", err)
	}
	return &Spec{doc: m, compiler: c, schemas: map[string]*jsonschema.Schema{}}, nil
}

// Operations lists every documented operation as "METHOD /path/template",
// sorted.
func (s *Spec) Operations() []string {
	var out []string
	paths, _ := s.doc["paths"].(map[string]any)
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				out = append(out, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(out)
	return out
}

// The listeners an operation may be served on (OperationsOn).
const (
	// ListenerAPI is the API port: the server "/" (this server).
	ListenerAPI = "api"
	// ListenerManagement is the management listener (ROWGUARD_MANAGEMENT_ADDR): the
	// server whose URL holds the variable management_addr.
	ListenerManagement = "management"
)

// OperationsOn lists, sorted, the documented operations served on listener: those
// whose path item's servers (else the document's) include that listener's server.
func (s *Spec) OperationsOn(listener string) []string {
	var out []string
	paths, _ := s.doc["paths"].(map[string]any)
	for _, op := range s.Operations() {
		_, path, _ := strings.Cut(op, " ")
		item, _ := paths[path].(map[string]any)
		servers, ok := item["servers"].([]any)
		if !ok {
			servers, _ = s.doc["servers"].([]any)
		}
		for _, sv := range servers {
			sv, _ := sv.(map[string]any)
			vars, _ := sv["variables"].(map[string]any)
			_, mgmt := vars["management_addr"]
			if (listener == ListenerAPI && sv["url"] == "/") || (listener == ListenerManagement && mgmt) {
				out = append(out, op)
				break
			}
		}
	}
	return out
}

// ResponseSpec is the documented response for a status: the response
// object's location and its content media types.
type ResponseSpec struct {
	// Pointer is the JSON pointer of the (dereferenced) response object.
	Pointer string
	// Content maps media type to the JSON pointer of its schema.
	Content map[string]string
}

// Response finds the documented response of an operation for status,
// falling back to "default".
func (s *Spec) Response(method, route string, status int) (ResponseSpec, error) {
	opPtr := "/paths/" + escape(route) + "/" + strings.ToLower(method)
	op, ok := s.at(opPtr).(map[string]any)
	if !ok {
		return ResponseSpec{}, fmt.Errorf("apitest: %s %s is not documented", method, route)
	}
	responses, _ := op["responses"].(map[string]any)
	key := strconv.Itoa(status)
	if _, ok := responses[key]; !ok {
		key = "default"
		if _, ok := responses[key]; !ok {
			return ResponseSpec{}, fmt.Errorf("apitest: %s %s documents no %d (and no default) response", method, route, status)
		}
	}
	ptr := opPtr + "/responses/" + escape(key)
	resp, ptr, err := s.deref(ptr)
	if err != nil {
		return ResponseSpec{}, err
	}
	rs := ResponseSpec{Pointer: ptr, Content: map[string]string{}}
	content, _ := resp["content"].(map[string]any)
	for mt := range content {
		rs.Content[mt] = ptr + "/content/" + escape(mt) + "/schema"
	}
	return rs, nil
}

// ValidateBody checks body against the schema documented for the
// operation, status and media type. For a response documented without
// content the body must be empty.
func (s *Spec) ValidateBody(method, route string, status int, contentType string, body []byte) error {
	rs, err := s.Response(method, route, status)
	if err != nil {
		return err
	}
	if len(rs.Content) == 0 {
		if len(body) != 0 {
			return fmt.Errorf("apitest: %s %s %d is documented without a body, got %d bytes", method, route, status, len(body))
		}
		return nil
	}
	mt := contentType
	if mt != "" {
		if parsed, _, err := mime.ParseMediaType(contentType); err == nil {
			mt = parsed
		}
	}
	schemaPtr, ok := rs.Content[mt]
	if !ok {
		var documented []string
		for k := range rs.Content {
			documented = append(documented, k)
		}
		sort.Strings(documented)
		return fmt.Errorf("apitest: %s %s %d: content type %q not documented (documented: %s)",
			method, route, status, contentType, strings.Join(documented, ", "))
	}
	if !strings.HasSuffix(mt, "json") {
		return nil // text/html, css, js: nothing to validate structurally
	}
	sch, err := s.schema(schemaPtr)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("apitest: %s %s %d: body is not JSON: %v\n%s", method, route, status, err, body)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("apitest: %s %s %d: body does not match %s:\n%v\nbody: %s", method, route, status, schemaPtr, err, body)
	}
	return nil
}

func (s *Spec) schema(ptr string) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.schemas[ptr]; ok {
		return sch, nil
	}
	sch, err := s.compiler.Compile(docURL + "#" + ptr)
	if err != nil {
		return nil, fmt.Errorf("apitest: compiling %s: %w", ptr, err)
	}
	s.schemas[ptr] = sch
	return sch, nil
}

// deref follows an OpenAPI Reference Object ({"$ref": "#/..."}) chain.
func (s *Spec) deref(ptr string) (map[string]any, string, error) {
	for range 10 {
		obj, ok := s.at(ptr).(map[string]any)
		if !ok {
			return nil, ptr, fmt.Errorf("apitest: nothing at %s", ptr)
		}
		ref, ok := obj["$ref"].(string)
		if !ok {
			return obj, ptr, nil
		}
		if !strings.HasPrefix(ref, "#") {
			return nil, ptr, fmt.Errorf("apitest: external $ref %q not supported", ref)
		}
		ptr = strings.TrimPrefix(ref, "#")
	}
	return nil, ptr, fmt.Errorf("apitest: $ref chain too long at %s", ptr)
}

// at resolves a JSON pointer in the document.
func (s *Spec) at(ptr string) any {
	var cur any = s.doc
	if ptr == "" {
		return cur
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch v := cur.(type) {
		case map[string]any:
			cur = v[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil
			}
			cur = v[i]
		default:
			return nil
		}
	}
	return cur
}

func escape(tok string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}

func mustDefault(t testing.TB) *Spec {
	t.Helper()
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ValidateResponse fails t unless body is what openapi.json documents for
// method on routeTemplate (e.g. "/v1/orgs/{org_id}") answering status. The
// media type is the one documented (problem+json for errors, application/
// json otherwise); use Validate to also check the Content-Type header.
func ValidateResponse(t testing.TB, method, routeTemplate string, status int, body []byte) {
	t.Helper()
	s := mustDefault(t)
	rs, err := s.Response(method, routeTemplate, status)
	if err != nil {
		t.Fatal(err)
		return
	}
	ct := ""
	for mt := range rs.Content {
		if ct == "" || mt == api.ProblemContentType || (mt == "application/json" && ct != api.ProblemContentType) {
			ct = mt
		}
	}
	if err := s.ValidateBody(method, routeTemplate, status, ct, body); err != nil {
		t.Error(err)
	}
}

// Validate checks a live response (status, Content-Type and body) against
// openapi.json for routeTemplate, the method coming from resp.Request. It
// reads resp.Body and replaces it with a fresh reader over the same bytes,
// so the caller can still decode it. It returns the body.
func Validate(t testing.TB, resp *http.Response, routeTemplate string) []byte {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatalf("apitest: reading body: %v", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	method := http.MethodGet
	if resp.Request != nil {
		method = resp.Request.Method
	}
	if err := mustDefault(t).ValidateBody(method, routeTemplate, resp.StatusCode, resp.Header.Get("Content-Type"), body); err != nil {
		t.Error(err)
	}
	if resp.Header.Get(api.RequestIDHeader) == "" {
		t.Errorf("apitest: %s %s %d: no %s header", method, routeTemplate, resp.StatusCode, api.RequestIDHeader)
	}
	return body
}

// DecodeProblem decodes a problem document, failing t if body is not one.
func DecodeProblem(t testing.TB, body []byte) api.Problem {
	t.Helper()
	var p api.Problem
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("apitest: not a problem document: %v\n%s", err, body)
	}
	return p
}
