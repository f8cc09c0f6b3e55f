package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/rowguard/rowguard"
	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/config"
	"github.com/rowguard/rowguard/internal/password"
	"github.com/rowguard/rowguard/internal/payment"
	"github.com/rowguard/rowguard/internal/token"
	"github.com/rowguard/rowguard/internal/tracing"
)

// shutdownGrace is how long in-flight requests get to finish after SIGINT/SIGTERM.
const shutdownGrace = 20 * time.Second

func serve(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.LoadServe()
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	slog.SetDefault(logger)

	// Both listeners are bound first: a taken port fails the start at once, before the
	// development cluster is created, started or migrated, and before either serves.
	// Connections that arrive meanwhile wait in the listen backlog.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("ROWGUARD_ADDR: %w (choose a free host:port)", err)
	}
	defer ln.Close() // a no-op once its server has closed it
	listeners := []net.Listener{ln}
	managementAddr := cfg.ManagementAddr // off, api, or the address bound below
	if addr, ok := cfg.ManagementListener(); ok {
		mln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("ROWGUARD_MANAGEMENT_ADDR: the management listener (metrics, health): %w "+
				"(choose a free host:port, or off)", err)
		}
		defer mln.Close()
		listeners = append(listeners, mln)
		managementAddr = mln.Addr().String()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	b, err := openBackend(ctx, cfg, logger, stdout)
	if err != nil {
		return err
	}
	defer b.close()
	senderCtx, stopSender := context.WithCancel(ctx)
	waitSender := startMailSender(senderCtx, cfg, b.pool, logger)
	defer waitSender() // deferred after b.close (the pool): runs before it
	defer stopSender()

	if cfg.DevInvitationTokensInResponses {
		logger.Warn("ROWGUARD_DEV_INVITATION_TOKENS_IN_RESPONSES is on: invitation tokens appear in API answers (development only; accepting with such a token needs a verified email)")
	}
	tracingTo := "off"
	if cfg.Tracing.Enabled {
		tp, err := startTracing(ctx, logger)
		if err != nil {
			return err
		}
		// Deferred after b.close: runs before it, once both listeners have drained, and
		// flushes the spans still queued.
		defer func() {
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(flushCtx); err != nil {
				logger.Warn("opentelemetry: flushing the last spans", "err", err)
			}
		}()
		b.opts.TracerProvider, tracingTo = tp, cfg.Tracing.Endpoint
	}
	handler := api.NewServer(b.opts)

	servers := []*http.Server{newHTTPServer(handler, cfg.RequestTimeout, logger)}
	if len(listeners) > 1 {
		servers = append(servers, newHTTPServer(handler.Management(), cfg.RequestTimeout, logger))
	}
	serveErr := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { serveErr <- srv.Serve(listeners[i]) }()
	}

	base := baseURL(ln.Addr().(*net.TCPAddr), cfg.Addr)
	logger.Info("serving", "addr", ln.Addr().String(), "management_addr", managementAddr, "version", rowguard.Version, "dev_mode", cfg.DevMode(), "jwt_key", cfg.JWTKeySource, "kid", b.opts.Tokens.KeyID(), "trusted_keys", b.opts.Tokens.PublicKeys().Len(), "tracing", tracingTo)
	fmt.Fprintf(stdout, "\nrowguard %s listening on %s   (API docs: %s/docs)\n", rowguard.Version, base, base)
	switch {
	case len(listeners) > 1:
		mbase := baseURL(listeners[1].Addr().(*net.TCPAddr), cfg.ManagementAddr)
		fmt.Fprintf(stdout, "management listener on %s   (metrics: %s/metrics; not on the API port)\n", mbase, mbase)
	case cfg.MetricsOnAPI():
		fmt.Fprintf(stdout, "no management listener (ROWGUARD_MANAGEMENT_ADDR=api): metrics at %s/metrics\n", base)
	default:
		fmt.Fprintln(stdout, "no management listener (ROWGUARD_MANAGEMENT_ADDR=off): no metrics")
	}
	if cfg.DevMode() {
		fmt.Fprintf(stdout, "development DATABASE_URL=%s\n", b.dbURL)
	}
	fmt.Fprintf(stdout, `Try:
  curl -s %s/v1/auth/register -H 'content-type: application/json' \
    -d '{"email":"ada@example.com","password":"correct horse battery staple","organization_name":"Analytical Engines"}'
  then send the emailed code (without SMTP: in this log) to %s/v1/auth/register/verify {"email":…,"code":…}
Press Ctrl-C to stop.

`, base, base)

	pending := len(servers) // Serve calls yet to return
	var failed error
	select {
	case failed = <-serveErr: // one listener failed: stop the other too
		pending--
	case <-ctx.Done():
	}
	stop() // a second Ctrl-C now ends the process at once
	logger.Info("shutting down", "grace", shutdownGrace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	// Both listeners close at once, then both drain their requests in flight.
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Go(func() {
			if err := srv.Shutdown(shutdownCtx); err != nil {
				logger.Warn("graceful shutdown incomplete", "err", err)
				srv.Close()
			}
		})
	}
	wg.Wait()
	for ; pending > 0; pending-- {
		if err := <-serveErr; failed == nil && !errors.Is(err, http.ErrServerClosed) {
			failed = err
		}
	}
	if failed != nil {
		return fmt.Errorf("http server: %w", failed)
	}
	return nil
}

// startTracing is the OpenTelemetry tracer provider the OTEL_* variables ask for; the
// SDK's own errors (an unreachable collector) go to the log as warnings.
func startTracing(ctx context.Context, logger *slog.Logger) (*sdktrace.TracerProvider, error) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("opentelemetry", "err", err)
	}))
	return tracing.NewProvider(ctx, rowguard.Version)
}

// newHTTPServer serves h with the bounds every listener needs.
func newHTTPServer(h http.Handler, requestTimeout time.Duration, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// The handler bounds each request's work by RequestTimeout; these bound slow
		// clients reading or writing around it.
		ReadTimeout:    requestTimeout + 10*time.Second,
		WriteTimeout:   requestTimeout + 10*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// newAuthority signs with the configured key and trusts the older keys of its ring.
func newAuthority(cfg *config.ServeConfig) (*token.Authority, error) {
	tokens, err := token.NewAuthority(cfg.JWTPrivateKey, cfg.JWTKeyID, cfg.JWTIssuer, cfg.JWTAudience, cfg.AccessTokenTTL, cfg.TokenLeeway)
	if err != nil {
		return nil, fmt.Errorf("ROWGUARD_JWT_*: %w", err)
	}
	for _, pub := range cfg.JWTPreviousKeys {
		if err := tokens.TrustPublicKey(pub); err != nil {
			return nil, fmt.Errorf("ROWGUARD_JWT_PRIVATE_KEY: %w", err)
		}
	}
	return tokens, nil
}

// serverOptions are the API options the configuration sets (all but the pool, the
// token authority and the logger).
func serverOptions(cfg *config.ServeConfig) (api.Options, error) {
	passwords, err := password.New(password.Params{
		Memory: cfg.PasswordMemoryKiB, Iterations: cfg.PasswordIterations, Parallelism: cfg.PasswordParallelism,
		SaltLength: password.DefaultParams.SaltLength, KeyLength: password.DefaultParams.KeyLength,
	})
	if err != nil {
		return api.Options{}, fmt.Errorf("ROWGUARD_PASSWORD_*: %w", err)
	}
	return api.Options{
		MaxBodyBytes:   int64(cfg.MaxBodyBytes),
		RequestTimeout: cfg.RequestTimeout,
		AcquireTimeout: cfg.AcquireTimeout,
		Version:        rowguard.Version,
		Passwords:      passwords,
		Sessions: api.SessionOptions{
			Lifetime:          cfg.SessionLifetime,
			IdleTimeout:       cfg.SessionIdleTimeout,
			RefreshReuseGrace: noneIfZero(cfg.RefreshReuseGrace),
		},
		RateLimits: api.RateLimitOptions{
			LoginPerAddress:          api.RateLimit(cfg.RateLimitLoginAddress),
			LoginPerAccountAddress:   api.RateLimit(cfg.RateLimitLoginAccountAddress),
			LoginPerAccount:          api.RateLimit(cfg.RateLimitLoginAccount),
			RefreshPerAddress:        api.RateLimit(cfg.RateLimitRefreshAddress),
			RefreshPerAccount:        api.RateLimit(cfg.RateLimitRefreshAccount),
			PasswordChangePerAccount: api.RateLimit(cfg.RateLimitPasswordAccount),
			SignInPerAddress:         api.RateLimit(cfg.RateLimitSignInAddress),
			SignUpPerAddress:         api.RateLimit(cfg.RateLimitSignUpAddress),
			SignUpPerAccount:         api.RateLimit(cfg.RateLimitSignUpAccount),
			EmailPerAccountAddress:   api.RateLimit(cfg.RateLimitEmailAccountAddress),
		},
		TrustedProxies:   cfg.TrustedProxies,
		InvitationTTL:    cfg.InvitationTTL,
		Billing:          billingOptions(cfg),
		MetricsOnAPIPort: cfg.MetricsOnAPI(),
		SignIn: api.SignInOptions{
			EmailSignUp: cfg.OTPSignUp, PasswordResetURL: cfg.PasswordResetURL,
			OIDC: cfg.OIDCProviders, PublicURL: cfg.PublicURL, OIDCLeeway: cfg.TokenLeeway,
		},

		InvitationTokensInResponses: cfg.DevInvitationTokensInResponses,
		CORSAllowedOrigins:          cfg.CORSAllowedOrigins,
	}, nil
}

// noneIfZero maps a configured grace of 0s to api's "no grace" (api treats zero as
// "the default").
func noneIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// baseURL is how to reach the listener from this machine.
func baseURL(addr *net.TCPAddr, configured string) string {
	host, _, _ := net.SplitHostPort(configured)
	if host == "" || addr.IP.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

// billingOptions wires the payment provider: checkout needs the API key, the webhook
// its signing secret; either may be unset (that half then answers 503).
func billingOptions(cfg *config.ServeConfig) api.BillingOptions {
	o := api.BillingOptions{WebhookSecret: cfg.PaymentWebhookSecret, ReturnURL: cfg.CheckoutReturnURL}
	if cfg.PaymentAPIKey != "" {
		o.Provider = payment.NewStripe(cfg.PaymentAPIURL, cfg.PaymentAPIKey)
	}
	return o
}
