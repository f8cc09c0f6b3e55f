package ha

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowguard/rowguard/internal/testdb"
)

func TestMain(m *testing.M) {
	code := testdb.Run(m.Run)
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// cluster3 is three `rowguard serve` processes on one database behind a round-robin
// proxy, and the superuser pool that builds fixtures and checks from the outside.
type cluster3 struct {
	inst  []*instance
	proxy *roundRobin
	admin *pgxpool.Pool
	addrs atomic.Int64 // client addresses handed out (198.18.0.0/15, benchmark space)
}

// addr returns a client address no request used before: X-Forwarded-For through the
// trusted proxy (or sent by the test straight to an instance, from the trusted
// loopback), so per-address limits count each part of the test on its own.
func (c *cluster3) addr() string {
	n := c.addrs.Add(1)
	return fmt.Sprintf("198.18.%d.%d", n/250, n%250+1)
}

func newCluster3(t *testing.T, extra map[string]string) *cluster3 {
	t.Helper()
	db := testdb.New(t)
	env := map[string]string{
		"DATABASE_URL":                 db.AppURL,
		"ROWGUARD_JWT_PRIVATE_KEY":     signingKeyPEM(t), // one key for every instance
		"ROWGUARD_TRUSTED_PROXIES":     "127.0.0.1",
		"ROWGUARD_LOG_LEVEL":           "warn",
		"ROWGUARD_PASSWORD_MEMORY_KIB": "8192",
		"ROWGUARD_PASSWORD_ITERATIONS": "1",
	}
	for k, v := range extra {
		env[k] = v
	}
	c := &cluster3{admin: db.AdminPool(t), inst: make([]*instance, 3)}
	var wg sync.WaitGroup
	for i := range c.inst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.inst[i] = startInstance(t, "instance-"+strconv.Itoa(i+1), env)
		}()
	}
	wg.Wait()
	for _, in := range c.inst {
		if in == nil {
			t.FailNow() // startInstance reported why
		}
	}
	c.proxy = startRoundRobin(t, c.inst)
	return c
}

// newUser writes a verified account (the fixture is not what these tests are about;
// signing in is, over HTTP).
func (c *cluster3) newUser(t *testing.T, email string) {
	t.Helper()
	if _, err := c.admin.Exec(t.Context(), `insert into auth.users (email, password_hash, email_verified_at)
	                                        values ($1, $2, now())`, email, cheapHash(t, "correct horse battery")); err != nil {
		t.Fatal(err)
	}
}

// login signs email in at base (an instance or the proxy) from a fresh address.
func (c *cluster3) login(t *testing.T, base, email string) session {
	t.Helper()
	a := call(t.Context(), base, "POST", "/v1/auth/login", "", map[string]any{"email": email, "password": "correct horse battery"},
		"X-Forwarded-For", c.addr())
	if a.Status != http.StatusOK {
		t.Fatalf("login %s: %s", email, a)
	}
	var s session
	a.decode(t, &s)
	return s
}

func (c *cluster3) refresh(ctx context.Context, base, refreshToken string) answer {
	return call(ctx, base, "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": refreshToken})
}

func (c *cluster3) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := c.admin.QueryRow(t.Context(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func want(t *testing.T, what string, a answer, status int, problem string) {
	t.Helper()
	if a.Err != nil || a.Status != status || (problem != "" && a.problemType() != problem) {
		t.Fatalf("%s: got %s, want %d %s", what, a, status, problem)
	}
}

// Three `rowguard serve` processes on one database behind a round-robin proxy: every
// rule that needs memory across requests (rate limits, revocation, logout, the refresh
// chain, idempotency keys) lives in PostgreSQL, so it holds whichever instance a
// request reaches.
func TestSeveralInstancesShareEveryRule(t *testing.T) {
	c := newCluster3(t, map[string]string{
		"ROWGUARD_RATE_LIMIT_LOGIN_ACCOUNT_ADDRESS": "3/1h",
		"ROWGUARD_RATE_LIMIT_LOGIN_ADDRESS":         "6/1h",
		"ROWGUARD_REFRESH_REUSE_GRACE":              "5m", // the test moves rotated_at back to leave it
	})
	ctx := t.Context()
	in1, in2, in3 := c.inst[0].URL, c.inst[1].URL, c.inst[2].URL

	t.Run("the proxy spreads requests over the three instances", func(t *testing.T) {
		c.newUser(t, "spread@example.com")
		s := c.login(t, c.proxy.URL, "spread@example.com")
		by := map[string]int{}
		for range 30 {
			a := call(ctx, c.proxy.URL, "GET", "/v1/auth/me", s.AccessToken, nil)
			want(t, "me through the proxy", a, http.StatusOK, "")
			by[a.Header.Get("X-Served-By")]++
		}
		if len(by) != 3 || by["instance-1"] != 10 || by["instance-2"] != 10 || by["instance-3"] != 10 {
			t.Fatalf("30 requests were served %v, want 10 by each instance", by)
		}
	})

	t.Run("a login limit reached through instance 1 holds on instance 3", func(t *testing.T) {
		c.newUser(t, "guessed@example.com")
		from := c.addr()
		guess := map[string]any{"email": "guessed@example.com", "password": "not the password"}
		for i := range 3 {
			want(t, "guess "+strconv.Itoa(i+1)+" on instance 1", call(ctx, in1, "POST", "/v1/auth/login", "", guess, "X-Forwarded-For", from),
				http.StatusUnauthorized, "invalid-credentials")
		}
		for _, base := range []string{in3, in2} {
			a := call(ctx, base, "POST", "/v1/auth/login", "", guess, "X-Forwarded-For", from)
			want(t, "the fourth guess on another instance", a, http.StatusTooManyRequests, "too-many-requests")
			if s, err := strconv.Atoi(a.Header.Get("Retry-After")); err != nil || s < 1 || s > 3600 {
				t.Errorf("Retry-After %q", a.Header.Get("Retry-After"))
			}
		}
		// The same account from another address is not held by this limit.
		c.login(t, in3, "guessed@example.com")

		// Per address, through the round-robin proxy: 6 attempts at different accounts
		// land on all three instances; the 7th is refused, wherever it lands.
		spray := c.addr()
		for i := range 6 {
			a := call(ctx, c.proxy.URL, "POST", "/v1/auth/login", "", map[string]any{
				"email": fmt.Sprintf("nobody-%d@example.com", i), "password": "guess"}, "X-Forwarded-For", spray)
			want(t, "spray "+strconv.Itoa(i+1), a, http.StatusUnauthorized, "invalid-credentials")
		}
		for i := range 3 {
			a := call(ctx, c.proxy.URL, "POST", "/v1/auth/login", "", map[string]any{
				"email": fmt.Sprintf("more-%d@example.com", i), "password": "guess"}, "X-Forwarded-For", spray)
			want(t, "spray past the limit", a, http.StatusTooManyRequests, "too-many-requests")
		}
	})

	t.Run("a session revoked or logged out via instance 2 is refused by instance 1 at once", func(t *testing.T) {
		c.newUser(t, "revoked@example.com")
		a := c.login(t, in1, "revoked@example.com")
		b := c.login(t, in2, "revoked@example.com")
		d := c.login(t, in3, "revoked@example.com")
		for _, base := range []string{in1, in2, in3} { // every instance has verified (and may cache) a's token
			want(t, "a before revocation", call(ctx, base, "GET", "/v1/auth/me", a.AccessToken, nil), http.StatusOK, "")
		}
		want(t, "revoke a via instance 2", call(ctx, in2, "DELETE", "/v1/auth/sessions/"+a.sessionID(t), b.AccessToken, nil),
			http.StatusNoContent, "")
		want(t, "a on instance 1 right after", call(ctx, in1, "GET", "/v1/auth/me", a.AccessToken, nil), http.StatusUnauthorized, "")
		want(t, "a on instance 3 right after", call(ctx, in3, "GET", "/v1/auth/me", a.AccessToken, nil), http.StatusUnauthorized, "")
		want(t, "a's refresh on instance 3", c.refresh(ctx, in3, a.RefreshToken), http.StatusUnauthorized, "unauthorized")

		want(t, "b logs out via instance 2", call(ctx, in2, "POST", "/v1/auth/logout", b.AccessToken, nil), http.StatusNoContent, "")
		want(t, "b on instance 1 right after", call(ctx, in1, "GET", "/v1/auth/me", b.AccessToken, nil), http.StatusUnauthorized, "")
		want(t, "b's refresh on instance 1", c.refresh(ctx, in1, b.RefreshToken), http.StatusUnauthorized, "unauthorized")

		want(t, "d untouched on instance 1", call(ctx, in1, "GET", "/v1/auth/me", d.AccessToken, nil), http.StatusOK, "")
		e := c.login(t, in1, "revoked@example.com")
		want(t, "logout-all via instance 2", call(ctx, in2, "POST", "/v1/auth/logout-all", d.AccessToken, nil), http.StatusNoContent, "")
		for i, base := range []string{in1, in3} {
			for _, s := range []session{d, e} {
				want(t, fmt.Sprintf("after logout-all, instance %d", 2*i+1), call(ctx, base, "GET", "/v1/auth/me", s.AccessToken, nil),
					http.StatusUnauthorized, "")
			}
		}
	})

	t.Run("the refresh chain is one across instances", func(t *testing.T) {
		c.newUser(t, "chain@example.com")
		s := c.login(t, c.proxy.URL, "chain@example.com")
		sid := s.sessionID(t)
		live := func() int {
			return c.count(t, `select count(*)::int from auth.refresh_tokens where session_id = $1 and rotated_at is null`, sid)
		}
		// Six tabs refresh the same token at once, two through each instance: one
		// successor, shared by all.
		got := make([]answer, 6)
		var wg sync.WaitGroup
		for i := range got {
			wg.Add(1)
			go func() { defer wg.Done(); got[i] = c.refresh(ctx, c.inst[i%3].URL, s.RefreshToken) }()
		}
		wg.Wait()
		var first session
		for i, a := range got {
			want(t, "tab "+strconv.Itoa(i), a, http.StatusOK, "")
			var r session
			a.decode(t, &r)
			if i == 0 {
				first = r
			} else if r.RefreshToken != first.RefreshToken {
				t.Fatalf("tab %d (instance %d) got another refresh token: the chain forked", i, i%3+1)
			}
		}
		if n := live(); n != 1 {
			t.Fatalf("the session has %d live refresh tokens, want 1", n)
		}
		// A replay of the rotated token on instance 2, within the grace window: the same successor.
		var replay session
		r := c.refresh(ctx, in2, s.RefreshToken)
		want(t, "replay within grace on instance 2", r, http.StatusOK, "")
		r.decode(t, &replay)
		if replay.RefreshToken != first.RefreshToken {
			t.Fatal("a replay within the grace window got a refresh token of its own")
		}
		// The owner rotates on via instance 3; then the grace window passes (rotated_at
		// moves back an hour) and the replay of the old token on instance 1 is reuse:
		// the whole session ends, on every instance.
		var next session
		r = c.refresh(ctx, in3, first.RefreshToken)
		want(t, "rotate on via instance 3", r, http.StatusOK, "")
		r.decode(t, &next)
		if _, err := c.admin.Exec(ctx, `update auth.refresh_tokens set rotated_at = now() - interval '1 hour'
		                               where session_id = $1 and rotated_at is not null`, sid); err != nil {
			t.Fatal(err)
		}
		want(t, "replay after grace on instance 1", c.refresh(ctx, in1, first.RefreshToken), http.StatusUnauthorized, "refresh-token-reused")
		if n := c.count(t, `select count(*)::int from auth.sessions where id = $1 and revoked_reason = 'refresh_token_reused'`, sid); n != 1 {
			t.Fatal("the session was not revoked as reused")
		}
		want(t, "the live token on instance 2", c.refresh(ctx, in2, next.RefreshToken), http.StatusUnauthorized, "unauthorized")
		want(t, "its access token on instance 3", call(ctx, in3, "GET", "/v1/auth/me", next.AccessToken, nil), http.StatusUnauthorized, "")
	})

	t.Run("an idempotency key holds across instances", func(t *testing.T) {
		c.newUser(t, "ledger@example.com")
		s := c.login(t, c.proxy.URL, "ledger@example.com")
		var org, project, category struct{ ID string }
		a := call(ctx, c.proxy.URL, "POST", "/v1/orgs", s.AccessToken, map[string]any{"name": "Ledger"})
		want(t, "create org", a, http.StatusCreated, "")
		a.decode(t, &org)
		a = call(ctx, c.proxy.URL, "POST", "/v1/orgs/"+org.ID+"/projects", s.AccessToken, map[string]any{"name": "Books"})
		want(t, "create project", a, http.StatusCreated, "")
		a.decode(t, &project)
		base := "/v1/orgs/" + org.ID + "/projects/" + project.ID
		a = call(ctx, c.proxy.URL, "POST", base+"/categories", s.AccessToken, map[string]any{"kind": "income", "name": "Sales"})
		want(t, "create category", a, http.StatusCreated, "")
		a.decode(t, &category)
		body := map[string]any{"kind": "income", "amount": "10", "currency": "EUR", "category_id": category.ID,
			"payment_source": "card", "occurred_on": "2030-01-01"}
		records := func() int {
			return c.count(t, `select count(*)::int from app.financial_records where project_id = $1`, project.ID)
		}

		first := call(ctx, in1, "POST", base+"/records", s.AccessToken, body, "Idempotency-Key", "order-1")
		want(t, "keyed POST on instance 1", first, http.StatusCreated, "")
		again := call(ctx, in2, "POST", base+"/records", s.AccessToken, body, "Idempotency-Key", "order-1")
		want(t, "its retry on instance 2", again, http.StatusCreated, "")
		if string(first.Body) != string(again.Body) {
			t.Errorf("the retry on instance 2 answered differently:\n%s\n%s", first.Body, again.Body)
		}
		if n := records(); n != 1 {
			t.Fatalf("%d records after one POST retried on another instance, want 1", n)
		}
		other := map[string]any{}
		for k, v := range body {
			other[k] = v
		}
		other["amount"] = "11"
		a = call(ctx, in3, "POST", base+"/records", s.AccessToken, other, "Idempotency-Key", "order-1")
		want(t, "another body under the key on instance 3", a, http.StatusUnprocessableEntity, "validation-failed")

		// Nine retries at once, three through each instance: one write, one answer.
		got := make([]answer, 9)
		var wg sync.WaitGroup
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i] = call(ctx, c.inst[i%3].URL, "POST", base+"/records", s.AccessToken, body, "Idempotency-Key", "burst")
			}()
		}
		wg.Wait()
		for i, a := range got {
			want(t, "burst retry "+strconv.Itoa(i), a, http.StatusCreated, "")
			if string(a.Body) != string(got[0].Body) {
				t.Errorf("retry %d (instance %d) answered differently", i, i%3+1)
			}
		}
		if n := records(); n != 2 {
			t.Fatalf("%d records after two keyed POSTs, each retried on every instance, want 2", n)
		}
	})

	for _, in := range c.inst {
		if !in.alive() {
			t.Errorf("%s exited during the test", in.name)
		}
	}
}
