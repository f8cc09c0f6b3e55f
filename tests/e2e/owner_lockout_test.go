package e2e

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"testing"

	"github.com/rowguard/rowguard/api"
)

// Issue 12, attack 6: 10 wrong passwords from anywhere made the owner's right password
// answer 429 for 15 minutes, and 10 hits on the email-code or reset routes blocked the
// owner's codes and reset mails. Now failures count per (account, client address) and,
// only from addresses the account never signed in from, per account; code and reset
// requests count per (account, address) and per address, and asking again for a live
// code or reset keeps it. The default limits are the ones under test.
func TestOwnerCannotBeLockedOut(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t, withOptions(func(o *api.Options) {
		o.RateLimits = api.RateLimitOptions{} // the defaults
		// The tests' client is loopback: as a trusted proxy, X-Forwarded-For names the client.
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}))
	const ownerIP, attackerIP = "198.51.100.10", "203.0.113.66"
	from := func(ip string) reqOption { return forwardedFor(ip) }
	owner, _ := m.register(t, "lockout-owner", "")
	m.login(t, owner, from(ownerIP)) // the owner has signed in from home before
	wrongLogin := func(ip string) *response {
		return m.do(t, http.MethodPost, "/v1/auth/login", "", map[string]any{"email": owner.Email, "password": "a wrong guess"}, from(ip))
	}
	wantTooMany := func(t *testing.T, r *response) {
		t.Helper()
		wantProblem(t, r, api.ProblemTooManyRequests)
		if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 15*60 {
			t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
		}
	}
	limits := api.DefaultRateLimits

	t.Run("wrong passwords from the attacker's address do not block the owner", func(t *testing.T) {
		for range limits.LoginPerAccountAddress.Max { // 10
			wantProblem(t, wrongLogin(attackerIP), api.ProblemInvalidCredentials)
		}
		wantTooMany(t, wrongLogin(attackerIP))
		// Before: the owner's right password answered 429 here. Now it signs in, from home ...
		m.login(t, owner, from(ownerIP))
		// ... and even from an address it never used: one attacker's guesses are that attacker's.
		m.login(t, owner, from("192.0.2.200"))
	})

	t.Run("a spray from many addresses holds unknown addresses only", func(t *testing.T) {
		// 10 failures from the attacker so far; 20 more from two other new addresses reach
		// the ceiling of 30 per account from addresses it never signed in from.
		for i := range 2 {
			for range limits.LoginPerAccountAddress.Max {
				wantProblem(t, wrongLogin(fmt.Sprintf("203.0.113.%d", 100+i)), api.ProblemInvalidCredentials)
			}
		}
		wantTooMany(t, wrongLogin("203.0.113.150"))
		// A new address is held now, even with the right password ...
		wantTooMany(t, m.do(t, http.MethodPost, "/v1/auth/login", "", map[string]any{"email": owner.Email, "password": owner.Password},
			from("203.0.113.151")))
		// ... but not the addresses the owner signed in from.
		m.login(t, owner, from(ownerIP))
		m.login(t, owner, from("192.0.2.200"))
		// An IPv6 attacker cannot rotate through its /64 to get more guesses.
		v6 := m.newEmail("lockout-v6")
		for i := range limits.LoginPerAccountAddress.Max {
			wantProblem(t, m.do(t, http.MethodPost, "/v1/auth/login", "", map[string]any{"email": v6, "password": "guess"},
				from(fmt.Sprintf("2001:db8:66:1::%x", i+1))), api.ProblemInvalidCredentials)
		}
		wantTooMany(t, m.do(t, http.MethodPost, "/v1/auth/login", "", map[string]any{"email": v6, "password": "guess"},
			from("2001:db8:66:1:ffff::1")))
	})

	t.Run("code and reset requests keep reaching the owner", func(t *testing.T) {
		// The attacker floods the owner's address with code requests: 5 per (email,
		// address), then 429 for that address only.
		for range limits.EmailPerAccountAddress.Max {
			m.do(t, http.MethodPost, "/v1/auth/otp/request", "", map[string]any{"email": owner.Email}, from(attackerIP)).
				want(t, http.StatusAccepted)
		}
		wantTooMany(t, m.do(t, http.MethodPost, "/v1/auth/otp/request", "", map[string]any{"email": owner.Email}, from(attackerIP)))
		// Asking again kept the first code: one mail, not five, and it is the owner's.
		if n := m.count(t, `select count(*)::int from auth.email_outbox where lower(recipient) = lower($1) and template = 'sign_in_code'`, owner.Email); n != 1 {
			t.Fatalf("%d code mails queued for 5 requests, want 1", n)
		}
		code := m.signInCode(t, owner.Email)
		// The owner asks too, from home: 202 (before: 429), and the code in the mailbox holds.
		m.do(t, http.MethodPost, "/v1/auth/otp/request", "", map[string]any{"email": owner.Email}, from(ownerIP)).
			want(t, http.StatusAccepted)
		// The attacker's guesses are refused (its address used up its failures) and void nothing.
		wantTooMany(t, m.do(t, http.MethodPost, "/v1/auth/otp/verify", "", map[string]any{"email": owner.Email, "code": "000000"}, from(attackerIP)))
		m.signedIn(t, m.do(t, http.MethodPost, "/v1/auth/otp/verify", "", map[string]any{"email": owner.Email, "code": code}, from(ownerIP)), owner.Email)

		// The same for reset mails.
		for range limits.EmailPerAccountAddress.Max {
			m.do(t, http.MethodPost, "/v1/auth/password/forgot", "", map[string]any{"email": owner.Email}, from(attackerIP)).
				want(t, http.StatusAccepted)
		}
		wantTooMany(t, m.do(t, http.MethodPost, "/v1/auth/password/forgot", "", map[string]any{"email": owner.Email}, from(attackerIP)))
		m.do(t, http.MethodPost, "/v1/auth/password/forgot", "", map[string]any{"email": owner.Email}, from(ownerIP)).
			want(t, http.StatusAccepted)
		if n := m.count(t, `select count(*)::int from auth.email_outbox where lower(recipient) = lower($1) and template = 'password_reset'`, owner.Email); n != 1 {
			t.Fatalf("%d reset mails queued for 6 requests, want 1", n)
		}
		tok, _ := m.resetToken(t, owner.Email)
		m.do(t, http.MethodPost, "/v1/auth/password/reset", "", map[string]any{"token": tok, "new_password": "the owner's new passphrase"},
			from(ownerIP)).want(t, http.StatusNoContent)
		owner.Password = "the owner's new passphrase"
		m.login(t, owner, from(ownerIP))
	})
}
