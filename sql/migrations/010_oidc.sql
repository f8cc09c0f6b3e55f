-- Sign-in with OpenID Connect (Google, or any issuer by configuration).
--   auth.oidc_login_states  one row per sign-in in flight: the hash of its state, the
--                           hash of its nonce and its PKCE verifier; single use, 10
--                           minutes. In Postgres, so the callback may reach any replica.
--   auth.identities         which provider account (provider + subject) is which user.
-- Both are reachable only through the SECURITY DEFINER functions below.
set local role rowguard_owner;

create table auth.oidc_login_states (
  state_hash    bytea primary key constraint oidc_login_states_state_hash_check check (length(state_hash) = 32),
  provider      text not null,
  nonce_hash    bytea not null constraint oidc_login_states_nonce_hash_check check (length(nonce_hash) = 32),
  code_verifier text not null constraint oidc_login_states_code_verifier_check check (length(code_verifier) between 43 and 128),
  expires_at    timestamptz not null,
  created_at    timestamptz not null default now()
);
comment on table auth.oidc_login_states is
  'OpenID Connect sign-ins in flight (hashed state and nonce, PKCE verifier). Reachable only through auth.begin_oidc_login / auth.take_oidc_login.';
create index oidc_login_states_expires_at_idx on auth.oidc_login_states (expires_at);

create table auth.identities (
  id              uuid primary key default app.uuid_v7(),
  user_id         uuid not null references auth.users (id) on delete cascade,
  provider        text not null constraint identities_provider_check check (provider ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
  subject         text not null constraint identities_subject_check check (length(subject) between 1 and 255),
  email           text not null,
  created_at      timestamptz not null default now(),
  last_sign_in_at timestamptz not null default now(),
  constraint identities_provider_subject_key unique (provider, subject)
);
comment on table auth.identities is
  'A user''s accounts at OpenID Connect providers: (provider, subject) is the provider''s stable id of the person. Reachable only through auth.oidc_sign_in.';
create index identities_user_id_idx on auth.identities (user_id);

grant usage on schema auth to rowguard_kernel;

reset role;

---- create above / drop below ----

set local role rowguard_kernel;
drop function if exists auth.oidc_sign_in(text, text, text);
drop function if exists auth.take_oidc_login(text, text);
drop function if exists auth.begin_oidc_login(text, text, text, text);
set local role rowguard_owner;
drop table auth.identities;
drop table auth.oidc_login_states;
reset role;
