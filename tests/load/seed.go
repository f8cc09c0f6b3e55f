package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// tenant is one seeded organization, its founder's credentials and the ids of
// its projects.
type tenant struct {
	orgID     string
	userID    string // sub of the access token
	sessionID string // sid of the access token
	auth      string // "Bearer <token>"
	listURL   string // GET .../projects?limit=N
	tracedURL string // the same on the traced API (phase traced), "" without it
	projects  map[string]bool
	email     string // the founder's credentials (phase login)
	password  string
}

// seed registers cfg.orgs users, each founding an organization, then creates
// cfg.projects projects in each, all through the HTTP API.
func seed(ctx context.Context, cfg *config, e *env) ([]*tenant, error) {
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	tenants := make([]*tenant, cfg.orgs)

	mb, err := openMailbox(ctx, e)
	if err != nil {
		return nil, err
	}
	defer mb.close()
	err = parallel(ctx, cfg.seedWorkers, cfg.orgs, func(ctx context.Context, i int) error {
		var res struct {
			Organization struct {
				ID string `json:"id"`
			} `json:"organization"`
			AccessToken string `json:"access_token"`
		}
		body := map[string]any{
			"email":             fmt.Sprintf("load-%s-%d@example.com", run, i),
			"password":          "load-test-password-" + strconv.Itoa(i),
			"organization_name": fmt.Sprintf("Load %s %d", run, i),
		}
		if err := signUp(ctx, e, mb, body["email"].(string), body["password"].(string), body["organization_name"].(string), &res); err != nil {
			return fmt.Errorf("register user %d: %w", i, err)
		}
		sub, sid, err := tokenIDs(res.AccessToken)
		if err != nil {
			return fmt.Errorf("register user %d: %w", i, err)
		}
		if res.Organization.ID == "" {
			return fmt.Errorf("register user %d: no organization in the answer", i)
		}
		tenants[i] = &tenant{
			orgID:     res.Organization.ID,
			userID:    sub,
			sessionID: sid,
			auth:      "Bearer " + res.AccessToken,
			listURL:   e.baseURL + "/v1/orgs/" + res.Organization.ID + "/projects?limit=" + strconv.Itoa(cfg.pageLimit),
			projects:  make(map[string]bool, cfg.projects),
			email:     body["email"].(string),
			password:  body["password"].(string),
		}
		if e.tracedURL != "" {
			tenants[i].tracedURL = e.tracedURL + strings.TrimPrefix(tenants[i].listURL, e.baseURL)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	var mu sync.Mutex
	err = parallel(ctx, cfg.seedWorkers, cfg.orgs*cfg.projects, func(ctx context.Context, k int) error {
		t := tenants[k%cfg.orgs]
		j := k / cfg.orgs
		var res struct {
			ID    string `json:"id"`
			OrgID string `json:"org_id"`
		}
		body := map[string]any{"name": fmt.Sprintf("Project %d", j), "description": "seeded by tests/load"}
		if err := postJSON(ctx, e, "/v1/orgs/"+t.orgID+"/projects", t.auth, body, &res, http.StatusCreated); err != nil {
			return fmt.Errorf("create project %d in org %s: %w", j, t.orgID, err)
		}
		if res.ID == "" || res.OrgID != t.orgID {
			return fmt.Errorf("create project %d in org %s: answer names project %q in org %q", j, t.orgID, res.ID, res.OrgID)
		}
		mu.Lock()
		t.projects[res.ID] = true
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tenants, nil
}

// parallel runs f(0..n-1) on workers goroutines and returns the first error.
func parallel(ctx context.Context, workers, n int, f func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(ctx, i); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// postJSON posts body and decodes a want-status answer into out.
func postJSON(ctx context.Context, e *env, path, auth string, body, out any, want int) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.baseURL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("status %d (want %d): %s", resp.StatusCode, want, truncate(string(rb), 300))
	}
	if err := json.Unmarshal(rb, out); err != nil {
		return fmt.Errorf("decoding %s: %w", truncate(string(rb), 200), err)
	}
	return nil
}

// tokenIDs reads sub and sid from an access token's payload, unverified: the
// direct phase sends them to auth.begin_request as the API would after
// verifying the token.
func tokenIDs(tok string) (sub, sid string, err error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", "", errors.New("access token is not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", "", fmt.Errorf("access token payload: %w", err)
	}
	var claims struct {
		Sub string `json:"sub"`
		Sid string `json:"sid"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", "", fmt.Errorf("access token payload: %w", err)
	}
	if claims.Sub == "" || claims.Sid == "" {
		return "", "", errors.New("access token lacks sub or sid")
	}
	return claims.Sub, claims.Sid, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
