package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
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

// docsCSP lets the docs page run its own scripts and styles (the vendored
// Swagger UI bundle and docs.js, all served from the binary), fetch
// /openapi.json, and nothing else: it works with no internet access.
// Swagger UI needs neither 'unsafe-eval' nor 'unsafe-inline' (it sets
// styles through the DOM, which style-src does not restrict); its SVG
// icons and the few images of its style sheet are data: URLs.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docsAssets are the files of the docs page, by URL path.
var docsAssets = map[string]struct{ file, contentType string }{
	"/docs":                                 {"index.html", "text/html; charset=utf-8"},
	"/docs/docs.js":                         {"docs.js", "text/javascript; charset=utf-8"},
	"/docs/docs.css":                        {"docs.css", "text/css; charset=utf-8"},
	"/docs/swagger-ui/swagger-ui-bundle.js": {"swagger-ui/swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
	"/docs/swagger-ui/swagger-ui.css":       {"swagger-ui/swagger-ui.css", "text/css; charset=utf-8"},
}

// GET /docs and its assets. Each answer carries an ETag (a hash of the
// embedded file), so a browser revalidates the 1.7 MB bundle instead of
// downloading it again.
func (s *Server) docsAsset(path string) http.HandlerFunc {
	a, ok := docsAssets[path]
	if !ok {
		panic("api: no docs asset " + path)
	}
	b, err := docsFS.ReadFile("docs/" + a.file)
	if err != nil { // embedded at build time: cannot happen
		panic("api: docs asset " + a.file + ": " + err.Error())
	}
	sum := sha256.Sum256(b)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		h.Set("Content-Security-Policy", docsCSP)
		http.ServeContent(w, r, a.file, time.Time{}, bytes.NewReader(b))
	}
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
