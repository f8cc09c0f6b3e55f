// Package mail delivers the emails queued in the auth.email_outbox table: it renders
// each row's template, hands the message to a Transport (SMTP in production, the log in
// development) and records the outcome, retrying failures with backoff. Several
// replicas may run a Sender each: rows are claimed with FOR UPDATE SKIP LOCKED.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// Message is one rendered email.
type Message struct {
	From    string // RFC 5322 address, with an optional display name
	To      string // bare address
	Subject string
	Body    string // plain text
}

// Transport delivers a message, or says why it could not.
type Transport interface {
	Send(ctx context.Context, m Message) error
}

// errHeaderInjection refuses a header value that would start another header.
var errHeaderInjection = errors.New("mail: header value contains a line break")

// Bytes renders m as an RFC 5322 message: UTF-8 text, quoted-printable body, CRLF lines.
func (m Message) Bytes(now time.Time) ([]byte, error) {
	for _, v := range []string{m.From, m.To, m.Subject} {
		if strings.ContainsAny(v, "\r\n") {
			return nil, errHeaderInjection
		}
	}
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return nil, fmt.Errorf("mail: from address %q: %w", m.From, err)
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	_, domain, _ := strings.Cut(from.Address, "@")

	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", from.String())
	header("To", m.To)
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}

// envelopeAddress is the bare address of an RFC 5322 From value ("Name <a@b>" → "a@b").
func envelopeAddress(from string) (string, error) {
	a, err := mail.ParseAddress(from)
	if err != nil {
		return "", fmt.Errorf("mail: from address %q: %w", from, err)
	}
	return a.Address, nil
}
