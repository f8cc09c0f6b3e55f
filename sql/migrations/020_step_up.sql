-- Step-up for destructive acts, soft-deleted organizations, and OIDC bound to the browser.
--
-- * auth.sessions.reauthenticated_at: when the session last gave a fresh proof (its
--   password, or a code emailed to its user: auth.reauthentication_codes, keyed by the
--   API's HMAC like sign-in codes). auth.require_recent_reauthentication() raises RGR03
--   (403 reauthentication-required) unless that was within 5 minutes. Required for:
--   deleting an organization, removing or demoting the last other OWNER of one
--   (trigger app.step_up_for_last_other_owner), changing a password without the
--   current one. Every proof is recorded in auth.reauthentications.
-- * app.organizations.deleted_at / deleted_by: DELETE /v1/orgs/{org_id} soft-deletes.
--   A deleted organization disappears for its members at once: auth.begin_request
--   refuses it (404, in the same query as the membership check), app.my_org_ids,
--   app.current_org_role and app.my_project_permissions skip it, so RLS hides every row
--   of it. Its OWNERs may restore it for 30 days; `rowguard purge-deleted` then deletes
--   it (app.purge_deleted_organizations). The API role loses DELETE on organizations.
-- * auth.oidc_login_states.binding_hash: /start gives the browser a random binding in a
--   cookie and stores its SHA-256; the callback takes the state only with that cookie.
set local role rowguard_owner;

-- ----- OIDC: a sign-in in flight belongs to the browser that started it ----------------
-- States in flight have no binding: they are dropped (10 minutes at most; start again).
-- TRUNCATE: the migrating role sees no row of this FORCE RLS table.
truncate auth.oidc_login_states;
alter table auth.oidc_login_states add column binding_hash bytea not null
  constraint oidc_login_states_binding_hash_check check (length(binding_hash) = 32);
comment on column auth.oidc_login_states.binding_hash is
  'SHA-256 of the random binding /start put in the browser''s cookie (__Host-rowguard_oidc); the callback must present it.';

-- ----- Step-up ---------------------------------------------------------------------------
alter table auth.sessions add column reauthenticated_at timestamptz;
comment on column auth.sessions.reauthenticated_at is
  'When this session last proved its user again (password or emailed code): auth.require_recent_reauthentication accepts 5 minutes.';

create table auth.reauthentication_codes (
  session_id uuid primary key references auth.sessions (id) on delete cascade,
  user_id    uuid not null references auth.users (id) on delete cascade,
  code_hash  bytea not null constraint reauthentication_codes_code_hash_check check (length(code_hash) = 32),
  expires_at timestamptz not null,
  attempts   int not null default 0,
  created_at timestamptz not null default now()
);
comment on table auth.reauthentication_codes is
  'The live step-up code of a session (HMAC-SHA256 keyed by the API, bound to the session; never the code). Reachable only through auth.request_reauthentication_code / auth.verify_reauthentication_code.';
create index reauthentication_codes_expires_at_idx on auth.reauthentication_codes (expires_at);

create table auth.reauthentications (
  id         uuid primary key default app.uuid_v7(),
  user_id    uuid not null references auth.users (id) on delete cascade,
  -- No foreign key: the record outlives the session.
  session_id uuid not null,
  method     text not null constraint reauthentications_method_check check (method in ('password', 'code', 'password_change')),
  request_id text,
  at         timestamptz not null default now()
);
comment on table auth.reauthentications is
  'Audit of every step-up proof (which session, how, which request). Written only by the kernel; the API role holds nothing on it.';
create index reauthentications_user_id_idx on auth.reauthentications (user_id, id);

-- ----- Soft-deleted organizations ----------------------------------------------------------
alter table app.organizations
  add column deleted_at timestamptz,
  add column deleted_by uuid references auth.users (id) on delete set null,
  add constraint organizations_deleted_by_check check (deleted_at is not null or deleted_by is null);
comment on column app.organizations.deleted_at is
  'Soft delete (DELETE /v1/orgs/{org_id}): invisible to members from then on; an OWNER may restore it for 30 days, then `rowguard purge-deleted` deletes it.';
comment on column app.organizations.deleted_by is 'Who deleted the organization (NULL while it is live).';
create index organizations_deleted_at_idx on app.organizations (deleted_at) where deleted_at is not null;

grant create on schema auth, app to rowguard_kernel;
set local role rowguard_kernel;

-- Redefined from 010: the binding's hash is stored with the state.
drop function if exists auth.begin_oidc_login(text, text, text, text);
drop function if exists auth.take_oidc_login(text, text);

set local role rowguard_owner;
revoke create on schema auth, app from rowguard_kernel;

reset role;

---- create above / drop below ----

set local role rowguard_owner;
drop trigger if exists memberships_step_up_for_last_other_owner on app.memberships;
grant create on schema auth, app to rowguard_kernel;
set local role rowguard_kernel;
drop function if exists app.step_up_for_last_other_owner();
drop function if exists app.purge_deleted_organizations(interval);
drop function if exists app.restore_organization(uuid);
drop function if exists app.my_deleted_organizations();
drop function if exists app.soft_delete_organization();
drop function if exists auth.verify_reauthentication_code(bytea);
drop function if exists auth.request_reauthentication_code(bytea, text);
drop function if exists auth.record_reauthentication(text);
drop function if exists auth.require_recent_reauthentication();
drop function if exists auth.take_oidc_login(text, text, text);
drop function if exists auth.begin_oidc_login(text, text, text, text, text);

set local role rowguard_owner;
revoke create on schema auth, app from rowguard_kernel;
-- Rolling back past this migration brings soft-deleted organizations back (live):
-- without the column there is no way to hide them, and deleting them here would lose
-- data an OWNER could still restore.
drop policy if exists organizations_delete_kernel on app.organizations; -- policies/ (020 onwards) reads deleted_at
alter table app.organizations drop constraint organizations_deleted_by_check,
  drop column deleted_by, drop column deleted_at;
drop table auth.reauthentications;
drop table auth.reauthentication_codes;
alter table auth.sessions drop column reauthenticated_at;
truncate auth.oidc_login_states;
alter table auth.oidc_login_states drop column binding_hash;
reset role;
