package mail_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowguard/rowguard/internal/mail"
	"github.com/rowguard/rowguard/internal/mail/mailtest"
	"github.com/rowguard/rowguard/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

type outboxEnv struct {
	app, admin *pgxpool.Pool
	smtp       *mailtest.Server
}

func newOutboxEnv(t *testing.T) *outboxEnv {
	db := testdb.New(t)
	return &outboxEnv{app: db.AppPool(t), admin: db.AdminPool(t), smtp: mailtest.Start(t, mailtest.Options{})}
}

// sender delivers as the API's login role, as the server does.
func (e *outboxEnv) sender() *mail.Sender {
	return &mail.Sender{
		Pool:      e.app,
		Transport: &mail.SMTPTransport{Host: e.smtp.Host(), Port: e.smtp.Port(), TLS: mail.TLSNone},
		From:      "rowguard <no-reply@rowguard.test>",
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Backoff:   time.Minute,
	}
}

// enqueue queues an email as the API role, the way an api.* function does.
func (e *outboxEnv) enqueue(t *testing.T, to, code string) string {
	t.Helper()
	var id string
	err := e.app.QueryRow(context.Background(), `select auth.enqueue_email($1, 'sign_in_code', $2)::text`,
		to, fmt.Sprintf(`{"code":%q,"expires_in_minutes":10}`, code)).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type outboxRow struct {
	attempts           int
	sent, gaveUp, due  bool
	lastError, payload string
}

func (e *outboxEnv) row(t *testing.T, id string) outboxRow {
	t.Helper()
	var r outboxRow
	var lastErr *string
	err := e.admin.QueryRow(context.Background(), `
		select attempts, sent_at is not null, gave_up_at is not null, next_attempt_at <= now(), last_error, payload::text
		  from auth.email_outbox where id = $1`, id).Scan(&r.attempts, &r.sent, &r.gaveUp, &r.due, &lastErr, &r.payload)
	if err != nil {
		t.Fatal(err)
	}
	if lastErr != nil {
		r.lastError = *lastErr
	}
	return r
}

func TestSenderDeliversAndForgetsThePayload(t *testing.T) {
	e := newOutboxEnv(t)
	id := e.enqueue(t, "ada@example.com", "424242")
	n, err := e.sender().DeliverDue(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("DeliverDue = %d, %v", n, err)
	}
	m := e.smtp.WaitFor(t, "ada@example.com", time.Minute, nil)
	if code := regexp.MustCompile(`\b\d{6}\b`).FindString(m.Body); code != "424242" {
		t.Fatalf("code in mail = %q; body:\n%s", code, m.Body)
	}
	r := e.row(t, id)
	if !r.sent || r.attempts != 1 || r.payload != "{}" {
		t.Fatalf("after delivery: %+v (want sent, 1 attempt, payload emptied)", r)
	}
	if n, _ := e.sender().DeliverDue(context.Background()); n != 0 {
		t.Fatalf("a sent email was claimed again (%d)", n)
	}
}

func TestSenderRetriesWithBackoffThenGivesUp(t *testing.T) {
	e := newOutboxEnv(t)
	id := e.enqueue(t, "bob@example.com", "111111")
	s := e.sender()
	s.MaxAttempts = 2

	e.smtp.FailNextRecipients(1)
	if _, err := s.DeliverDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := e.row(t, id)
	if r.sent || r.gaveUp || r.attempts != 1 || r.due || r.lastError == "" {
		t.Fatalf("after a temporary failure: %+v (want 1 attempt, an error, not due before the backoff)", r)
	}
	if n, _ := s.DeliverDue(context.Background()); n != 0 {
		t.Fatal("an email was retried before its backoff ran out")
	}

	// The backoff runs out; the server refuses again: the second attempt is the last.
	mustExec(t, e.admin, `update auth.email_outbox set next_attempt_at = now() where id = $1`, id)
	e.smtp.FailNextRecipients(1)
	if _, err := s.DeliverDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	r = e.row(t, id)
	if !r.gaveUp || r.sent || r.attempts != 2 || r.payload != "{}" {
		t.Fatalf("after the last attempt: %+v (want given up, payload emptied)", r)
	}
	if n := len(e.smtp.Messages()); n != 0 {
		t.Fatalf("%d messages delivered", n)
	}
}

// A claimed row whose sender died is due again once the lease runs out.
func TestSenderLeaseExpires(t *testing.T) {
	e := newOutboxEnv(t)
	id := e.enqueue(t, "cy@example.com", "222222")
	mustExec(t, e.app, `select count(*) from auth.claim_emails(10, '1 minute')`) // a sender that then crashed
	if n, _ := e.sender().DeliverDue(context.Background()); n != 0 {
		t.Fatal("a leased row was claimed by another sender")
	}
	mustExec(t, e.admin, `update auth.email_outbox set next_attempt_at = now() - interval '1 second' where id = $1`, id)
	if n, err := e.sender().DeliverDue(context.Background()); n != 1 || err != nil {
		t.Fatalf("after the lease: DeliverDue = %d, %v", n, err)
	}
	if r := e.row(t, id); !r.sent || r.attempts != 2 {
		t.Fatalf("%+v", r)
	}
}

// Several replicas delivering at once send every email exactly once.
func TestSendersDoNotDoubleDeliver(t *testing.T) {
	e := newOutboxEnv(t)
	const emails = 60
	for i := range emails {
		e.enqueue(t, fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("%06d", i))
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := e.sender()
			s.BatchSize = 7
			for {
				n, err := s.DeliverDue(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for _, m := range e.smtp.Messages() {
		seen[m.To[0]]++
	}
	if len(seen) != emails {
		t.Fatalf("%d distinct recipients got mail, want %d", len(seen), emails)
	}
	for to, n := range seen {
		if n != 1 {
			t.Errorf("%s got %d messages", to, n)
		}
	}
}

func TestSenderPurgesFinishedEmails(t *testing.T) {
	e := newOutboxEnv(t)
	old := e.enqueue(t, "old@example.com", "444444")
	recent := e.enqueue(t, "recent@example.com", "555555")
	pending := e.enqueue(t, "pending@example.com", "666666")
	s := e.sender()
	mustExec(t, e.admin, `update auth.email_outbox set next_attempt_at = now() + interval '1 hour' where id = $1`, pending)
	if n, err := s.DeliverDue(context.Background()); n != 2 || err != nil {
		t.Fatalf("DeliverDue = %d, %v", n, err)
	}
	mustExec(t, e.admin, `update auth.email_outbox set sent_at = now() - interval '8 days' where id = $1`, old)
	mustExec(t, e.admin, `update auth.email_outbox set created_at = now() - interval '30 days' where id = $1`, pending)
	if n, err := s.Purge(context.Background()); n != 1 || err != nil {
		t.Fatalf("Purge = %d, %v; want only the email sent 8 days ago", n, err)
	}
	var left int
	err := e.admin.QueryRow(context.Background(),
		`select count(*) from auth.email_outbox where id = any ($1::uuid[])`, []string{recent, pending}).Scan(&left)
	if err != nil || left != 2 {
		t.Fatalf("%d of the recent and the pending email left (%v)", left, err)
	}
}

// The API role reaches the outbox only through its functions.
func TestOutboxTableIsClosedToTheAPIRole(t *testing.T) {
	e := newOutboxEnv(t)
	e.enqueue(t, "dee@example.com", "333333")
	_, err := e.app.Exec(context.Background(), `select payload from auth.email_outbox`)
	if err == nil {
		t.Fatal("the API role read the outbox table directly")
	}
}

func mustExec(t *testing.T, p *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := p.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
