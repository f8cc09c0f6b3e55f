-- The role matrix, GENERATED: one declared expectation per (table, command[, variant])
-- naming the actors Postgres must allow; every actor × every expectation is then tried
-- as that actor (one probe statement, rolled back) and compared with what Postgres did.
-- No cell is written by hand. A table the API role can reach without an expectation
-- for each of its four commands fails the coverage test at the end.
--
-- Actors (fixtures/tenants.sql + fixtures/projects.sql), all acting in org A:
--   org_owner alice, org_admin adam, org_member mary (in no project),
--   proj_owner olga, proj_admin paul, analyst ana, viewer vic (org MEMBERs with that
--   project role in Apollo), stranger bob (OWNER of org B, with a forged org A context),
--   anonymous (no user).
-- "Allowed" means: a SELECT returns the target row, an INSERT succeeds, an UPDATE or
-- DELETE touches the target row. Refused means RLS hid it, or 42501 / RG403 / RG409.
-- A second declared table, each actor's effective role and finance/analytics levels in
-- Apollo, is compared the same way with the kernel helpers (app.my_project_ids for every
-- role threshold, app.my_domain_project_ids for every domain and level).
begin;
create extension if not exists pgtap;
\ir fixtures/tenants.sql
\ir fixtures/projects.sql
\ir fixtures/bookings.sql
\ir fixtures/finance.sql
-- Rows only the platform writes, for the probes to aim at.
insert into app.checkout_sessions (org_id, id, plan_code, created_by)
  values (:org_a, 'aaaaaaaa-0000-4000-8000-0000000000e1', 'pro', :alice);
insert into platform.webhook_events (event_id, type, org_id, outcome) values ('evt_probe', 'checkout.session.completed', :org_a, 'applied');
insert into platform.admin_audit (actor, action, org_id) values ('command line', 'tenant.suspend', :org_a);
insert into auth.email_outbox (recipient, template) values ('nina@x.test', 'sign_in_code');
insert into auth.refresh_tokens (token_hash, session_id)
  select sha256('fixture'), id from auth.sessions where user_id = 'aa000000-0000-4000-8000-00000000000a' limit 1;
insert into auth.rate_limits (bucket, window_ends_at, hits) values ('login:address:192.0.2.1', now() + interval '15 minutes', 3);
insert into auth.email_sign_in_codes (email, code_hash, expires_at) values ('nina@x.test', sha256('1'), now() + interval '10 minutes');
insert into auth.pending_sign_ups (email, recipient, code_hash, password_hash, expires_at)
  values ('newcomer@x.test', 'newcomer@x.test', sha256('p'), '$argon2id$fixture', now() + interval '30 minutes');
insert into auth.password_reset_tokens (token_hash, user_id, expires_at) values (sha256('r'), 'aa000000-0000-4000-8000-00000000000a', now() + interval '30 minutes');
insert into auth.oidc_login_states (state_hash, provider, nonce_hash, code_verifier, expires_at, binding_hash)
  values (sha256('s'), 'google', sha256('n'), repeat('v', 43), now() + interval '10 minutes', sha256('b'));
insert into auth.reauthentication_codes (session_id, user_id, code_hash, expires_at)
  select id, user_id, sha256('c'), now() + interval '10 minutes' from auth.sessions where user_id = 'aa000000-0000-4000-8000-00000000000a' limit 1;
insert into auth.reauthentications (user_id, session_id, method)
  select user_id, id, 'password' from auth.sessions where user_id = 'aa000000-0000-4000-8000-00000000000a' limit 1;
-- The org OWNER's requests come from a session that reauthenticated a moment ago, so that
-- the matrix shows the role rules: demoting or removing otto (the last OWNER besides her)
-- is a step-up act (migration 020; tests/pgtap/56_step_up.sql proves the step-up itself).
insert into auth.sessions (id, user_id, reauthenticated_at) values ('a1000000-5e55-4000-8000-000000000001', :alice, now());
select set_config('app.session_id', 'a1000000-5e55-4000-8000-000000000001', true);
insert into auth.identities (user_id, provider, subject, email) values ('aa000000-0000-4000-8000-00000000000a', 'google', 'fixture-subject', 'nina@x.test');

create temp table actor (name text primary key, user_id uuid, ord int);
insert into actor values
  ('org_owner', :alice, 1), ('org_admin', :adam, 2), ('org_member', :mary, 3),
  ('proj_owner', :olga, 4), ('proj_admin', :paul, 5), ('analyst', :ana, 6), ('viewer', :vic, 7),
  ('stranger', :bob, 8), ('anonymous', null, 9);

-- THE EXPECTATION TABLE. Targets are org A rows: nina (org MEMBER in no project), nora
-- (Apollo VIEWER), olga (Apollo OWNER), otto (second org OWNER), inv_a (pending invitation).
create temp table expectation (tbl text, cmd text, variant text, probe text, allowed text[], ord serial);
insert into expectation (tbl, cmd, variant, probe, allowed) values
  -- identity
  ('auth.users', 'select', 'a fellow member', $$select from auth.users where id = 'aa000000-0000-4000-8000-00000000000a'$$,
     '{org_owner,org_admin,org_member,proj_owner,proj_admin,analyst,viewer}'),
  ('auth.users', 'insert', 'another user', $$insert into auth.users (id, email, password_hash) values ('dd000000-0000-4000-8000-000000000001', 'new@x.test', 'x')$$, '{}'),
  ('auth.users', 'update', 'a fellow member''s email', $$update auth.users set email = email where id = 'aa000000-0000-4000-8000-00000000000a'$$, '{}'),
  ('auth.users', 'delete', 'a fellow member', $$delete from auth.users where id = 'aa000000-0000-4000-8000-00000000000a'$$, '{}'),
  ('auth.sessions', 'select', 'a fellow member''s session', $$select from auth.sessions where user_id = 'aa000000-0000-4000-8000-00000000000a'$$, '{}'),
  ('auth.sessions', 'insert', 'for a fellow member', $$insert into auth.sessions (user_id) values ('aa000000-0000-4000-8000-00000000000a')$$, '{}'),
  ('auth.sessions', 'update', 'a fellow member''s session', $$update auth.sessions set last_used_at = now() where user_id = 'aa000000-0000-4000-8000-00000000000a'$$, '{}'),
  ('auth.sessions', 'delete', 'a fellow member''s session', $$delete from auth.sessions where user_id = 'aa000000-0000-4000-8000-00000000000a'$$, '{}'),
  -- tenancy
  ('app.organizations', 'select', 'org A', $$select from app.organizations where id = 'aaaaaaaa-0000-4000-8000-000000000000'$$,
     '{org_owner,org_admin,org_member,proj_owner,proj_admin,analyst,viewer}'),
  ('app.organizations', 'insert', 'a new organization', $$insert into app.organizations (name, slug) values ('Probe', 'pgtap-fixture-probe')$$,
     '{org_owner,org_admin,org_member,proj_owner,proj_admin,analyst,viewer,stranger}'),
  ('app.organizations', 'update', 'org A', $$update app.organizations set name = name where id = 'aaaaaaaa-0000-4000-8000-000000000000'$$, '{org_owner,org_admin}'),
  -- No DELETE: an OWNER soft-deletes (app.soft_delete_organization), `rowguard purge-deleted` deletes.
  ('app.organizations', 'delete', 'org A', $$delete from app.organizations where id = 'aaaaaaaa-0000-4000-8000-000000000000'$$, '{}'),
  ('app.memberships', 'select', 'nina''s', $$select from app.memberships where user_id = 'aa000000-0000-4000-8000-00000000000a'$$,
     '{org_owner,org_admin,org_member,proj_owner,proj_admin,analyst,viewer}'),
  ('app.memberships', 'insert', 'nina into org B', $$insert into app.memberships (org_id, user_id, role) values ('bbbbbbbb-0000-4000-8000-000000000000', 'aa000000-0000-4000-8000-00000000000a', 'MEMBER')$$, '{}'),
  ('app.memberships', 'update', 'nina stays MEMBER', $$update app.memberships set role = 'MEMBER' where user_id = 'aa000000-0000-4000-8000-00000000000a'$$, '{org_owner,org_admin}'),
  ('app.memberships', 'update', 'promote nina to ADMIN', $$update app.memberships set role = 'ADMIN' where user_id = 'aa000000-0000-4000-8000-00000000000a'$$, '{org_owner,org_admin}'),
  ('app.memberships', 'update', 'promote nina to OWNER (escalation for an ADMIN)', $$update app.memberships set role = 'OWNER' where user_id = 'aa000000-0000-4000-8000-00000000000a'$$, '{org_owner}'),
  ('app.memberships', 'update', 'demote OWNER otto (not the last)', $$update app.memberships set role = 'ADMIN' where user_id = 'a4000000-0000-4000-8000-000000000004'$$, '{org_owner}'),
  ('app.memberships', 'update', 'promote oneself to OWNER', $$update app.memberships set role = 'OWNER' where user_id = app.current_user_id() and org_id = app.current_org_id()$$, '{org_owner}'),
  ('app.memberships', 'delete', 'remove nina', $$delete from app.memberships where user_id = 'aa000000-0000-4000-8000-00000000000a'$$, '{org_owner,org_admin}'),
  ('app.memberships', 'delete', 'remove OWNER otto', $$delete from app.memberships where user_id = 'a4000000-0000-4000-8000-000000000004'$$, '{org_owner}'),
  ('app.memberships', 'delete', 'leave (oneself)', $$delete from app.memberships where user_id = app.current_user_id() and org_id = app.current_org_id()$$,
     '{org_owner,org_admin,org_member,proj_owner,proj_admin,analyst,viewer}'),
  -- projects
  ('app.projects', 'select', 'Apollo', $$select from app.projects where id = 'aaaaaaaa-0000-4000-8000-0000000000a1'$$,
     '{org_owner,org_admin,proj_owner,proj_admin,analyst,viewer}'),
  ('app.projects', 'select', 'Artemis (no project member)', $$select from app.projects where id = 'aaaaaaaa-0000-4000-8000-0000000000a2'$$, '{org_owner,org_admin}'),
  ('app.projects', 'insert', 'a new project', $$insert into app.projects (org_id, name) values ('aaaaaaaa-0000-4000-8000-000000000000', 'Probe')$$, '{org_owner,org_admin}'),
  ('app.projects', 'update', 'Apollo', $$update app.projects set name = name where id = 'aaaaaaaa-0000-4000-8000-0000000000a1'$$, '{org_owner,org_admin,proj_owner,proj_admin}'),
  ('app.projects', 'delete', 'Apollo', $$delete from app.projects where id = 'aaaaaaaa-0000-4000-8000-0000000000a1'$$, '{org_owner,org_admin,proj_owner,proj_admin}'),
  ('app.project_members', 'select', 'nora in Apollo', $$select from app.project_members where user_id = 'a9000000-0000-4000-8000-000000000009'$$,
     '{org_owner,org_admin,proj_owner,proj_admin,analyst,viewer}'),
  ('app.project_members', 'insert', 'nina as Apollo VIEWER', $$insert into app.project_members (org_id, project_id, user_id, role) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000a1', 'aa000000-0000-4000-8000-00000000000a', 'VIEWER')$$,
     '{org_owner,org_admin,proj_owner,proj_admin}'),
  ('app.project_members', 'insert', 'nina as Apollo VIEWER with finance MANAGE', $$insert into app.project_members (org_id, project_id, user_id, role, finance) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000a1', 'aa000000-0000-4000-8000-00000000000a', 'VIEWER', 'MANAGE')$$,
     '{org_owner,org_admin,proj_owner,proj_admin}'),
  ('app.project_members', 'insert', 'nina as Apollo OWNER (escalation for an ADMIN)', $$insert into app.project_members (org_id, project_id, user_id, role) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000a1', 'aa000000-0000-4000-8000-00000000000a', 'OWNER')$$,
     '{org_owner,proj_owner}'),
  ('app.project_members', 'insert', 'nina into Artemis', $$insert into app.project_members (org_id, project_id, user_id, role) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000a2', 'aa000000-0000-4000-8000-00000000000a', 'VIEWER')$$,
     '{org_owner,org_admin}'),
  ('app.project_members', 'update', 'nora stays VIEWER', $$update app.project_members set role = 'VIEWER' where user_id = 'a9000000-0000-4000-8000-000000000009'$$,
     '{org_owner,org_admin,proj_owner,proj_admin}'),
  ('app.project_members', 'update', 'nora to ADMIN', $$update app.project_members set role = 'ADMIN' where user_id = 'a9000000-0000-4000-8000-000000000009'$$,
     '{org_owner,org_admin,proj_owner,proj_admin}'),
  ('app.project_members', 'update', 'nora to OWNER (escalation for an ADMIN)', $$update app.project_members set role = 'OWNER' where user_id = 'a9000000-0000-4000-8000-000000000009'$$,
     '{org_owner,proj_owner}'),
  ('app.project_members', 'update', 'OWNER olga''s membership', $$update app.project_members set role = 'OWNER' where user_id = 'a5000000-0000-4000-8000-000000000005'$$,
     '{org_owner,proj_owner}'),
  ('app.project_members', 'update', 'oneself to OWNER', $$update app.project_members set role = 'OWNER' where user_id = app.current_user_id()$$, '{proj_owner}'),
  ('app.project_members', 'update', 'oneself to finance MANAGE', $$update app.project_members set finance = 'MANAGE' where user_id = app.current_user_id()$$, '{proj_owner,proj_admin}'),
  ('app.project_members', 'delete', 'remove nora', $$delete from app.project_members where user_id = 'a9000000-0000-4000-8000-000000000009'$$,
     '{org_owner,org_admin,proj_owner,proj_admin}'),
  ('app.project_members', 'delete', 'remove OWNER olga', $$delete from app.project_members where user_id = 'a5000000-0000-4000-8000-000000000005'$$,
     '{org_owner,proj_owner}'),
  ('app.project_members', 'delete', 'leave (oneself)', $$delete from app.project_members where user_id = app.current_user_id()$$,
     '{proj_owner,proj_admin,analyst,viewer}'),
  -- invitations
  ('app.invitations', 'select', 'inv_a', $$select from app.invitations where id = 'aaaaaaaa-0000-4000-8000-0000000000f1'$$, '{org_owner,org_admin}'),
  ('app.invitations', 'insert', 'a MEMBER', $$insert into app.invitations (org_id, email, role, token_hash, expires_at, invited_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'probe@x.test', 'MEMBER', sha256('probe'), now() + interval '1 day', app.current_user_id())$$,
     '{org_owner,org_admin}'),
  ('app.invitations', 'insert', 'an OWNER (escalation for an ADMIN)', $$insert into app.invitations (org_id, email, role, token_hash, expires_at, invited_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'probe@x.test', 'OWNER', sha256('probe'), now() + interval '1 day', app.current_user_id())$$,
     '{org_owner}'),
  ('app.invitations', 'update', 'revoke inv_a', $$update app.invitations set revoked_at = now() where id = 'aaaaaaaa-0000-4000-8000-0000000000f1'$$, '{org_owner,org_admin}'),
  ('app.invitations', 'delete', 'inv_a', $$delete from app.invitations where id = 'aaaaaaaa-0000-4000-8000-0000000000f1'$$, '{}'),
  ('app.invitation_projects', 'select', 'inv_a''s grant', $$select from app.invitation_projects where invitation_id = 'aaaaaaaa-0000-4000-8000-0000000000f1'$$, '{org_owner,org_admin}'),
  ('app.invitation_projects', 'insert', 'Artemis VIEWER on inv_a (alice''s: grants go on one''s own invitations only)', $$insert into app.invitation_projects (org_id, invitation_id, project_id, role) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000f1', 'aaaaaaaa-0000-4000-8000-0000000000a2', 'VIEWER')$$,
     '{org_owner}'),
  ('app.invitation_projects', 'insert', 'Artemis OWNER on inv_a (escalation for an ADMIN)', $$insert into app.invitation_projects (org_id, invitation_id, project_id, role) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000f1', 'aaaaaaaa-0000-4000-8000-0000000000a2', 'OWNER')$$,
     '{org_owner}'),
  ('app.invitation_projects', 'update', 'inv_a''s grant', $$update app.invitation_projects set role = 'VIEWER' where invitation_id = 'aaaaaaaa-0000-4000-8000-0000000000f1'$$, '{}'),
  ('app.invitation_projects', 'delete', 'inv_a''s grant', $$delete from app.invitation_projects where invitation_id = 'aaaaaaaa-0000-4000-8000-0000000000f1'$$, '{}'),
  -- services and bookings (fixtures/bookings.sql: Cut has mary's pending booking a_b1, Class has none)
  ('app.services', 'select', 'Cut', $$select from app.services where id = 'aaaaaaaa-0000-4000-8000-0000000000c1'$$, '{org_owner,org_admin,org_member,proj_owner,proj_admin,analyst,viewer}'),
  ('app.services', 'insert', 'a new service', $$insert into app.services (org_id, name, duration_minutes, price, currency) values ('aaaaaaaa-0000-4000-8000-000000000000', 'Probe', 30, 10, 'EUR')$$, '{org_owner,org_admin}'),
  ('app.services', 'update', 'Cut', $$update app.services set name = name where id = 'aaaaaaaa-0000-4000-8000-0000000000c1'$$, '{org_owner,org_admin}'),
  ('app.services', 'delete', 'Class', $$delete from app.services where id = 'aaaaaaaa-0000-4000-8000-0000000000c2'$$, '{org_owner,org_admin}'),
  ('app.bookings', 'select', 'mary''s a_b1', $$select from app.bookings where id = 'aaaaaaaa-0000-4000-8000-0000000000d1'$$, '{org_owner,org_admin,org_member,proj_owner,proj_admin,analyst,viewer}'),
  ('app.bookings', 'insert', 'a pending Class booking as oneself', $$insert into app.bookings (org_id, service_id, starts_at, customer_name, customer_email, created_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000c2', '2031-02-03 10:00+00', 'Probe', 'probe@x.test', app.current_user_id())$$, '{org_owner,org_admin,org_member,proj_owner,proj_admin,analyst,viewer}'),
  ('app.bookings', 'insert', 'in nina''s name', $$insert into app.bookings (org_id, service_id, starts_at, customer_name, customer_email, created_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000c2', '2031-02-03 10:00+00', 'Probe', 'probe@x.test', 'aa000000-0000-4000-8000-00000000000a')$$, '{}'),
  ('app.bookings', 'insert', 'already confirmed', $$insert into app.bookings (org_id, service_id, starts_at, customer_name, customer_email, created_by, status) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000c2', '2031-02-03 10:00+00', 'Probe', 'probe@x.test', app.current_user_id(), 'confirmed')$$, '{}'),
  ('app.bookings', 'update', 'confirm mary''s a_b1', $$update app.bookings set status = 'confirmed' where id = 'aaaaaaaa-0000-4000-8000-0000000000d1'$$, '{org_owner,org_admin}'),
  ('app.bookings', 'update', 'cancel mary''s a_b1', $$update app.bookings set status = 'cancelled' where id = 'aaaaaaaa-0000-4000-8000-0000000000d1'$$, '{org_owner,org_admin,org_member}'),
  ('app.bookings', 'delete', 'mary''s a_b1', $$delete from app.bookings where id = 'aaaaaaaa-0000-4000-8000-0000000000d1'$$, '{}'),
  -- billing (platform admins are proven in 62_platform_admin; none of these actors is one)
  ('app.subscriptions', 'select', 'org A''s', $$select from app.subscriptions where org_id = 'aaaaaaaa-0000-4000-8000-000000000000'$$, '{org_owner,org_admin,org_member,proj_owner,proj_admin,analyst,viewer}'),
  ('app.subscriptions', 'insert', 'a second one for org A', $$insert into app.subscriptions (org_id) values ('aaaaaaaa-0000-4000-8000-000000000000')$$, '{}'),
  ('app.subscriptions', 'update', 'org A''s plan', $$update app.subscriptions set plan_code = 'business' where org_id = 'aaaaaaaa-0000-4000-8000-000000000000'$$, '{}'),
  ('app.subscriptions', 'delete', 'org A''s', $$delete from app.subscriptions where org_id = 'aaaaaaaa-0000-4000-8000-000000000000'$$, '{}'),
  ('app.checkout_sessions', 'select', 'alice''s open checkout', $$select from app.checkout_sessions where id = 'aaaaaaaa-0000-4000-8000-0000000000e1'$$, '{org_owner}'),
  ('app.checkout_sessions', 'insert', 'a pro checkout as oneself', $$insert into app.checkout_sessions (org_id, plan_code, created_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'pro', app.current_user_id())$$, '{org_owner}'),
  ('app.checkout_sessions', 'update', 'alice''s open checkout''s url', $$update app.checkout_sessions set url = 'https://pay.test/x' where id = 'aaaaaaaa-0000-4000-8000-0000000000e1'$$, '{org_owner}'),
  ('app.checkout_sessions', 'delete', 'alice''s open checkout', $$delete from app.checkout_sessions where id = 'aaaaaaaa-0000-4000-8000-0000000000e1'$$, '{}'),
  -- audit (append-only: OWNER/ADMIN read their organization's trail; nobody writes it but the trigger)
  ('app.audit_log', 'select', 'org A''s founding', $$select from app.audit_log where org_id = 'aaaaaaaa-0000-4000-8000-000000000000' and table_name = 'app.organizations'$$, '{org_owner,org_admin}'),
  ('app.audit_log', 'insert', 'a forged entry for org A', $$insert into app.audit_log (org_id, table_name, action) values ('aaaaaaaa-0000-4000-8000-000000000000', 'app.projects', 'DELETE')$$, '{}'),
  ('app.audit_log', 'update', 'org A''s founding', $$update app.audit_log set action = action where org_id = 'aaaaaaaa-0000-4000-8000-000000000000' and table_name = 'app.organizations'$$, '{}'),
  ('app.audit_log', 'delete', 'org A''s founding', $$delete from app.audit_log where org_id = 'aaaaaaaa-0000-4000-8000-000000000000' and table_name = 'app.organizations'$$, '{}'),
  -- finance (fixtures/finance.sql: Apollo's Sales/Rent, live rec_a1, soft-deleted rec_a2, paul's key)
  ('app.finance_categories', 'select', 'Sales', $$select from app.finance_categories where id = 'aaaaaaaa-0000-4000-8000-0000000001c1'$$, '{org_owner,org_admin,proj_owner,proj_admin,analyst,viewer}'),
  ('app.finance_categories', 'insert', 'a new Apollo category', $$insert into app.finance_categories (org_id, project_id, kind, name) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000a1', 'income', 'Probe')$$, '{org_owner,org_admin,proj_owner,proj_admin}'),
  ('app.finance_categories', 'insert', 'into Artemis', $$insert into app.finance_categories (org_id, project_id, kind, name) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000a2', 'income', 'Probe')$$, '{org_owner,org_admin}'),
  ('app.finance_categories', 'update', 'archive Sales', $$update app.finance_categories set archived = true where id = 'aaaaaaaa-0000-4000-8000-0000000001c1'$$, '{org_owner,org_admin,proj_owner,proj_admin}'),
  ('app.finance_categories', 'delete', 'Sales', $$delete from app.finance_categories where id = 'aaaaaaaa-0000-4000-8000-0000000001c1'$$, '{}'),
  ('app.financial_records', 'select', 'live rec_a1', $$select from app.financial_records where id = 'aaaaaaaa-0000-4000-8000-0000000002a1'$$, '{org_owner,org_admin,proj_owner,proj_admin,analyst,viewer}'),
  ('app.financial_records', 'select', 'soft-deleted rec_a2', $$select from app.financial_records where id = 'aaaaaaaa-0000-4000-8000-0000000002a2'$$, '{org_owner,org_admin,proj_owner,proj_admin}'),
  ('app.financial_records', 'insert', 'an Apollo income as oneself', $$insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, payment_source, occurred_on, created_by, updated_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000a1', 'income', 1, 'EUR', 'aaaaaaaa-0000-4000-8000-0000000001c1', 'cash', '2030-01-01', app.current_user_id(), app.current_user_id())$$, '{org_owner,org_admin,proj_owner,proj_admin}'),
  ('app.financial_records', 'insert', 'in nina''s name', $$insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, payment_source, occurred_on, created_by, updated_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000a1', 'income', 1, 'EUR', 'aaaaaaaa-0000-4000-8000-0000000001c1', 'cash', '2030-01-01', 'aa000000-0000-4000-8000-00000000000a', 'aa000000-0000-4000-8000-00000000000a')$$, '{}'),
  ('app.financial_records', 'update', 'rec_a1''s amount', $$update app.financial_records set amount = 2, updated_by = app.current_user_id() where id = 'aaaaaaaa-0000-4000-8000-0000000002a1'$$, '{org_owner,org_admin,proj_owner,proj_admin}'),
  ('app.financial_records', 'update', 'soft-delete rec_a1', $$update app.financial_records set deleted_at = now(), updated_by = app.current_user_id() where id = 'aaaaaaaa-0000-4000-8000-0000000002a1'$$, '{org_owner,org_admin,proj_owner,proj_admin}'),
  ('app.financial_records', 'update', 'restore rec_a2', $$update app.financial_records set deleted_at = null, updated_by = app.current_user_id() where id = 'aaaaaaaa-0000-4000-8000-0000000002a2'$$, '{org_owner,org_admin,proj_owner,proj_admin}'),
  ('app.financial_records', 'update', 'rec_a1 signed by nina', $$update app.financial_records set updated_by = 'aa000000-0000-4000-8000-00000000000a' where id = 'aaaaaaaa-0000-4000-8000-0000000002a1'$$, '{}'),
  ('app.financial_records', 'delete', 'rec_a1', $$delete from app.financial_records where id = 'aaaaaaaa-0000-4000-8000-0000000002a1'$$, '{}'),
  ('app.finance_idempotency_keys', 'select', 'paul''s key', $$select from app.finance_idempotency_keys where key = 'k-paul'$$, '{proj_admin}'),
  ('app.finance_idempotency_keys', 'insert', 'one''s own key in Apollo', $$insert into app.finance_idempotency_keys (org_id, project_id, user_id, key, request_hash) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000a1', app.current_user_id(), 'probe', sha256('x'))$$, '{org_owner,org_admin,proj_owner,proj_admin}'),
  ('app.finance_idempotency_keys', 'update', 'paul''s key''s response', $$update app.finance_idempotency_keys set response = '{}' where key = 'k-paul'$$, '{proj_admin}'),
  ('app.finance_idempotency_keys', 'delete', 'paul''s live key', $$delete from app.finance_idempotency_keys where key = 'k-paul'$$, '{}'),
  ('app.finance_idempotency_keys', 'delete', 'paul''s expired key', $$delete from app.finance_idempotency_keys where key = 'k-paul-old'$$, '{proj_admin}'),
  ('app.finance_daily_totals', 'select', 'Apollo''s Sales day', $$select from app.finance_daily_totals where category_id = 'aaaaaaaa-0000-4000-8000-0000000001c1'$$, '{org_owner,org_admin,proj_owner,proj_admin,analyst,viewer}'),
  ('app.finance_daily_totals', 'insert', 'a forged total', $$insert into app.finance_daily_totals (org_id, project_id, day, kind, currency, category_id, record_count, amount_sum) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000a1', '2031-01-01', 'income', 'EUR', 'aaaaaaaa-0000-4000-8000-0000000001c1', 1, 1)$$, '{}'),
  ('app.finance_daily_totals', 'update', 'Apollo''s Sales day', $$update app.finance_daily_totals set amount_sum = 0 where category_id = 'aaaaaaaa-0000-4000-8000-0000000001c1'$$, '{}'),
  ('app.finance_daily_totals', 'delete', 'Apollo''s Sales day', $$delete from app.finance_daily_totals where category_id = 'aaaaaaaa-0000-4000-8000-0000000001c1'$$, '{}'),
  ('app.finance_daily_currency_totals', 'select', 'Apollo''s EUR income day', $$select from app.finance_daily_currency_totals where project_id = 'aaaaaaaa-0000-4000-8000-0000000000a1' and currency = 'EUR'$$, '{org_owner,org_admin,proj_owner,proj_admin,analyst,viewer}'),
  ('app.finance_daily_currency_totals', 'insert', 'a forged total', $$insert into app.finance_daily_currency_totals (org_id, project_id, day, kind, currency, record_count, amount_sum) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000a1', '2031-01-01', 'income', 'EUR', 1, 1)$$, '{}'),
  ('app.finance_daily_currency_totals', 'update', 'Apollo''s days', $$update app.finance_daily_currency_totals set amount_sum = 0 where project_id = 'aaaaaaaa-0000-4000-8000-0000000000a1'$$, '{}'),
  ('app.finance_daily_currency_totals', 'delete', 'Apollo''s days', $$delete from app.finance_daily_currency_totals where project_id = 'aaaaaaaa-0000-4000-8000-0000000000a1'$$, '{}'),
  ('app.exchange_rates', 'select', 'A''s EUR→USD', $$select from app.exchange_rates where org_id = 'aaaaaaaa-0000-4000-8000-000000000000'$$, '{org_owner,org_admin,org_member,proj_owner,proj_admin,analyst,viewer}'),
  ('app.exchange_rates', 'insert', 'a new rate', $$insert into app.exchange_rates (org_id, rate_date, from_currency, to_currency, rate) values ('aaaaaaaa-0000-4000-8000-000000000000', '2030-02-01', 'EUR', 'USD', 1.2)$$, '{org_owner,org_admin}'),
  ('app.exchange_rates', 'update', 'A''s EUR→USD', $$update app.exchange_rates set rate = 1.3 where org_id = 'aaaaaaaa-0000-4000-8000-000000000000'$$, '{org_owner,org_admin}'),
  ('app.exchange_rates', 'delete', 'A''s EUR→USD', $$delete from app.exchange_rates where org_id = 'aaaaaaaa-0000-4000-8000-000000000000'$$, '{org_owner,org_admin}'),
  -- platform: the price list is read by anyone signed in; the rest is the platform's
  ('platform.plans', 'select', 'pro', $$select from platform.plans where code = 'pro'$$, '{org_owner,org_admin,org_member,proj_owner,proj_admin,analyst,viewer,stranger}'),
  ('platform.plans', 'insert', 'a new plan', $$insert into platform.plans (code, name, price, currency, position) values ('probe', 'Probe', 0, 'EUR', 99)$$, '{}'),
  ('platform.plans', 'update', 'pro''s price', $$update platform.plans set price = 0 where code = 'pro'$$, '{}'),
  ('platform.plans', 'delete', 'pro', $$delete from platform.plans where code = 'pro'$$, '{}'),
  ('platform.limit_kinds', 'select', 'services', $$select from platform.limit_kinds where kind = 'services'$$, '{org_owner,org_admin,org_member,proj_owner,proj_admin,analyst,viewer,stranger}'),
  ('platform.limit_kinds', 'insert', 'a new kind', $$insert into platform.limit_kinds (kind, counted_table, per_month, description) values ('probe', 'app.projects', false, 'probe')$$, '{}'),
  ('platform.limit_kinds', 'update', 'services', $$update platform.limit_kinds set per_month = per_month where kind = 'services'$$, '{}'),
  ('platform.limit_kinds', 'delete', 'services', $$delete from platform.limit_kinds where kind = 'services'$$, '{}'),
  ('platform.plan_limits', 'select', 'free services', $$select from platform.plan_limits where plan_code = 'free' and kind = 'services'$$, '{org_owner,org_admin,org_member,proj_owner,proj_admin,analyst,viewer,stranger}'),
  ('platform.plan_limits', 'insert', 'a new limit', $$insert into platform.plan_limits (plan_code, kind, max_count) values ('business', 'services', 1000000)$$, '{}'),
  ('platform.plan_limits', 'update', 'lift free services', $$update platform.plan_limits set max_count = 1000000 where plan_code = 'free' and kind = 'services'$$, '{}'),
  ('platform.plan_limits', 'delete', 'free services', $$delete from platform.plan_limits where plan_code = 'free' and kind = 'services'$$, '{}'),
  ('platform.webhook_events', 'select', 'evt_probe', $$select from platform.webhook_events where event_id = 'evt_probe'$$, '{}'),
  ('platform.webhook_events', 'insert', 'a forged event', $$insert into platform.webhook_events (event_id, type, outcome) values ('evt_forged', 'checkout.session.completed', 'applied')$$, '{}'),
  ('platform.webhook_events', 'update', 'evt_probe', $$update platform.webhook_events set outcome = outcome where event_id = 'evt_probe'$$, '{}'),
  ('platform.webhook_events', 'delete', 'evt_probe', $$delete from platform.webhook_events where event_id = 'evt_probe'$$, '{}'),
  ('platform.admin_audit', 'select', 'an entry about org A', $$select from platform.admin_audit where org_id = 'aaaaaaaa-0000-4000-8000-000000000000'$$, '{}'),
  ('platform.admin_audit', 'insert', 'a forged entry', $$insert into platform.admin_audit (actor_user_id, actor, action, org_id) values (app.current_user_id(), 'probe', 'tenant.suspend', 'aaaaaaaa-0000-4000-8000-000000000000')$$, '{}'),
  ('platform.admin_audit', 'update', 'an entry about org A', $$update platform.admin_audit set action = action where org_id = 'aaaaaaaa-0000-4000-8000-000000000000'$$, '{}'),
  ('platform.admin_audit', 'delete', 'an entry about org A', $$delete from platform.admin_audit where org_id = 'aaaaaaaa-0000-4000-8000-000000000000'$$, '{}'),
  -- sessions' secrets and counters: kernel functions only
  ('auth.refresh_tokens', 'select', 'nina''s', $$select from auth.refresh_tokens$$, '{}'),
  ('auth.refresh_tokens', 'insert', 'one for nina''s session', $$insert into auth.refresh_tokens (token_hash, session_id) select sha256('probe'), id from auth.sessions limit 1$$, '{}'),
  ('auth.refresh_tokens', 'update', 'nina''s, as rotated', $$update auth.refresh_tokens set rotated_at = now()$$, '{}'),
  ('auth.refresh_tokens', 'delete', 'nina''s', $$delete from auth.refresh_tokens$$, '{}'),
  ('auth.rate_limits', 'select', 'a login bucket', $$select from auth.rate_limits$$, '{}'),
  ('auth.rate_limits', 'insert', 'a new bucket', $$insert into auth.rate_limits (bucket, window_ends_at, hits) values ('probe', now() + interval '1 minute', 0)$$, '{}'),
  ('auth.rate_limits', 'update', 'reset a login bucket', $$update auth.rate_limits set hits = 0$$, '{}'),
  ('auth.rate_limits', 'delete', 'a login bucket', $$delete from auth.rate_limits$$, '{}'),
  -- sign-in secrets: reachable only through their kernel functions, by nobody directly
  ('auth.email_outbox', 'select', 'the fixture row', $$select from auth.email_outbox$$, '{}'),
  ('auth.email_outbox', 'insert', 'a new row', $$insert into auth.email_outbox (recipient, template) values ('probe@x.test', 'sign_in_code')$$, '{}'),
  ('auth.email_outbox', 'update', 'the fixture row', $$update auth.email_outbox set created_at = created_at$$, '{}'),
  ('auth.email_outbox', 'delete', 'the fixture row', $$delete from auth.email_outbox$$, '{}'),
  ('auth.email_sign_in_codes', 'select', 'the fixture row', $$select from auth.email_sign_in_codes$$, '{}'),
  ('auth.email_sign_in_codes', 'insert', 'a new row', $$insert into auth.email_sign_in_codes (email, code_hash, expires_at) values ('probe@x.test', sha256('2'), now() + interval '10 minutes')$$, '{}'),
  ('auth.email_sign_in_codes', 'update', 'the fixture row', $$update auth.email_sign_in_codes set created_at = created_at$$, '{}'),
  ('auth.email_sign_in_codes', 'delete', 'the fixture row', $$delete from auth.email_sign_in_codes$$, '{}'),
  ('auth.pending_sign_ups', 'select', 'the fixture row', $$select from auth.pending_sign_ups$$, '{}'),
  ('auth.pending_sign_ups', 'insert', 'a new row', $$insert into auth.pending_sign_ups (email, recipient, code_hash, password_hash, expires_at) values ('probe@x.test', 'probe@x.test', sha256('2'), '$argon2id$probe', now() + interval '30 minutes')$$, '{}'),
  ('auth.pending_sign_ups', 'update', 'the fixture row', $$update auth.pending_sign_ups set created_at = created_at$$, '{}'),
  ('auth.pending_sign_ups', 'delete', 'the fixture row', $$delete from auth.pending_sign_ups$$, '{}'),
  ('auth.password_reset_tokens', 'select', 'the fixture row', $$select from auth.password_reset_tokens$$, '{}'),
  ('auth.password_reset_tokens', 'insert', 'a new row', $$insert into auth.password_reset_tokens (token_hash, user_id, expires_at) values (sha256('r2'), 'aa000000-0000-4000-8000-00000000000a', now() + interval '30 minutes')$$, '{}'),
  ('auth.password_reset_tokens', 'update', 'the fixture row', $$update auth.password_reset_tokens set created_at = created_at$$, '{}'),
  ('auth.password_reset_tokens', 'delete', 'the fixture row', $$delete from auth.password_reset_tokens$$, '{}'),
  ('auth.oidc_login_states', 'select', 'the fixture row', $$select from auth.oidc_login_states$$, '{}'),
  ('auth.oidc_login_states', 'insert', 'a new row', $$insert into auth.oidc_login_states (state_hash, provider, nonce_hash, code_verifier, expires_at, binding_hash) values (sha256('s2'), 'google', sha256('n2'), repeat('v', 43), now() + interval '10 minutes', sha256('b2'))$$, '{}'),
  ('auth.oidc_login_states', 'update', 'the fixture row', $$update auth.oidc_login_states set created_at = created_at$$, '{}'),
  ('auth.oidc_login_states', 'delete', 'the fixture row', $$delete from auth.oidc_login_states$$, '{}'),
  ('auth.identities', 'select', 'the fixture row', $$select from auth.identities$$, '{}'),
  ('auth.identities', 'insert', 'a new row', $$insert into auth.identities (user_id, provider, subject, email) values ('aa000000-0000-4000-8000-00000000000a', 'google', 'probe-subject', 'probe@x.test')$$, '{}'),
  ('auth.identities', 'update', 'the fixture row', $$update auth.identities set created_at = created_at$$, '{}'),
  ('auth.identities', 'delete', 'the fixture row', $$delete from auth.identities$$, '{}'),
  -- step-up secrets and their audit (migration 020): kernel functions only
  ('auth.reauthentication_codes', 'select', 'the fixture row', $$select from auth.reauthentication_codes$$, '{}'),
  ('auth.reauthentication_codes', 'insert', 'a new row', $$insert into auth.reauthentication_codes (session_id, user_id, code_hash, expires_at) select id, user_id, sha256('c2'), now() + interval '10 minutes' from auth.sessions limit 1$$, '{}'),
  ('auth.reauthentication_codes', 'update', 'the fixture row', $$update auth.reauthentication_codes set attempts = 0$$, '{}'),
  ('auth.reauthentication_codes', 'delete', 'the fixture row', $$delete from auth.reauthentication_codes$$, '{}'),
  ('auth.reauthentications', 'select', 'the fixture row', $$select from auth.reauthentications$$, '{}'),
  ('auth.reauthentications', 'insert', 'a forged proof', $$insert into auth.reauthentications (user_id, session_id, method) values (app.current_user_id(), gen_random_uuid(), 'password')$$, '{}'),
  ('auth.reauthentications', 'update', 'the fixture row', $$update auth.reauthentications set at = at$$, '{}'),
  ('auth.reauthentications', 'delete', 'the fixture row', $$delete from auth.reauthentications$$, '{}');

-- Runs probe as the actor (rowguard_api with that request context), in a subtransaction
-- that is always rolled back; true when Postgres let it reach its target.
create function pg_temp.allowed(p_user uuid, p_probe text) returns boolean
language plpgsql as $$
declare
  v_rows bigint;
begin
  begin
    perform pg_temp.act_as(p_user, 'aaaaaaaa-0000-4000-8000-000000000000');
    execute p_probe;
    get diagnostics v_rows = row_count;
    raise exception using errcode = 'RGTRY', message = (v_rows > 0)::text;
  exception
    when sqlstate 'RGTRY' then return sqlerrm::boolean;
    when insufficient_privilege or sqlstate 'RG403' or sqlstate 'RG409' then return false;
  end;
end
$$;

-- THE PERMISSION EXPECTATION: each actor's effective role and domain levels in Apollo
-- (NULL: no access), as the matrix of docs/roles.md states them; compared below with what the
-- kernel helpers answer for every role threshold and every domain level.
create temp table permission_expectation (actor text primary key, role app.project_role, finance app.domain_level, analytics app.domain_level);
insert into permission_expectation values
  ('org_owner', 'OWNER', 'MANAGE', 'MANAGE'), ('org_admin', 'ADMIN', 'MANAGE', 'MANAGE'), ('org_member', null, null, null),
  ('proj_owner', 'OWNER', 'MANAGE', 'MANAGE'), ('proj_admin', 'ADMIN', 'MANAGE', 'MANAGE'),
  ('analyst', 'ANALYST', 'READ', 'MANAGE'), ('viewer', 'VIEWER', 'READ', 'READ'),
  ('stranger', null, null, null), ('anonymous', null, null, null);

create function pg_temp.in_apollo(p_user uuid, p_query text) returns boolean
language plpgsql as $$
declare
  v boolean;
begin
  perform pg_temp.act_as(p_user, 'aaaaaaaa-0000-4000-8000-000000000000');
  execute format('select %L::uuid = any (%s)', 'aaaaaaaa-0000-4000-8000-0000000000a1', p_query) into v;
  perform pg_temp.act_as_superuser();
  return v;
end
$$;

select plan((select count(*)::int from expectation) * (select count(*)::int from actor)
            + (select count(*)::int from actor) * (4 + 2 * 3) + 3);

select is(pg_temp.in_apollo(a.user_id, format('app.my_project_ids(%L)', r)), coalesce(x.role >= r, false),
          format('%s acts in Apollo as %s or more: %s', a.name, r, coalesce(x.role >= r, false)))
  from actor a join permission_expectation x on x.actor = a.name
 cross join unnest(enum_range(null::app.project_role)) r
 order by a.ord, r;
select is(pg_temp.in_apollo(a.user_id, format('app.my_domain_project_ids(%L, %L)', d, l)),
          coalesce(case d when 'finance' then x.finance else x.analytics end >= l, false),
          format('%s has %s %s or more in Apollo: %s', a.name, d, l, coalesce(case d when 'finance' then x.finance else x.analytics end >= l, false)))
  from actor a join permission_expectation x on x.actor = a.name
 cross join unnest(enum_range(null::app.permission_domain)) d
 cross join unnest(enum_range(null::app.domain_level)) l
 order by a.ord, d, l;

select is(pg_temp.allowed(a.user_id, e.probe), a.name = any (e.allowed),
          format('%s %s %s as %s: %s', e.tbl, e.cmd, e.variant, a.name,
                 case when a.name = any (e.allowed) then 'allowed' else 'refused' end))
  from expectation e cross join actor a
 order by e.ord, a.ord;

-- Coverage: every table the API role can reach, every command, has an expectation.
select is(array(select format('%s %s', t, c)
                  from (select format('%I.%I', n.nspname, c.relname) as t
                          from pg_class c join pg_namespace n on n.oid = c.relnamespace
                         where c.relkind in ('r', 'p') and n.nspname in ('auth', 'app', 'platform')) tables(t)
                 cross join unnest(array['select', 'insert', 'update', 'delete']) as c
                 where not exists (select from expectation e where e.tbl = tables.t and e.cmd = c)
                 order by 1),
          '{}'::text[], 'every table × command of auth, app and platform has a declared expectation');
select ok(exists (select from expectation e, unnest(e.allowed) x where x not in (select name from actor)) is false,
          'every actor named in an expectation exists');
select is((select count(*)::int from permission_expectation), (select count(*)::int from actor), 'every actor has a permission expectation');

select * from finish();
rollback;
