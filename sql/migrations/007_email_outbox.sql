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

alter table auth.email_outbox enable row level security;
alter table auth.email_outbox force row level security;

grant usage on schema auth to rowguard_kernel;
grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

create function auth.enqueue_email(p_recipient text, p_template text, p_payload jsonb default '{}')
returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_id uuid;
begin
  insert into auth.email_outbox (recipient, template, payload)
  values (pg_catalog.btrim(p_recipient), p_template, coalesce(p_payload, '{}'))
  returning id into v_id;
  return v_id;
end
$$;
comment on function auth.enqueue_email(text, text, jsonb) is
  'Queue an email, in the caller''s transaction (it is sent only if that transaction commits). template names a template of internal/mail (its payload members are the template''s fields); payload is a JSON object. Returns the outbox row id.';

create function auth.claim_emails(p_limit int, p_lease interval)
returns table (id uuid, recipient text, template text, payload jsonb, attempts int)
language plpgsql volatile security definer set search_path = '' as $$
begin
  return query
    update auth.email_outbox o
       set attempts = o.attempts + 1,
           next_attempt_at = pg_catalog.now() + p_lease
     where o.id in (select d.id
                      from auth.email_outbox d
                     where d.sent_at is null and d.gave_up_at is null
                       and d.next_attempt_at <= pg_catalog.now()
                     order by d.next_attempt_at
                     limit p_limit
                       for update skip locked)
    returning o.id, o.recipient, o.template, o.payload, o.attempts;
end
$$;
comment on function auth.claim_emails(int, interval) is
  'Sender only: claim up to p_limit due emails for p_lease (rows another sender holds are skipped), counting the attempt.';

create function auth.email_sent(p_id uuid) returns void
language plpgsql volatile security definer set search_path = '' as $$
begin
  update auth.email_outbox
     set sent_at = pg_catalog.now(), payload = '{}', last_error = null
   where id = p_id and sent_at is null;
end
$$;
comment on function auth.email_sent(uuid) is
  'Sender only: the email was accepted by the mail server. Its payload (which may hold a code or token) is emptied.';

create function auth.email_failed(p_id uuid, p_error text, p_retry_in interval) returns void
language plpgsql volatile security definer set search_path = '' as $$
begin
  update auth.email_outbox
     set last_error = pg_catalog.left(p_error, 1000),
         next_attempt_at = pg_catalog.now() + coalesce(p_retry_in, interval '0'),
         gave_up_at = case when p_retry_in is null then pg_catalog.now() end,
         payload = case when p_retry_in is null then '{}'::jsonb else payload end
   where id = p_id and sent_at is null;
end
$$;
comment on function auth.email_failed(uuid, text, interval) is
  'Sender only: delivery failed; retry after p_retry_in, or give up for good when it is NULL (the payload is then emptied).';

create function auth.purge_emails(p_older_than interval) returns int
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_count int;
begin
  delete from auth.email_outbox
   where coalesce(sent_at, gave_up_at) < pg_catalog.now() - p_older_than;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;
comment on function auth.purge_emails(interval) is
  'Sender only: forget emails sent or given up on longer than p_older_than ago. Returns how many.';

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;

---- create above / drop below ----

set local role rowguard_kernel;
drop function auth.purge_emails(interval);
drop function auth.email_failed(uuid, text, interval);
drop function auth.email_sent(uuid);
drop function auth.claim_emails(int, interval);
drop function auth.enqueue_email(text, text, jsonb);
set local role rowguard_owner;
drop table auth.email_outbox;
reset role;
