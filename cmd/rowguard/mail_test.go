package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rowguard/rowguard/internal/config"
	"github.com/rowguard/rowguard/internal/mail/mailtest"
	"github.com/rowguard/rowguard/internal/syncbuf"
	"github.com/rowguard/rowguard/internal/testdb"
)

// serve's sender delivers by SMTP when ROWGUARD_SMTP_HOST is set, else logs the email.
func TestMailSenderFollowsConfiguration(t *testing.T) {
	db := testdb.New(t)
	pool := db.AppPool(t)
	smtp := mailtest.Start(t, mailtest.Options{})

	for _, viaSMTP := range []bool{true, false} {
		cfg := &config.ServeConfig{SMTPPort: smtp.Port(), SMTPTLS: "none", MailFrom: "rowguard <no-reply@rowguard.test>"}
		to := "logged@example.com"
		if viaSMTP {
			cfg.SMTPHost, to = smtp.Host(), "smtp@example.com"
		}
		var logs syncbuf.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		wait := startMailSender(ctx, cfg, pool, slog.New(slog.NewJSONHandler(&logs, nil)))
		if _, err := pool.Exec(ctx, `select auth.enqueue_email($1, 'sign_in_code', '{"code":"246810","expires_in_minutes":10}')`, to); err != nil {
			t.Fatal(err)
		}
		if viaSMTP {
			if m := smtp.WaitFor(t, to, 2*time.Minute, nil); !strings.Contains(m.Body, "246810") {
				t.Errorf("SMTP body %q", m.Body)
			}
		} else {
			deadline := time.Now().Add(2 * time.Minute)
			for !strings.Contains(logs.String(), "246810") && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.Contains(logs.String(), `"to":"logged@example.com"`) || !strings.Contains(logs.String(), "246810") {
				t.Errorf("the logged email is missing:\n%s", logs.String())
			}
			for _, m := range smtp.Messages() {
				if m.To[0] == to {
					t.Error("the email went by SMTP without ROWGUARD_SMTP_HOST")
				}
			}
		}
		cancel()
		wait()
	}
}
