package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/internal/token"
)

// Sign-up and sign-in run before any session exists, so they do not go
// through auth.begin_request: each is its own small transaction calling the
// functions the contract reserves for it, then Go issues the access token
// (sub = user id, sid = session id).

type registerResponse struct {
	sessionTokens
	Organization json.RawMessage `json:"organization"`
}

// SignUpCodeTTL is how long a sign-up's emailed code is valid (auth.request_sign_up).
const SignUpCodeTTL = 30 * time.Minute

// signUpAccepted is the one answer of POST /v1/auth/register, for a new address and a
// taken one alike.
var signUpAccepted = struct {
	Detail    string `json:"detail"`
	ExpiresIn int64  `json:"expires_in"`
}{
	Detail: "If this address can be signed up, a code is on its way to it: send the address and the code to " +
		"POST /v1/auth/register/verify. Either way, the mailbox hears what happened.",
	ExpiresIn: int64(SignUpCodeTTL / time.Second),
}

// POST /v1/auth/register
//
// A sign-up proves the mailbox before any account exists: the password's argon2id hash
// and the code's keyed hash wait in auth.pending_sign_ups and the code goes by email
// (auth.request_sign_up). An address that has an account gets a "someone tried to sign
// up" email instead. Both answer 202 with the same body after the same work (the limits
// counted, one argon2id hash, one statement that writes one email), so neither the
// answer nor its timing tells whether an account exists.
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var (
		email, pw string
		orgName   *string
	)
	if err := decodeBody(r,
		str("email", true, &email, checkEmail),
		str("password", true, &pw, checkPassword),
		nullableStr("organization_name", &orgName, checkName),
	); err != nil {
		s.fail(w, r, err)
		return
	}
	// Counted before the argon2id hash, the expensive part a flood would buy.
	if err := s.limitedRow(r.Context(), s.signUpBuckets(r, email), `select`).Scan(); err != nil {
		s.fail(w, r, err)
		return
	}
	hash, err := s.hashPassword(r.Context(), pw)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	code, err := newSignInCode()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.sendOne(r.Context(), nil, `select auth.request_sign_up($1, $2, $3, $4, $5)`,
		email, signInCodeHash(s.signUpCodeKey, email, code), code, hash, orgName); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, signUpAccepted)
}

// POST /v1/auth/register/verify
//
// The emailed code comes back: the account is created with its address verified and
// the password chosen at sign-up, and signed in (201, like login, plus the organization
// it asked for). A wrong, expired, used or unknown code gets 401; a wrong one counts
// (auth.verify_sign_up returns rather than raises, so the count commits) and the 5th
// voids the sign-up.
func (s *Server) verifySignUp(w http.ResponseWriter, r *http.Request) {
	var email, code string
	if err := decodeBody(r,
		str("email", true, &email, checkEmail),
		str("code", true, &code, checkSignInCode),
	); err != nil {
		s.fail(w, r, err)
		return
	}
	refused := newError(ProblemInvalidCredentials, "The email or code is incorrect, expired or already used.")
	refresh, refreshHash, err := newRefreshToken()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Guesses are bounded in SQL too: 5 per pending sign-up, and sign-ups are limited.
	buckets := []rateBucket{
		{"signupverify:address:" + clientNetwork(r), s.limits.SignInPerAddress},
		// Per (email, network), never per email alone: guessing from elsewhere must not
		// block the owner's own verification.
		{"signupverify:account-address:" + bucketKey(email) + "|" + clientNetwork(r), s.limits.EmailPerAccountAddress},
	}
	// One batch, one round trip, one transaction: the request id (the audit trail traces
	// the founding of an organization to it), the buckets' hits, the sign-up.
	batch := &pgx.Batch{}
	s.queueRequestNames(r.Context(), batch)
	for _, b := range buckets {
		queueRateLimit(batch, b.name, b.limit)
	}
	batch.Queue(`select api.complete_sign_up($1, $2, $3, $4, $5, $6::interval, $7::interval)`,
		email, signInCodeHash(s.signUpCodeKey, email, code), nullIfEmpty(userAgent(r)), nullIfEmpty(clientIP(r)),
		refreshHash, pgInterval(s.sessions.Lifetime), pgInterval(s.sessions.IdleTimeout))
	var body []byte
	err = s.sendBatch(r.Context(), batch, &body)
	if err != nil {
		e := s.mapError(r, err)
		if e.kind == ProblemForbidden { // an account made meanwhile, and disabled
			e = newError(ProblemAccountDisabled, "This account is disabled.")
		}
		s.failWith(w, r, err, e)
		return
	}
	if body == nil {
		s.fail(w, r, refused)
		return
	}
	res, tokens, err := s.tokensFor(body, refresh)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(res.Organization) == 0 {
		res.Organization = json.RawMessage("null")
	}
	if info := infoFrom(r.Context()); info != nil {
		var u struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(tokens.User, &u)
		info.userID = u.ID
	}
	writeJSON(w, http.StatusCreated, registerResponse{sessionTokens: tokens, Organization: res.Organization})
}

// signUpCodeKeyInfo is the HKDF info label of the sign-up code key: another key than
// the sign-in codes', so a hash made for one table never matches in the other.
const signUpCodeKeyInfo = "rowguard sign-up code v1"

// SignUpCodeHash is what auth.request_sign_up stores, and auth.verify_sign_up compares,
// for a sign-up code sent to email, with the key the API derives from tokens' signing
// key. For operator commands that hold the server's own key and start a sign-up
// through the SQL function itself (rowguard seed-demo, test harnesses); the API
// computes it the same way.
func SignUpCodeHash(tokens *token.Authority, email, code string) ([]byte, error) {
	key, err := tokens.DeriveKey(signUpCodeKeyInfo)
	if err != nil {
		return nil, err
	}
	return signInCodeHash(key, email, code), nil
}

// NewSignUpCode is a fresh random code, as POST /v1/auth/register mails.
func NewSignUpCode() (string, error) { return newSignInCode() }

// POST /v1/auth/login
//
// An unknown email and a wrong password get the same answer after the same
// work (one query, one argon2id hash), so neither the body nor the timing
// tells whether an account exists. Only after the right password does a
// disabled account learn that it is disabled (403).
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	// The login's limits were counted with its credentials (credentialsWithinLimits);
	// the right password takes its failure back, in the statement that opens the session.
	s.passwordSignIn(w, r, `select $1::uuid from auth.forgive_sign_in_failure($2, $3::inet)`)
}

// POST /v1/auth/restore {email, password}
//
// Cancels the pending deletion of an account (DELETE /v1/auth/me, within 30 days) and
// signs in: a login whose statement first restores the account (auth.restore_account),
// with the login's limits and answers. A wrong password, an unknown address and an
// erased account answer the same 401; an account that is not pending deletion 409.
func (s *Server) restoreAccount(w http.ResponseWriter, r *http.Request) {
	s.passwordSignIn(w, r, `select auth.restore_account($1::uuid) from auth.forgive_sign_in_failure($2, $3::inet)`)
}

// passwordSignIn checks the body's email and password (limits counted first, the same
// work for an unknown address) and then signs in with userQuery, which is given the
// user id, the email and the client network ($1, $2, $3) and selects the user to open a
// session for.
func (s *Server) passwordSignIn(w http.ResponseWriter, r *http.Request, userQuery string) {
	var email, pw string
	if err := decodeBody(r,
		str("email", true, &email, nil),
		str("password", true, &pw, nil),
	); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.pool == nil {
		s.fail(w, r, errNoPool)
		return
	}
	userID, hash, err := s.credentialsWithinLimits(r.Context(), r, email)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	known := hash != nil

	var ok bool
	err = s.withHashSlot(r.Context(), func() error {
		if !known {
			s.passwords.DummyVerify(pw)
			return nil
		}
		var verr error
		ok, verr = s.passwords.Verify(pw, *hash)
		if verr != nil {
			// A stored hash we cannot read: log it, answer like a wrong password.
			s.log(r).Error("unreadable password hash", "user_id", userID, "error", verr.Error())
		}
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		s.fail(w, r, newError(ProblemInvalidCredentials, "The email or password is incorrect."))
		return
	}

	s.signIn(w, r, newError(ProblemInvalidCredentials, "The email or password is incorrect."), nil,
		userQuery, userID, email, clientNetworkParam(r))
}

// signIn answers every sign-in (password, email code, OpenID Connect) the same way,
// once the caller has proved who they are: userQuery selects the proven user's id —
// the proof itself (a code, an ID token) runs in the same statement — or no row or
// NULL when the proof failed (then the answer is refused, a 401); buckets are counted
// first, in the same round trip. The answer carries
// the new session's access and refresh tokens. A disabled account hears it is
// disabled only here, after its proof.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, refused *apiError, buckets []rateBucket, userQuery string, args ...any) {
	tokens, err := s.openSessionFor(r.Context(), r, buckets, userQuery, args...)
	if errors.Is(err, pgx.ErrNoRows) {
		s.fail(w, r, refused)
		return
	}
	if err != nil {
		e := s.mapError(r, err)
		switch e.kind {
		case ProblemForbidden:
			e = newError(ProblemAccountDisabled, "This account is disabled.")
		case ProblemUnauthorized: // the user vanished between proof and session
			e = refused
		}
		s.failWith(w, r, err, e)
		return
	}
	if info := infoFrom(r.Context()); info != nil {
		var u struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(tokens.User, &u)
		info.userID = u.ID
	}
	writeJSON(w, http.StatusOK, tokens)
}

// GET /v1/auth/me
func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusOK, `select api.me()`)
}

// DELETE /v1/auth/me: the caller deletes their account (auth.delete_account: a fresh
// proof, never the last OWNER of an organization). 202: the account is pending deletion,
// restorable (POST /v1/auth/restore) until purge_after.
func (s *Server) deleteMe(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusAccepted, `select api.delete_me()`)
}

// withHashSlot runs f (an argon2id hash) once fewer than the configured
// number of hashes are running, and fewer than half of them for the request's client
// network (hashSlots). Each hash holds its memory cost (19 MiB by default) for tens of
// milliseconds: unbounded, a burst of sign-ins would exhaust memory. A request that
// cannot get a slot before its deadline is told to retry (503).
func (s *Server) withHashSlot(ctx context.Context, f func() error) error {
	client := "unknown"
	if info := infoFrom(ctx); info != nil {
		client = networkKey(networkOf(info.client))
	}
	if s.hashSlots.acquire(ctx, client) != nil {
		return newError(ProblemUnavailable, "Too many sign-ins are in progress. Retry shortly.")
	}
	defer s.hashSlots.release(client)
	return f()
}

// hashPassword hashes a new password (argon2id) in a hash slot.
func (s *Server) hashPassword(ctx context.Context, pw string) (hash string, err error) {
	err = s.withHashSlot(ctx, func() error {
		hash, err = s.passwords.Hash(pw)
		return err
	})
	return hash, err
}

// userAgent is the request's User-Agent, cut to what auth.sessions keeps.
// Header bytes need not be UTF-8; Postgres text must be.
func userAgent(r *http.Request) string {
	ua := []rune(strings.ToValidUTF8(r.UserAgent(), ""))
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return string(ua)
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
