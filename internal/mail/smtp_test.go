package mail_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/rowguard/rowguard/internal/mail"
	"github.com/rowguard/rowguard/internal/mail/mailtest"
)

var testMessage = mail.Message{
	From:    "rowguard <no-reply@rowguard.test>",
	To:      "ada@example.com",
	Subject: "Grüße — your code",
	Body:    "Line one\nA long line " + strings.Repeat("x", 100) + "\n.leading dot\n",
}

func checkDelivered(t *testing.T, srv *mailtest.Server, wantTLS bool) mailtest.Message {
	t.Helper()
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages delivered, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "no-reply@rowguard.test" || len(m.To) != 1 || m.To[0] != "ada@example.com" {
		t.Errorf("envelope from %q to %v", m.From, m.To)
	}
	if m.Subject != testMessage.Subject {
		t.Errorf("subject %q, want %q", m.Subject, testMessage.Subject)
	}
	if m.Body != testMessage.Body+"\n" && m.Body != testMessage.Body {
		t.Errorf("body %q, want %q", m.Body, testMessage.Body)
	}
	if m.TLS != wantTLS {
		t.Errorf("TLS = %v, want %v", m.TLS, wantTLS)
	}
	return m
}

func TestSMTPPlain(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	tr := &mail.SMTPTransport{Host: srv.Host(), Port: srv.Port(), TLS: mail.TLSNone}
	if err := tr.Send(context.Background(), testMessage); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, srv, false)
}

func TestSMTPStartTLSWithAuth(t *testing.T) {
	serverTLS, roots := mailtest.SelfSignedTLS(t)
	srv := mailtest.Start(t, mailtest.Options{TLS: serverTLS, Users: map[string]string{"mailer": "s3cret"}})
	tr := &mail.SMTPTransport{
		Host: srv.Host(), Port: srv.Port(), TLS: mail.TLSStartTLS,
		Username: "mailer", Password: "s3cret", TLSConfig: &tls.Config{RootCAs: roots},
	}
	if err := tr.Send(context.Background(), testMessage); err != nil {
		t.Fatal(err)
	}
	if m := checkDelivered(t, srv, true); m.User != "mailer" {
		t.Errorf("authenticated as %q", m.User)
	}

	tr.Password = "wrong"
	if err := tr.Send(context.Background(), testMessage); err == nil || !strings.Contains(err.Error(), "AUTH") {
		t.Errorf("wrong password: err = %v", err)
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	serverTLS, roots := mailtest.SelfSignedTLS(t)
	srv := mailtest.Start(t, mailtest.Options{TLS: serverTLS, ImplicitTLS: true})
	tr := &mail.SMTPTransport{Host: srv.Host(), Port: srv.Port(), TLS: mail.TLSImplicit, TLSConfig: &tls.Config{RootCAs: roots}}
	if err := tr.Send(context.Background(), testMessage); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, srv, true)
}

// STARTTLS is required, not opportunistic: a server that does not offer it gets nothing.
func TestSMTPStartTLSRequired(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	tr := &mail.SMTPTransport{Host: srv.Host(), Port: srv.Port(), TLS: mail.TLSStartTLS}
	if err := tr.Send(context.Background(), testMessage); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v, want a refusal naming STARTTLS", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages sent in plain text", n)
	}
}

// An untrusted certificate is refused.
func TestSMTPVerifiesCertificate(t *testing.T) {
	serverTLS, _ := mailtest.SelfSignedTLS(t)
	srv := mailtest.Start(t, mailtest.Options{TLS: serverTLS})
	tr := &mail.SMTPTransport{Host: srv.Host(), Port: srv.Port(), TLS: mail.TLSStartTLS}
	if err := tr.Send(context.Background(), testMessage); err == nil {
		t.Fatal("an unverifiable certificate was accepted")
	}
}

func TestMessageRefusesHeaderInjection(t *testing.T) {
	m := testMessage
	m.Subject = "hi\r\nBcc: victim@example.com"
	if _, err := m.Bytes(time.Now()); err == nil {
		t.Fatal("a subject with CRLF was accepted")
	}
}

func TestRenderTemplates(t *testing.T) {
	m, err := mail.Render("sign_in_code", []byte(`{"code":"123456","expires_in_minutes":10}`), "a@b.test", "c@d.test")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Subject, "123456") || !strings.Contains(m.Body, "123456") || !strings.Contains(m.Body, "10 minutes") {
		t.Errorf("rendered %+v", m)
	}
	if _, err := mail.Render("sign_in_code", []byte(`{"expires_in_minutes":10}`), "a@b.test", "c@d.test"); err == nil {
		t.Error("a payload without the code rendered")
	}
	if _, err := mail.Render("nope", []byte(`{}`), "a@b.test", "c@d.test"); err == nil {
		t.Error("an unknown template rendered")
	}
}
