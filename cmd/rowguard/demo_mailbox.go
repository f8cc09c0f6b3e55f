package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// demoMailbox reads a demo account's mail the way its mailbox would: an invitation's
// token (or a reset token) is in no API answer, only in the email. It takes the due emails to one demo
// address out of the outbox (auth.claim_emails_to, the server sender's claim narrowed
// to that address) and marks them delivered; everyone else's mail is left to the
// server's sender. Demo addresses are under .example (RFC 2606): nothing real is lost.
type demoMailbox struct {
	pool *pgxpool.Pool
}

// errMailTaken: no such email to the address was due — another sender (a `serve`
// running beside seed-demo) delivered it first.
var errMailTaken = errors.New("no such email was waiting (another sender, e.g. a running serve, took it)")

// token takes the emails waiting for to and returns the token of the newest one made
// from template (e.g. "invitation").
func (m *demoMailbox) token(ctx context.Context, to, template string) (string, error) {
	rows, _ := m.pool.Query(ctx, `select id::text, template, payload from auth.claim_emails_to($1, $2)`, to, time.Minute)
	type email struct {
		id, template string
		payload      []byte
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (e email, err error) {
		err = r.Scan(&e.id, &e.template, &e.payload)
		return e, err
	})
	if err != nil {
		return "", fmt.Errorf("read the mail of %s: %w", to, err)
	}
	var token string
	for _, e := range got {
		if _, err := m.pool.Exec(ctx, `select auth.email_sent($1::uuid)`, e.id); err != nil {
			return "", fmt.Errorf("read the mail of %s: %w", to, err)
		}
		var p struct {
			Token string `json:"token"`
		}
		if e.template == template && json.Unmarshal(e.payload, &p) == nil && p.Token != "" {
			token = p.Token // claimed oldest first: the newest wins
		}
	}
	if token == "" {
		return "", errMailTaken
	}
	return token, nil
}
