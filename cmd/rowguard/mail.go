package main

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowguard/rowguard/internal/config"
	"github.com/rowguard/rowguard/internal/mail"
)

// startMailSender delivers the email outbox until ctx ends; the returned function
// waits for the sender to stop (call it before closing the pool).
func startMailSender(ctx context.Context, cfg *config.ServeConfig, pool *pgxpool.Pool, logger *slog.Logger) (wait func()) {
	var transport mail.Transport = mail.LogTransport{Logger: logger}
	if cfg.SMTPHost != "" {
		mode, _ := mail.ParseTLSMode(cfg.SMTPTLS) // validated by config
		transport = &mail.SMTPTransport{
			Host: cfg.SMTPHost, Port: cfg.SMTPPort, TLS: mode,
			Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
		}
		logger.Info("email outbox: delivering by SMTP", "host", cfg.SMTPHost, "port", cfg.SMTPPort, "tls", cfg.SMTPTLS)
	} else if !cfg.DevMode() {
		logger.Warn("email outbox: ROWGUARD_SMTP_HOST is unset, so emails (sign-in codes included) are written to this log instead of sent")
	}
	sender := &mail.Sender{Pool: pool, Transport: transport, From: cfg.MailFrom, Logger: logger}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sender.Run(ctx)
	}()
	return func() { <-done }
}
