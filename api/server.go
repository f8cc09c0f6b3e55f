// Package api is rowguard's thin HTTP layer: it authenticates the caller,
// runs one SQL function per request inside a transaction that tells
// PostgreSQL who is asking (row-level security does the rest), and writes
// back the JSON PostgreSQL built. Errors are RFC 9457 problem documents.
//
// The routes, their bodies and every response are described by the
// embedded OpenAPI 3.1 document (openapi.json), served at /openapi.json and
// rendered at /docs.
package api

import (
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"

	"github.com/rowguard/rowguard/internal/oidc"
	"github.com/rowguard/rowguard/internal/password"
	"github.com/rowguard/rowguard/internal/token"
)

// Defaults applied by NewServer to zero Options fields.
const (
	DefaultMaxBodyBytes   = 1 << 20 // 1 MiB
	DefaultRequestTimeout = 10 * time.Second
	DefaultInvitationTTL  = 7 * 24 * time.Hour
)

// Options configure a Server. Tokens is required; the rest have defaults.
type Options struct {
	// Pool connects as the API's login role (NOBYPASSRLS, member of
	// rowguard_api). Nil: every database route answers 503 (useful only
	// for tests of the HTTP layer itself).
	Pool *pgxpool.Pool
	// Tokens issues and verifies access tokens.
	Tokens *token.Authority
	// Logger receives the access log and error details. Nil: slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes caps request bodies (413 beyond). Zero: DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// RequestTimeout bounds each request's work (504 beyond). Zero: DefaultRequestTimeout.
	RequestTimeout time.Duration
	// AcquireTimeout bounds the wait for a free database connection (503 beyond).
	// Zero: a fifth of RequestTimeout.
	AcquireTimeout time.Duration
	// Version is reported by /healthz.
	Version string
	// Passwords hashes and verifies passwords. Nil: password.Default().
	Passwords *password.Hasher
	// HashConcurrency bounds concurrent password hashes (each holds the
	// hash's memory cost). Zero: twice GOMAXPROCS.
	HashConcurrency int
	// Billing configures checkout and the payment provider's webhook.
	Billing BillingOptions
	// InvitationTTL is how long an invitation's token is valid. Zero: DefaultInvitationTTL.
	InvitationTTL time.Duration
	// InvitationTokensInResponses (development only, off by default) puts an
	// invitation's token in the create and resend answers too. The invitation then
	// records that its token was disclosed: accepting with it proves nothing about the
	// invitee's mailbox, so it needs an already verified email.
	InvitationTokensInResponses bool
	// SignIn configures the password-less ways in (email codes, password reset,
	// OpenID Connect).
	SignIn SignInOptions
	// Sessions bound sessions' lifetimes and the refresh-token reuse grace.
	Sessions SessionOptions
	// RateLimits bound sign-in attempts per client address and per account.
	RateLimits RateLimitOptions
	// TrustedProxies are the reverse proxies (load balancers) whose X-Forwarded-For
	// names the client: a request from one of them counts, and its session and log
	// line show, the rightmost forwarded address that is not itself a trusted proxy.
	// Empty: the client address is the TCP peer and forwarded headers are ignored.
	TrustedProxies []netip.Prefix
	// MetricsOnAPIPort serves GET /metrics on this handler too, for deployments with
	// one port only (ROWGUARD_MANAGEMENT_ADDR=api). False: only the management
	// handler (Management) serves it, and it is an unknown path (404) here.
	MetricsOnAPIPort bool
	// CORSAllowedOrigins are the origins (scheme://host[:port], as browsers send them)
	// whose scripts may call the API port (cors.go). Empty: no CORS headers at all, and
	// a preflight is an OPTIONS like any other (405). A wildcard panics.
	CORSAllowedOrigins []string
	// TracerProvider traces every request of the API port (tracing.go): a server span
	// named by its route, a child span for its database batch, the trace id in the
	// access log and in the audit rows the request writes. Nil: tracing is off, and
	// costs nothing. An incoming traceparent is continued only from TrustedProxies.
	TracerProvider trace.TracerProvider
	// Replica sends the routes openapi.json marks x-rowguard-replica-safe to a hot
	// standby when it can answer as the primary would (replica.go). Zero: no replica.
	Replica ReplicaOptions
}

// Route is one registered endpoint. Path is the template as documented in
// openapi.json, e.g. /v1/orgs/{org_id}.
type Route struct {
	Method string
	Path   string
	// Auth reports whether the route requires a bearer token.
	Auth bool
}

// Server is the HTTP handler of the API. Create it with NewServer.
type Server struct {
	pool       *pgxpool.Pool
	tokens     *token.Authority
	passwords  *password.Hasher
	logger     *slog.Logger
	version    string
	hashSlots  *hashSlots
	billing    BillingOptions
	inviteTTL  time.Duration
	signInOpts SignInOptions
	oidc       map[string]*oidc.Client
	sessions   SessionOptions
	limits     RateLimitOptions
	metrics    *metrics
	// replica is nil without a read replica (Options.Replica).
	replica *replicaRouter
	// tracer is nil when tracing is off (Options.TracerProvider).
	tracer trace.Tracer
	// proxies are Options.TrustedProxies: the peers whose traceparent is continued.
	proxies trustedProxies

	acquireTimeout time.Duration
	// discloseInvitationTokens: Options.InvitationTokensInResponses.
	discloseInvitationTokens bool
	// signInCodeKey keys the stored hashes of email sign-in codes (signInCodeHash):
	// derived from the token signing key, never sent to the database.
	signInCodeKey []byte
	// signUpCodeKey keys the stored hashes of sign-up codes (SignUpCodeHash).
	signUpCodeKey []byte
	// successors seals the successor a rotated refresh token keeps (refresh_seal.go),
	// with another key derived from the token signing key.
	successors successorSealer

	// api serves the API port; mgmt the management listener (Management).
	api, mgmt            *routeTable
	handler, mgmtHandler http.Handler
}

// routeTable is one listener's router and the routes registered on it.
type routeTable struct {
	router *mux.Router
	routes []registeredRoute
}

type registeredRoute struct {
	Route
	pathRE *regexp.Regexp
}

// newRouteTable is a router whose unknown paths answer 404 and wrong methods 405
// (with Allow) as problems, and which tells the access log the route template.
func (s *Server) newRouteTable() *routeTable {
	rt := &routeTable{router: mux.NewRouter()}
	rt.router.NotFoundHandler = http.HandlerFunc(s.notFound)
	rt.router.MethodNotAllowedHandler = http.HandlerFunc(rt.methodNotAllowed)
	rt.router.Use(recordRoute)
	return rt
}

// NewServer builds the API handler. It panics if opts.Tokens is nil.
func NewServer(opts Options) *Server {
	if opts.Tokens == nil {
		panic("api: Options.Tokens is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.AcquireTimeout <= 0 || opts.AcquireTimeout > opts.RequestTimeout {
		opts.AcquireTimeout = opts.RequestTimeout / 5
	}
	if opts.Passwords == nil {
		opts.Passwords = password.Default()
	}
	if opts.HashConcurrency <= 0 {
		opts.HashConcurrency = 2 * runtime.GOMAXPROCS(0)
	}
	if opts.InvitationTTL <= 0 {
		opts.InvitationTTL = DefaultInvitationTTL
	}
	opts.Sessions.setDefaults()
	opts.RateLimits.setDefaults()
	// Every replica signs with the same key, so every replica derives the same code key;
	// a new signing key voids the codes sent under the old one (10 minutes at most).
	codeKey, err := opts.Tokens.DeriveKey(signInCodeKeyInfo)
	if err != nil { // an Authority always holds an Ed25519 signing key
		panic("api: the sign-in code key: " + err.Error())
	}
	signUpKey, err := opts.Tokens.DeriveKey(signUpCodeKeyInfo)
	if err != nil {
		panic("api: the sign-up code key: " + err.Error())
	}
	successorKey, err := opts.Tokens.DeriveKey(refreshSuccessorKeyInfo)
	if err != nil {
		panic("api: the refresh successor key: " + err.Error())
	}
	successors, err := newSuccessorSealer(successorKey)
	if err != nil {
		panic("api: the refresh successor key: " + err.Error())
	}
	s := &Server{
		pool:       opts.Pool,
		tokens:     opts.Tokens,
		passwords:  opts.Passwords,
		logger:     opts.Logger,
		version:    opts.Version,
		hashSlots:  newHashSlots(opts.HashConcurrency),
		billing:    opts.Billing.withDefaults(),
		inviteTTL:  opts.InvitationTTL,
		signInOpts: opts.SignIn,
		oidc:       newOIDCClients(opts.SignIn.OIDC, opts.SignIn.OIDCLeeway),
		sessions:   opts.Sessions,
		limits:     opts.RateLimits,
		metrics:    newMetrics(opts.Pool, opts.Logger),
		replica:    newReplicaRouter(opts.Replica),

		acquireTimeout: opts.AcquireTimeout,
		signInCodeKey:  codeKey,
		signUpCodeKey:  signUpKey,

		discloseInvitationTokens: opts.InvitationTokensInResponses,
		successors:               successors,
		proxies:                  newTrustedProxies(opts.TrustedProxies),
	}
	if opts.TracerProvider != nil {
		s.tracer = opts.TracerProvider.Tracer(tracerName, trace.WithInstrumentationVersion(opts.Version))
	}
	s.api, s.mgmt = s.newRouteTable(), s.newRouteTable()
	s.routeAll(opts.MetricsOnAPIPort)
	s.routeManagement()
	cors := newCORSPolicy(opts.CORSAllowedOrigins, s.api)

	// Outermost first. These wrap the router itself, so 404 and 405
	// answers get a request id, a log line and the same headers.
	chain := func(rt *routeTable, log func(http.Handler) http.Handler, proxies trustedProxies, cors *corsPolicy) http.Handler {
		var h http.Handler = rt.router
		h = timeout(opts.RequestTimeout)(h)
		h = limitBody(opts.MaxBodyBytes)(h)
		h = s.recoverer(h)
		h = cors.handler(h)
		h = secureHeaders(h)
		h = log(h)
		return requestInfo(proxies)(h)
	}
	s.handler = chain(s.api, s.accessLog(listenerAPI), s.proxies, cors)
	// The management listener is reached by operators' tools directly, never through
	// the public proxies (X-Forwarded-For means nothing there), nor by browsers (no CORS).
	s.mgmtHandler = chain(s.mgmt, s.accessLog(listenerManagement), nil, nil)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Management is the handler of the management listener (ROWGUARD_MANAGEMENT_ADDR):
// GET /metrics, /healthz and /readyz, for operators' tools only. Its metrics are
// this Server's: they count the requests of the API handler (ServeHTTP), not the
// management handler's own (scrapes and probes), which are logged at debug level
// only (failures: as on the API port). Any other path is a 404 problem.
func (s *Server) Management() http.Handler { return s.mgmtHandler }

// Routes lists every endpoint of the API handler, in registration order.
func (s *Server) Routes() []Route { return s.api.list() }

// ManagementRoutes lists every endpoint of the Management handler.
func (s *Server) ManagementRoutes() []Route { return s.mgmt.list() }

func (rt *routeTable) list() []Route {
	out := make([]Route, len(rt.routes))
	for i, r := range rt.routes {
		out[i] = r.Route
	}
	return out
}

// routeManagement registers the management listener's routes: nothing there needs a
// token or touches tenant data (openapi.json documents them under that listener's
// server).
func (s *Server) routeManagement() {
	const public = false
	s.mgmt.add(http.MethodGet, "/metrics", http.HandlerFunc(s.metricsPage), public)
	s.mgmt.add(http.MethodGet, "/healthz", http.HandlerFunc(s.healthz), public)
	s.mgmt.add(http.MethodGet, "/readyz", http.HandlerFunc(s.readyz), public)
}

func (s *Server) routeAll(metricsOnAPIPort bool) {
	const public, private = false, true

	s.handle(http.MethodGet, "/healthz", s.healthz, public)
	s.handle(http.MethodGet, "/readyz", s.readyz, public)
	s.handle(http.MethodGet, "/openapi.json", s.openapi, public)
	for _, path := range []string{"/docs", "/docs/docs.js", "/docs/docs.css",
		"/docs/swagger-ui/swagger-ui-bundle.js", "/docs/swagger-ui/swagger-ui.css"} {
		s.handle(http.MethodGet, path, s.docsAsset(path), public)
	}

	s.handle(http.MethodPost, "/v1/auth/register", s.register, public)
	s.handle(http.MethodPost, "/v1/auth/register/verify", s.verifySignUp, public)
	s.handle(http.MethodPost, "/v1/auth/login", s.login, public)
	s.handle(http.MethodGet, "/v1/auth/me", s.me, private)
	s.handle(http.MethodDelete, "/v1/auth/me", s.deleteMe, private)
	s.handle(http.MethodPost, "/v1/auth/restore", s.restoreAccount, public)

	s.handle(http.MethodGet, "/v1/orgs", s.listOrganizations, private)
	s.handle(http.MethodPost, "/v1/orgs", s.createOrganization, private)
	s.handle(http.MethodGet, "/v1/orgs/deleted", s.listDeletedOrganizations, private)
	s.handle(http.MethodGet, "/v1/orgs/{org_id}", s.getOrganization, private)
	s.handle(http.MethodPatch, "/v1/orgs/{org_id}", s.updateOrganization, private)
	s.handle(http.MethodDelete, "/v1/orgs/{org_id}", s.deleteOrganization, private)
	s.handle(http.MethodPost, "/v1/orgs/{org_id}/restore", s.restoreOrganization, private)
	s.handle(http.MethodPost, "/v1/orgs/{org_id}/export", s.exportOrganization, private)
	s.handle(http.MethodGet, "/v1/orgs/{org_id}/members", s.listMembers, private)

	s.handle(http.MethodGet, "/v1/orgs/{org_id}/projects", s.listProjects, private)
	s.handle(http.MethodPost, "/v1/orgs/{org_id}/projects", s.createProject, private)
	s.handle(http.MethodGet, "/v1/orgs/{org_id}/projects/{project_id}", s.getProject, private)
	s.handle(http.MethodPatch, "/v1/orgs/{org_id}/projects/{project_id}", s.updateProject, private)
	s.handle(http.MethodDelete, "/v1/orgs/{org_id}/projects/{project_id}", s.deleteProject, private)
	s.routeServices()
	s.routeBookings()
	s.routeBilling()
	s.routePlatformAdmin()

	s.routeRBAC()

	s.routeSignIn()
	s.routeSessions()
	s.routeAudit()
	if metricsOnAPIPort {
		s.handle(http.MethodGet, "/metrics", s.metricsPage, public)
	}
	s.routeFinance()
}

// idVar matches the path variables that hold ids ({org_id}, {project_id}, {session_id}, ...).
var idVar = regexp.MustCompile(`\{([a-z_]+_id)\}`)

// handle registers h on the API handler for method and a path template.
func (s *Server) handle(method, path string, h http.HandlerFunc, auth bool) {
	if auth {
		h = s.authenticate(h)
	}
	if replicaSafeRoutes[method+" "+path] {
		h = markReplicaSafe(h)
	}
	s.api.add(method, path, h, auth)
}

// add registers h for method and a path template. Id variables only match
// canonical UUIDs, so any other value is a 404 before any handler runs. A GET route
// answers HEAD too (headAsGet); Routes lists it as GET only, as openapi.json does.
func (rt *routeTable) add(method, path string, h http.Handler, auth bool) {
	pattern := idVar.ReplaceAllString(path, `{$1:`+uuidPattern+`}`)
	methods := []string{method}
	if method == http.MethodGet {
		methods, h = append(methods, http.MethodHead), headAsGet(h)
	}
	// Path before Methods: gorilla/mux v1.8.1 forgets a method mismatch when a later
	// route with the same method fails on its path, and answers 404 instead of 405.
	// Before the path, its shape (route_shape.go): most routes are passed over without
	// running their regexp.
	var pathRE *regexp.Regexp // set below, before the router serves
	route := rt.router.NewRoute()
	if shape, ok := newPathShape(path); ok {
		route = route.MatcherFunc(shape.matcher(&pathRE))
	}
	route = route.Path(pattern).Methods(methods...).Handler(h).Name(path)
	re, err := route.GetPathRegexp()
	if err != nil {
		panic("api: route " + path + ": " + err.Error())
	}
	pathRE = regexp.MustCompile(re)
	rt.routes = append(rt.routes, registeredRoute{
		Route:  Route{Method: method, Path: path, Auth: auth},
		pathRE: pathRE,
	})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, r, newError(ProblemNotFound, "No resource lives at this path."))
}

// match returns the template of the routes serving path and their methods in
// registration order (HEAD after GET); none when no route has that path.
func (rt *routeTable) match(path string) (tmpl string, methods []string) {
	for _, route := range rt.routes {
		if route.pathRE.MatchString(path) {
			tmpl = route.Path
			methods = append(methods, route.Method)
			if route.Method == http.MethodGet {
				methods = append(methods, http.MethodHead)
			}
		}
	}
	return tmpl, methods
}

// methodNotAllowed answers a known path asked with the wrong method, and
// lists the right ones in Allow.
func (rt *routeTable) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	_, allow := rt.match(r.URL.Path)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeProblem(w, r, newError(ProblemMethodNotAllowed,
		"This path accepts "+strings.Join(allow, ", ")+"."))
}
