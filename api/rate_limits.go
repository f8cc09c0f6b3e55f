package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Brute-force limits. The counters live in PostgreSQL (auth.rate_limits, through
// auth.enforce_rate_limit), so every replica counts into the same buckets. A bucket
// over its limit answers 429 with Retry-After until its window ends.
//
// To limit a new action, queue auth.enforce_rate_limit in the action's batch (see
// queueRateLimit) or call it from its SQL function, with a bucket named
// '<action>:<address|account>:<key>'.

// RateLimit allows Max hits per Window (a fixed window per bucket).
type RateLimit struct {
	Max    int
	Window time.Duration
}

// RateLimitOptions are the limits of the sign-in endpoints. Zero fields take the
// defaults of DefaultRateLimits. "Network" is the client's address, an IPv6 one as its
// /64 (clientNetwork).
//
// None of them can lock the owner of an account out: wrong passwords and codes count
// per (email, network), and against the email as a whole only from networks the
// account never signed in from (auth.hit_sign_in_failure); asking for codes and reset
// emails counts per (email, network) and per network, never per email alone.
type RateLimitOptions struct {
	LoginPerAddress RateLimit // POST /v1/auth/login attempts, per client network
	// LoginPerAccountAddress: failed sign-ins (a wrong password or email code) per
	// email and client network.
	LoginPerAccountAddress RateLimit
	// LoginPerAccount: failed sign-ins per email from networks its account never
	// signed in from. A network it signed in from is never held by this one.
	LoginPerAccount          RateLimit
	RefreshPerAddress        RateLimit // POST /v1/auth/refresh, per client network
	RefreshPerAccount        RateLimit // POST /v1/auth/refresh, per user of the token
	PasswordChangePerAccount RateLimit // POST /v1/auth/password, per signed-in user
	// SignInPerAddress: every email-code, password-reset and OpenID Connect route,
	// per client network.
	SignInPerAddress RateLimit
	// SignUpPerAddress: POST /v1/auth/register, per client address.
	SignUpPerAddress RateLimit
	// SignUpPerAccount: POST /v1/auth/register, per email address signed up (codes and
	// "someone tried to sign up" emails sent to one person).
	SignUpPerAccount RateLimit
	// EmailPerAccountAddress: POST /v1/auth/otp/request, and apart from it
	// /password/forgot, per email asked for and client network.
	EmailPerAccountAddress RateLimit
}

// DefaultRateLimits: generous for people, tight for scripts guessing passwords.
var DefaultRateLimits = RateLimitOptions{
	LoginPerAddress:          RateLimit{50, 15 * time.Minute},
	LoginPerAccountAddress:   RateLimit{10, 15 * time.Minute},
	LoginPerAccount:          RateLimit{30, 15 * time.Minute},
	RefreshPerAddress:        RateLimit{300, 15 * time.Minute},
	RefreshPerAccount:        RateLimit{60, 15 * time.Minute},
	PasswordChangePerAccount: RateLimit{10, 15 * time.Minute},
	SignInPerAddress:         RateLimit{50, 15 * time.Minute},
	SignUpPerAddress:         RateLimit{20, time.Hour},
	SignUpPerAccount:         RateLimit{5, time.Hour},
	EmailPerAccountAddress:   RateLimit{5, 15 * time.Minute},
}

func (o *RateLimitOptions) setDefaults() {
	for _, l := range []struct {
		got *RateLimit
		def RateLimit
	}{
		{&o.LoginPerAddress, DefaultRateLimits.LoginPerAddress},
		{&o.LoginPerAccountAddress, DefaultRateLimits.LoginPerAccountAddress},
		{&o.LoginPerAccount, DefaultRateLimits.LoginPerAccount},
		{&o.RefreshPerAddress, DefaultRateLimits.RefreshPerAddress},
		{&o.RefreshPerAccount, DefaultRateLimits.RefreshPerAccount},
		{&o.PasswordChangePerAccount, DefaultRateLimits.PasswordChangePerAccount},
		{&o.SignInPerAddress, DefaultRateLimits.SignInPerAddress},
		{&o.SignUpPerAddress, DefaultRateLimits.SignUpPerAddress},
		{&o.SignUpPerAccount, DefaultRateLimits.SignUpPerAccount},
		{&o.EmailPerAccountAddress, DefaultRateLimits.EmailPerAccountAddress},
	} {
		if l.got.Max <= 0 || l.got.Window <= 0 {
			*l.got = l.def
		}
	}
}

// maxBucketKey bounds the caller-chosen part of a bucket name (an email as typed).
const maxBucketKey = 254

// queueRateLimit counts one hit in bucket; the batch fails with RG429 when the bucket
// is over limit.
func queueRateLimit(b *pgx.Batch, bucket string, l RateLimit) {
	b.Queue(`select auth.enforce_rate_limit($1, $2, $3::interval)`, bucket, l.Max, pgInterval(l.Window))
}

// bucketKey normalizes a caller-typed key (an email) for a bucket name.
func bucketKey(s string) string {
	s = strings.ToLower(strings.TrimSpace(strings.ToValidUTF8(s, "")))
	if len(s) > maxBucketKey {
		s = strings.ToValidUTF8(s[:maxBucketKey], "")
	}
	return s
}

// rateBucket is one hit a request counts: a bucket name ('<action>:<address|account>:<key>')
// and its limit.
type rateBucket struct {
	name  string
	limit RateLimit
}

// signInAddress is the per-client-network bucket of the password-less ways in.
func (s *Server) signInAddress(r *http.Request) rateBucket {
	return rateBucket{"signin:address:" + clientNetwork(r), s.limits.SignInPerAddress}
}

// emailAccountAddress is the bucket of one kind of mail ("otp" codes, "reset" emails)
// asked for one address from one client network. There is no bucket per email alone:
// whoever floods the routes with someone's address blocks only their own network.
func (s *Server) emailAccountAddress(r *http.Request, kind, email string) rateBucket {
	return rateBucket{kind + ":account-address:" + bucketKey(email) + "|" + clientNetwork(r), s.limits.EmailPerAccountAddress}
}

// failureLimitArgs are the arguments auth.hit_sign_in_failure and the functions that
// call it take after the email: the client network and the two failure limits.
func (s *Server) failureLimitArgs(r *http.Request) []any {
	pair, account := s.limits.LoginPerAccountAddress, s.limits.LoginPerAccount
	return []any{clientNetworkParam(r), pair.Max, pgInterval(pair.Window), account.Max, pgInterval(account.Window)}
}

// signUpBuckets are the hits of one sign-up: its client network and the address signed up.
func (s *Server) signUpBuckets(r *http.Request, email string) []rateBucket {
	return []rateBucket{
		{"signup:address:" + clientNetwork(r), s.limits.SignUpPerAddress},
		{"signup:account:" + bucketKey(email), s.limits.SignUpPerAccount},
	}
}

// limitedRow counts one hit in each bucket, then runs query: one pgx batch, so one round
// trip and one implicit transaction (sendBatch). A bucket over its limit fails the
// batch with RG429 (→ 429 with Retry-After) before query runs. Scan with no
// destination discards the row.
func (s *Server) limitedRow(ctx context.Context, buckets []rateBucket, query string, args ...any) pgx.Row {
	batch := &pgx.Batch{}
	for _, b := range buckets {
		queueRateLimit(batch, b.name, b.limit)
	}
	batch.Queue(query, args...)
	return batchRow{s, ctx, batch}
}

// batchRow sends its batch when scanned: a pgx.Row over sendBatch.
type batchRow struct {
	s     *Server
	ctx   context.Context
	batch *pgx.Batch
}

func (b batchRow) Scan(dest ...any) error { return b.s.sendBatch(b.ctx, b.batch, dest...) }

// credentialsWithinLimits counts a login attempt against the client's network, and
// as a failure against the email asked for (auth.hit_sign_in_failure: per email and
// network, and per email from a network its account never signed in from; the hit is
// taken back when the password is right), then reads that email's credentials: one
// round trip. hash is nil for an unknown email and for an account without a password.
func (s *Server) credentialsWithinLimits(ctx context.Context, r *http.Request, email string) (userID string, hash *string, err error) {
	batch := &pgx.Batch{}
	queueRateLimit(batch, "login:address:"+clientNetwork(r), s.limits.LoginPerAddress)
	batch.Queue(`select auth.hit_sign_in_failure($1, $2::inet, $3, $4::interval, $5, $6::interval)`,
		append([]any{email}, s.failureLimitArgs(r)...)...)
	batch.Queue(`select user_id::text, password_hash from auth.credentials_for($1)`, email)
	err = s.sendBatch(ctx, batch, &userID, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, nil
	}
	return userID, hash, err
}
