-- A few months of activity on top of seed-demo, for TestPgTAP's "seeded" run: the pgTAP
-- suite must pass on a database full of other tenants' rows (and leave it unchanged).
-- Every table gets rows in every state the suite could trip over: live, revoked,
-- expired and old sessions; refresh tokens current and rotated; invitations pending,
-- accepted, declined, revoked and expired; soft- and hard-deleted records; a deleted
-- organization; soft-deleted organizations; pending sign-ups; step-up codes and records;
-- rate-limit buckets; outbox mails due, retrying, sent and given up;
-- sign-in codes, reset tokens, OIDC states and identities; platform admin actions.
--
-- Written as the superuser, like a DBA's import, through every trigger (audit, plan
-- limits, rollups, owner invariant). Columns are left to their defaults wherever the
-- scenario does not need a value, so a column added later (with a default) needs no
-- change here. Everything is named activity-*: @activity.example, slug activity-N.
begin;

-- ------------------------------------------------------------------ people
-- 400 users: one in four never proved the address, twenty are disabled (below).
insert into auth.users (email, password_hash, email_verified_at)
select format('user%s@activity.example', g), 'activity-hash-' || g,
       case when g % 4 <> 0 then now() - make_interval(days => g % 90) end
  from generate_series(1, 400) g;

-- ------------------------------------------------------------------ tenants
-- 40 organizations, each founded by its first user (the founder becomes OWNER through
-- the real trigger), then moved to the business plan (no limits) as a provider would.
do $$
declare
  o int;
begin
  for o in 1 .. 40 loop
    perform set_config('app.user_id', (select id::text from auth.users where email = format('user%s@activity.example', (o - 1) * 10 + 1)), true);
    insert into app.organizations (name, slug) values (format('Activity %s', o), format('activity-%s', o));
  end loop;
  perform set_config('app.user_id', '', true);
end
$$;
update app.subscriptions s set plan_code = 'business', provider_customer_id = 'cus_activity_' || o.slug
  from app.organizations o where o.id = s.org_id and o.slug like 'activity-%';
update app.subscriptions s set suspended_at = now() - interval '3 days', suspended_reason = 'unpaid'
  from app.organizations o where o.id = s.org_id and o.slug in ('activity-39', 'activity-40');

create temp table act_org on commit drop as
  select o.id, substr(o.slug, 10)::int as n from app.organizations o where o.slug like 'activity-%';
create temp table act_user on commit drop as
  select u.id, substr(split_part(u.email, '@', 1), 5)::int as n from auth.users u where u.email like '%@activity.example';

-- Ten members per organization: the founder (OWNER), an ADMIN, eight MEMBERs.
insert into app.memberships (org_id, user_id, role)
select o.id, u.id, (case when u.n % 10 = 2 then 'ADMIN' else 'MEMBER' end)::app.org_role
  from act_org o join act_user u on (u.n - 1) / 10 + 1 = o.n
 where u.n % 10 <> 1;

-- Three projects each; four project members per project.
insert into app.projects (org_id, name, description, created_by)
select o.id, format('Project %s-%s', o.n, p), 'activity', (select id from act_user where n = (o.n - 1) * 10 + 1)
  from act_org o, generate_series(1, 3) p;
create temp table act_project on commit drop as
  select p.org_id, p.id, o.n as org_n, substr(p.name, length(p.name))::int as p
    from app.projects p join act_org o on o.id = p.org_id;
insert into app.project_members (org_id, project_id, user_id, role)
select p.org_id, p.id, u.id, (array['OWNER', 'ADMIN', 'ANALYST', 'VIEWER'])[k]::app.project_role
  from act_project p, generate_series(1, 4) k
  join act_user u on true
 where u.n = (p.org_n - 1) * 10 + 2 + k + p.p % 2;

-- ------------------------------------------------------------------ invitations, every state
insert into app.invitations (org_id, email, role, token_hash, expires_at, invited_by, accepted_at, accepted_by, declined_at, revoked_at)
select o.id, format('invitee%s-%s@activity.example', o.n, i), 'MEMBER', sha256(convert_to(format('activity-invitation-%s-%s', o.n, i), 'UTF8')),
       case when i % 5 = 4 then now() - interval '1 day' else now() + interval '6 days' end,
       (select id from act_user where n = (o.n - 1) * 10 + 1),
       case when i % 5 = 1 then now() - interval '2 days' end,
       case when i % 5 = 1 then (select id from act_user where n = (o.n - 1) * 10 + 3) end,
       case when i % 5 = 2 then now() - interval '2 days' end,
       case when i % 5 = 3 then now() - interval '2 days' end
  from act_org o, generate_series(0, 9) i;
insert into app.invitation_projects (org_id, invitation_id, project_id, role)
select i.org_id, i.id, (select p.id from act_project p where p.org_id = i.org_id order by p.p limit 1), 'VIEWER'
  from app.invitations i join act_org o on o.id = i.org_id;

-- ------------------------------------------------------------------ services and bookings, every status
insert into app.services (org_id, name, duration_minutes, price, currency, capacity)
select o.id, format('Service %s', s), 30 * s, 10 * s, 'EUR', s
  from act_org o, generate_series(1, 3) s;
insert into app.bookings (org_id, service_id, starts_at, customer_name, customer_email, created_by)
select s.org_id, s.id, timestamptz '2030-01-07 08:00+00' + make_interval(hours => b * 2), format('Customer %s', b),
       format('customer%s@activity.example', b), (select id from act_user where n = (o.n - 1) * 10 + 4)
  from app.services s join act_org o on o.id = s.org_id, generate_series(1, 9) b;
update app.bookings b set status = x.status, cancel_reason = case when x.status = 'cancelled' then 'activity' end
  from (select id, (array['pending', 'confirmed', 'cancelled', 'confirmed', 'confirmed'])[1 + row_number() over (order by id) % 5]::app.booking_status as status
          from app.bookings where customer_email like '%@activity.example') x
 where b.id = x.id;
update app.bookings set status = 'completed' where customer_name = 'Customer 4' and status = 'confirmed' and customer_email like '%@activity.example';
update app.bookings set status = 'no_show' where customer_name = 'Customer 5' and status = 'confirmed' and customer_email like '%@activity.example';
-- Service 3 is switched off after its bookings were taken.
update app.services set active = false where name = 'Service 3' and org_id in (select id from act_org);

-- ------------------------------------------------------------------ finance
insert into app.finance_categories (org_id, project_id, kind, name)
select p.org_id, p.id, k::app.finance_kind, initcap(k) from act_project p, unnest(array['income', 'expense']) k;
insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, tags, payment_source, occurred_on, description, created_by, updated_by)
select p.org_id, p.id, c.kind, (r * 7 % 500) + 0.25, (array['EUR', 'USD', 'GBP'])[1 + r % 3], c.id, array['activity', 't' || (r % 4)],
       (enum_range(null::app.payment_source))[1 + r % 8], date '2030-01-01' + r, format('activity %s', r), u.id, u.id
  from act_project p
  join app.finance_categories c on c.project_id = p.id
  join act_user u on u.n = (p.org_n - 1) * 10 + 1,
       generate_series(1, 10) r;
-- Soft-deleted, edited and hard-deleted records (the rollups follow every one).
update app.financial_records set deleted_at = now() - interval '1 day'
 where description in ('activity 3', 'activity 8') and tags @> '{activity}';
update app.financial_records set amount = amount + 1, description = 'activity edited'
 where description = 'activity 7' and tags @> '{activity}';
delete from app.financial_records where description = 'activity 9' and tags @> '{activity}';
insert into app.finance_idempotency_keys (org_id, project_id, user_id, key, request_hash, response, created_at)
select p.org_id, p.id, u.id, 'activity-key-' || k, sha256(convert_to('activity' || k, 'UTF8')), '{}', now() - make_interval(hours => k * 20)
  from act_project p join act_user u on u.n = (p.org_n - 1) * 10 + 1, generate_series(1, 2) k;
insert into app.exchange_rates (org_id, rate_date, from_currency, to_currency, rate)
select o.id, date '2030-01-01' + make_interval(months => m), 'USD', 'EUR', 0.9 + m / 100.0
  from act_org o, generate_series(0, 11) m;

-- ------------------------------------------------------------------ billing
insert into app.checkout_sessions (org_id, plan_code, created_by)
select o.id, 'pro', (select id from act_user where n = (o.n - 1) * 10 + 1) from act_org o;
update app.checkout_sessions c set status = 'completed', completed_at = now() - interval '1 day', provider_session_id = 'cs_activity_' || o.n
  from act_org o where o.id = c.org_id and o.n % 2 = 0;
insert into platform.webhook_events (event_id, type, org_id, outcome)
select 'evt_activity_' || o.n, 'checkout.session.completed', o.id, 'applied' from act_org o where o.n % 2 = 0;
insert into platform.admin_audit (actor, action, org_id, details)
select 'command line', (array['tenant.get', 'tenant.plan', 'tenant.suspend', 'tenant.unsuspend'])[1 + k % 4], o.id, jsonb_build_object('activity', k)
  from act_org o, generate_series(1, 4) k;
insert into platform.admin_audit (actor, action, details)
select 'command line', 'admin.grant', jsonb_build_object('user_id', u.id, 'email', 'user' || u.n || '@activity.example')
  from act_user u where u.n % 100 = 5;
update auth.users set is_platform_admin = true where email in ('user105@activity.example', 'user205@activity.example');

-- ------------------------------------------------------------------ sessions, every ending
-- Per user: two live, one logged out, one logged out everywhere, one revoked as reused,
-- one expired, one ended 40 days ago (kept until open_session forgets it).
insert into auth.sessions (user_id, user_agent, ip, created_at, last_used_at, expires_at, revoked_at, revoked_reason)
select u.id, 'activity/' || k, ('10.1.' || (u.n % 250) || '.' || k)::inet,
       now() - make_interval(days => k * 5), now() - make_interval(mins => k * 7),
       case when k = 6 then now() - interval '1 hour' else now() + interval '20 days' end,
       case k when 3 then now() - interval '2 days' when 4 then now() - interval '3 days'
              when 5 then now() - interval '4 days' when 7 then now() - interval '40 days' end,
       case k when 3 then 'logout' when 4 then 'logout_all' when 5 then 'refresh_token_reused' when 7 then 'logout' end
  from act_user u, generate_series(1, 7) k;
insert into auth.refresh_tokens (token_hash, session_id, rotated_at)
select sha256(convert_to(s.id::text || r, 'UTF8')), s.id, case when r = 1 then now() - interval '1 hour' end
  from auth.sessions s join act_user u on u.id = s.user_id, generate_series(1, 2) r
 where r = 2 or s.user_agent in ('activity/1', 'activity/5');
-- Twenty accounts disabled: the trigger revokes their live sessions ('disabled').
update auth.users set status = 'disabled' where email like '%@activity.example' and substr(split_part(email, '@', 1), 5)::int % 20 = 7;
-- Some passwords reset, some addresses proven after sign-up.
update auth.sessions s set revoked_at = now() - interval '5 hours', revoked_reason = 'password_reset'
  from act_user u where u.id = s.user_id and u.n % 20 = 9 and s.revoked_at is null;
update auth.sessions s set revoked_at = now() - interval '6 hours', revoked_reason = 'email_proven'
  from act_user u where u.id = s.user_id and u.n % 20 = 11 and s.revoked_at is null and s.user_agent = 'activity/2';

-- ------------------------------------------------------------------ throttling and sign-in secrets
insert into auth.rate_limits (bucket, window_ends_at, hits)
select format('login:%s:%s', (array['address', 'account', 'otp', 'reset'])[1 + g % 4], '10.2.' || (g / 250) || '.' || (g % 250)),
       now() + make_interval(secs => (g % 40 - 20) * 60), g % 12
  from generate_series(1, 1000) g;
insert into auth.email_sign_in_codes (email, code_hash, expires_at, attempts)
select format('user%s@activity.example', g), sha256(convert_to('code' || g, 'UTF8')), now() + make_interval(mins => g % 20 - 10), g % 6
  from generate_series(1, 300) g;
insert into auth.password_reset_tokens (token_hash, user_id, expires_at)
select sha256(convert_to('activity-reset-' || u.n, 'UTF8')), u.id, now() + make_interval(mins => u.n % 60 - 30)
  from act_user u where u.n <= 300;
insert into auth.oidc_login_states (state_hash, provider, nonce_hash, code_verifier, expires_at, binding_hash)
select sha256(convert_to('activity-state-' || g, 'UTF8')), (array['google', 'okta'])[1 + g % 2],
       sha256(convert_to('activity-nonce-' || g, 'UTF8')), repeat('v', 43), now() + make_interval(mins => g % 20 - 10),
       sha256(convert_to('activity-browser-' || g, 'UTF8'))
  from generate_series(1, 200) g;
insert into auth.identities (user_id, provider, subject, email)
select u.id, 'google', 'activity-subject-' || u.n, format('user%s@activity.example', u.n)
  from act_user u where u.n % 2 = 0;

-- The outbox: due, waiting for a retry, sent (payload emptied), given up.
insert into auth.email_outbox (recipient, template, payload, created_at, next_attempt_at, attempts, last_error, sent_at, gave_up_at)
select format('user%s@activity.example', 1 + g % 400), (array['sign_in_code', 'password_reset', 'invitation'])[1 + g % 3],
       case when g % 4 in (0, 1) then jsonb_build_object('code', lpad((g * 7919 % 1000000)::text, 6, '0')) else '{}' end,
       now() - make_interval(mins => g), now() - make_interval(mins => g) + case g % 4 when 1 then interval '2 hours' else interval '0' end,
       g % 4, case when g % 4 in (1, 3) then 'activity: mailbox full' end,
       case when g % 4 = 2 then now() - make_interval(mins => g) end,
       case when g % 4 = 3 then now() - make_interval(mins => g) end
  from generate_series(1, 1600) g;

-- ------------------------------------------------------------------ sign-ups, step-ups, chains
-- Pending sign-ups: live, with wrong guesses, expired (migration 017).
insert into auth.pending_sign_ups (email, recipient, code_hash, password_hash, organization_name, attempts, expires_at)
select format('pending%s@activity.example', g), format('Pending%s@activity.example', g),
       sha256(convert_to('activity-signup-' || g, 'UTF8')), '$argon2id$activity-' || g,
       case when g % 3 = 0 then format('Pending Org %s', g) end, g % 5, now() + make_interval(mins => g % 60 - 20)
  from generate_series(1, 150) g;
-- Step-up (migration 020): sessions proven recently or long ago, live codes, the record.
update auth.sessions s set reauthenticated_at = now() - make_interval(mins => u.n % 30)
  from act_user u where u.id = s.user_id and u.n % 5 = 0 and s.user_agent = 'activity/1';
insert into auth.reauthentication_codes (session_id, user_id, code_hash, expires_at, attempts)
select s.id, s.user_id, sha256(convert_to('activity-reauth-' || s.id, 'UTF8')), now() + make_interval(mins => u.n % 20 - 10), u.n % 5
  from auth.sessions s join act_user u on u.id = s.user_id
 where u.n % 7 = 0 and s.user_agent = 'activity/2';
insert into auth.reauthentications (user_id, session_id, method, request_id, at)
select s.user_id, s.id, (array['password', 'code', 'password_change'])[1 + u.n % 3], 'activity-' || u.n, now() - make_interval(mins => u.n)
  from auth.sessions s join act_user u on u.id = s.user_id
 where u.n % 5 = 0 and s.user_agent = 'activity/1';
-- Invitations whose token a development server showed in its answer (migration 018).
update app.invitations set token_disclosed_at = created_at
 where email like 'invitee%-5@activity.example' and accepted_at is null and revoked_at is null and declined_at is null;
-- Organizations soft-deleted by their OWNER: one restorable, one past the 30 days.
update app.organizations o set deleted_at = now() - interval '3 days', deleted_by = u.id
  from act_user u where o.slug = 'activity-36' and u.n = 351;
update app.organizations o set deleted_at = now() - interval '40 days', deleted_by = u.id
  from act_user u where o.slug = 'activity-35' and u.n = 341;

-- ------------------------------------------------------------------ what was deleted
-- An organization deleted by its OWNER (its audit trail stays), a project deleted, a
-- member who left.
delete from app.organizations where slug = 'activity-38';
delete from app.projects where name = 'Project 37-3';
delete from app.memberships m using act_user u where u.id = m.user_id and u.n = 369;

commit;
