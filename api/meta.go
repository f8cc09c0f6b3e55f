package api

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"net/http"
	"time"
)

//go:embed openapi.json
var openapiJSON []byte

//go:embed docs
var docsFS embed.FS

// openapiCompact is the document as /openapi.json serves it: compact, like every
// answer (the file stays indented for people reading the repository).
var openapiCompact = func() []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, openapiJSON); err != nil {
		panic("api: openapi.json is not valid JSON: " + err.Error())
	}
	return b.Bytes()
}()

// OpenAPI returns the OpenAPI 3.1 document as /openapi.json serves it.
func OpenAPI() []byte {
	return append([]byte(nil), openapiCompact...)
}

// readyTimeout bounds the database ping of /readyz.
const readyTimeout = 2 * time.Second

// GET /healthz: the process is up and serving. Never touches the database,
// so a database outage does not get the process restarted.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.version})
}

// GET /readyz: the database answers, so requests can be served.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.pool == nil {
		s.fail(w, r, errNoPool)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		s.log(r).Warn("readiness check failed", "error", err.Error())
		writeProblem(w, r, newError(ProblemUnavailable, "The database is not reachable."))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// GET /openapi.json
func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	h.Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(openapiCompact)
}

// docsCSP lets the docs page run its own script and style, fetch
// /openapi.json, and nothing else: it works with no internet access.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// GET /docs
func (s *Server) docsPage(w http.ResponseWriter, r *http.Request) {
	s.serveDoc(w, "index.html", "text/html; charset=utf-8")
}

// GET /docs/docs.js, /docs/docs.css
func (s *Server) docsAsset(name, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.serveDoc(w, name, contentType) }
}

func (s *Server) serveDoc(w http.ResponseWriter, name, contentType string) {
	b, err := docsFS.ReadFile("docs/" + name)
	if err != nil { // embedded at build time: cannot happen
		http.Error(w, "missing asset", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", docsCSP)
	_, _ = w.Write(b)
}

// writeJSON encodes v (built in Go: health answers, sign-in results).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
