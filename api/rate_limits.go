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
// defaults of DefaultRateLimits.
type RateLimitOptions struct {
	LoginPerAddress          RateLimit // POST /v1/auth/login, per client address
	LoginPerAccount          RateLimit // POST /v1/auth/login, per email asked for
	RefreshPerAddress        RateLimit // POST /v1/auth/refresh, per client address
	RefreshPerAccount        RateLimit // POST /v1/auth/refresh, per user of the token
	PasswordChangePerAccount RateLimit // POST /v1/auth/password, per signed-in user
	// SignInPerAddress: every email-code, password-reset and OpenID Connect route,
	// per client address.
	SignInPerAddress RateLimit
	// EmailPerAccount: POST /v1/auth/otp/request, /otp/verify and /password/forgot,
	// per email address asked for (codes guessed, mails sent to one person).
	EmailPerAccount RateLimit
	// SignUpPerAddress: POST /v1/auth/register, per client address.
	SignUpPerAddress RateLimit
	// SignUpPerAccount: POST /v1/auth/register, per email address signed up (codes and
	// "someone tried to sign up" emails sent to one person).
	SignUpPerAccount RateLimit
}

// DefaultRateLimits: generous for people, tight for scripts guessing passwords.
var DefaultRateLimits = RateLimitOptions{
	LoginPerAddress:          RateLimit{50, 15 * time.Minute},
	LoginPerAccount:          RateLimit{10, 15 * time.Minute},
	RefreshPerAddress:        RateLimit{300, 15 * time.Minute},
	RefreshPerAccount:        RateLimit{60, 15 * time.Minute},
	PasswordChangePerAccount: RateLimit{10, 15 * time.Minute},
	SignInPerAddress:         RateLimit{50, 15 * time.Minute},
	EmailPerAccount:          RateLimit{10, 15 * time.Minute},
	SignUpPerAddress:         RateLimit{20, time.Hour},
	SignUpPerAccount:         RateLimit{5, time.Hour},
}

func (o *RateLimitOptions) setDefaults() {
	for _, l := range []struct {
		got *RateLimit
		def RateLimit
	}{
		{&o.LoginPerAddress, DefaultRateLimits.LoginPerAddress},
		{&o.LoginPerAccount, DefaultRateLimits.LoginPerAccount},
		{&o.RefreshPerAddress, DefaultRateLimits.RefreshPerAddress},
		{&o.RefreshPerAccount, DefaultRateLimits.RefreshPerAccount},
		{&o.PasswordChangePerAccount, DefaultRateLimits.PasswordChangePerAccount},
		{&o.SignInPerAddress, DefaultRateLimits.SignInPerAddress},
		{&o.EmailPerAccount, DefaultRateLimits.EmailPerAccount},
		{&o.SignUpPerAddress, DefaultRateLimits.SignUpPerAddress},
		{&o.SignUpPerAccount, DefaultRateLimits.SignUpPerAccount},
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

// signInAddress is the per-client-address bucket of the password-less ways in.
func (s *Server) signInAddress(r *http.Request) rateBucket {
	return rateBucket{"signin:address:" + clientAddress(r), s.limits.SignInPerAddress}
}

// emailAccount is the per-address bucket of codes and reset emails asked for or tried.
func (s *Server) emailAccount(email string) rateBucket {
	return rateBucket{"email:account:" + bucketKey(email), s.limits.EmailPerAccount}
}

// signUpBuckets are the hits of one sign-up: its client address and the address signed up.
func (s *Server) signUpBuckets(r *http.Request, email string) []rateBucket {
	return []rateBucket{
		{"signup:address:" + clientAddress(r), s.limits.SignUpPerAddress},
		{"signup:account:" + bucketKey(email), s.limits.SignUpPerAccount},
	}
}

// limitedRow counts one hit in each bucket, then runs query: one pgx batch, so one round
// trip and one implicit transaction. A bucket over its limit fails the batch with RG429
// (→ 429 with Retry-After) before query runs. Scan with no destination discards the row.
func (s *Server) limitedRow(ctx context.Context, buckets []rateBucket, query string, args ...any) pgx.Row {
	if s.pool == nil {
		return errRow{errNoPool}
	}
	batch := &pgx.Batch{}
	for _, b := range buckets {
		queueRateLimit(batch, b.name, b.limit)
	}
	batch.Queue(query, args...)
	return limitedResults{s.pool.SendBatch(ctx, batch), len(buckets)}
}

type limitedResults struct {
	br      pgx.BatchResults
	buckets int
}

func (l limitedResults) Scan(dest ...any) error {
	defer l.br.Close()
	for range l.buckets {
		if _, err := l.br.Exec(); err != nil {
			return err
		}
	}
	if len(dest) == 0 {
		_, err := l.br.Exec()
		return err
	}
	return l.br.QueryRow().Scan(dest...)
}

type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }

// credentialsWithinLimits counts a login attempt against the client's address and
// the email asked for, then reads that email's credentials: one round trip. hash is
// nil for an unknown email and for an account without a password.
func (s *Server) credentialsWithinLimits(ctx context.Context, r *http.Request, email string) (userID string, hash *string, err error) {
	err = s.limitedRow(ctx, []rateBucket{
		{"login:address:" + clientAddress(r), s.limits.LoginPerAddress},
		{"login:account:" + bucketKey(email), s.limits.LoginPerAccount},
	}, `select user_id::text, password_hash from auth.credentials_for($1)`, email).Scan(&userID, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, nil
	}
	return userID, hash, err
}
