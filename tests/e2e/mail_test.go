package e2e

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/rowguard/rowguard/internal/mail"
	"github.com/rowguard/rowguard/internal/mail/mailtest"
)

// mailEnv is an env whose email outbox is delivered, by the server's own sender, to
// a real SMTP server in this process.
type mailEnv struct {
	*env
	smtp *mailtest.Server

	mu   sync.Mutex
	read map[string]bool // Message-IDs already returned by nextMail
}

func newMailEnv(t *testing.T, opts ...envOption) *mailEnv {
	t.Helper()
	smtp := mailtest.Start(t, mailtest.Options{})
	e := newEnv(t, opts...)
	sender := &mail.Sender{
		Pool:         e.pool, // the server's pool: the sender runs as the API role
		Transport:    &mail.SMTPTransport{Host: smtp.Host(), Port: smtp.Port(), TLS: mail.TLSNone},
		From:         "rowguard <no-reply@rowguard.test>",
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		PollInterval: 20 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sender.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done }) // before the pool closes (cleanups run last-in first-out)
	m := &mailEnv{env: e, smtp: smtp, read: map[string]bool{}}
	e.mailbox = m.signInCode // the sign-up email carries its code the same way
	return m
}

// nextMail waits for the next message to to that this test has not read yet.
func (m *mailEnv) nextMail(t testing.TB, to string) mailtest.Message {
	t.Helper()
	msg := m.smtp.WaitFor(t, to, 2*time.Minute, func(msg mailtest.Message) bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return !m.read[msg.Header.Get("Message-Id")]
	})
	m.mu.Lock()
	m.read[msg.Header.Get("Message-Id")] = true
	m.mu.Unlock()
	return msg
}

var codeInMail = regexp.MustCompile(`(?m)^\s+([0-9]{6})\s*$`)

// signInCode reads the sign-in code from the next mail to to.
func (m *mailEnv) signInCode(t testing.TB, to string) string {
	t.Helper()
	msg := m.nextMail(t, to)
	match := codeInMail.FindStringSubmatch(msg.Body)
	if match == nil {
		t.Fatalf("no code in the mail to %s:\n%s", to, msg.Body)
	}
	return match[1]
}

// outboxRows counts the emails ever queued for to.
func (e *env) outboxRows(t testing.TB, to string) int {
	return e.count(t, `select count(*)::int from auth.email_outbox where lower(recipient) = lower($1)`, to)
}
