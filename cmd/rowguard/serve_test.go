package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/config"
	"github.com/rowguard/rowguard/internal/token"
)

// What serve builds from the configuration: a key ring whose last key signs and whose
// older keys still verify, and the session, rate-limit and password settings.
func TestServeWiresTheConfiguration(t *testing.T) {
	clearEnv(t)
	var ring strings.Builder
	var keys [2][]byte
	for i := range keys {
		k, err := token.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		if keys[i], err = token.MarshalPrivateKeyPEM(k); err != nil {
			t.Fatal(err)
		}
		ring.Write(keys[i])
	}
	t.Setenv("DATABASE_URL", "postgres://rowguard_app@db/rowguard")
	t.Setenv("ROWGUARD_JWT_PRIVATE_KEY", ring.String())
	t.Setenv("ROWGUARD_REFRESH_REUSE_GRACE", "0s")
	t.Setenv("ROWGUARD_SESSION_IDLE_TIMEOUT", "1h")
	t.Setenv("ROWGUARD_RATE_LIMIT_LOGIN_ACCOUNT", "3/1m")
	t.Setenv("ROWGUARD_PASSWORD_MEMORY_KIB", "8192")
	t.Setenv("ROWGUARD_TRUSTED_PROXIES", "10.0.0.0/8, ::1")
	t.Setenv("ROWGUARD_CORS_ALLOWED_ORIGINS", "https://app.example.com, http://localhost:5173")
	cfg, err := config.LoadServe()
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := newAuthority(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := tokens.PublicKeys().Len(); n != 2 {
		t.Errorf("%d trusted keys, want both keys of the ring", n)
	}
	// A token of the older key (as issued before the rotation) still verifies.
	older, err := token.ParsePrivateKeyPEM(keys[0])
	if err != nil {
		t.Fatal(err)
	}
	before, err := token.NewAuthority(older, "", cfg.JWTIssuer, cfg.JWTAudience, time.Minute, -1)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := before.Issue("0190f5a2-0000-7000-8000-000000000001", "0190f5a2-0000-7000-8000-000000000002")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Verify(tok); err != nil {
		t.Errorf("a token of the ring's older key: %v", err)
	}
	if tokens.KeyID() == before.KeyID() {
		t.Error("the older key signs; the last key of the ring must")
	}

	opts, err := serverOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Sessions.RefreshReuseGrace >= 0 || opts.Sessions.IdleTimeout != time.Hour || opts.Sessions.Lifetime != 720*time.Hour {
		t.Errorf("sessions %+v (a 0s grace must mean none, not the default)", opts.Sessions)
	}
	if opts.RateLimits.LoginPerAccount != (api.RateLimit{Max: 3, Window: time.Minute}) ||
		opts.RateLimits.LoginPerAddress != (api.RateLimit{Max: 50, Window: 15 * time.Minute}) {
		t.Errorf("rate limits %+v", opts.RateLimits)
	}
	if p := opts.Passwords.Params(); p.Memory != 8192 || p.Iterations != 2 || p.Parallelism != 1 {
		t.Errorf("password params %+v", p)
	}
	if fmt.Sprint(opts.TrustedProxies) != "[10.0.0.0/8 ::1/128]" {
		t.Errorf("trusted proxies %v", opts.TrustedProxies)
	}
	if opts.MetricsOnAPIPort {
		t.Error("metrics on the API port by default; they belong on the management listener")
	}
	if fmt.Sprint(opts.CORSAllowedOrigins) != "[https://app.example.com http://localhost:5173]" {
		t.Errorf("CORS origins %v", opts.CORSAllowedOrigins)
	}
	t.Setenv("ROWGUARD_MANAGEMENT_ADDR", "api")
	if cfg, err = config.LoadServe(); err != nil {
		t.Fatal(err)
	}
	if opts, err = serverOptions(cfg); err != nil || !opts.MetricsOnAPIPort {
		t.Errorf("ROWGUARD_MANAGEMENT_ADDR=api: metrics on the API port %v, %v", opts.MetricsOnAPIPort, err)
	}
}
