package e2e

import (
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
)

// forwardedFor replaces the request's X-Forwarded-For with these header lines, in order.
func forwardedFor(lines ...string) reqOption {
	return func(r *http.Request) {
		r.Header.Del("X-Forwarded-For")
		for _, l := range lines {
			r.Header.Add("X-Forwarded-For", l)
		}
	}
}

// ROWGUARD_TRUSTED_PROXIES end to end. The tests' client connects from loopback: in the
// first server loopback is a trusted proxy, so X-Forwarded-For names the client; in the
// second it is not (the server trusts another network), so the header is ignored.
func TestTrustedProxy(t *testing.T) {
	t.Parallel()
	const loginsPerAddress = 3
	limits := func(o *api.Options) {
		o.RateLimits.LoginPerAddress = api.RateLimit{Max: loginsPerAddress, Window: time.Hour}
		o.RateLimits.LoginPerAccount = api.RateLimit{Max: 1000, Window: time.Hour}
	}
	wrongPassword := func(e *env, t *testing.T, opts ...reqOption) *response {
		t.Helper()
		return e.do(t, http.MethodPost, "/v1/auth/login", "", map[string]any{"email": e.newEmail("spray"), "password": "a wrong guess"}, opts...)
	}
	// hits is what the login bucket of address has counted.
	hits := func(e *env, t *testing.T, address string) int {
		t.Helper()
		return e.count(t, `select coalesce(sum(hits), 0)::int from auth.rate_limits where bucket = 'login:address:' || $1`, address)
	}
	// currentIP is the ip the session list shows for u's current session.
	currentIP := func(e *env, t *testing.T, u user) string {
		t.Helper()
		for _, s := range e.sessions(t, u) {
			if s.Current {
				if s.IP == nil {
					return "<null>"
				}
				return *s.IP
			}
		}
		t.Fatal("no current session listed")
		return ""
	}

	t.Run("behind a trusted proxy every client has its own bucket", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withOptions(func(o *api.Options) {
			limits(o)
			o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		}))
		const spray, bystander = "203.0.113.10", "203.0.113.20"
		u, _ := e.register(t, "behind-proxy", "")

		// The client at 203.0.113.10 uses up its logins ...
		for range loginsPerAddress {
			wantProblem(t, wrongPassword(e, t, forwardedFor(spray)), api.ProblemInvalidCredentials)
		}
		wantProblem(t, wrongPassword(e, t, forwardedFor(spray)), api.ProblemTooManyRequests)
		// ... and cannot get around it by forging the header its proxy appends to: on one
		// line, on a line of its own, or posing as a proxy itself.
		for _, forged := range []reqOption{
			forwardedFor(bystander + ", " + spray),
			forwardedFor(bystander, spray),
			forwardedFor(bystander+", 127.0.0.1", spray),
		} {
			wantProblem(t, wrongPassword(e, t, forged), api.ProblemTooManyRequests)
		}

		// The client at 203.0.113.20, behind the same proxy, is not limited: every attempt of
		// its own counts, none of the other's.
		for range loginsPerAddress {
			b := e.login(t, u, forwardedFor(bystander))
			if ip := currentIP(e, t, b); ip != bystander {
				t.Errorf("session list shows ip %s, want the forwarded %s", ip, bystander)
			}
		}
		wantProblem(t, e.do(t, http.MethodPost, "/v1/auth/login", "", map[string]any{"email": u.Email, "password": u.Password},
			forwardedFor(bystander)), api.ProblemTooManyRequests)
		if n, m := hits(e, t, spray), hits(e, t, bystander); n != loginsPerAddress || m != loginsPerAddress {
			t.Errorf("buckets counted %d and %d, want %d each (refused attempts count nothing)", n, m, loginsPerAddress)
		}
		if n := hits(e, t, "127.0.0.1"); n != 0 {
			t.Errorf("the proxy's own address counted %d logins", n)
		}

		// IPv6, in brackets with a port as some proxies write it, through a second proxy.
		v6 := e.login(t, u, forwardedFor("[2001:db8::7]:51234, 127.0.0.2"))
		if ip := currentIP(e, t, v6); ip != "2001:db8::7" {
			t.Errorf("session list shows ip %s, want 2001:db8::7", ip)
		}
		// No header: the proxy itself is the client.
		direct := e.login(t, u)
		if ip := currentIP(e, t, direct); ip != "127.0.0.1" {
			t.Errorf("session list shows ip %s, want the peer 127.0.0.1", ip)
		}
	})

	t.Run("a client that is not a trusted proxy cannot choose its address", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withOptions(func(o *api.Options) {
			limits(o)
			o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} // not loopback
		}))
		u, _ := e.register(t, "direct", "")
		s := e.login(t, u, forwardedFor("198.51.100.1"))
		if ip := currentIP(e, t, s); ip != "127.0.0.1" {
			t.Errorf("session list shows ip %s, want the peer 127.0.0.1", ip)
		}
		// A new X-Forwarded-For on every attempt: all of them count for 127.0.0.1.
		for i, forged := range []string{"198.51.100.2", "198.51.100.3", "198.51.100.4", "10.0.0.1", "198.51.100.5, 10.0.0.1"} {
			r := wrongPassword(e, t, forwardedFor(forged))
			if i+1 < loginsPerAddress {
				wantProblem(t, r, api.ProblemInvalidCredentials)
			} else {
				wantProblem(t, r, api.ProblemTooManyRequests)
			}
		}
		if n := hits(e, t, "127.0.0.1"); n != loginsPerAddress {
			t.Errorf("127.0.0.1 counted %d logins, want %d", n, loginsPerAddress)
		}
		if n := e.count(t, `select count(*) from auth.rate_limits where bucket like 'login:address:%' and bucket <> 'login:address:127.0.0.1'`); n != 0 {
			t.Errorf("%d buckets of forwarded addresses", n)
		}
	})
}
