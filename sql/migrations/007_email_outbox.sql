-- Email delivery through a transactional outbox. A function that must send an email
-- (a sign-in code, a password reset link, later an invitation) calls
-- auth.enqueue_email(recipient, template, payload) in the same transaction as the row
-- the email is about: the email exists exactly when that row committed. The server's
-- sender (internal/mail) claims due rows with FOR UPDATE SKIP LOCKED, so several
-- replicas deliver each row once, and retries failures with backoff.
--
-- Payloads can hold secrets (a one-time code, a reset token): the table is readable by
-- no API role, only through the functions below, and a row's payload is emptied once
-- it is sent or given up on.
set local role rowguard_owner;

create table auth.email_outbox (
  id              uuid primary key default app.uuid_v7(),
  recipient       text not null
                  constraint email_outbox_recipient_check
                  check (length(recipient) <= 254 and recipient ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
  -- The name of a template the sender knows (internal/mail/templates.go).
  template        text not null
                  constraint email_outbox_template_check check (template ~ '^[a-z][a-z0-9_]{0,62}$'),
  payload         jsonb not null default '{}'
                  constraint email_outbox_payload_check check (jsonb_typeof(payload) = 'object'),
  created_at      timestamptz not null default now(),
  -- Due time: when the row may be claimed next. A claim pushes it by the lease, so a
  -- sender that dies mid-delivery leaves the row due again once the lease runs out.
  next_attempt_at timestamptz not null default now(),
  attempts        int not null default 0,
  last_error      text,
  sent_at         timestamptz,
  gave_up_at      timestamptz
);
comment on table auth.email_outbox is
  'Emails to send, written in the same transaction as what they announce; delivered by the server''s sender. Holds secrets until sent: reachable only through auth.enqueue_email / auth.claim_emails / auth.email_sent / auth.email_failed / auth.purge_emails.';
create index email_outbox_due_idx on auth.email_outbox (next_attempt_at)
  where sent_at is null and gave_up_at is null;

grant usage on schema auth to rowguard_kernel;

reset role;

---- create above / drop below ----

set local role rowguard_kernel;
drop function if exists auth.purge_emails(interval);
drop function if exists auth.email_failed(uuid, text, interval);
drop function if exists auth.email_sent(uuid);
drop function if exists auth.claim_emails(int, interval);
drop function if exists auth.enqueue_email(text, text, jsonb);
set local role rowguard_owner;
drop table auth.email_outbox;
reset role;
