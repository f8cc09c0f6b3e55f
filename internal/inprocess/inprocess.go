// Package inprocess runs the API in process over real HTTP on loopback, for the tests
// and harnesses that drive it from outside (tests/pgbouncer, tests/load/faults, and
// `rowguard seed-demo`, which seeds through it): the server, a keep-alive client,
// one-call JSON requests and tenant sign-up.
package inprocess

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/password"
	"github.com/rowguard/rowguard/internal/token"
)

// CheapPasswords is argon2id at minimal cost: every fixture signs up over HTTP, and
// the production cost would dominate a test's time. The code path is the same.
func CheapPasswords() *password.Hasher {
	h, err := password.New(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		panic(err)
	}
	return h
}

// Server is an in-process API.
type Server struct {
	URL    string
	http   *http.Server
	client *http.Client
	opts   api.Options // what the API was built with: its pool, signing key and hasher
}

// Start serves api.NewServer(opts) on loopback. opts.Pool is required; Tokens and
// Passwords default to a fresh key and CheapPasswords. clients sizes the keep-alive
// client.
func Start(opts api.Options, clients int) (*Server, error) {
	if opts.Tokens == nil {
		key, err := token.GenerateKey()
		if err != nil {
			return nil, err
		}
		if opts.Tokens, err = token.NewAuthority(key, "", "rowguard", "rowguard-api", time.Hour, -1); err != nil {
			return nil, err
		}
	}
	if opts.Passwords == nil {
		opts.Passwords = CheapPasswords()
	}
	// A plain listener and server, not net/http/httptest: `rowguard seed-demo` ships
	// this package, and httptest would add its test flags to the binary.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: api.NewServer(opts), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }() // returns http.ErrServerClosed on Close
	return &Server{
		URL:    "http://" + ln.Addr().String(),
		http:   hs,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: time.Minute},
		opts:   opts,
	}, nil
}

// Close stops the server and every connection it holds.
func (s *Server) Close() {
	s.client.CloseIdleConnections()
	_ = s.http.Close()
}

// Call sends one request (body, if not nil, as JSON; tok and requestID when not
// empty) and reads the whole answer.
func (s *Server) Call(ctx context.Context, method, path, tok, requestID string, body any) (int, []byte, http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if requestID != "" {
		req.Header.Set(api.RequestIDHeader, requestID)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, resp.Header, err
}

// StartSignUp starts email's sign-up as POST /v1/auth/register would, past its rate
// limits: the password hashed with the API's hasher, a fresh code whose keyed hash
// (made with the API's own signing key) and email are queued by auth.request_sign_up,
// on the API's own pool and role. It returns the code, which a person would read in
// that email: the caller proves it at POST /v1/auth/register/verify, over HTTP.
//
// This process is the API (same key, same database, same role), so it knows the code
// it made; no other client can. For harnesses and `rowguard seed-demo`, whose
// addresses are not real mailboxes.
func (s *Server) StartSignUp(ctx context.Context, email, password string, orgName *string) (code string, err error) {
	if s.opts.Pool == nil {
		return "", fmt.Errorf("start sign-up %s: the API has no database pool", email)
	}
	hash, err := s.opts.Passwords.Hash(password)
	if err != nil {
		return "", err
	}
	if code, err = api.NewSignUpCode(); err != nil {
		return "", err
	}
	codeHash, err := api.SignUpCodeHash(s.opts.Tokens, email, code)
	if err != nil {
		return "", err
	}
	if _, err := s.opts.Pool.Exec(ctx, `select auth.request_sign_up($1, $2, $3, $4, $5)`,
		email, codeHash, code, hash, orgName); err != nil {
		return "", fmt.Errorf("start sign-up %s: %w", email, err)
	}
	return code, nil
}

// QueryRow runs one query on the API's own pool, as the API's role: what the API may
// ask the database itself, nothing more.
func (s *Server) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return s.opts.Pool.QueryRow(ctx, sql, args...)
}

// Tenant is a user who signed up founding an organization (its OWNER).
type Tenant struct {
	UserID, OrgID, Token string
}

// SignUp signs email up founding an organization named orgName: StartSignUp, then the
// code to POST /v1/auth/register/verify.
func (s *Server) SignUp(ctx context.Context, email, orgName string) (Tenant, error) {
	code, err := s.StartSignUp(ctx, email, "correct horse battery", &orgName)
	if err != nil {
		return Tenant{}, err
	}
	status, body, _, err := s.Call(ctx, "POST", "/v1/auth/register/verify", "", "", map[string]any{
		"email": email, "code": code})
	var res struct {
		User         struct{ ID string }
		Organization struct{ ID string }
		AccessToken  string `json:"access_token"`
	}
	if err == nil && status == http.StatusCreated {
		err = json.Unmarshal(body, &res)
	} else if err == nil {
		err = fmt.Errorf("status %d: %s", status, body)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("sign up %s: %w", email, err)
	}
	return Tenant{UserID: res.User.ID, OrgID: res.Organization.ID, Token: res.AccessToken}, nil
}
