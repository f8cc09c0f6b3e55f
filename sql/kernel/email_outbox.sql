-- The email outbox: queued in the same transaction as the act that sends it, claimed and
-- drained by the mailer, purged when old.
-- Part of the kernel code package (install.sql).

set local role rowguard_kernel;

create or replace function auth.enqueue_email(p_recipient text, p_template text, p_payload jsonb default '{}')
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

create or replace function auth.email_sent(p_id uuid) returns void
language plpgsql volatile security definer set search_path = '' as $$
begin
  update auth.email_outbox
     set sent_at = pg_catalog.now(), payload = '{}', last_error = null
   where id = p_id and sent_at is null;
end
$$;
comment on function auth.email_sent(uuid) is
  'Sender only: the email was accepted by the mail server. Its payload (which may hold a code or token) is emptied.';

create or replace function auth.email_failed(p_id uuid, p_error text, p_retry_in interval) returns void
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

create or replace function auth.purge_emails(p_older_than interval) returns int
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

-- A sender for one mailbox: `rowguard seed-demo` reads its demo accounts' invitation
-- emails as their mailbox would (the tokens are in no API answer any more), leaving
-- everyone else's mail to the server's sender. The API role already claims every email
-- (auth.claim_emails): this narrower claim grants nothing new.
create or replace function auth.claim_emails_to(p_recipient text, p_lease interval)
returns table (id uuid, recipient text, template text, payload jsonb, attempts int)
language plpgsql volatile security definer set search_path = '' as $$
begin
  return query
    update auth.email_outbox o
       set attempts = o.attempts + 1,
           next_attempt_at = pg_catalog.now() + p_lease
     where o.id in (select d.id
                      from auth.email_outbox d
                     where pg_catalog.lower(d.recipient) = pg_catalog.lower(p_recipient)
                       and d.sent_at is null and d.gave_up_at is null
                       and d.next_attempt_at <= pg_catalog.now()
                     order by d.next_attempt_at
                       for update skip locked)
    returning o.id, o.recipient, o.template, o.payload, o.attempts;
end
$$;
comment on function auth.claim_emails_to(text, interval) is
  'Sender only: claim the due emails to one address for p_lease (rows another sender holds are skipped), as auth.claim_emails does for all. rowguard seed-demo reads its demo accounts'' mail with it.';

create or replace function auth.claim_emails(p_limit int, p_lease interval)
returns table (id uuid, recipient text, template text, payload jsonb, attempts int)
language plpgsql volatile security definer set search_path = '' as $$
begin
  return query
    update auth.email_outbox o
       set attempts = o.attempts + 1,
           next_attempt_at = pg_catalog.now() + p_lease
     where o.id = any (array(select d.id
                               from auth.email_outbox d
                              where d.sent_at is null and d.gave_up_at is null
                                and d.next_attempt_at <= pg_catalog.now()
                              order by d.next_attempt_at
                              limit p_limit
                                for update skip locked))
    returning o.id, o.recipient, o.template, o.payload, o.attempts;
end
$$;
comment on function auth.claim_emails(int, interval) is
  'Sender only: claim up to p_limit due emails for p_lease (rows another sender holds are skipped), counting the attempt.';

set local role rowguard_owner;
