package mail

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
)

// A template turns an outbox row's payload (a JSON object) into a subject and body.
// The payload members are the template's fields, e.g. {{.code}}; a member the
// template uses but the payload lacks is an error (missingkey=error), never "<no value>".
type emailTemplate struct {
	subject *template.Template
	body    *template.Template
}

// Templates are the emails rowguard sends, by the name auth.enqueue_email is given.
// Add one here (and document its payload) before any SQL function queues it.
var templates = map[string]emailTemplate{
	// payload: {"code": "123456", "expires_in_minutes": 10}
	"sign_in_code": newTemplate(
		`Your sign-in code: {{.code}}`,
		`Your rowguard sign-in code is:

    {{.code}}

It expires in {{.expires_in_minutes}} minutes and works once. If you did not ask to
sign in, ignore this email: nobody can sign in without the code.
`),
	// payload: {"code": "123456", "expires_in_minutes": 30}
	"sign_up_code": newTemplate(
		`Your sign-up code: {{.code}}`,
		`Someone (hopefully you) asked to create a rowguard account with this email address.
Finish signing up with this code (POST /v1/auth/register/verify):

    {{.code}}

It expires in {{.expires_in_minutes}} minutes and works once. If you did not sign up,
ignore this email: no account exists until the code is used.
`),
	// payload: {} (the address already has an account)
	"sign_up_exists": newTemplate(
		`Someone tried to sign up with your email address`,
		`Someone (perhaps you) tried to create a rowguard account with this email address,
which already has one. Nothing was created and your account is unchanged.

If it was you: sign in instead, or ask for a password reset or an emailed sign-in code.
If it was not you, you need do nothing.
`),
	// payload: {"code": "123456", "expires_in_minutes": 10}
	"reauthentication_code": newTemplate(
		`Your rowguard confirmation code: {{.code}}`,
		`Someone signed in to your rowguard account asked to confirm a sensitive action
(deleting an organization, removing an owner, changing the password). The code is:

    {{.code}}

It expires in {{.expires_in_minutes}} minutes, works once, and only in the session that
asked for it. If this was not you, do not share it: sign out everywhere
(POST /v1/auth/logout-all) and change your password.
`),
	// payload: {"token": "...", "organization": "Acme", "role": "MEMBER", "expires_at": "2031-…"}
	"invitation": newTemplate(
		`You are invited to {{.organization}} on rowguard`,
		`You are invited to join {{.organization}} on rowguard as {{.role}}.

Sign in (or sign up) with this email address, then accept with this token
(POST /v1/invitations/accept):

    {{.token}}

It works once, until {{.expires_at}}. If you do not know {{.organization}}, ignore this
email, or decline the invitation.
`),
	// payload: {"token": "...", "expires_in_minutes": 30, "reset_url": "https://..." or ""}
	"password_reset": newTemplate(
		`Reset your rowguard password`,
		`Someone (hopefully you) asked to reset the password of your rowguard account.
{{if .reset_url}}
Choose a new password here:

    {{.reset_url}}
{{end}}
Reset token (POST /v1/auth/password/reset):

    {{.token}}

It expires in {{.expires_in_minutes}} minutes and works once. If you did not ask for
this, ignore this email: your password stays as it is.
`),
	// payload: {"purge_after": "2031-…Z"} (auth.delete_account)
	"account_deletion_scheduled": newTemplate(
		`Your rowguard account is deleted`,
		`Your rowguard account was deleted: you are signed out everywhere and nobody can sign
in to it. Its personal data will be erased after {{.purge_after}}.

Until then you can change your mind: send this email address and your password to
POST /v1/auth/restore. It restores the account as it was (your memberships included)
and signs you in. An account without a password sets one with a password reset
(POST /v1/auth/password/forgot) first.

If you did not delete your account, restore it now and change your password.
`),
	// payload: {} (auth.restore_account)
	"account_restored": newTemplate(
		`Your rowguard account is restored`,
		`The deletion of your rowguard account was cancelled: the account is restored as it
was and someone (hopefully you) just signed in to it.

If this was not you, change your password and sign out everywhere
(POST /v1/auth/logout-all).
`),
}

func newTemplate(subject, body string) emailTemplate {
	return emailTemplate{
		subject: template.Must(template.New("subject").Option("missingkey=error").Parse(subject)),
		body:    template.Must(template.New("body").Option("missingkey=error").Parse(body)),
	}
}

// ErrUnknownTemplate: the outbox row names a template this binary does not have.
var ErrUnknownTemplate = errors.New("mail: unknown template")

// Render builds the message of template name for payload.
func Render(name string, payload []byte, from, to string) (Message, error) {
	t, ok := templates[name]
	if !ok {
		return Message{}, fmt.Errorf("%w %q", ErrUnknownTemplate, name)
	}
	var data map[string]any
	if err := json.Unmarshal(payload, &data); err != nil {
		return Message{}, fmt.Errorf("mail: template %s: payload: %w", name, err)
	}
	var subject, body bytes.Buffer
	if err := t.subject.Execute(&subject, data); err != nil {
		return Message{}, fmt.Errorf("mail: template %s: %w", name, err)
	}
	if err := t.body.Execute(&body, data); err != nil {
		return Message{}, fmt.Errorf("mail: template %s: %w", name, err)
	}
	return Message{From: from, To: to, Subject: strings.TrimSpace(subject.String()), Body: body.String()}, nil
}
