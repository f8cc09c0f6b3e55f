package mail

import (
	"context"
	"log/slog"
)

// LogTransport is the development transport: it writes each message, body included,
// to the log instead of sending it. Never use it where the log is less private than
// the mailbox (the body holds sign-in codes).
type LogTransport struct {
	Logger *slog.Logger
}

// Send logs m.
func (t LogTransport) Send(_ context.Context, m Message) error {
	t.Logger.Info("email (development: logged, not sent)",
		"to", m.To, "from", m.From, "subject", m.Subject, "body", m.Body)
	return nil
}
