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
alter table auth.oidc_login_states enable row level security;
alter table auth.oidc_login_states force row level security;

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
alter table auth.identities enable row level security;
alter table auth.identities force row level security;

grant usage on schema auth to rowguard_kernel;
grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

create function auth.begin_oidc_login(p_provider text, p_state text, p_nonce text, p_code_verifier text) returns void
language plpgsql volatile security definer set search_path = '' as $$
begin
  if pg_catalog.length(p_state) < 32 or pg_catalog.length(p_nonce) < 32 then
    raise exception 'state and nonce need at least 32 characters' using errcode = '22023';
  end if;
  delete from auth.oidc_login_states where expires_at < pg_catalog.now();
  insert into auth.oidc_login_states (state_hash, provider, nonce_hash, code_verifier, expires_at)
  values (pg_catalog.sha256(pg_catalog.convert_to(p_state, 'UTF8')), p_provider,
          pg_catalog.sha256(pg_catalog.convert_to(p_nonce, 'UTF8')), p_code_verifier,
          pg_catalog.now() + interval '10 minutes');
end
$$;
comment on function auth.begin_oidc_login(text, text, text, text) is
  'GET /v1/auth/oidc/{provider}/start: remember a sign-in in flight for 10 minutes (state and nonce hashed).';

create function auth.take_oidc_login(p_provider text, p_state text)
returns table (nonce_hash bytea, code_verifier text)
language plpgsql volatile security definer set search_path = '' as $$
begin
  -- Deleted whatever happens next: a state is used once.
  return query
    with taken as (
      delete from auth.oidc_login_states s
       where s.state_hash = pg_catalog.sha256(pg_catalog.convert_to(p_state, 'UTF8'))
      returning s.provider, s.nonce_hash, s.code_verifier, s.expires_at)
    select t.nonce_hash, t.code_verifier from taken t
     where t.provider = p_provider and t.expires_at > pg_catalog.now();
end
$$;
comment on function auth.take_oidc_login(text, text) is
  'GET /v1/auth/oidc/{provider}/callback: the nonce hash and PKCE verifier of a live state of this provider, used up; no row for an unknown, used, expired or other provider''s state.';

create function auth.oidc_sign_in(p_provider text, p_subject text, p_email text) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user     uuid;
  v_verified timestamptz;
begin
  -- A known provider account: its user, whatever the email says today.
  update auth.identities set last_sign_in_at = pg_catalog.now(), email = pg_catalog.btrim(p_email)
   where provider = p_provider and subject = p_subject
  returning user_id into v_user;
  if v_user is not null then
    return v_user;
  end if;

  -- The provider vouches for the email (the API checked email_verified): link the
  -- account with that address, or create one.
  select u.id, u.email_verified_at into v_user, v_verified
    from auth.users u where pg_catalog.lower(u.email) = pg_catalog.lower(pg_catalog.btrim(p_email));
  if v_user is null then
    insert into auth.users (email, password_hash, email_verified_at)
    values (pg_catalog.btrim(p_email), null, pg_catalog.now())
    on conflict ((pg_catalog.lower(email))) do nothing
    returning id into v_user;
    if v_user is null then -- created concurrently
      select u.id, u.email_verified_at into v_user, v_verified
        from auth.users u where pg_catalog.lower(u.email) = pg_catalog.lower(pg_catalog.btrim(p_email));
    else
      v_verified := pg_catalog.now();
    end if;
  end if;
  if v_verified is null then
    -- Nobody ever proved they own this address, so its password and sessions may be
    -- a squatter's (registered before the owner arrived): the owner, now proven by
    -- the provider, takes the account over without them.
    update auth.users set password_hash = null, email_verified_at = pg_catalog.now() where id = v_user;
    update auth.sessions set revoked_at = pg_catalog.now() where user_id = v_user and revoked_at is null;
  end if;
  insert into auth.identities (user_id, provider, subject, email)
  values (v_user, p_provider, p_subject, pg_catalog.btrim(p_email));
  return v_user;
end
$$;
comment on function auth.oidc_sign_in(text, text, text) is
  'OpenID Connect callback, after the API verified the ID token and that the provider verified the email: the user of (provider, subject); else the user with that email, linked (an unverified account loses its password and sessions first); else a new password-less user.';

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;

---- create above / drop below ----

set local role rowguard_kernel;
drop function auth.oidc_sign_in(text, text, text);
drop function auth.take_oidc_login(text, text);
drop function auth.begin_oidc_login(text, text, text, text);
set local role rowguard_owner;
drop table auth.identities;
drop table auth.oidc_login_states;
reset role;
