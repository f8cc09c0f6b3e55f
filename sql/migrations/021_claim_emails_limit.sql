-- auth.claim_emails claimed every due email instead of at most p_limit (migration 007).
-- Its `where o.id in (select … limit p_limit for update skip locked)` lets the planner
-- run the subquery as the inner side of a semi join, rescanned for every outer row; each
-- rescan skips the rows this very UPDATE has already changed and so finds the next due
-- ones, until the whole queue is claimed. One sender then holds (and leases) every due
-- email, and a replica beside it finds none. Collecting the ids once into an array (an
-- InitPlan, evaluated exactly once) claims at most p_limit rows whatever the plan.
-- tests/pgtap/55_email_outbox.sql proves it: of three due emails, claim_emails(2, …)
-- claims two.
set local role rowguard_owner;
grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

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

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;

---- create above / drop below ----

set local role rowguard_owner;
grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

create or replace function auth.claim_emails(p_limit int, p_lease interval)
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

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;
