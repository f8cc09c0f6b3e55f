package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Phase "login": POST /v1/auth/login with a random tenant founder's email and
// password, to measure what the password hash costs a sign-in. The in-process server
// hashes with -password-memory-kib, -password-iterations and -password-parallelism
// (the server's defaults unless given) and has its login rate limits lifted, since
// the phase signs the same accounts in thousands of times. Not in the default phases:
// run it alone, e.g.
//
//	go run ./tests/load -phases login -concurrency 1 -duration 10s
//	go run ./tests/load -phases login -concurrency 4 -password-memory-kib 65536
//
// Each login is a new session: the phase writes a session and a refresh token per
// request, as real sign-ins do.

// loginOp signs tenant t's founder in.
func loginOp(e *env) op {
	return func(ctx context.Context, w *worker, t *tenant) (string, error) {
		body, err := json.Marshal(map[string]string{"email": t.email, "password": t.password})
		if err != nil {
			return "", err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.baseURL+"/v1/auth/login", bytes.NewReader(body))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/json")
		if err := sendOK(e, w, req); err != nil {
			return "", fmt.Errorf("login %s: %w", t.email, err)
		}
		return "", nil
	}
}
