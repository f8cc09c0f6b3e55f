package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// A sign-up proves its mailbox: POST /v1/auth/register (202) mails a code, and
// POST /v1/auth/register/verify with it creates the account (201, signed in). The load
// reads the code where the email waits, the outbox (auth.email_outbox), as the
// superuser: the in-process API runs no mail sender, so the email is still there. (An
// external -url server's own sender may empty the payload first: seed it with
// -database-url and no sender, or ROWGUARD_SMTP_HOST pointing nowhere.)

// mailbox reads sign-up codes from the outbox.
type mailbox struct{ admin *pgxpool.Pool }

func openMailbox(ctx context.Context, e *env) (*mailbox, error) {
	if e.adminURL == "" {
		return nil, errors.New("signing up needs the database as superuser (-database-url) to read the emailed codes")
	}
	pool, err := pgxpool.New(ctx, e.adminURL)
	if err != nil {
		return nil, err
	}
	return &mailbox{pool}, nil
}

func (m *mailbox) close() { m.admin.Close() }

// code is the code of the newest sign-up email to email.
func (m *mailbox) code(ctx context.Context, email string) (string, error) {
	var code string
	err := m.admin.QueryRow(ctx, `select payload->>'code' from auth.email_outbox
	  where lower(recipient) = lower($1) and template = 'sign_up_code' order by created_at desc, id desc limit 1`, email).Scan(&code)
	if err != nil {
		return "", fmt.Errorf("the sign-up code for %s: %w", email, err)
	}
	return code, nil
}

// signUp signs email up with password (founding orgName when not empty) and decodes
// the verification's answer (201) into out.
func signUp(ctx context.Context, e *env, mb *mailbox, email, password, orgName string, out any) error {
	body := map[string]any{"email": email, "password": password}
	if orgName != "" {
		body["organization_name"] = orgName
	}
	var accepted struct {
		ExpiresIn int `json:"expires_in"`
	}
	if err := postJSON(ctx, e, "/v1/auth/register", "", body, &accepted, http.StatusAccepted); err != nil {
		return err
	}
	code, err := mb.code(ctx, email)
	if err != nil {
		return err
	}
	return postJSON(ctx, e, "/v1/auth/register/verify", "", map[string]any{"email": email, "code": code}, out, http.StatusCreated)
}

// signUpTiming is -signup-timing N: whether POST /v1/auth/register takes as long for an
// address that has an account (a "someone tried to sign up" email) as for a new one (a
// pending sign-up and its code). N pairs, one of each, in alternating order, one at a
// time on the in-process API with its argon2id cost (-password-*); the report is the
// ratio of the medians, existing/new (1.0: indistinguishable), the median of the
// per-pair ratios (each pair ran back to back, under the same load) and the ratio of the
// 10th percentiles (the quietest samples).
func signUpTiming(ctx context.Context, e *env, pairs int, stdout io.Writer, progress func(string, ...any)) error {
	mb, err := openMailbox(ctx, e)
	if err != nil {
		return err
	}
	defer mb.close()
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	existing := fmt.Sprintf("timing-%s-existing@example.com", run)
	var res struct{}
	if err := signUp(ctx, e, mb, existing, "timing password 0", "", &res); err != nil {
		return fmt.Errorf("the existing account: %w", err)
	}
	timeOne := func(email string) (time.Duration, error) {
		var accepted struct{}
		start := time.Now()
		err := postJSON(ctx, e, "/v1/auth/register", "", map[string]any{"email": email, "password": "timing password 1"},
			&accepted, http.StatusAccepted)
		return time.Since(start), err
	}
	// Warm-up: a few of each, not counted (connections, plans, the hasher's memory).
	for i := range 4 {
		if _, err := timeOne(existing); err != nil {
			return err
		}
		if _, err := timeOne(fmt.Sprintf("timing-%s-warm-%d@example.com", run, i)); err != nil {
			return err
		}
	}
	progress("timing %d pairs of sign-ups (an existing address, a new one)", pairs)
	var ex, nw, ratios []float64
	for i := range pairs {
		fresh := fmt.Sprintf("timing-%s-new-%d@example.com", run, i)
		var de, dn time.Duration
		var err error
		if i%2 == 0 {
			if de, err = timeOne(existing); err == nil {
				dn, err = timeOne(fresh)
			}
		} else {
			if dn, err = timeOne(fresh); err == nil {
				de, err = timeOne(existing)
			}
		}
		if err != nil {
			return err
		}
		ex, nw = append(ex, de.Seconds()*1000), append(nw, dn.Seconds()*1000)
		ratios = append(ratios, de.Seconds()/dn.Seconds())
	}
	me, mn, mr := median(ex), median(nw), median(ratios)
	fmt.Fprintf(stdout, "sign-up timing: %d pairs, POST /v1/auth/register, argon2id as configured\n", pairs)
	fmt.Fprintf(stdout, "  existing address  median %.2f ms (p10 %.2f, p90 %.2f)\n", me, quantile(ex, 0.1), quantile(ex, 0.9))
	fmt.Fprintf(stdout, "  new address       median %.2f ms (p10 %.2f, p90 %.2f)\n", mn, quantile(nw, 0.1), quantile(nw, 0.9))
	fmt.Fprintf(stdout, "  ratio existing/new: %.3f of the medians, %.3f median of the per-pair ratios, %.3f of the p10s (1.000: indistinguishable;\n"+
		"  on a busy machine the medians swing with the load, the per-pair ratio and the p10s much less)\n", me/mn, mr, quantile(ex, 0.1)/quantile(nw, 0.1))
	return nil
}

func median(xs []float64) float64 { return quantile(xs, 0.5) }

// quantile of xs (nearest rank on a sorted copy).
func quantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	i := int(q * float64(len(s)-1))
	if len(s)%2 == 0 && q == 0.5 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[i]
}
