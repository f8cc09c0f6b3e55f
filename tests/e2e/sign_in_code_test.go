package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
)

// passwordlessRoutes answer without a token: the ways in without a password.
var passwordlessRoutes = []string{
	"POST /v1/auth/otp/request", "POST /v1/auth/otp/verify",
	"POST /v1/auth/password/forgot", "POST /v1/auth/password/reset",
	"GET /v1/auth/oidc/{provider}/start", "GET /v1/auth/oidc/{provider}/callback",
}

const codeWrongDetail = "The email or code is incorrect, expired or already used."

// requestCode asks for a sign-in code: always 202, no body.
func (e *env) requestCode(t testing.TB, email string) {
	t.Helper()
	r := e.do(t, http.MethodPost, "/v1/auth/otp/request", "", map[string]any{"email": email}).want(t, http.StatusAccepted)
	if len(r.Body) != 0 {
		t.Fatalf("%s: 202 with a body", r)
	}
}

func (e *env) verifyCode(t testing.TB, email, code string) *response {
	t.Helper()
	return e.do(t, http.MethodPost, "/v1/auth/otp/verify", "", map[string]any{"email": email, "code": code})
}

// wantWrongCode checks the one answer every failed verification gets.
func wantWrongCode(t testing.TB, r *response) {
	t.Helper()
	r.want(t, http.StatusUnauthorized)
	if p := r.problem(t); p.Type != api.ProblemInvalidCredentials.Type() || p.Detail != codeWrongDetail {
		t.Fatalf("%s: not the invalid-credentials answer", r)
	}
}

// signedIn checks a sign-in answer and that its token works.
func (e *env) signedIn(t testing.TB, r *response, email string) authResponse {
	t.Helper()
	r.want(t, http.StatusOK)
	var res authResponse
	r.decode(t, &res)
	if res.User.Email != email || res.TokenType != "Bearer" || res.AccessToken == "" {
		t.Fatalf("sign-in answer %s", r.Body)
	}
	var me meResponse
	e.do(t, http.MethodGet, "/v1/auth/me", res.AccessToken, nil).want(t, http.StatusOK).decode(t, &me)
	if me.User.ID != res.User.ID {
		t.Fatalf("the token is %s's, not %s's", me.User.ID, res.User.ID)
	}
	return res
}

func TestSignInCodeForAnExistingAccount(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t)
	// An account made before sign-ups were verified: its address is unproven.
	u := m.squat(t, "otp-user")

	m.requestCode(t, u.Email)
	code := m.signInCode(t, u.Email)
	res := m.signedIn(t, m.verifyCode(t, u.Email, code), u.Email)
	if res.User.ID != u.ID {
		t.Fatalf("signed in as %s, want %s", res.User.ID, u.ID)
	}
	if m.count(t, `select count(*)::int from auth.users where id = $1 and email_verified_at is not null`, u.ID) != 1 {
		t.Error("a verified code did not mark the email verified")
	}
	if m.count(t, `select count(*)::int from auth.sessions where user_id = $1`, u.ID) != 2 {
		t.Error("the code sign-in did not create exactly one more session")
	}

	// Single use.
	wantWrongCode(t, m.verifyCode(t, u.Email, code))
	// The address in any case is the same account.
	m.requestCode(t, upper(u.Email))
	m.signedIn(t, m.verifyCode(t, upper(u.Email), m.signInCode(t, u.Email)), u.Email)
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// No account enumeration: an unknown or disabled address gets the same 202 and no mail.
func TestSignInCodeRevealsNoAccount(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t)
	unknown := m.newEmail("nobody")
	disabled := m.squat(t, "otp-disabled") // no email ever queued for it
	m.exec(t, `update auth.users set status = 'disabled' where id = $1`, disabled.ID)
	before := m.snapshot(t)

	for _, email := range []string{unknown, disabled.Email} {
		m.requestCode(t, email)
		if n := m.outboxRows(t, email); n != 0 {
			t.Errorf("%s: %d emails queued", email, n)
		}
		wantWrongCode(t, m.verifyCode(t, email, "123456"))
	}
	m.unchanged(t, before, "code requests for unknown and disabled addresses")
}

// With ROWGUARD_OTP_SIGNUP the first verified code creates a password-less account,
// which password login then refuses exactly like a wrong password.
func TestSignInCodeSignUp(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t, withOptions(func(o *api.Options) { o.SignIn.EmailSignUp = true }))
	email := m.newEmail("otp-new")
	m.requestCode(t, email)
	if m.count(t, `select count(*)::int from auth.users where lower(email) = lower($1)`, email) != 0 {
		t.Fatal("the account exists before the code is verified")
	}
	res := m.signedIn(t, m.verifyCode(t, email, m.signInCode(t, email)), email)
	if m.count(t, `select count(*)::int from auth.users where id = $1 and password_hash is null and email_verified_at is not null`, res.User.ID) != 1 {
		t.Fatal("the new account is not password-less and verified")
	}

	r := m.do(t, http.MethodPost, "/v1/auth/login", "", map[string]any{"email": email, "password": "whatever password"})
	r.want(t, http.StatusUnauthorized)
	if p := r.problem(t); p.Type != api.ProblemInvalidCredentials.Type() || p.Detail != "The email or password is incorrect." {
		t.Fatalf("password login to a password-less account: %s", r)
	}
}

func TestSignInCodeAttemptsAreLimited(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t, withOptions(func(o *api.Options) {
		// Per-code guesses are under test, not the failures per address.
		o.RateLimits.LoginPerAccountAddress = api.RateLimit{Max: 1000, Window: time.Hour}
	}))
	u, _ := m.register(t, "otp-guess", "")
	m.requestCode(t, u.Email)
	code := m.signInCode(t, u.Email)
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)

	for range 19 {
		wantWrongCode(t, m.verifyCode(t, u.Email, wrong))
	}
	if n := m.count(t, `select attempts from auth.email_sign_in_codes where email = lower($1)`, u.Email); n != 19 {
		t.Fatalf("attempts = %d after 19 wrong guesses (the count must commit although the request fails)", n)
	}
	wantWrongCode(t, m.verifyCode(t, u.Email, wrong)) // the 20th: the code is void
	wantWrongCode(t, m.verifyCode(t, u.Email, code))

	// Nineteen wrong guesses still leave the right code usable.
	m.requestCode(t, u.Email)
	code = m.signInCode(t, u.Email)
	for range 19 {
		wantWrongCode(t, m.verifyCode(t, u.Email, fmt.Sprintf("%06d", (atoi(code)+7)%1000000)))
	}
	m.signedIn(t, m.verifyCode(t, u.Email, code), u.Email)
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// Asking again while a code is live keeps it and sends nothing: whoever floods the route
// with someone's address neither voids the code in their mailbox nor fills it (issue 12,
// attack 6; before, each request replaced the code).
func TestSignInCodeNewRequestKeepsTheLiveCode(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t)
	u, _ := m.register(t, "otp-twice", "")
	m.requestCode(t, u.Email)
	first := m.signInCode(t, u.Email)
	m.requestCode(t, u.Email)
	m.requestCode(t, upper(u.Email))
	if n := m.count(t, `select count(*)::int from auth.email_outbox where lower(recipient) = lower($1) and template = 'sign_in_code'`, u.Email); n != 1 {
		t.Fatalf("%d code mails for three requests, want 1", n)
	}
	m.signedIn(t, m.verifyCode(t, u.Email, first), u.Email)
	// Used up, a code no longer stands in the way of the next one.
	m.requestCode(t, u.Email)
	m.signedIn(t, m.verifyCode(t, u.Email, m.signInCode(t, u.Email)), u.Email)
}

func TestSignInCodeExpires(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t)
	u, _ := m.register(t, "otp-late", "")
	m.requestCode(t, u.Email)
	code := m.signInCode(t, u.Email)
	if n := m.count(t, `select count(*)::int from auth.email_sign_in_codes
	                     where email = lower($1) and expires_at between now() + interval '9 minutes' and now() + interval '10 minutes'`, u.Email); n != 1 {
		t.Fatal("the code does not expire in 10 minutes")
	}
	m.exec(t, `update auth.email_sign_in_codes set expires_at = now() - interval '1 second' where email = lower($1)`, u.Email)
	wantWrongCode(t, m.verifyCode(t, u.Email, code))
}

// Codes are stored as a keyed hash the database cannot invert: HMAC-SHA256 of the
// address and the code, keyed from the server's signing key; the mail's payload is
// gone once it is sent.
func TestSignInCodeIsNotStored(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t)
	u, _ := m.register(t, "otp-rest", "")
	m.requestCode(t, u.Email)
	code := m.signInCode(t, u.Email)
	key, err := m.tokens.DeriveKey("rowguard sign-in code v1")
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(strings.ToLower(u.Email) + "\x00" + code))
	if n := m.count(t, `select count(*)::int from auth.email_sign_in_codes c
	                     where c.email = lower($1) and c.code_hash = $3
	                       and c.code_hash <> sha256(convert_to($2, 'UTF8'))
	                       and position(convert_to($2, 'UTF8') in c.code_hash) = 0`, u.Email, code, mac.Sum(nil)); n != 1 {
		t.Fatal("the stored code is not the HMAC-SHA256 of the address and the code, keyed from the signing key")
	}
	deadline := time.Now().Add(2 * time.Minute)
	for m.count(t, `select count(*)::int from auth.email_outbox where lower(recipient) = lower($1) and payload::text like '%' || $2 || '%'`, u.Email, code) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the sent email's payload still holds the code")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSignInCodeBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.runBadInput(t, http.MethodPost, "/v1/auth/otp/request", "", append(
		bodyCases(map[string]any{"email": "a@example.com"}, "email"),
		invalid("no email", map[string]any{}, "email"),
		invalid("not an email", map[string]any{"email": "nope"}, "email"),
	))
	e.runBadInput(t, http.MethodPost, "/v1/auth/otp/verify", "", append(
		bodyCases(map[string]any{"email": "a@example.com", "code": "123456"}, "code"),
		invalid("no code", map[string]any{"email": "a@example.com"}, "code"),
		invalid("letters", map[string]any{"email": "a@example.com", "code": "12ab56"}, "code"),
		invalid("too short", map[string]any{"email": "a@example.com", "code": "12345"}, "code"),
		invalid("a number, not a string", map[string]any{"email": "a@example.com", "code": 123456}, "code"),
	))
}

// Codes and reset emails are limited, each apart, per (address asked for, client address), and every
// password-less route per client address; wrong codes count as sign-in failures, like
// wrong passwords. Over a limit: 429 with Retry-After, and no email is queued.
func TestSignInRateLimits(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t, withOptions(func(o *api.Options) {
		o.RateLimits.EmailPerAccountAddress = api.RateLimit{Max: 1, Window: time.Hour}
		o.RateLimits.LoginPerAccountAddress = api.RateLimit{Max: 1, Window: time.Hour}
		o.RateLimits.SignInPerAddress = api.RateLimit{Max: 5, Window: time.Hour}
	}))
	u, _ := m.register(t, "otp-limited", "")
	m.requestCode(t, u.Email)
	m.verifyCode(t, u.Email, "000000")
	m.do(t, http.MethodPost, "/v1/auth/password/forgot", "", map[string]any{"email": u.Email}).want(t, http.StatusAccepted)
	outbox := m.count(t, `select count(*) from auth.email_outbox where lower(recipient) = lower($1)`, u.Email)
	for _, r := range []*response{
		m.do(t, http.MethodPost, "/v1/auth/otp/request", "", map[string]any{"email": u.Email}),
		m.do(t, http.MethodPost, "/v1/auth/password/forgot", "", map[string]any{"email": strings.ToUpper(u.Email)}),
		m.do(t, http.MethodPost, "/v1/auth/otp/verify", "", map[string]any{"email": u.Email, "code": "000000"}),
	} {
		wantProblem(t, r, api.ProblemTooManyRequests)
		if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 3600 {
			t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
		}
	}
	if n := m.count(t, `select count(*) from auth.email_outbox where lower(recipient) = lower($1)`, u.Email); n != outbox {
		t.Errorf("refused requests queued %d emails", n-outbox)
	}
	// Another address still gets its code: the limit is per account ...
	m.do(t, http.MethodPost, "/v1/auth/otp/request", "", map[string]any{"email": "someone-else@example.com"}).want(t, http.StatusAccepted)
	// ... until the client address has used its 5 sign-in requests (3 so far + 2: a refused
	// request counts nothing, its hits roll back with its batch).
	m.do(t, http.MethodPost, "/v1/auth/otp/request", "", map[string]any{"email": "third@example.com"}).want(t, http.StatusAccepted)
	wantProblem(t, m.do(t, http.MethodPost, "/v1/auth/password/reset", "",
		map[string]any{"token": strings.Repeat("A", 43), "new_password": "a brand new passphrase"}), api.ProblemTooManyRequests)
}
