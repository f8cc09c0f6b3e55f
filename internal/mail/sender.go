package mail

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sender defaults, applied to zero fields.
const (
	DefaultPollInterval = 2 * time.Second
	DefaultBatchSize    = 20
	DefaultLease        = 2 * time.Minute
	DefaultMaxAttempts  = 8
	DefaultBackoff      = 30 * time.Second
	DefaultRetention    = 7 * 24 * time.Hour
	purgeEvery          = time.Hour
	maxBackoff          = time.Hour
)

// Sender delivers the outbox: it claims due rows (auth.claim_emails: FOR UPDATE SKIP
// LOCKED, so replicas never claim the same row at once), renders and sends each, and
// records the outcome (auth.email_sent / auth.email_failed). A row whose sender dies
// mid-delivery is due again once its Lease runs out; delivery is at least once.
type Sender struct {
	Pool      *pgxpool.Pool
	Transport Transport
	From      string
	Logger    *slog.Logger
	// PollInterval is the pause between passes that found nothing to send.
	PollInterval time.Duration
	// BatchSize is how many rows one pass claims.
	BatchSize int
	// Lease is how long a claimed row stays reserved; keep it above the transport's timeout.
	Lease time.Duration
	// MaxAttempts: after this many failed deliveries the row is given up on.
	MaxAttempts int
	// Backoff is the wait after the first failure, doubled after each next one (at most an hour).
	Backoff time.Duration
	// Retention is how long sent and abandoned rows are kept (Run purges hourly).
	Retention time.Duration
}

func (s *Sender) defaults() {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.PollInterval <= 0 {
		s.PollInterval = DefaultPollInterval
	}
	if s.BatchSize <= 0 {
		s.BatchSize = DefaultBatchSize
	}
	if s.Lease <= 0 {
		s.Lease = DefaultLease
	}
	if s.MaxAttempts <= 0 {
		s.MaxAttempts = DefaultMaxAttempts
	}
	if s.Backoff <= 0 {
		s.Backoff = DefaultBackoff
	}
	if s.Retention <= 0 {
		s.Retention = DefaultRetention
	}
}

// Run delivers until ctx ends. Database errors are logged and retried after the poll
// interval: the outbox keeps the mail meanwhile.
func (s *Sender) Run(ctx context.Context) {
	s.defaults()
	var lastPurge time.Time
	for {
		if time.Since(lastPurge) >= purgeEvery {
			if n, err := s.Purge(ctx); err != nil && ctx.Err() == nil {
				s.Logger.Warn("email outbox: purge failed", "error", err.Error())
			} else if n > 0 {
				s.Logger.Info("email outbox: purged finished emails", "count", n)
			}
			lastPurge = time.Now() // failed or not: retried in an hour
		}
		n, err := s.DeliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			s.Logger.Warn("email outbox: delivery pass failed", "error", err.Error())
		}
		if n == s.BatchSize && err == nil {
			continue // more may be due right now
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.PollInterval):
		}
	}
}

// Purge deletes the rows sent or given up on longer than Retention ago.
func (s *Sender) Purge(ctx context.Context) (n int, err error) {
	s.defaults()
	err = s.Pool.QueryRow(ctx, `select auth.purge_emails($1)`, s.Retention).Scan(&n)
	return n, err
}

type claimedEmail struct {
	id        string
	recipient string
	template  string
	payload   []byte
	attempts  int
}

// DeliverDue runs one pass: claims up to BatchSize due rows and delivers them
// concurrently. It returns how many rows it claimed.
func (s *Sender) DeliverDue(ctx context.Context) (int, error) {
	s.defaults()
	rows, _ := s.Pool.Query(ctx, `select id::text, recipient, template, payload, attempts from auth.claim_emails($1, $2)`,
		s.BatchSize, s.Lease)
	claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (c claimedEmail, err error) {
		err = r.Scan(&c.id, &c.recipient, &c.template, &c.payload, &c.attempts)
		return c, err
	})
	if err != nil {
		return 0, err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, c := range claimed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.deliver(ctx, c); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return len(claimed), errors.Join(errs...)
}

// deliver sends one claimed row and records the outcome; the error returned is only a
// failure to record it (a failed send is recorded, not returned).
func (s *Sender) deliver(ctx context.Context, c claimedEmail) error {
	msg, err := Render(c.template, c.payload, s.From, c.recipient)
	if err == nil {
		err = s.Transport.Send(ctx, msg)
	}
	if err == nil {
		s.Logger.Info("email sent", "outbox_id", c.id, "template", c.template, "attempt", c.attempts)
		_, err = s.Pool.Exec(ctx, `select auth.email_sent($1::uuid)`, c.id)
		return err
	}
	if ctx.Err() != nil {
		return nil // shutting down: the lease expires and another pass retries
	}
	var retryIn any // NULL: give up
	if c.attempts < s.MaxAttempts && !errors.Is(err, ErrUnknownTemplate) {
		retryIn = s.backoff(c.attempts)
		s.Logger.Warn("email not sent; will retry", "outbox_id", c.id, "template", c.template,
			"attempt", c.attempts, "retry_in", retryIn.(time.Duration).String(), "error", err.Error())
	} else {
		s.Logger.Error("email not sent; giving up", "outbox_id", c.id, "template", c.template,
			"attempt", c.attempts, "error", err.Error())
	}
	_, dbErr := s.Pool.Exec(ctx, `select auth.email_failed($1::uuid, $2, $3)`, c.id, err.Error(), retryIn)
	return dbErr
}

// backoff is the wait after the attempts-th failure: Backoff, doubled each time, capped.
func (s *Sender) backoff(attempts int) time.Duration {
	d := s.Backoff
	for i := 1; i < attempts && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}
