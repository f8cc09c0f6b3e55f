-- Password sign-up proves the mailbox, and every other way in that proves it hands the
-- account to the prover (first proof wins, migration 016).
--
-- Before: POST /v1/auth/register created the account at once, from nothing but a typed
-- address, and answered 409 for a taken one. Whoever typed someone else's address first
-- held a password on that person's future account (pre-account takeover), and the 409
-- told anyone which addresses have accounts.
--
-- Now a sign-up is only pending (auth.pending_sign_ups: the API's keyed hash of a code
-- mailed to the address, the argon2id hash of the chosen password, computed up front)
-- until the code comes back: auth.verify_sign_up then creates the user with its email
-- verified. An address that already has an account gets a "someone tried to sign up"
-- email instead, and the API answers both the same (202). No account exists before its
-- mailbox answered, so the API role loses INSERT on auth.users (policies/identity.sql).
--
-- The other ways in that prove the mailbox (an emailed sign-in code, a reset token, an
-- OIDC ID token with email_verified) now call auth.prove_email_ownership instead of
-- setting email_verified_at themselves: on the first proof of an unverified (legacy)
-- account the squatter's password is wiped and their sessions revoked ('email_proven').
-- Legacy unverified accounts keep password login until such a proof happens.
set local role rowguard_owner;

create table auth.pending_sign_ups (
  -- lower(btrim(address)): one pending sign-up per address, whatever the case typed.
  email             text primary key
                    constraint pending_sign_ups_email_check check (email = pg_catalog.lower(email) and length(email) between 3 and 254),
  recipient         text not null, -- the address as typed, for the account and the email
  code_hash         bytea not null constraint pending_sign_ups_code_hash_check check (length(code_hash) = 32),
  password_hash     text not null constraint pending_sign_ups_password_hash_check check (password_hash like '$argon2id$%'),
  organization_name text,
  attempts          int not null default 0 constraint pending_sign_ups_attempts_check check (attempts between 0 and 5),
  expires_at        timestamptz not null,
  created_at        timestamptz not null default now()
);
comment on table auth.pending_sign_ups is
  'Password sign-ups waiting for their emailed code: HMAC-SHA256 of the address and code (keyed by the API, never the code), the argon2id hash of the chosen password, expiry and wrong guesses. No auth.users row exists until the code comes back. Reachable only through auth.request_sign_up / auth.verify_sign_up.';
comment on column auth.pending_sign_ups.code_hash is
  'HMAC-SHA256(key, lower(email) || 0x00 || code), the key derived by the API from its token signing key (info "rowguard sign-up code v1"): this table does not reveal a code.';
create index pending_sign_ups_expires_at_idx on auth.pending_sign_ups (expires_at);
alter table auth.pending_sign_ups enable row level security;
alter table auth.pending_sign_ups force row level security;

grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

create function auth.request_sign_up(p_email text, p_code_hash bytea, p_code text, p_password_hash text,
                                     p_organization_name text) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  c_ttl constant interval := interval '30 minutes';
  v_key       text := pg_catalog.lower(pg_catalog.btrim(p_email));
  v_recipient text;
  v_status    auth.user_status;
begin
  if p_code is null or p_code !~ '^[0-9]{6,10}$' then
    raise exception 'a sign-up code is 6 to 10 digits' using errcode = '22023';
  end if;
  if p_code_hash is null or pg_catalog.length(p_code_hash) <> 32 then
    raise exception 'a sign-up code hash is 32 bytes (HMAC-SHA256)' using errcode = '22023';
  end if;
  if p_password_hash is null or p_password_hash not like '$argon2id$%' then
    raise exception 'a sign-up carries the argon2id hash of its password' using errcode = '22023';
  end if;
  -- The organization is created only at verification: refuse now, for every address
  -- alike, a name app.organizations would refuse then (organizations_name_check).
  if p_organization_name is not null
     and pg_catalog.length(pg_catalog.btrim(p_organization_name)) not between 1 and 200 then
    raise exception 'organization_name cannot be used as an organization name'
      using errcode = 'RG422', column = 'organization_name';
  end if;
  delete from auth.pending_sign_ups where expires_at < pg_catalog.now();

  select u.email, u.status into v_recipient, v_status
    from auth.users u where pg_catalog.lower(u.email) = v_key;
  if found then
    -- Taken: no second account and no code. The owner hears of it (a disabled account
    -- hears nothing); the caller answers exactly as for a new address. A sign-up still
    -- pending from before the address got its account is dropped: its code now only
    -- signs into that account (auth.verify_sign_up), which the owner does by email code.
    delete from auth.pending_sign_ups p where p.email = v_key;
    if v_status = 'active' then
      perform auth.enqueue_email(v_recipient, 'sign_up_exists', '{}'::jsonb);
    end if;
    return;
  end if;

  insert into auth.pending_sign_ups (email, recipient, code_hash, password_hash, organization_name, expires_at)
  values (v_key, pg_catalog.btrim(p_email), p_code_hash, p_password_hash, p_organization_name, pg_catalog.now() + c_ttl)
  on conflict (email) do update
    set recipient = excluded.recipient, code_hash = excluded.code_hash, password_hash = excluded.password_hash,
        organization_name = excluded.organization_name, attempts = 0,
        expires_at = excluded.expires_at, created_at = excluded.created_at;
  perform auth.enqueue_email(pg_catalog.btrim(p_email), 'sign_up_code',
    pg_catalog.jsonb_build_object('code', p_code, 'expires_in_minutes', (extract(epoch from c_ttl))::int / 60));
end
$$;
comment on function auth.request_sign_up(text, bytea, text, text, text) is
  'POST /v1/auth/register: for a new address, (re)place its pending sign-up (p_code_hash: the API''s HMAC of the address and p_code; the argon2id p_password_hash; 30 minutes) and queue the email carrying p_code; for a taken one, queue a "someone tried to sign up" email to its owner (active accounts) and nothing else. No account is created here.';

create function auth.verify_sign_up(p_email text, p_code_hash bytea,
                                    out user_id uuid, out organization_name text, out created boolean)
language plpgsql volatile security definer set search_path = '' as $$
declare
  c_max_attempts constant int := 5;
  v_key     text := pg_catalog.lower(pg_catalog.btrim(p_email));
  v_pending auth.pending_sign_ups;
begin
  select * into v_pending from auth.pending_sign_ups p where p.email = v_key for update;
  if not found then
    return;
  end if;
  if v_pending.expires_at <= pg_catalog.now() then
    delete from auth.pending_sign_ups p where p.email = v_key;
    return;
  end if;
  -- IS DISTINCT FROM: a NULL hash is a wrong guess, not a match.
  if v_pending.code_hash is distinct from p_code_hash then
    -- Returns (not raises), so that the count commits.
    if v_pending.attempts + 1 >= c_max_attempts then
      delete from auth.pending_sign_ups p where p.email = v_key;
    else
      update auth.pending_sign_ups p set attempts = p.attempts + 1 where p.email = v_key;
    end if;
    return;
  end if;
  delete from auth.pending_sign_ups p where p.email = v_key;

  -- The mailbox answered: the account is born with its address verified.
  insert into auth.users (email, password_hash, email_verified_at)
  values (v_pending.recipient, v_pending.password_hash, pg_catalog.now())
  on conflict ((pg_catalog.lower(email))) do nothing
  returning id into user_id;
  if user_id is not null then
    organization_name := v_pending.organization_name;
    created := true;
    return;
  end if;
  -- The address got an account meanwhile (an email code, a provider, or one made before
  -- sign-ups were verified): the code proves this mailbox for it, as a sign-in code would.
  -- Its password is not replaced; if nobody had proven the address, it is wiped.
  select u.id into user_id from auth.users u where pg_catalog.lower(u.email) = v_key;
  perform auth.prove_email_ownership(user_id);
  created := false;
end
$$;
comment on function auth.verify_sign_up(text, bytea) is
  'POST /v1/auth/register/verify: given the API''s HMAC of the address and the presented code, the new user (created with its email verified and the pending password; the pending sign-up is used up) and the organization name it asked for; all NULL for a wrong, expired, used or unknown code. A wrong code counts; the 5th voids the sign-up. Should the address have an account by now, that user (its ownership proven: auth.prove_email_ownership), created false.';

-- ----- every other proof of the mailbox goes through auth.prove_email_ownership ----------

-- From 015. The user's address is proven by the code: first proof wins.
create or replace function auth.verify_sign_in_code(p_email text, p_code_hash bytea, p_allow_signup boolean) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  c_max_attempts constant int := 5;
  v_key  text := pg_catalog.lower(pg_catalog.btrim(p_email));
  v_code auth.email_sign_in_codes;
  v_user uuid;
begin
  select * into v_code from auth.email_sign_in_codes where email = v_key for update;
  if not found then
    return null;
  end if;
  if v_code.expires_at <= pg_catalog.now() then
    delete from auth.email_sign_in_codes where email = v_key;
    return null;
  end if;
  -- IS DISTINCT FROM: a NULL hash is a wrong guess, not a match.
  if v_code.code_hash is distinct from p_code_hash then
    -- Returns (not raises), so that the count commits.
    if v_code.attempts + 1 >= c_max_attempts then
      delete from auth.email_sign_in_codes where email = v_key;
    else
      update auth.email_sign_in_codes set attempts = attempts + 1 where email = v_key;
    end if;
    return null;
  end if;
  delete from auth.email_sign_in_codes where email = v_key;

  select u.id into v_user from auth.users u where pg_catalog.lower(u.email) = v_key;
  if v_user is null and p_allow_signup then
    insert into auth.users (email, password_hash, email_verified_at)
    values (pg_catalog.btrim(p_email), null, pg_catalog.now())
    on conflict ((pg_catalog.lower(email))) do nothing
    returning id into v_user;
    if v_user is null then -- created concurrently
      select u.id into v_user from auth.users u where pg_catalog.lower(u.email) = v_key;
    end if;
  end if;
  if v_user is not null then
    -- The session this sign-in opens is created after this call (api.create_session).
    perform auth.prove_email_ownership(v_user);
  end if;
  return v_user;
end
$$;
comment on function auth.verify_sign_in_code(text, bytea, boolean) is
  'POST /v1/auth/otp/verify: the user the address''s live code signs in, given the API''s HMAC of the address and the presented code (the code is used up; a new address becomes an account when p_allow_signup), or NULL: wrong, expired, used or unknown. A wrong code counts; the 5th voids it. The address is proven (auth.prove_email_ownership: on the first proof an unverified account loses its password and sessions).';

-- From 009. The reset token proves the mailbox: first proof wins, then the new password.
create or replace function auth.reset_password(p_token text, p_password_hash text) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user    uuid;
  v_expires timestamptz;
begin
  -- Used up whatever happens next: a token is tried once.
  delete from auth.password_reset_tokens
   where token_hash = pg_catalog.sha256(pg_catalog.convert_to(p_token, 'UTF8'))
  returning user_id, expires_at into v_user, v_expires;
  if v_user is null or v_expires <= pg_catalog.now() then
    return null;
  end if;
  if not exists (select from auth.users u where u.id = v_user and u.status = 'active') then
    return null;
  end if;
  perform auth.prove_email_ownership(v_user);
  update auth.users set password_hash = p_password_hash where id = v_user;
  -- Whoever knew the old password is signed out everywhere, at their next request.
  update auth.sessions set revoked_at = pg_catalog.now(), revoked_reason = 'password_reset'
   where user_id = v_user and revoked_at is null;
  return v_user;
end
$$;
comment on function auth.reset_password(text, text) is
  'POST /v1/auth/password/reset: prove the token''s active user''s address (auth.prove_email_ownership), set the password (p_password_hash, argon2id from the API), revoke every session; the token is used up. NULL: unknown, used or expired token.';

-- From 010. The provider vouches for the address: first proof wins.
create or replace function auth.oidc_sign_in(p_provider text, p_subject text, p_email text) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user uuid;
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
  select u.id into v_user
    from auth.users u where pg_catalog.lower(u.email) = pg_catalog.lower(pg_catalog.btrim(p_email));
  if v_user is null then
    insert into auth.users (email, password_hash, email_verified_at)
    values (pg_catalog.btrim(p_email), null, pg_catalog.now())
    on conflict ((pg_catalog.lower(email))) do nothing
    returning id into v_user;
    if v_user is null then -- created concurrently
      select u.id into v_user
        from auth.users u where pg_catalog.lower(u.email) = pg_catalog.lower(pg_catalog.btrim(p_email));
    end if;
  end if;
  -- Nobody may ever have proven they own this address: then its password and sessions
  -- may be a squatter's, and the owner, proven by the provider, takes it over without them.
  perform auth.prove_email_ownership(v_user);
  insert into auth.identities (user_id, provider, subject, email)
  values (v_user, p_provider, p_subject, pg_catalog.btrim(p_email));
  return v_user;
end
$$;
comment on function auth.oidc_sign_in(text, text, text) is
  'OpenID Connect callback, after the API verified the ID token and that the provider verified the email: the user of (provider, subject); else the user with that email, linked (its address proven: auth.prove_email_ownership wipes an unverified account''s password and sessions); else a new password-less user.';

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;

---- create above / drop below ----

-- Back to 016: the three ways in set email_verified_at themselves again (as in 015,
-- 009 and 010), and pending sign-ups are forgotten (their owners sign up again).
set local role rowguard_owner;
grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

create or replace function auth.verify_sign_in_code(p_email text, p_code_hash bytea, p_allow_signup boolean) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  c_max_attempts constant int := 5;
  v_key  text := pg_catalog.lower(pg_catalog.btrim(p_email));
  v_code auth.email_sign_in_codes;
  v_user uuid;
begin
  select * into v_code from auth.email_sign_in_codes where email = v_key for update;
  if not found then
    return null;
  end if;
  if v_code.expires_at <= pg_catalog.now() then
    delete from auth.email_sign_in_codes where email = v_key;
    return null;
  end if;
  if v_code.code_hash is distinct from p_code_hash then
    if v_code.attempts + 1 >= c_max_attempts then
      delete from auth.email_sign_in_codes where email = v_key;
    else
      update auth.email_sign_in_codes set attempts = attempts + 1 where email = v_key;
    end if;
    return null;
  end if;
  delete from auth.email_sign_in_codes where email = v_key;

  select u.id into v_user from auth.users u where pg_catalog.lower(u.email) = v_key;
  if v_user is null and p_allow_signup then
    insert into auth.users (email, password_hash, email_verified_at)
    values (pg_catalog.btrim(p_email), null, pg_catalog.now())
    on conflict ((pg_catalog.lower(email))) do nothing
    returning id into v_user;
    if v_user is null then
      select u.id into v_user from auth.users u where pg_catalog.lower(u.email) = v_key;
    end if;
  end if;
  update auth.users set email_verified_at = pg_catalog.now()
   where id = v_user and email_verified_at is null;
  return v_user;
end
$$;

create or replace function auth.reset_password(p_token text, p_password_hash text) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user    uuid;
  v_expires timestamptz;
begin
  delete from auth.password_reset_tokens
   where token_hash = pg_catalog.sha256(pg_catalog.convert_to(p_token, 'UTF8'))
  returning user_id, expires_at into v_user, v_expires;
  if v_user is null or v_expires <= pg_catalog.now() then
    return null;
  end if;
  update auth.users
     set password_hash = p_password_hash,
         email_verified_at = coalesce(email_verified_at, pg_catalog.now())
   where id = v_user and status = 'active';
  if not found then
    return null;
  end if;
  update auth.sessions set revoked_at = pg_catalog.now()
   where user_id = v_user and revoked_at is null;
  return v_user;
end
$$;

create or replace function auth.oidc_sign_in(p_provider text, p_subject text, p_email text) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user     uuid;
  v_verified timestamptz;
begin
  update auth.identities set last_sign_in_at = pg_catalog.now(), email = pg_catalog.btrim(p_email)
   where provider = p_provider and subject = p_subject
  returning user_id into v_user;
  if v_user is not null then
    return v_user;
  end if;
  select u.id, u.email_verified_at into v_user, v_verified
    from auth.users u where pg_catalog.lower(u.email) = pg_catalog.lower(pg_catalog.btrim(p_email));
  if v_user is null then
    insert into auth.users (email, password_hash, email_verified_at)
    values (pg_catalog.btrim(p_email), null, pg_catalog.now())
    on conflict ((pg_catalog.lower(email))) do nothing
    returning id into v_user;
    if v_user is null then
      select u.id, u.email_verified_at into v_user, v_verified
        from auth.users u where pg_catalog.lower(u.email) = pg_catalog.lower(pg_catalog.btrim(p_email));
    else
      v_verified := pg_catalog.now();
    end if;
  end if;
  if v_verified is null then
    update auth.users set password_hash = null, email_verified_at = pg_catalog.now() where id = v_user;
    update auth.sessions set revoked_at = pg_catalog.now() where user_id = v_user and revoked_at is null;
  end if;
  insert into auth.identities (user_id, provider, subject, email)
  values (v_user, p_provider, p_subject, pg_catalog.btrim(p_email));
  return v_user;
end
$$;

drop function auth.verify_sign_up(text, bytea);
drop function auth.request_sign_up(text, bytea, text, text, text);
set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
drop table auth.pending_sign_ups;
reset role;
