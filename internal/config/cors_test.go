package config

import (
	"strings"
	"testing"
)

// ROWGUARD_CORS_ALLOWED_ORIGINS: exact origins, normalized as browsers send them.
func TestCORSAllowedOrigins(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"", ""},
		{"https://app.example.com", "https://app.example.com"},
		{" https://App.Example.COM , http://localhost:5173 ,", "https://app.example.com http://localhost:5173"},
		{"HTTPS://app.example.com:443,http://example.com:80", "https://app.example.com http://example.com"},
		{"http://example.com:443,https://example.com:8443", "http://example.com:443 https://example.com:8443"},
		{"http://127.0.0.1:3000,http://[::1]:3000", "http://127.0.0.1:3000 http://[::1]:3000"},
		{"https://xn--bcher-kva.example", "https://xn--bcher-kva.example"},
		{"https://a.example,https://A.example", "https://a.example"},
	} {
		clearEnv(t)
		t.Setenv("ROWGUARD_DATA_DIR", t.TempDir())
		t.Setenv("ROWGUARD_CORS_ALLOWED_ORIGINS", tc.value)
		c, err := LoadServe()
		if err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		if got := strings.Join(c.CORSAllowedOrigins, " "); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.value, got, tc.want)
		}
	}
}

// Anything a browser never sends as an Origin is refused at start, each entry with its
// reason, next to the other bad variables; a wildcard above all.
func TestCORSAllowedOriginsRefused(t *testing.T) {
	const prefix = "ROWGUARD_CORS_ALLOWED_ORIGINS: must be a comma-separated list of origins such as https://app.example.com: "
	for _, tc := range []struct{ value, want string }{
		{"*", `"*" is a wildcard`},
		{"https://app.example.com,*", `"*" is a wildcard`},
		{"https://*.example.com", `"https://*.example.com" is a wildcard`},
		{"null", `"null" is not an origin such as https://app.example.com`},
		{"app.example.com", `"app.example.com" is not an origin`},
		{"app.example.com:443", `"app.example.com:443" is not an origin`},
		{"ftp://app.example.com", `must start with https:// or http://`},
		{"https://app.example.com/", `"https://app.example.com/" must have no path, query or fragment (an origin is scheme://host[:port], e.g. https://app.example.com)`},
		{"https://app.example.com/app", `must have no path`},
		{"https://app.example.com?x=1", `must have no path`},
		{"https://app.example.com#top", `must have no path`},
		{"https://app.example.com?", `must have no path`},
		{"https://user:pw@app.example.com", `must not hold user info`},
		{"https://app.example.com:0", `has a port outside 1 to 65535`},
		{"https://app.example.com:99999", `has a port outside 1 to 65535`},
		{"https://app.example.com:", `has an empty port`},
		{"https://bücher.example", `not an ASCII name`},
		{"https://app.example.com https://b.example.com", `is not an origin`},
		{"https://a.example,ftp://b.example,*", `"ftp://b.example" must start with https:// or http://; "*" is a wildcard`},
	} {
		t.Run(tc.value, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("ROWGUARD_DATA_DIR", t.TempDir())
			t.Setenv("ROWGUARD_ACCESS_TOKEN_TTL", "1s") // reported too: every bad variable at once
			t.Setenv("ROWGUARD_CORS_ALLOWED_ORIGINS", tc.value)
			_, err := LoadServe()
			if err == nil || !strings.Contains(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "ROWGUARD_ACCESS_TOKEN_TTL") {
				t.Fatalf("err = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}
