package api

import (
	"net/http"
	"strconv"
	"strings"
)

// CORS (Fetch standard, "CORS protocol"): lets a browser front end on another origin
// call the API. Off unless Options.CORSAllowedOrigins lists origins; then:
//
//   - every answer carries Vary: Origin (caches keep one copy per origin);
//   - a request from a listed origin gets Access-Control-Allow-Origin: <that origin>
//     and Access-Control-Expose-Headers (the headers a script needs to read);
//   - a preflight (OPTIONS with Origin and Access-Control-Request-Method) from a listed
//     origin to a known path answers 204 with the path's methods, the request headers
//     the API reads and a Max-Age; to an unknown path, the router's 404;
//   - a preflight from any other origin answers a 403 problem without CORS headers (the
//     browser then refuses the request it was asked about), and any other request from
//     it is served as usual, without CORS headers: the browser withholds the answer from
//     the page. Refusing those outright would break same-origin pages (the docs page),
//     whose POSTs carry an Origin too, and protect nothing: the API authenticates with a
//     bearer token, which a browser never attaches on its own.
//
// Access-Control-Allow-Credentials is never sent (the API reads no cookie a script's
// request would carry), and Access-Control-Allow-Origin is never "*" for the API's own
// answers (only /openapi.json, a public document, says "*", and did before).
type corsPolicy struct {
	origins map[string]bool
	routes  *routeTable
}

const (
	// corsAllowHeaders are the request headers the API reads from a script: the token,
	// the body's type, the finance preconditions and the client's own request id.
	corsAllowHeaders = "Authorization, Content-Type, If-Match, Idempotency-Key, " + RequestIDHeader
	// corsExposeHeaders are the response headers beyond the CORS-safelisted ones
	// (Content-Type, Content-Length, Cache-Control, ...) that a script may read.
	corsExposeHeaders = "ETag, Location, Retry-After, Allow, WWW-Authenticate, " + RequestIDHeader
	// corsMaxAge is how long (seconds) a browser may reuse a preflight's answer: 2 hours,
	// Chromium's ceiling.
	corsMaxAge = 7200
)

// newCORSPolicy returns the policy for origins (serialized origins, as config reads
// ROWGUARD_CORS_ALLOWED_ORIGINS), nil when there are none. It panics on a wildcard or
// "null", which no configuration may allow.
func newCORSPolicy(origins []string, routes *routeTable) *corsPolicy {
	if len(origins) == 0 {
		return nil
	}
	p := &corsPolicy{origins: map[string]bool{}, routes: routes}
	for _, o := range origins {
		if strings.Contains(o, "*") || o == "null" || !strings.Contains(o, "://") {
			panic("api: CORS origin " + strconv.Quote(o) + " is not an origin such as https://app.example.com")
		}
		p.origins[o] = true
	}
	return p
}

// handler wraps next with the policy; a nil policy is no CORS at all.
func (p *corsPolicy) handler(next http.Handler) http.Handler {
	if p == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		origins := r.Header.Values("Origin")
		preflight := r.Method == http.MethodOptions && len(origins) > 0 &&
			r.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			h.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
		} else {
			h.Add("Vary", "Origin")
		}
		// One Origin, listed exactly (browsers send one, lower-case, without a default port).
		allowed := len(origins) == 1 && p.origins[origins[0]]
		if !preflight {
			if allowed {
				h.Set("Access-Control-Allow-Origin", origins[0])
				h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			}
			next.ServeHTTP(w, r)
			return
		}
		tmpl, methods := p.routes.match(r.URL.Path)
		if info := infoFrom(r.Context()); info != nil {
			info.route = tmpl
		}
		if !allowed {
			writeProblem(w, r, newError(ProblemForbidden,
				"This origin may not call the API from a browser: it is not one of the server's allowed origins."))
			return
		}
		h.Set("Access-Control-Allow-Origin", origins[0])
		if len(methods) == 0 {
			next.ServeHTTP(w, r) // no such path: the router's 404
			return
		}
		h.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", strconv.Itoa(corsMaxAge))
		w.WriteHeader(http.StatusNoContent)
	})
}
