package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // -pprof
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/rowguard/rowguard"
	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/password"
	"github.com/rowguard/rowguard/internal/pgcluster"
	"github.com/rowguard/rowguard/internal/token"
)

// loadDatabase is the database created in the private cluster.
const loadDatabase = "rowguard_load"

// env is what the phases run against.
type env struct {
	baseURL    string        // the API, without a trailing slash
	client     *http.Client  // keep-alive client sized for the concurrency
	direct     *pgxpool.Pool // rowguard_app pool of the direct phase
	apiPool    *pgxpool.Pool // the in-process API's pool (nil with -url)
	inProcess  bool
	dbSource   string // "private ephemeral cluster" or "-database-url"
	pgVersion  string
	logNote    string
	execMode   string
	httpServer *http.Server
	cluster    *pgcluster.Cluster
	tempDir    string
	cpu        cpuMeter
	sharedPool bool   // direct is apiPool
	adminURL   string // superuser URL ("" in -url mode without -database-url): the finance seed

	// Phase traced (traced.go): the in-process API with tracing on, and its receiver.
	tracedURL    string
	tracedServer *http.Server
	tracer       *sdktrace.TracerProvider
	otlp         *otlpReceiver
}

// setup prepares the database, the API and the clients. The returned env is
// non-nil whenever something needs closing, even with an error.
func setup(ctx context.Context, cfg *config, stderr io.Writer, progress func(string, ...any)) (*env, error) {
	e := &env{}
	var setupLog io.Writer = io.Discard
	if cfg.verbose {
		setupLog = stderr
	}

	adminURL := cfg.databaseURL
	switch {
	case cfg.url != "":
		e.dbSource = "-app-database-url"
		if cfg.databaseURL != "" {
			e.dbSource = "-database-url"
		}
	case adminURL != "":
		e.dbSource = "-database-url"
	default:
		dir, err := os.MkdirTemp("", "rowguard-load-")
		if err != nil {
			return e, err
		}
		e.tempDir = dir
		if os.Geteuid() == 0 {
			// As root the server runs as the postgres user, which must pass through dir.
			if err := os.Chmod(dir, 0o711); err != nil {
				return e, err
			}
		}
		progress("starting a private ephemeral PostgreSQL cluster in %s", dir)
		settings, err := parseSettings(cfg.pgSettings)
		if err != nil {
			return e, err
		}
		c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(dir, "pg"), Log: setupLog, Ephemeral: true, Settings: settings})
		if err != nil {
			return e, err
		}
		e.cluster = c
		e.cpu.postmasterPIDFile = filepath.Join(c.DataDir(), "postmaster.pid")
		if err := c.CreateDatabase(ctx, loadDatabase); err != nil {
			return e, err
		}
		adminURL = c.URL(loadDatabase, pgcluster.Superuser)
		e.dbSource = "private ephemeral cluster (fsync=off, Unix socket"
		if cfg.pgSettings != "" {
			e.dbSource += ", " + cfg.pgSettings
		}
		e.dbSource += ")"
	}

	e.adminURL = adminURL
	appURL := cfg.appURL
	if appURL == "" {
		// In-process mode migrates; -url mode only needs the login role.
		if cfg.url == "" {
			progress("migrating")
			if err := database.Migrate(ctx, adminURL, database.Latest, setupLog); err != nil {
				return e, err
			}
		}
		if err := database.BootstrapLoginRole(ctx, adminURL, database.DevLoginRole); err != nil {
			return e, err
		}
		u, err := withUser(adminURL, database.DevLoginRole)
		if err != nil {
			return e, err
		}
		appURL = u
	}
	if cfg.pool > 0 {
		appURL = withParam(appURL, "pool_max_conns", strconv.Itoa(cfg.pool))
	}

	var err error
	if e.direct, err = database.Open(ctx, appURL); err != nil {
		return e, fmt.Errorf("direct pool: %w", err)
	}
	if err := database.CheckServingRole(ctx, e.direct); err != nil {
		return e, fmt.Errorf("direct pool: %w", err)
	}
	if err := e.direct.QueryRow(ctx, "show server_version").Scan(&e.pgVersion); err != nil {
		return e, err
	}
	e.execMode = e.direct.Config().ConnConfig.DefaultQueryExecMode.String()

	e.baseURL = cfg.url
	if cfg.url == "" {
		if err := e.serveInProcess(ctx, cfg, appURL, stderr); err != nil {
			return e, err
		}
		if cfg.sharePool {
			e.direct.Close()
			e.direct = e.apiPool
			e.sharedPool = true
		}
	} else {
		e.logNote = "external server: its access log is whatever it was started with"
	}

	// One idle connection per client (and some), so keep-alive never churns.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = 2 * max(cfg.concurrency, cfg.seedWorkers)
	tr.DisableCompression = true
	tr.ForceAttemptHTTP2 = false
	e.client = &http.Client{Transport: tr, Timeout: cfg.requestLimit}
	return e, nil
}

// serveInProcess builds api.NewServer on its own rowguard_app pool and serves
// it on a loopback listener.
func (e *env) serveInProcess(ctx context.Context, cfg *config, appURL string, stderr io.Writer) error {
	pool, err := database.Open(ctx, appURL)
	if err != nil {
		return fmt.Errorf("API pool: %w", err)
	}
	e.apiPool = pool
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	// A long TTL: the seeded tokens must outlive the run.
	tokens, err := token.NewAuthority(key, "", "rowguard-load", "rowguard-api", 24*time.Hour, -1)
	if err != nil {
		return err
	}
	logger := slog.New(slog.DiscardHandler)
	e.logNote = "in-process API access log discarded (slog.DiscardHandler)"
	if cfg.keepLog {
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
		e.logNote = "in-process API access log ON (-access-log, JSON to stderr)"
	}
	hasher, err := password.New(cfg.passwords)
	if err != nil {
		return fmt.Errorf("-password-*: %w", err)
	}
	// The load signs the same accounts in over and over from one address: lift the
	// brute-force limits (they are still counted, in PostgreSQL, as in production).
	unlimited := api.RateLimit{Max: 1 << 30, Window: time.Minute}
	opts := api.Options{
		Pool: pool, Tokens: tokens, Logger: logger, Version: rowguard.Version, Passwords: hasher,
		RateLimits: api.RateLimitOptions{
			LoginPerAddress: unlimited, LoginPerAccountAddress: unlimited, LoginPerAccount: unlimited,
			RefreshPerAddress: unlimited, RefreshPerAccount: unlimited, PasswordChangePerAccount: unlimited,
			SignInPerAddress: unlimited, EmailPerAccountAddress: unlimited, SignUpPerAddress: unlimited, SignUpPerAccount: unlimited,
		},
	}
	srv := api.NewServer(opts)
	if cfg.runs("traced") {
		if err := e.serveTraced(ctx, opts, stderr); err != nil {
			return fmt.Errorf("traced API: %w", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	e.httpServer = &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	go func() {
		if err := e.httpServer.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(stderr, "load: http server:", err)
		}
	}()
	e.baseURL = "http://" + ln.Addr().String()
	e.inProcess = true
	return nil
}

func (e *env) close(progress func(string, ...any)) {
	e.closeTraced()
	if e.httpServer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = e.httpServer.Shutdown(ctx)
		cancel()
	}
	if e.client != nil {
		e.client.CloseIdleConnections()
	}
	if e.apiPool != nil {
		e.apiPool.Close()
	}
	if e.direct != nil && !e.sharedPool {
		e.direct.Close()
	}
	if e.cluster != nil {
		if err := e.cluster.Stop(); err != nil {
			progress("stopping the cluster: %v", err)
		}
	}
	if e.tempDir != "" {
		_ = os.RemoveAll(e.tempDir)
	}
}

// poolSize is the direct pool's (and, in-process, the API pool's) size.
func (e *env) poolSize() int32 { return e.direct.Config().MaxConns }

// withUser is a connection string logging in as user, without the password
// (dev roles authenticate by trust or peer over the socket).
func withUser(connString, user string) (string, error) {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		if err != nil {
			return "", fmt.Errorf("-database-url: %w", err)
		}
		u.User = url.User(user)
		return u.String(), nil
	}
	// keyword=value form: a later keyword wins.
	if _, err := pgx.ParseConfig(connString); err != nil {
		return "", fmt.Errorf("-database-url: %w", err)
	}
	return connString + " user=" + user + " password=''", nil
}

// withParam sets a query parameter of a URL-form connection string (or adds a
// keyword to the keyword=value form).
func withParam(connString, key, value string) string {
	if u, err := url.Parse(connString); err == nil && u.Scheme != "" {
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return connString + " " + key + "=" + value
}

// servePprof serves net/http/pprof (registered on http.DefaultServeMux).
func servePprof(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	go func() { _ = http.Serve(ln, http.DefaultServeMux) }()
	return ln.Addr().String(), nil
}

// parseSettings reads -pg-settings: comma-separated name=value pairs.
func parseSettings(list string) (map[string]string, error) {
	settings := map[string]string{}
	for _, kv := range strings.Split(list, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		name, value, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("-pg-settings: %q is not name=value", kv)
		}
		settings[strings.TrimSpace(name)] = strings.TrimSpace(value)
	}
	return settings, nil
}
