-- The email outbox holds secrets (codes, tokens) until delivered: no API role reads or
-- writes it directly. The SECURITY DEFINER functions of sql/kernel/email_outbox.sql do, as
-- rowguard_kernel, under the policies below.

-- Row ids default to app.uuid_v7(), evaluated as the inserting role.
grant execute on function app.uuid_v7() to rowguard_kernel;
alter table auth.email_outbox enable row level security;
alter table auth.email_outbox force row level security;

grant select, insert, delete, update (attempts, next_attempt_at, last_error, sent_at, gave_up_at, payload)
   on auth.email_outbox to rowguard_kernel;

create policy email_outbox_select_kernel on auth.email_outbox for select to rowguard_kernel
  using (true);
comment on policy email_outbox_select_kernel on auth.email_outbox is
  'auth.claim_emails (and the updates of auth.email_sent / auth.email_failed) find the rows to deliver.';

create policy email_outbox_insert_kernel on auth.email_outbox for insert to rowguard_kernel
  with check (sent_at is null and gave_up_at is null and attempts = 0);
comment on policy email_outbox_insert_kernel on auth.email_outbox is
  'auth.enqueue_email queues a fresh, unsent email.';

create policy email_outbox_update_kernel on auth.email_outbox for update to rowguard_kernel
  using (sent_at is null and gave_up_at is null) with check (true);
comment on policy email_outbox_update_kernel on auth.email_outbox is
  'The sender claims, marks sent or failed an email not yet finished with; a sent or abandoned email never changes again.';

create policy email_outbox_delete_kernel on auth.email_outbox for delete to rowguard_kernel
  using (sent_at is not null or gave_up_at is not null);
comment on policy email_outbox_delete_kernel on auth.email_outbox is
  'auth.purge_emails forgets finished emails; an email still to send is never deleted.';

-- enqueue_email: called by the api.* and auth.* functions that send mail (in the
-- caller's transaction). The others: the server's sender (internal/mail), which
-- runs in the API process on the API role's pool (claim_emails_to: rowguard seed-demo
-- reading its demo accounts' mail).
grant execute on function
  auth.enqueue_email(text, text, jsonb),
  auth.claim_emails(int, interval),
  auth.claim_emails_to(text, interval),
  auth.email_sent(uuid),
  auth.email_failed(uuid, text, interval),
  auth.purge_emails(interval)
to rowguard_api;
