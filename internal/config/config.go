// Package config reads rowguard's settings from environment variables (envconfig) and
// validates them once, at start, with messages that name the offending variable.
package config

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rowguard/rowguard/internal/mail"
	"github.com/rowguard/rowguard/internal/oidc"
	"github.com/rowguard/rowguard/internal/token"
	"github.com/rowguard/rowguard/internal/tracing"
)

// DevKeyFile is the development signing key's file name inside the data directory.
const DevKeyFile = "jwt-ed25519.pem"

// Variable documents one environment variable.
type Variable struct {
	Name    string
	Default string
	Meaning string
}

// Variables lists every variable rowguard reads, for `rowguard help` and
// docs/configuration.md (a test holds that table to this list).
var Variables = []Variable{
	{"DATABASE_URL", "(unset: development mode)", "PostgreSQL URL the server logs in with: a role that is NOSUPERUSER, NOBYPASSRLS, owns nothing and is a member of rowguard_api. Unset: `rowguard serve` starts a private cluster in ROWGUARD_DATA_DIR, migrates it and uses the login role rowguard_app."},
	{"ROWGUARD_READ_DATABASE_URL", "(unset: the primary answers everything)", "PostgreSQL URL of a hot standby (streaming replica) of DATABASE_URL's primary, as the same serving role: the lists and analytics that openapi.json marks x-rowguard-replica-safe are read there once it has replayed the primary's WAL up to the position read when the request arrived (read-your-writes and revocations hold across instances). Down, promoted, lagging or behind: the primary answers. See docs/scaling.md#read-replicas."},
	{"ROWGUARD_READ_MAX_LAG", "1s", "A read replica whose replay lag (measured every 0.5 s while requests want it) is above this is not asked, 10ms to 1h."},
	{"ROWGUARD_READ_REPLAY_WAIT", "50ms", "Longest wait of a request on the read replica for it to replay up to the primary's position; beyond it the primary answers. 0s to 1s (0s: one look, no wait)."},
	{"MIGRATION_DATABASE_URL", "DATABASE_URL", "PostgreSQL URL `rowguard migrate` uses: the owner of the rowguard objects or a superuser (the first run creates the roles, so it needs CREATEROLE)."},
	{"ROWGUARD_ADDR", "127.0.0.1:8080", "host:port the HTTP server listens on."},
	{"ROWGUARD_MANAGEMENT_ADDR", "127.0.0.1:9464", "host:port of the management listener, for operators' tools only: GET /metrics (Prometheus), /healthz and /readyz (these two stay on ROWGUARD_ADDR too). /metrics is then not served on ROWGUARD_ADDR (404). `off`: no management listener, /metrics is served nowhere. `api`: no management listener, /metrics is served on ROWGUARD_ADDR (one port only; keep it from the public at your proxy). Must differ from ROWGUARD_ADDR."},
	{"ROWGUARD_DATA_DIR", ".rowguard", "Development mode only: holds the private PostgreSQL cluster (postgres/) and the generated signing key (" + DevKeyFile + ")."},
	{"ROWGUARD_JWT_PRIVATE_KEY", "(generated in development mode)", "Ed25519 private key signing access tokens, PEM PKCS#8 (`openssl genpkey -algorithm ed25519`); `\\n` escapes are accepted. Several PEM blocks make a key ring: the last one signs, all of them verify (and are published at /.well-known/jwks.json), so a key rotates without signing anyone out: append the new key, remove the old one an access-token lifetime later. The signing key also keys the email sign-in code hashes (HKDF): a new one voids the codes sent in the last 10 minutes. Required when DATABASE_URL is set, unless ROWGUARD_JWT_PRIVATE_KEY_FILE is."},
	{"ROWGUARD_JWT_PRIVATE_KEY_FILE", "", "Path of a file holding that key (or key ring) instead (e.g. a mounted secret). Not both."},
	{"ROWGUARD_JWT_KEY_ID", "RFC 7638 thumbprint of the key", "`kid` header of issued tokens (the signing key's; older keys of a ring keep their thumbprint)."},
	{"ROWGUARD_JWT_ISSUER", "rowguard", "`iss` claim: issued and required."},
	{"ROWGUARD_JWT_AUDIENCE", "rowguard-api", "`aud` claim: issued and required."},
	{"ROWGUARD_ACCESS_TOKEN_TTL", "15m", "Lifetime of an access token, 1m to 24h."},
	{"ROWGUARD_TOKEN_LEEWAY", "30s", "Clock skew tolerated on exp/nbf/iat, 0s to 5m."},
	{"ROWGUARD_SESSION_LIFETIME", "720h", "Absolute lifetime of a session (no refresh extends it), 1h to 8760h."},
	{"ROWGUARD_SESSION_IDLE_TIMEOUT", "168h", "A session unused for this long ends (checked in SQL on every request and refresh), 5m to ROWGUARD_SESSION_LIFETIME."},
	{"ROWGUARD_REFRESH_REUSE_GRACE", "10s", "How long a rotated refresh token may still be presented (several tabs refreshing at once) before it counts as reused and revokes its session, 0s to 5m."},
	{"ROWGUARD_RATE_LIMIT_LOGIN_ADDRESS", "50/15m", "Login attempts per client address (an IPv6 address counts as its /64): <max>/<window>. Over it: 429 with Retry-After. Counted in PostgreSQL, so shared by every replica."},
	{"ROWGUARD_RATE_LIMIT_LOGIN_ACCOUNT_ADDRESS", "10/15m", "Failed sign-ins (wrong password or email code) per email and client address."},
	{"ROWGUARD_RATE_LIMIT_LOGIN_ACCOUNT", "30/15m", "Failed sign-ins per email from client addresses its account never signed in from (an address it signed in from is never held by this limit)."},
	{"ROWGUARD_RATE_LIMIT_REFRESH_ADDRESS", "300/15m", "Refreshes per client address."},
	{"ROWGUARD_RATE_LIMIT_REFRESH_ACCOUNT", "60/15m", "Refreshes per user."},
	{"ROWGUARD_RATE_LIMIT_PASSWORD_ACCOUNT", "10/15m", "Password-change attempts per signed-in user."},
	{"ROWGUARD_RATE_LIMIT_SIGN_IN_ADDRESS", "50/15m", "Email-code, password-reset and OpenID Connect requests per client address."},
	{"ROWGUARD_RATE_LIMIT_SIGN_UP_ADDRESS", "20/1h", "Sign-ups (POST /v1/auth/register) per client address."},
	{"ROWGUARD_RATE_LIMIT_SIGN_UP_ACCOUNT", "5/1h", "Sign-ups per email address signed up (each sends that address an email)."},
	{"ROWGUARD_RATE_LIMIT_EMAIL_ACCOUNT_ADDRESS", "5/15m", "Sign-in codes and reset emails asked for, per email and client address (while one is live, asking again sends nothing)."},
	{"ROWGUARD_PASSWORD_MEMORY_KIB", "19456", "Argon2id memory cost of new password hashes, in KiB (8192 to 1048576). Each concurrent login holds this much memory; see docs/benchmarks.md for the latency it costs."},
	{"ROWGUARD_PASSWORD_ITERATIONS", "2", "Argon2id time cost (passes), 1 to 16."},
	{"ROWGUARD_PASSWORD_PARALLELISM", "1", "Argon2id lanes per hash, 1 to 16."},
	{"ROWGUARD_MAX_BODY_BYTES", "1MiB", "Largest request body accepted (bytes, or with KiB/MiB/KB/MB), 1KiB to 64MiB; larger → 413."},
	{"ROWGUARD_REQUEST_TIMEOUT", "10s", "Time limit of one request, database work included, 1s to 10m; exceeded → 503/504."},
	{"ROWGUARD_LOG_LEVEL", "info", "debug, info, warn or error (JSON logs on stderr)."},
	{"ROWGUARD_POOL_ACQUIRE_TIMEOUT", "a fifth of ROWGUARD_REQUEST_TIMEOUT", "Longest wait of a request for a free database connection, 10ms up to ROWGUARD_REQUEST_TIMEOUT; exceeded → 503 (every connection busy)."},
	{"ROWGUARD_PAYMENT_API_URL", "https://api.stripe.com", "Base URL of the payment provider's Stripe-compatible API (checkout sessions)."},
	{"ROWGUARD_PAYMENT_API_KEY", "(unset: checkout answers 503)", "Secret API key of the payment provider, sent as a bearer token."},
	{"ROWGUARD_PAYMENT_WEBHOOK_SECRET", "(unset: the webhook answers 503)", "Signing secret of the provider's webhook (Stripe: whsec_…): POST /v1/billing/webhook accepts only bodies whose Stripe-Signature HMAC it verifies, at most 5 minutes old."},
	{"ROWGUARD_CHECKOUT_RETURN_URL", "", "Absolute http(s) URL the provider sends the buyer back to, with ?checkout=success or ?checkout=cancel appended. Required with ROWGUARD_PAYMENT_API_KEY."},
	{"ROWGUARD_INVITATION_TTL", "168h", "How long an invitation (and each resent token) stays valid, 1h to 720h (30 days)."},
	{"ROWGUARD_DEV_INVITATION_TOKENS_IN_RESPONSES", "false", "Development only: `true` puts an invitation's token in the create and resend answers too (by default it goes by email only). The invitation records the disclosure, and accepting with a disclosed token needs an already verified email: it proves nothing about the mailbox."},
	{"ROWGUARD_SMTP_HOST", "(unset: emails are logged)", "SMTP server that delivers the email outbox (sign-in codes, password resets). Unset: each email, body included, is written to the log instead (development only: the log then holds sign-in codes)."},
	{"ROWGUARD_SMTP_PORT", "587", "SMTP port, 1 to 65535."},
	{"ROWGUARD_SMTP_TLS", "starttls", "`starttls` (upgrade required, port 587), `tls` (implicit TLS, port 465) or `none` (plain text: a relay on the same host only)."},
	{"ROWGUARD_SMTP_USERNAME", "", "SMTP AUTH PLAIN user; unset: no authentication."},
	{"ROWGUARD_SMTP_PASSWORD", "", "SMTP AUTH PLAIN password (sent only over TLS or to localhost)."},
	{"ROWGUARD_OTP_SIGNUP", "false", "`true`: an email sign-in code to an unknown address creates the account when it is verified. `false`: codes go to existing accounts only (the answer is 202 either way)."},
	{"ROWGUARD_PASSWORD_RESET_URL", "", "Page of your front end that a password reset email links to; the token is appended as the fragment `#token=…` (never sent to a server). Unset: the email carries the bare token for POST /v1/auth/password/reset."},
	{"ROWGUARD_PUBLIC_URL", "", "This API's base URL as browsers reach it (e.g. https://api.example.com). Required with any OpenID Connect provider: each redirects to <ROWGUARD_PUBLIC_URL>/v1/auth/oidc/<name>/callback, which you register at the provider."},
	{"ROWGUARD_OIDC_GOOGLE_CLIENT_ID", "", "Enables sign-in with Google (provider name `google`, issuer https://accounts.google.com): the OAuth client id from the Google Cloud console."},
	{"ROWGUARD_OIDC_GOOGLE_CLIENT_SECRET", "", "That client's secret."},
	{"ROWGUARD_OIDC_PROVIDERS", "", "Other OpenID Connect providers, as JSON: `[{\"name\":\"okta\",\"issuer\":\"https://example.okta.com\",\"client_id\":\"…\",\"client_secret\":\"…\",\"scopes\":[\"email\"]}]` (name: lower-case letters, digits, dashes; scopes default to email profile)."},
	{"ROWGUARD_MAIL_FROM", "rowguard <no-reply@localhost>", "From address of every email, with an optional display name."},
	{"ROWGUARD_TRUSTED_PROXIES", "(unset: X-Forwarded-For is ignored)", "Your reverse proxies and load balancers: comma-separated IP addresses and CIDRs, e.g. 10.0.0.0/8,127.0.0.1,::1. For a request from one of them, the client address (per-address rate limits, a session's ip, the access log) is the right-most X-Forwarded-For address that is not one of them. From any other peer X-Forwarded-For is ignored; Forwarded (RFC 7239) is never read. List only addresses clients cannot connect from."},
	{"ROWGUARD_CORS_ALLOWED_ORIGINS", "(unset: no CORS)", "Origins of the browser front ends that may call the API from another origin: comma-separated, exact, scheme://host[:port], e.g. https://app.example.com,http://localhost:5173. Their requests (and preflights) get Access-Control-* answers; any other origin gets none. No wildcard: `*` is refused."},
	{"OTEL_EXPORTER_OTLP_ENDPOINT", "(unset: no tracing)", "OpenTelemetry (the specification's variable, not rowguard's): base URL of an OTLP/HTTP receiver such as a collector, e.g. http://otel-collector:4318; spans go to <it>/v1/traces. Setting it (or the next one, or OTEL_TRACES_EXPORTER=otlp) turns tracing on: one server span per request named by its route, a child span for its database batch, the trace id in the access log (trace_id) and in the audit rows the request writes. An incoming traceparent is continued only from ROWGUARD_TRUSTED_PROXIES. The exporter also reads OTEL_EXPORTER_OTLP_[TRACES_]HEADERS, _TIMEOUT, _COMPRESSION and _CERTIFICATE, the batch processor OTEL_BSP_*."},
	{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "(unset)", "The full URL spans are sent to (e.g. http://otel-collector:4318/v1/traces), instead of the base URL above."},
	{"OTEL_TRACES_EXPORTER", "otlp when an endpoint is set", "`otlp` turns tracing on (endpoint default http://localhost:4318); `none` turns it off whatever else is set. No other exporter is built in."},
	{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "OTLP transport (also OTEL_EXPORTER_OTLP_TRACES_PROTOCOL). Only http/protobuf is built in: grpc or http/json stop the start."},
	{"OTEL_SERVICE_NAME", "rowguard", "service.name of the spans (OTEL_RESOURCE_ATTRIBUTES may name it too; this wins)."},
	{"OTEL_RESOURCE_ATTRIBUTES", "", "More resource attributes of the spans, key=value pairs separated by commas, e.g. deployment.environment.name=production,service.instance.id=api-1."},
	{"OTEL_TRACES_SAMPLER", "parentbased_always_on", "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio (with OTEL_TRACES_SAMPLER_ARG, a ratio from 0 to 1)."},
	{"OTEL_TRACES_SAMPLER_ARG", "1.0", "The sampling ratio of the *traceidratio samplers, 0 to 1."},
	{"OTEL_SDK_DISABLED", "false", "`true` turns tracing off whatever else is set."},
}

// ServeConfig is the configuration of `rowguard serve`.
type ServeConfig struct {
	DatabaseURL       string        `envconfig:"DATABASE_URL"`
	ReadDatabaseURL   string        `envconfig:"ROWGUARD_READ_DATABASE_URL"`
	ReadMaxLag        time.Duration `envconfig:"ROWGUARD_READ_MAX_LAG" default:"1s"`
	ReadReplayWait    time.Duration `envconfig:"ROWGUARD_READ_REPLAY_WAIT" default:"50ms"`
	Addr              string        `envconfig:"ROWGUARD_ADDR" default:"127.0.0.1:8080"`
	ManagementAddr    string        `envconfig:"ROWGUARD_MANAGEMENT_ADDR" default:"127.0.0.1:9464"` // host:port, ManagementOff or ManagementOnAPI
	DataDir           string        `envconfig:"ROWGUARD_DATA_DIR" default:".rowguard"`
	JWTPrivateKeyPEM  string        `envconfig:"ROWGUARD_JWT_PRIVATE_KEY"`
	JWTPrivateKeyFile string        `envconfig:"ROWGUARD_JWT_PRIVATE_KEY_FILE"`
	JWTKeyID          string        `envconfig:"ROWGUARD_JWT_KEY_ID"`
	JWTIssuer         string        `envconfig:"ROWGUARD_JWT_ISSUER" default:"rowguard"`
	JWTAudience       string        `envconfig:"ROWGUARD_JWT_AUDIENCE" default:"rowguard-api"`
	AccessTokenTTL    time.Duration `envconfig:"ROWGUARD_ACCESS_TOKEN_TTL" default:"15m"`
	TokenLeeway       time.Duration `envconfig:"ROWGUARD_TOKEN_LEEWAY" default:"30s"`
	MaxBodyBytes      ByteSize      `envconfig:"ROWGUARD_MAX_BODY_BYTES" default:"1MiB"`
	RequestTimeout    time.Duration `envconfig:"ROWGUARD_REQUEST_TIMEOUT" default:"10s"`
	LogLevel          slog.Level    `envconfig:"ROWGUARD_LOG_LEVEL" default:"info"`
	// AcquireTimeout zero: the API's default, a fifth of RequestTimeout.
	AcquireTimeout time.Duration `envconfig:"ROWGUARD_POOL_ACQUIRE_TIMEOUT"`
	InvitationTTL  time.Duration `envconfig:"ROWGUARD_INVITATION_TTL" default:"168h"`
	// DevInvitationTokensInResponses: api.Options.InvitationTokensInResponses (development only).
	DevInvitationTokensInResponses bool `envconfig:"ROWGUARD_DEV_INVITATION_TOKENS_IN_RESPONSES" default:"false"`

	PaymentAPIURL        string `envconfig:"ROWGUARD_PAYMENT_API_URL" default:"https://api.stripe.com"`
	PaymentAPIKey        string `envconfig:"ROWGUARD_PAYMENT_API_KEY"`
	PaymentWebhookSecret string `envconfig:"ROWGUARD_PAYMENT_WEBHOOK_SECRET"`
	CheckoutReturnURL    string `envconfig:"ROWGUARD_CHECKOUT_RETURN_URL"`
	SMTPHost             string `envconfig:"ROWGUARD_SMTP_HOST"`
	SMTPPort             int    `envconfig:"ROWGUARD_SMTP_PORT" default:"587"`
	SMTPTLS              string `envconfig:"ROWGUARD_SMTP_TLS" default:"starttls"`
	SMTPUsername         string `envconfig:"ROWGUARD_SMTP_USERNAME"`
	SMTPPassword         string `envconfig:"ROWGUARD_SMTP_PASSWORD"`
	MailFrom             string `envconfig:"ROWGUARD_MAIL_FROM" default:"rowguard <no-reply@localhost>"`
	OTPSignUp            bool   `envconfig:"ROWGUARD_OTP_SIGNUP" default:"false"`
	PasswordResetURL     string `envconfig:"ROWGUARD_PASSWORD_RESET_URL"`
	PublicURL            string `envconfig:"ROWGUARD_PUBLIC_URL"`
	GoogleClientID       string `envconfig:"ROWGUARD_OIDC_GOOGLE_CLIENT_ID"`
	GoogleSecret         string `envconfig:"ROWGUARD_OIDC_GOOGLE_CLIENT_SECRET"`
	OIDCProvidersJSON    string `envconfig:"ROWGUARD_OIDC_PROVIDERS"`
	TrustedProxiesList   string `envconfig:"ROWGUARD_TRUSTED_PROXIES"`
	CORSOriginsList      string `envconfig:"ROWGUARD_CORS_ALLOWED_ORIGINS"`

	// CORSAllowedOrigins are the origins of ROWGUARD_CORS_ALLOWED_ORIGINS, normalized as
	// browsers send them; empty: CORS is off.
	CORSAllowedOrigins []string `ignored:"true"`

	// Tracing is what the OTEL_* variables ask for (internal/tracing).
	Tracing tracing.Settings `ignored:"true"`

	// TrustedProxies are the networks of ROWGUARD_TRUSTED_PROXIES (single addresses as
	// /32 or /128); empty: forwarded headers are ignored.
	TrustedProxies []netip.Prefix `ignored:"true"`

	// OIDCProviders are the OpenID Connect providers: the Google preset, then
	// ROWGUARD_OIDC_PROVIDERS.
	OIDCProviders []oidc.Provider `ignored:"true"`

	SessionLifetime    time.Duration `envconfig:"ROWGUARD_SESSION_LIFETIME" default:"720h"`
	SessionIdleTimeout time.Duration `envconfig:"ROWGUARD_SESSION_IDLE_TIMEOUT" default:"168h"`
	RefreshReuseGrace  time.Duration `envconfig:"ROWGUARD_REFRESH_REUSE_GRACE" default:"10s"`

	RateLimitSignUpAddress       RateLimit `envconfig:"ROWGUARD_RATE_LIMIT_SIGN_UP_ADDRESS" default:"20/1h"`
	RateLimitSignUpAccount       RateLimit `envconfig:"ROWGUARD_RATE_LIMIT_SIGN_UP_ACCOUNT" default:"5/1h"`
	RateLimitLoginAddress        RateLimit `envconfig:"ROWGUARD_RATE_LIMIT_LOGIN_ADDRESS" default:"50/15m"`
	RateLimitLoginAccountAddress RateLimit `envconfig:"ROWGUARD_RATE_LIMIT_LOGIN_ACCOUNT_ADDRESS" default:"10/15m"`
	RateLimitLoginAccount        RateLimit `envconfig:"ROWGUARD_RATE_LIMIT_LOGIN_ACCOUNT" default:"30/15m"`
	RateLimitRefreshAddress      RateLimit `envconfig:"ROWGUARD_RATE_LIMIT_REFRESH_ADDRESS" default:"300/15m"`
	RateLimitRefreshAccount      RateLimit `envconfig:"ROWGUARD_RATE_LIMIT_REFRESH_ACCOUNT" default:"60/15m"`
	RateLimitPasswordAccount     RateLimit `envconfig:"ROWGUARD_RATE_LIMIT_PASSWORD_ACCOUNT" default:"10/15m"`
	RateLimitSignInAddress       RateLimit `envconfig:"ROWGUARD_RATE_LIMIT_SIGN_IN_ADDRESS" default:"50/15m"`
	RateLimitEmailAccountAddress RateLimit `envconfig:"ROWGUARD_RATE_LIMIT_EMAIL_ACCOUNT_ADDRESS" default:"5/15m"`

	PasswordMemoryKiB   uint32 `envconfig:"ROWGUARD_PASSWORD_MEMORY_KIB" default:"19456"`
	PasswordIterations  uint32 `envconfig:"ROWGUARD_PASSWORD_ITERATIONS" default:"2"`
	PasswordParallelism uint8  `envconfig:"ROWGUARD_PASSWORD_PARALLELISM" default:"1"`

	// JWTPrivateKey is the parsed signing key (from the variable, the file, or the
	// development key file): the last key of the ring.
	JWTPrivateKey ed25519.PrivateKey `ignored:"true"`
	// JWTPreviousKeys are the public halves of the ring's other keys: still trusted.
	JWTPreviousKeys []ed25519.PublicKey `ignored:"true"`
	// JWTKeySource says where JWTPrivateKey came from, for the start-up log.
	JWTKeySource string `ignored:"true"`
}

// The keywords of ROWGUARD_MANAGEMENT_ADDR that are not an address.
const (
	// ManagementOff: no management listener; /metrics is served nowhere.
	ManagementOff = "off"
	// ManagementOnAPI: no management listener; /metrics is served on ROWGUARD_ADDR.
	ManagementOnAPI = "api"
)

// ManagementListener returns the address of the management listener, and false when
// there is none (ROWGUARD_MANAGEMENT_ADDR is off or api).
func (c *ServeConfig) ManagementListener() (addr string, ok bool) {
	if c.ManagementAddr == ManagementOff || c.ManagementAddr == ManagementOnAPI {
		return "", false
	}
	return c.ManagementAddr, true
}

// MetricsOnAPI reports whether /metrics is served on ROWGUARD_ADDR (ROWGUARD_MANAGEMENT_ADDR=api).
func (c *ServeConfig) MetricsOnAPI() bool { return c.ManagementAddr == ManagementOnAPI }

// DevMode reports whether no DATABASE_URL is set: the server then runs on a private
// development cluster in DataDir.
func (c *ServeConfig) DevMode() bool { return c.DatabaseURL == "" }

// MigrateConfig is the configuration of `rowguard migrate`.
type MigrateConfig struct {
	MigrationDatabaseURL string     `envconfig:"MIGRATION_DATABASE_URL"`
	DatabaseURL          string     `envconfig:"DATABASE_URL"`
	DataDir              string     `envconfig:"ROWGUARD_DATA_DIR" default:".rowguard"`
	LogLevel             slog.Level `envconfig:"ROWGUARD_LOG_LEVEL" default:"info"`
}

// URL is the URL to migrate with: MIGRATION_DATABASE_URL, else DATABASE_URL, else ""
// (development mode: the private cluster in DataDir).
func (c *MigrateConfig) URL() string {
	if c.MigrationDatabaseURL != "" {
		return c.MigrationDatabaseURL
	}
	return c.DatabaseURL
}

// LoadServe reads and validates the serve configuration from the environment. Every
// problem is reported at once, one line each naming its variable: unknown ROWGUARD_*
// variables, values that do not parse and values out of bounds. In development mode
// without a configured key it loads, or generates and saves (mode 0600),
// DataDir/jwt-ed25519.pem, once the rest is valid.
func LoadServe() (*ServeConfig, error) {
	var c ServeConfig
	errs := append(unknownVariables(), load(&c)...)
	if err := c.validate(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case c.JWTPrivateKeyPEM != "" && c.JWTPrivateKeyFile != "": // reported by validate
	case c.JWTPrivateKeyPEM != "" || c.JWTPrivateKeyFile != "" || len(errs) == 0:
		// A configured key is checked with the rest; the development key is only
		// generated for a configuration that is otherwise valid.
		if err := c.loadKey(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &c, nil
}

// LoadMigrate reads and validates the migrate configuration from the environment,
// reporting every problem at once like LoadServe.
func LoadMigrate() (*MigrateConfig, error) {
	var c MigrateConfig
	errs := append(unknownVariables(), load(&c)...)
	if c.DataDir == "" && c.URL() == "" {
		errs = append(errs, errors.New("ROWGUARD_DATA_DIR: must not be empty"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &c, nil
}

func (c *ServeConfig) validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	apiHost, apiPort, apiOK := checkAddr(bad, "ROWGUARD_ADDR", c.Addr, "127.0.0.1:8080 or :8080", "")
	switch keyword := strings.ToLower(strings.TrimSpace(c.ManagementAddr)); keyword {
	case ManagementOff, ManagementOnAPI:
		c.ManagementAddr = keyword
	default:
		const how = "; or off (no management listener, no metrics) or api (metrics on ROWGUARD_ADDR)"
		host, port, ok := checkAddr(bad, "ROWGUARD_MANAGEMENT_ADDR", c.ManagementAddr, "127.0.0.1:9464 or 0.0.0.0:9464", how)
		// Two listeners on one port fail at bind; say why now, with the other variables.
		if ok && apiOK && port == apiPort && (host == apiHost || anyHost(host) || anyHost(apiHost)) {
			bad("ROWGUARD_MANAGEMENT_ADDR", "must not share the port of ROWGUARD_ADDR (%s; got %q): pick another port, "+
				"or set api to serve /metrics on the API port", c.Addr, c.ManagementAddr)
		}
	}
	if c.DevMode() && strings.TrimSpace(c.DataDir) == "" {
		bad("ROWGUARD_DATA_DIR", "must not be empty")
	}
	if c.JWTPrivateKeyPEM != "" && c.JWTPrivateKeyFile != "" {
		bad("ROWGUARD_JWT_PRIVATE_KEY_FILE", "set either it or ROWGUARD_JWT_PRIVATE_KEY, not both")
	}
	if !c.DevMode() && c.JWTPrivateKeyPEM == "" && c.JWTPrivateKeyFile == "" {
		bad("ROWGUARD_JWT_PRIVATE_KEY", "required when DATABASE_URL is set: a PEM PKCS#8 Ed25519 private key "+
			"(openssl genpkey -algorithm ed25519), or set ROWGUARD_JWT_PRIVATE_KEY_FILE to its path")
	}
	if strings.TrimSpace(c.JWTIssuer) == "" {
		bad("ROWGUARD_JWT_ISSUER", "must not be empty")
	}
	if strings.TrimSpace(c.JWTAudience) == "" {
		bad("ROWGUARD_JWT_AUDIENCE", "must not be empty")
	}
	if c.JWTKeyID != "" && strings.ContainsAny(c.JWTKeyID, " \t\r\n\"") {
		bad("ROWGUARD_JWT_KEY_ID", "must not contain spaces or quotes")
	}
	between := func(name string, v, lo, hi time.Duration) {
		if v < lo || v > hi {
			bad(name, "must be between %s and %s (got %s)", short(lo), short(hi), short(v))
		}
	}
	between("ROWGUARD_ACCESS_TOKEN_TTL", c.AccessTokenTTL, time.Minute, 24*time.Hour)
	between("ROWGUARD_TOKEN_LEEWAY", c.TokenLeeway, 0, 5*time.Minute)
	between("ROWGUARD_REQUEST_TIMEOUT", c.RequestTimeout, time.Second, 10*time.Minute)
	if c.AcquireTimeout != 0 {
		between("ROWGUARD_POOL_ACQUIRE_TIMEOUT", c.AcquireTimeout, 10*time.Millisecond, c.RequestTimeout)
	}
	between("ROWGUARD_READ_MAX_LAG", c.ReadMaxLag, 10*time.Millisecond, time.Hour)
	between("ROWGUARD_READ_REPLAY_WAIT", c.ReadReplayWait, 0, time.Second)
	between("ROWGUARD_INVITATION_TTL", c.InvitationTTL, time.Hour, 30*24*time.Hour)
	between("ROWGUARD_SESSION_LIFETIME", c.SessionLifetime, time.Hour, 8760*time.Hour)
	between("ROWGUARD_SESSION_IDLE_TIMEOUT", c.SessionIdleTimeout, 5*time.Minute, max(c.SessionLifetime, 5*time.Minute))
	between("ROWGUARD_REFRESH_REUSE_GRACE", c.RefreshReuseGrace, 0, 5*time.Minute)
	for _, l := range []struct {
		name string
		l    RateLimit
	}{
		{"ROWGUARD_RATE_LIMIT_LOGIN_ADDRESS", c.RateLimitLoginAddress},
		{"ROWGUARD_RATE_LIMIT_LOGIN_ACCOUNT_ADDRESS", c.RateLimitLoginAccountAddress},
		{"ROWGUARD_RATE_LIMIT_LOGIN_ACCOUNT", c.RateLimitLoginAccount},
		{"ROWGUARD_RATE_LIMIT_REFRESH_ADDRESS", c.RateLimitRefreshAddress},
		{"ROWGUARD_RATE_LIMIT_REFRESH_ACCOUNT", c.RateLimitRefreshAccount},
		{"ROWGUARD_RATE_LIMIT_PASSWORD_ACCOUNT", c.RateLimitPasswordAccount},
		{"ROWGUARD_RATE_LIMIT_SIGN_IN_ADDRESS", c.RateLimitSignInAddress},
		{"ROWGUARD_RATE_LIMIT_SIGN_UP_ADDRESS", c.RateLimitSignUpAddress},
		{"ROWGUARD_RATE_LIMIT_SIGN_UP_ACCOUNT", c.RateLimitSignUpAccount},
		{"ROWGUARD_RATE_LIMIT_EMAIL_ACCOUNT_ADDRESS", c.RateLimitEmailAccountAddress},
	} {
		if l.l.Max < 1 || l.l.Max > 1_000_000 || l.l.Window < time.Second || l.l.Window > 24*time.Hour {
			bad(l.name, "must be <max>/<window> with max 1 to 1000000 and window 1s to 24h, e.g. 10/15m (got %s)", l.l)
		}
	}
	if c.PasswordMemoryKiB < 8192 || c.PasswordMemoryKiB > 1<<20 {
		bad("ROWGUARD_PASSWORD_MEMORY_KIB", "must be between 8192 and 1048576 (got %d)", c.PasswordMemoryKiB)
	}
	if c.PasswordIterations < 1 || c.PasswordIterations > 16 {
		bad("ROWGUARD_PASSWORD_ITERATIONS", "must be between 1 and 16 (got %d)", c.PasswordIterations)
	}
	if c.PasswordParallelism < 1 || c.PasswordParallelism > 16 {
		bad("ROWGUARD_PASSWORD_PARALLELISM", "must be between 1 and 16 (got %d)", c.PasswordParallelism)
	}
	if c.MaxBodyBytes < 1<<10 || c.MaxBodyBytes > 64<<20 {
		bad("ROWGUARD_MAX_BODY_BYTES", "must be between 1KiB and 64MiB (got %s)", c.MaxBodyBytes)
	}
	if c.SMTPPort < 1 || c.SMTPPort > 65535 {
		bad("ROWGUARD_SMTP_PORT", "must be a number from 1 to 65535 (got %d)", c.SMTPPort)
	}
	if _, err := mail.ParseTLSMode(c.SMTPTLS); err != nil {
		bad("ROWGUARD_SMTP_TLS", "%v", err)
	}
	if c.SMTPHost != "" && strings.ContainsAny(c.SMTPHost, " /:") {
		bad("ROWGUARD_SMTP_HOST", "must be a host name or address, without port (got %q)", c.SMTPHost)
	}
	if c.SMTPPassword != "" && c.SMTPUsername == "" {
		bad("ROWGUARD_SMTP_PASSWORD", "set ROWGUARD_SMTP_USERNAME too")
	}
	if a, err := netmail.ParseAddress(c.MailFrom); err != nil || strings.ContainsAny(c.MailFrom, "\r\n") {
		bad("ROWGUARD_MAIL_FROM", "must be an address such as no-reply@example.com or \"Name <no-reply@example.com>\" (got %q)", c.MailFrom)
	} else if !strings.Contains(a.Address, "@") {
		bad("ROWGUARD_MAIL_FROM", "must contain @ (got %q)", c.MailFrom)
	}
	if c.PasswordResetURL != "" {
		if u, err := url.Parse(c.PasswordResetURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
			bad("ROWGUARD_PASSWORD_RESET_URL", "must be an absolute http(s) URL without a #fragment (got %q)", c.PasswordResetURL)
		}
	}
	c.validateOIDC(bad)
	var badProxies []string
	if c.TrustedProxies, badProxies = parseTrustedProxies(c.TrustedProxiesList); len(badProxies) > 0 {
		bad("ROWGUARD_TRUSTED_PROXIES", "must be a comma-separated list of IP addresses and CIDRs such as 10.0.0.0/8,127.0.0.1,::1: %s",
			strings.Join(badProxies, "; "))
	}
	var badOrigins []string
	if c.CORSAllowedOrigins, badOrigins = parseCORSOrigins(c.CORSOriginsList); len(badOrigins) > 0 {
		bad("ROWGUARD_CORS_ALLOWED_ORIGINS", "must be a comma-separated list of origins such as https://app.example.com: %s",
			strings.Join(badOrigins, "; "))
	}
	var tracingErrs []error
	c.Tracing, tracingErrs = tracing.Check()
	errs = append(errs, tracingErrs...)
	switch c.LogLevel {
	case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
	default:
		bad("ROWGUARD_LOG_LEVEL", "must be debug, info, warn or error (got %s)", c.LogLevel)
	}
	if !isHTTPURL(c.PaymentAPIURL) {
		bad("ROWGUARD_PAYMENT_API_URL", "must be an absolute http(s) URL (got %q)", c.PaymentAPIURL)
	}
	if c.PaymentAPIKey != "" && !isHTTPURL(c.CheckoutReturnURL) {
		bad("ROWGUARD_CHECKOUT_RETURN_URL", "must be an absolute http(s) URL when ROWGUARD_PAYMENT_API_KEY is set (got %q)", c.CheckoutReturnURL)
	}
	return errors.Join(errs...)
}

// checkAddr validates a listener's host:port (a numeric port; an empty host means every
// interface), reporting a bad one under name. It returns the host and port when valid.
func checkAddr(bad func(name, format string, args ...any), name, addr, example, more string) (string, int, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		bad(name, "must be host:port, e.g. %s%s (got %q)", example, more, addr)
		return "", 0, false
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		bad(name, "port must be a number from 1 to 65535 (got %q)", port)
		return "", 0, false
	}
	if strings.ContainsAny(host, " /") {
		bad(name, "invalid host %q", host)
		return "", 0, false
	}
	return host, n, true
}

// anyHost reports whether a listener's host means every interface.
func anyHost(host string) bool {
	if host == "" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsUnspecified()
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func (c *ServeConfig) loadKey() error {
	var ring []ed25519.PrivateKey
	switch {
	case c.JWTPrivateKeyPEM != "":
		pemText := c.JWTPrivateKeyPEM
		if !strings.Contains(pemText, "\n") {
			pemText = strings.ReplaceAll(pemText, `\n`, "\n") // one-line form, e.g. in a .env file
		}
		keys, err := token.ParsePrivateKeysPEM([]byte(pemText))
		if err != nil {
			return fmt.Errorf("ROWGUARD_JWT_PRIVATE_KEY: %v", strings.TrimPrefix(err.Error(), "token: "))
		}
		ring, c.JWTKeySource = keys, "ROWGUARD_JWT_PRIVATE_KEY"
	case c.JWTPrivateKeyFile != "":
		keys, err := loadKeyRing(c.JWTPrivateKeyFile)
		if err != nil {
			return fmt.Errorf("ROWGUARD_JWT_PRIVATE_KEY_FILE: %v", strings.TrimPrefix(err.Error(), "token: "))
		}
		ring, c.JWTKeySource = keys, c.JWTPrivateKeyFile
	default: // development mode (validate requires a key otherwise)
		path := filepath.Join(c.DataDir, DevKeyFile)
		keys, err := devKey(path)
		if err != nil {
			return fmt.Errorf("ROWGUARD_DATA_DIR: development signing key %s: %w", path, err)
		}
		ring, c.JWTKeySource = keys, path
	}
	c.JWTPrivateKey = ring[len(ring)-1]
	c.JWTPreviousKeys = nil
	for _, k := range ring[:len(ring)-1] {
		c.JWTPreviousKeys = append(c.JWTPreviousKeys, k.Public().(ed25519.PublicKey))
	}
	return nil
}

// loadKeyRing reads every PEM private key of a file.
func loadKeyRing(path string) ([]ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return token.ParsePrivateKeysPEM(data)
}

// devKey loads the development signing key (or key ring) at path, generating one key
// (mode 0600) the first time.
func devKey(path string) ([]ed25519.PrivateKey, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err == nil {
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("is readable by others (mode %v): chmod 600 %s, or delete it to get a new key", fi.Mode().Perm(), path)
		}
		return loadKeyRing(path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err := token.GenerateKey()
	if err != nil {
		return nil, err
	}
	pemBytes, err := token.MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return loadKeyRing(path) // another process generated it meanwhile
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(pemBytes); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, err
	}
	return []ed25519.PrivateKey{key}, nil
}

// short formats a duration without trailing zero units: 1m, not 1m0s.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
