package config

import (
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rowguard/rowguard/internal/token"
)

// clearEnv unsets every variable config reads, and any other ROWGUARD_* variable of the
// environment (but the tests' own), for the duration of the test.
func clearEnv(t *testing.T) {
	for _, v := range Variables {
		t.Setenv(v.Name, "")
		os.Unsetenv(v.Name)
	}
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "ROWGUARD_") && !slices.Contains(TestOnlyVariables, name) {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

func keyPEM(t *testing.T) (string, ed25519.PrivateKey) {
	t.Helper()
	key, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := token.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), key
}

func TestServeDefaultsInDevMode(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	t.Setenv("ROWGUARD_DATA_DIR", dir)
	c, err := LoadServe()
	if err != nil {
		t.Fatal(err)
	}
	if addr, ok := c.ManagementListener(); !ok || addr != "127.0.0.1:9464" || c.MetricsOnAPI() {
		t.Fatalf("management listener %q, %v (metrics on the API port: %v): want 127.0.0.1:9464, loopback", addr, ok, c.MetricsOnAPI())
	}
	if !c.DevMode() || c.Addr != "127.0.0.1:8080" || c.AccessTokenTTL != 15*time.Minute || c.TokenLeeway != 30*time.Second ||
		c.MaxBodyBytes != 1<<20 || c.RequestTimeout != 10*time.Second || c.LogLevel != slog.LevelInfo ||
		c.JWTIssuer != "rowguard" || c.JWTAudience != "rowguard-api" || c.InvitationTTL != 7*24*time.Hour {
		t.Fatalf("defaults: %+v", c)
	}
	keyFile := filepath.Join(dir, DevKeyFile)
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", keyFile, fi.Mode().Perm())
	}
	if len(c.JWTPrivateKey) != ed25519.PrivateKeySize || c.JWTKeySource != keyFile {
		t.Fatalf("key from %q, %d bytes", c.JWTKeySource, len(c.JWTPrivateKey))
	}

	// The next start reuses the same key: tokens survive restarts.
	again, err := LoadServe()
	if err != nil {
		t.Fatal(err)
	}
	if !again.JWTPrivateKey.Equal(c.JWTPrivateKey) {
		t.Fatal("development key changed between two starts")
	}

	// A key file others can read is refused.
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadServe(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key: err = %v", err)
	}
}

func TestServeProductionNeedsKey(t *testing.T) {
	clearEnv(t)
	t.Setenv("DATABASE_URL", "postgres://rowguard_app@db/rowguard")
	_, err := LoadServe()
	if err == nil || !strings.HasPrefix(err.Error(), "ROWGUARD_JWT_PRIVATE_KEY: required when DATABASE_URL is set") {
		t.Fatalf("err = %v", err)
	}

	pemText, key := keyPEM(t)
	t.Setenv("ROWGUARD_JWT_PRIVATE_KEY", pemText)
	c, err := LoadServe()
	if err != nil {
		t.Fatal(err)
	}
	if c.DevMode() || !c.JWTPrivateKey.Equal(key) || c.JWTKeySource != "ROWGUARD_JWT_PRIVATE_KEY" {
		t.Fatalf("config %+v", c)
	}

	// One-line form with \n escapes, as in a .env file.
	t.Setenv("ROWGUARD_JWT_PRIVATE_KEY", strings.ReplaceAll(strings.TrimSpace(pemText), "\n", `\n`))
	if c, err := LoadServe(); err != nil || !c.JWTPrivateKey.Equal(key) {
		t.Fatalf("escaped PEM: %v", err)
	}

	// From a file.
	file := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(file, []byte(pemText), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ROWGUARD_JWT_PRIVATE_KEY_FILE", file)
	if _, err := LoadServe(); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("both key variables: err = %v", err)
	}
	os.Unsetenv("ROWGUARD_JWT_PRIVATE_KEY")
	if c, err := LoadServe(); err != nil || !c.JWTPrivateKey.Equal(key) || c.JWTKeySource != file {
		t.Fatalf("key file: %v", err)
	}
}

func TestServeValidation(t *testing.T) {
	pemText, _ := keyPEM(t)
	cases := []struct {
		name, value, want string
	}{
		{"ROWGUARD_ACCESS_TOKEN_TTL", "30s", "ROWGUARD_ACCESS_TOKEN_TTL: must be between 1m and 24h (got 30s)"},
		{"ROWGUARD_INVITATION_TTL", "30m", "ROWGUARD_INVITATION_TTL: must be between 1h and 720h (got 30m)"},
		{"ROWGUARD_INVITATION_TTL", "1000h", "ROWGUARD_INVITATION_TTL: must be between 1h and 720h (got 1000h)"},
		{"ROWGUARD_ACCESS_TOKEN_TTL", "48h", "ROWGUARD_ACCESS_TOKEN_TTL: must be between 1m and 24h (got 48h)"},
		{"ROWGUARD_ACCESS_TOKEN_TTL", "fifteen", `ROWGUARD_ACCESS_TOKEN_TTL: must be a duration such as 30s, 15m or 1h (got "fifteen")`},
		{"ROWGUARD_TOKEN_LEEWAY", "-1s", "ROWGUARD_TOKEN_LEEWAY: must be between 0s and 5m (got -1s)"},
		{"ROWGUARD_TOKEN_LEEWAY", "10m", "ROWGUARD_TOKEN_LEEWAY: must be between 0s and 5m (got 10m)"},
		{"ROWGUARD_REQUEST_TIMEOUT", "500ms", "ROWGUARD_REQUEST_TIMEOUT: must be between 1s and 10m (got 500ms)"},
		{"ROWGUARD_POOL_ACQUIRE_TIMEOUT", "1ms", "ROWGUARD_POOL_ACQUIRE_TIMEOUT: must be between 10ms and 10s (got 1ms)"},
		{"ROWGUARD_POOL_ACQUIRE_TIMEOUT", "1m", "ROWGUARD_POOL_ACQUIRE_TIMEOUT: must be between 10ms and 10s (got 1m)"},
		{"ROWGUARD_MAX_BODY_BYTES", "100", "ROWGUARD_MAX_BODY_BYTES: must be between 1KiB and 64MiB (got 100B)"},
		{"ROWGUARD_MAX_BODY_BYTES", "1GiB", "ROWGUARD_MAX_BODY_BYTES: must be between 1KiB and 64MiB (got 1024MiB)"},
		{"ROWGUARD_MAX_BODY_BYTES", "lots", `ROWGUARD_MAX_BODY_BYTES: must be a size in bytes such as 1048576, 512KiB or 1MiB (got "lots")`},
		{"ROWGUARD_ADDR", "8080", `ROWGUARD_ADDR: must be host:port, e.g. 127.0.0.1:8080 or :8080 (got "8080")`},
		{"ROWGUARD_ADDR", "localhost:http", `ROWGUARD_ADDR: port must be a number from 1 to 65535 (got "http")`},
		{"ROWGUARD_ADDR", ":70000", `ROWGUARD_ADDR: port must be a number from 1 to 65535 (got "70000")`},
		{"ROWGUARD_MANAGEMENT_ADDR", "9464", `ROWGUARD_MANAGEMENT_ADDR: must be host:port, e.g. 127.0.0.1:9464 or 0.0.0.0:9464; or off (no management listener, no metrics) or api (metrics on ROWGUARD_ADDR) (got "9464")`},
		{"ROWGUARD_MANAGEMENT_ADDR", "disabled", `ROWGUARD_MANAGEMENT_ADDR: must be host:port, e.g. 127.0.0.1:9464 or 0.0.0.0:9464; or off`},
		{"ROWGUARD_MANAGEMENT_ADDR", "localhost:metrics", `ROWGUARD_MANAGEMENT_ADDR: port must be a number from 1 to 65535 (got "metrics")`},
		{"ROWGUARD_MANAGEMENT_ADDR", "127.0.0.1:0", `ROWGUARD_MANAGEMENT_ADDR: port must be a number from 1 to 65535 (got "0")`},
		{"ROWGUARD_MANAGEMENT_ADDR", "a b:9464", `ROWGUARD_MANAGEMENT_ADDR: invalid host "a b"`},
		{"ROWGUARD_MANAGEMENT_ADDR", "127.0.0.1:8080", `ROWGUARD_MANAGEMENT_ADDR: must not share the port of ROWGUARD_ADDR (127.0.0.1:8080; got "127.0.0.1:8080"): pick another port, or set api to serve /metrics on the API port`},
		{"ROWGUARD_MANAGEMENT_ADDR", ":8080", `ROWGUARD_MANAGEMENT_ADDR: must not share the port of ROWGUARD_ADDR`},
		{"ROWGUARD_MANAGEMENT_ADDR", "[::]:8080", `ROWGUARD_MANAGEMENT_ADDR: must not share the port of ROWGUARD_ADDR`},
		{"ROWGUARD_LOG_LEVEL", "loud", `ROWGUARD_LOG_LEVEL: must be debug, info, warn or error (got "loud")`},
		{"ROWGUARD_LOG_LEVEL", "info+2", "ROWGUARD_LOG_LEVEL: must be debug, info, warn or error (got INFO+2)"},
		{"ROWGUARD_JWT_KEY_ID", "a b", "ROWGUARD_JWT_KEY_ID: must not contain spaces or quotes"},
		{"ROWGUARD_JWT_PRIVATE_KEY", "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n", `ROWGUARD_JWT_PRIVATE_KEY: PEM block is "PUBLIC KEY"`},
		{"ROWGUARD_JWT_PRIVATE_KEY", "not a key", "ROWGUARD_JWT_PRIVATE_KEY: no PEM block found"},
		{"ROWGUARD_PAYMENT_API_URL", "api.stripe.com", `ROWGUARD_PAYMENT_API_URL: must be an absolute http(s) URL (got "api.stripe.com")`},
		{"ROWGUARD_PAYMENT_API_KEY", "sk_test_1", `ROWGUARD_CHECKOUT_RETURN_URL: must be an absolute http(s) URL when ROWGUARD_PAYMENT_API_KEY is set (got "")`},
		{"ROWGUARD_SMTP_PORT", "0", "ROWGUARD_SMTP_PORT: must be a number from 1 to 65535 (got 0)"},
		{"ROWGUARD_SMTP_TLS", "ssl", `ROWGUARD_SMTP_TLS: must be starttls, tls or none (got "ssl")`},
		{"ROWGUARD_SMTP_HOST", "smtp.example.com:587", `ROWGUARD_SMTP_HOST: must be a host name or address, without port`},
		{"ROWGUARD_SMTP_PASSWORD", "secret", "ROWGUARD_SMTP_PASSWORD: set ROWGUARD_SMTP_USERNAME too"},
		{"ROWGUARD_OTP_SIGNUP", "maybe", `ROWGUARD_OTP_SIGNUP: must be true or false (got "maybe")`},
		{"ROWGUARD_PASSWORD_RESET_URL", "/reset", `ROWGUARD_PASSWORD_RESET_URL: must be an absolute http(s) URL without a #fragment (got "/reset")`},
		{"ROWGUARD_OIDC_GOOGLE_CLIENT_ID", "abc.apps.googleusercontent.com", "ROWGUARD_OIDC_GOOGLE_CLIENT_ID: set it and ROWGUARD_OIDC_GOOGLE_CLIENT_SECRET together"},
		{"ROWGUARD_OIDC_PROVIDERS", `{"name":"x"}`, "ROWGUARD_OIDC_PROVIDERS: must be a JSON array"},
		{"ROWGUARD_OIDC_PROVIDERS", `[{"name":"Okta!","issuer":"http://idp.example.com","client_id":"a","client_secret":"b"}]`, "must be 1 to 32 lower-case letters"},
		{"ROWGUARD_OIDC_PROVIDERS", `[{"name":"okta","issuer":"http://idp.example.com","client_id":"a","client_secret":"b"}]`, "must be https"},
		{"ROWGUARD_OIDC_PROVIDERS", `[{"name":"okta","issuer":"https://idp.example.com","client_id":"a","client_secret":"b"}]`, "ROWGUARD_PUBLIC_URL: required with an OpenID Connect provider"},
		{"ROWGUARD_PUBLIC_URL", "api.example.com", `ROWGUARD_PUBLIC_URL: must be an absolute http(s) URL`},
		{"ROWGUARD_MAIL_FROM", "nobody", "ROWGUARD_MAIL_FROM: must be an address"},
		{"ROWGUARD_JWT_PRIVATE_KEY", pemText + "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n", `ROWGUARD_JWT_PRIVATE_KEY: key 2 of the ring: PEM block is "PUBLIC KEY"`},
		{"ROWGUARD_SESSION_LIFETIME", "30m", "ROWGUARD_SESSION_LIFETIME: must be between 1h and 8760h (got 30m)"},
		{"ROWGUARD_SESSION_IDLE_TIMEOUT", "1000h", "ROWGUARD_SESSION_IDLE_TIMEOUT: must be between 5m and 720h (got 1000h)"},
		{"ROWGUARD_SESSION_IDLE_TIMEOUT", "1m", "ROWGUARD_SESSION_IDLE_TIMEOUT: must be between 5m and 720h (got 1m)"},
		{"ROWGUARD_REFRESH_REUSE_GRACE", "1h", "ROWGUARD_REFRESH_REUSE_GRACE: must be between 0s and 5m (got 1h)"},
		{"ROWGUARD_RATE_LIMIT_LOGIN_ACCOUNT", "ten", `ROWGUARD_RATE_LIMIT_LOGIN_ACCOUNT: must be <max>/<window> such as 10/15m (got "ten")`},
		{"ROWGUARD_RATE_LIMIT_LOGIN_ACCOUNT", "0/15m", "ROWGUARD_RATE_LIMIT_LOGIN_ACCOUNT: must be <max>/<window> with max 1 to 1000000 and window 1s to 24h, e.g. 10/15m (got 0/15m)"},
		{"ROWGUARD_RATE_LIMIT_REFRESH_ADDRESS", "10/48h", "ROWGUARD_RATE_LIMIT_REFRESH_ADDRESS: must be <max>/<window>"},
		{"ROWGUARD_PASSWORD_MEMORY_KIB", "64", "ROWGUARD_PASSWORD_MEMORY_KIB: must be between 8192 and 1048576 (got 64)"},
		{"ROWGUARD_PASSWORD_ITERATIONS", "0", "ROWGUARD_PASSWORD_ITERATIONS: must be between 1 and 16 (got 0)"},
		{"ROWGUARD_PASSWORD_PARALLELISM", "17", "ROWGUARD_PASSWORD_PARALLELISM: must be between 1 and 16 (got 17)"},
		{"ROWGUARD_TRUSTED_PROXIES", "10.0.0.0/33", `ROWGUARD_TRUSTED_PROXIES: must be a comma-separated list of IP addresses and CIDRs such as 10.0.0.0/8,127.0.0.1,::1: "10.0.0.0/33" is not a CIDR`},
		{"ROWGUARD_TRUSTED_PROXIES", "10.0.0.1/8", `ROWGUARD_TRUSTED_PROXIES: must be a comma-separated list of IP addresses and CIDRs such as 10.0.0.0/8,127.0.0.1,::1: "10.0.0.1/8" has host bits set (the network is 10.0.0.0/8; a single address is 10.0.0.1)`},
		{"ROWGUARD_TRUSTED_PROXIES", "proxy.internal", `ROWGUARD_TRUSTED_PROXIES: must be a comma-separated list of IP addresses and CIDRs such as 10.0.0.0/8,127.0.0.1,::1: "proxy.internal" is not an IP address`},
		{"ROWGUARD_TRUSTED_PROXIES", "10.0.0.0/8 127.0.0.1", `"10.0.0.0/8 127.0.0.1" is not a CIDR`},
		{"ROWGUARD_TRUSTED_PROXIES", "127.0.0.1:8080", `"127.0.0.1:8080" is not an IP address`},
		{"ROWGUARD_TRUSTED_PROXIES", "fe80::1%eth0", `"fe80::1%eth0" is not an IP address`},
		{"ROWGUARD_TRUSTED_PROXIES", "::1, 10.0.0.0/8, 1.2.3.4.5, *", `"1.2.3.4.5" is not an IP address; "*" is not an IP address`},
	}
	for _, tc := range cases {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("DATABASE_URL", "postgres://rowguard_app@db/rowguard")
			t.Setenv("ROWGUARD_JWT_PRIVATE_KEY", pemText)
			t.Setenv(tc.name, tc.value)
			_, err := LoadServe()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestServeReportsEveryBadVariable(t *testing.T) {
	clearEnv(t)
	t.Setenv("ROWGUARD_DATA_DIR", t.TempDir())
	t.Setenv("ROWGUARD_ACCESS_TOKEN_TTL", "1s")
	t.Setenv("ROWGUARD_REQUEST_TIMEOUT", "1h")
	_, err := LoadServe()
	if err == nil || !strings.Contains(err.Error(), "ROWGUARD_ACCESS_TOKEN_TTL") || !strings.Contains(err.Error(), "ROWGUARD_REQUEST_TIMEOUT") {
		t.Fatalf("err = %v", err)
	}
}

func TestEmptyVariablesTakeTheirDefaults(t *testing.T) {
	clearEnv(t)
	for _, v := range Variables {
		t.Setenv(v.Name, "")
	}
	t.Setenv("ROWGUARD_DATA_DIR", t.TempDir())
	c, err := LoadServe()
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessTokenTTL != 15*time.Minute || c.Addr != "127.0.0.1:8080" || !c.DevMode() {
		t.Fatalf("%+v", c)
	}
	if c.PaymentAPIURL != "https://api.stripe.com" || c.PaymentAPIKey != "" || c.PaymentWebhookSecret != "" {
		t.Fatalf("payment defaults: %+v", c)
	}
}

func TestMigrateURLFallsBackToDatabaseURL(t *testing.T) {
	clearEnv(t)
	c, err := LoadMigrate()
	if err != nil || c.URL() != "" || c.DataDir != ".rowguard" {
		t.Fatalf("dev: %+v, %v", c, err)
	}
	t.Setenv("DATABASE_URL", "postgres://app@db/rowguard")
	if c, _ := LoadMigrate(); c.URL() != "postgres://app@db/rowguard" {
		t.Fatalf("URL() = %q", c.URL())
	}
	t.Setenv("MIGRATION_DATABASE_URL", "postgres://owner@db/rowguard")
	if c, _ := LoadMigrate(); c.URL() != "postgres://owner@db/rowguard" {
		t.Fatalf("URL() = %q", c.URL())
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"1048576": 1 << 20, "1MiB": 1 << 20, "512 KiB": 512 << 10, "64kb": 64000, "2MB": 2000000, "10B": 10} {
		var b ByteSize
		if err := b.Decode(in); err != nil || b != want {
			t.Errorf("Decode(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5MiB", "1TiB"} {
		var b ByteSize
		if err := b.Decode(in); err == nil {
			t.Errorf("Decode(%q) = %d, want an error", in, b)
		}
	}
	if s := ByteSize(1 << 20).String(); s != "1MiB" {
		t.Errorf("String() = %q", s)
	}
}

func TestVariablesDocumentEveryField(t *testing.T) {
	documented := map[string]bool{}
	for _, v := range Variables {
		documented[v.Name] = true
	}
	for _, name := range []string{"DATABASE_URL", "MIGRATION_DATABASE_URL", "ROWGUARD_ADDR", "ROWGUARD_DATA_DIR",
		"ROWGUARD_JWT_PRIVATE_KEY", "ROWGUARD_JWT_PRIVATE_KEY_FILE", "ROWGUARD_JWT_KEY_ID", "ROWGUARD_JWT_ISSUER",
		"ROWGUARD_JWT_AUDIENCE", "ROWGUARD_ACCESS_TOKEN_TTL", "ROWGUARD_TOKEN_LEEWAY", "ROWGUARD_MAX_BODY_BYTES",
		"ROWGUARD_REQUEST_TIMEOUT", "ROWGUARD_LOG_LEVEL", "ROWGUARD_PAYMENT_API_URL", "ROWGUARD_PAYMENT_API_KEY",
		"ROWGUARD_PAYMENT_WEBHOOK_SECRET", "ROWGUARD_CHECKOUT_RETURN_URL", "ROWGUARD_INVITATION_TTL",
		"ROWGUARD_POOL_ACQUIRE_TIMEOUT", "ROWGUARD_TRUSTED_PROXIES", "ROWGUARD_MANAGEMENT_ADDR"} {
		if !documented[name] {
			t.Errorf("%s is not in Variables", name)
		}
	}
}

func TestServeOIDCProviders(t *testing.T) {
	clearEnv(t)
	t.Setenv("ROWGUARD_DATA_DIR", t.TempDir())
	t.Setenv("ROWGUARD_PUBLIC_URL", "https://api.example.com")
	t.Setenv("ROWGUARD_OIDC_GOOGLE_CLIENT_ID", "id.apps.googleusercontent.com")
	t.Setenv("ROWGUARD_OIDC_GOOGLE_CLIENT_SECRET", "g-secret")
	t.Setenv("ROWGUARD_OIDC_PROVIDERS", `[{"name":"okta","issuer":"https://example.okta.com","client_id":"o-id","client_secret":"o-secret","scopes":["email"]}]`)
	c, err := LoadServe()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.OIDCProviders) != 2 || c.OIDCProviders[0].Name != "google" || c.OIDCProviders[0].Issuer != "https://accounts.google.com" ||
		c.OIDCProviders[1].Name != "okta" || c.OIDCProviders[1].ClientSecret != "o-secret" {
		t.Fatalf("providers: %+v", c.OIDCProviders)
	}
}

func TestKeyRingAndSessionSettings(t *testing.T) {
	clearEnv(t)
	older, olderKey := keyPEM(t)
	newer, newerKey := keyPEM(t)
	t.Setenv("DATABASE_URL", "postgres://rowguard_app@db/rowguard")
	t.Setenv("ROWGUARD_JWT_PRIVATE_KEY", older+newer)
	t.Setenv("ROWGUARD_SESSION_LIFETIME", "24h")
	t.Setenv("ROWGUARD_SESSION_IDLE_TIMEOUT", "2h")
	t.Setenv("ROWGUARD_REFRESH_REUSE_GRACE", "0s")
	t.Setenv("ROWGUARD_RATE_LIMIT_LOGIN_ACCOUNT", " 5 / 1h ")
	t.Setenv("ROWGUARD_PASSWORD_MEMORY_KIB", "65536")
	c, err := LoadServe()
	if err != nil {
		t.Fatal(err)
	}
	if !c.JWTPrivateKey.Equal(newerKey) || len(c.JWTPreviousKeys) != 1 || !c.JWTPreviousKeys[0].Equal(olderKey.Public()) {
		t.Errorf("the last key of the ring must sign and the others be trusted")
	}
	if c.SessionLifetime != 24*time.Hour || c.SessionIdleTimeout != 2*time.Hour || c.RefreshReuseGrace != 0 ||
		c.RateLimitLoginAccount != (RateLimit{5, time.Hour}) || c.RateLimitLoginAddress != (RateLimit{50, 15 * time.Minute}) ||
		c.PasswordMemoryKiB != 65536 || c.PasswordIterations != 2 || c.PasswordParallelism != 1 {
		t.Errorf("settings: %+v", c)
	}
}

func TestTrustedProxies(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"", "[]"},
		{"10.0.0.0/8,127.0.0.1,::1", "[10.0.0.0/8 127.0.0.1/32 ::1/128]"},
		{" 192.168.0.0/16 , 2001:db8::/32 ,", "[192.168.0.0/16 2001:db8::/32]"},
		{"0.0.0.0/0", "[0.0.0.0/0]"},
	} {
		clearEnv(t)
		t.Setenv("ROWGUARD_DATA_DIR", t.TempDir())
		t.Setenv("ROWGUARD_TRUSTED_PROXIES", tc.value)
		c, err := LoadServe()
		if err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		if got := fmt.Sprint(c.TrustedProxies); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.value, got, tc.want)
		}
	}
}

// ROWGUARD_MANAGEMENT_ADDR: an address of its own (even on the API's port number, on
// another host), or one of the keywords, in any case.
func TestManagementAddr(t *testing.T) {
	for _, tc := range []struct {
		api, value string
		listener   string // "" : none
		onAPI      bool
	}{
		{"", "", "127.0.0.1:9464", false},
		{"", "0.0.0.0:9464", "0.0.0.0:9464", false},
		{"", ":9100", ":9100", false},
		{"", "[::1]:9464", "[::1]:9464", false},
		{"127.0.0.1:8080", "127.0.0.2:8080", "127.0.0.2:8080", false},
		{"", "off", "", false},
		{"", " OFF ", "", false},
		{"", "api", "", true},
		{"", "Api", "", true},
		{":8080", "api", "", true},
	} {
		clearEnv(t)
		t.Setenv("ROWGUARD_DATA_DIR", t.TempDir())
		t.Setenv("ROWGUARD_ADDR", tc.api)
		t.Setenv("ROWGUARD_MANAGEMENT_ADDR", tc.value)
		c, err := LoadServe()
		if err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		addr, ok := c.ManagementListener()
		if addr != tc.listener || ok != (tc.listener != "") || c.MetricsOnAPI() != tc.onAPI {
			t.Errorf("%q: listener %q %v, metrics on the API port %v; want %q, %v", tc.value, addr, ok, c.MetricsOnAPI(), tc.listener, tc.onAPI)
		}
	}
}

// docs/configuration.md's table lists exactly the variables of Variables and the tests'
// own TestOnlyVariables: `rowguard help`, the strict check of the environment and the
// documentation never drift apart.
func TestConfigurationDocListsEveryVariable(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	inDoc := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z_]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		inDoc[m[1]] = true
	}
	known := slices.Clone(TestOnlyVariables)
	for _, v := range Variables {
		known = append(known, v.Name)
	}
	for _, name := range known {
		if !inDoc[name] {
			t.Errorf("%s is known to the config package but not in docs/configuration.md's table", name)
		}
		delete(inDoc, name)
	}
	for name := range inDoc {
		t.Errorf("%s is in docs/configuration.md's table but not known to the config package", name)
	}
}

// The OTEL_* variables are the OpenTelemetry specification's: never "unknown", and the
// ones that decide what is exported are checked with the rest, every error at once.
func TestServeTracingVariables(t *testing.T) {
	clearEnv(t)
	t.Setenv("ROWGUARD_DATA_DIR", t.TempDir())
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
	t.Setenv("OTEL_SERVICE_NAME", "api-eu")
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret") // read by the exporter
	c, err := LoadServe()
	if err != nil {
		t.Fatal(err)
	}
	if !c.Tracing.Enabled || c.Tracing.Endpoint != "http://collector:4318/v1/traces" {
		t.Fatalf("tracing %+v", c.Tracing)
	}

	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("ROWGUARD_LOG_LEVEL", "loud")
	_, err = LoadServe()
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL: must be http/protobuf") ||
		!strings.Contains(err.Error(), "ROWGUARD_LOG_LEVEL") || strings.Contains(err.Error(), "unknown variable") {
		t.Fatalf("err = %v", err)
	}

	clearEnv(t)
	t.Setenv("ROWGUARD_DATA_DIR", t.TempDir())
	if c, err := LoadServe(); err != nil || c.Tracing.Enabled {
		t.Fatalf("unset: %+v, %v", c.Tracing, err)
	}
}
