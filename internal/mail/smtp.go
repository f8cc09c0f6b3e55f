package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"strconv"
	"time"
)

// TLSMode is how the SMTP connection is protected.
type TLSMode string

const (
	// TLSStartTLS connects in plain text and upgrades with STARTTLS, refusing a server
	// that does not offer it (submission, port 587).
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit speaks TLS from the first byte (submissions, port 465).
	TLSImplicit TLSMode = "tls"
	// TLSNone sends in plain text: only for a relay on the same host or network.
	TLSNone TLSMode = "none"
)

// ParseTLSMode accepts starttls, tls or none.
func ParseTLSMode(s string) (TLSMode, error) {
	switch m := TLSMode(s); m {
	case TLSStartTLS, TLSImplicit, TLSNone:
		return m, nil
	}
	return "", fmt.Errorf("must be starttls, tls or none (got %q)", s)
}

// SMTPTransport sends through an SMTP server (net/smtp: the protocol is small, stable
// and in the standard library).
type SMTPTransport struct {
	Host     string
	Port     int
	TLS      TLSMode
	Username string // empty: no AUTH
	Password string
	// TLSConfig overrides the TLS settings (tests: a private CA). Nil: verify Host
	// against the system roots.
	TLSConfig *tls.Config
	// Timeout bounds one whole delivery (connect to QUIT). Zero: 30s.
	Timeout time.Duration
	// HelloName is sent with EHLO. Empty: "localhost".
	HelloName string
}

// Send delivers m: one connection per message (an outbox row is one message).
func (t *SMTPTransport) Send(ctx context.Context, m Message) error {
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	data, err := m.Bytes(time.Now())
	if err != nil {
		return err
	}
	from, err := envelopeAddress(m.From)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("smtp: connect %s: %w", addr, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	tlsConfig := t.tlsConfig()
	if t.TLS == TLSImplicit {
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("smtp: TLS handshake with %s: %w", addr, err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, t.Host)
	if err != nil {
		return fmt.Errorf("smtp: %s: %w", addr, err)
	}
	defer c.Close()
	hello := t.HelloName
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return fmt.Errorf("smtp: EHLO: %w", err)
	}
	if t.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("smtp: the server does not offer STARTTLS (ROWGUARD_SMTP_TLS=starttls)")
		}
		if err := c.StartTLS(tlsConfig); err != nil {
			return fmt.Errorf("smtp: STARTTLS: %w", err)
		}
	}
	if t.Username != "" {
		// PlainAuth itself refuses to send the password without TLS, except to localhost.
		if err := c.Auth(smtp.PlainAuth("", t.Username, t.Password, t.Host)); err != nil {
			return fmt.Errorf("smtp: AUTH: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("smtp: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("smtp: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("smtp: writing the message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp: message refused: %w", err)
	}
	return c.Quit()
}

func (t *SMTPTransport) tlsConfig() *tls.Config {
	if t.TLSConfig != nil {
		c := t.TLSConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = t.Host
		}
		return c
	}
	return &tls.Config{ServerName: t.Host, MinVersion: tls.VersionTLS12}
}
