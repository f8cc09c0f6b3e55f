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

// Tenant is a user who signed up founding an organization (its OWNER).
type Tenant struct {
	UserID, OrgID, Token string
}

// SignUp registers email, founding an organization named orgName.
func (s *Server) SignUp(ctx context.Context, email, orgName string) (Tenant, error) {
	status, body, _, err := s.Call(ctx, "POST", "/v1/auth/register", "", "", map[string]any{
		"email": email, "password": "correct horse battery", "organization_name": orgName})
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
