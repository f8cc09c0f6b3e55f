-- Ways in: credentials, emailed sign-in codes, sign-up that proves the mailbox, password
-- reset, OpenID Connect. Every proof of a mailbox goes through auth.prove_email_ownership.
-- Part of the kernel code package (install.sql).

set local role rowguard_kernel;

create or replace function auth.credentials_for(p_email text)
returns table (user_id uuid, password_hash text, status text)
language plpgsql stable security definer set search_path = '' as $$
begin
  return query
    select u.id, u.password_hash, u.status::text
      from auth.users u
     where pg_catalog.lower(u.email) = pg_catalog.lower(pg_catalog.btrim(p_email));
end
$$;
comment on function auth.credentials_for(text) is 'Login only: the password hash for an email, before anyone is signed in. The API verifies it (argon2id) and then calls api.create_session.';

create or replace function auth.prove_email_ownership(p_user_id uuid, p_keep_session_id uuid default null) returns boolean
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_first boolean;
begin
  update auth.users u
     set email_verified_at = pg_catalog.now(), password_hash = null
   where u.id = p_user_id and u.email_verified_at is null
  returning true into v_first;
  if v_first is null then
    return false; -- proven before (or no such user): nothing to hand over
  end if;
  update auth.sessions s
     set revoked_at = pg_catalog.now(), revoked_reason = 'email_proven'
   where s.user_id = p_user_id
     and s.revoked_at is null
     and s.id is distinct from p_keep_session_id;
  return true;
end
$$;
comment on function auth.prove_email_ownership(uuid, uuid) is
  'First proof wins: marks the user''s email verified; if it was not, wipes the password and revokes every session except p_keep_session_id (reason email_proven), since whoever set them never proved the address. True on that first proof. Called only by kernel functions that checked a mailbox secret.';
revoke execute on function auth.prove_email_ownership(uuid, uuid) from public;

create or replace function auth.request_sign_up(p_email text, p_code_hash bytea, p_code text, p_password_hash text,
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

create or replace function auth.verify_sign_up(p_email text, p_code_hash bytea,
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

-- The reset token proves the mailbox: first proof wins, then the new password.
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

-- The provider vouches for the address: first proof wins.
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

-- A live code is kept, and no mail is sent, when one is asked for again; the owner's mail stays valid however often others ask.
create or replace function auth.request_sign_in_code(p_email text, p_code_hash bytea, p_code text, p_allow_signup boolean) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  c_ttl constant interval := interval '10 minutes';
  v_key       text := pg_catalog.lower(pg_catalog.btrim(p_email));
  v_recipient text;
  v_status    auth.user_status;
begin
  if p_code is null or p_code !~ '^[0-9]{6,10}$' then
    raise exception 'a sign-in code is 6 to 10 digits' using errcode = '22023';
  end if;
  if p_code_hash is null or pg_catalog.length(p_code_hash) <> 32 then
    raise exception 'a sign-in code hash is 32 bytes (HMAC-SHA256)' using errcode = '22023';
  end if;
  select u.email, u.status into v_recipient, v_status
    from auth.users u where pg_catalog.lower(u.email) = v_key;
  -- No account (and no sign-up by code) or a disabled one: no code, no email, and the
  -- caller answers exactly as for a real account.
  if v_status is distinct from 'active' and not (v_status is null and p_allow_signup) then
    return;
  end if;

  delete from auth.email_sign_in_codes where expires_at < pg_catalog.now();
  -- A live code stays: nothing is replaced, nothing is sent.
  insert into auth.email_sign_in_codes (email, code_hash, expires_at)
  values (v_key, p_code_hash, pg_catalog.now() + c_ttl)
  on conflict (email) do nothing;
  if not found then
    return;
  end if;
  perform auth.enqueue_email(coalesce(v_recipient, pg_catalog.btrim(p_email)), 'sign_in_code',
    pg_catalog.jsonb_build_object('code', p_code,
                                  'expires_in_minutes', (extract(epoch from c_ttl))::int / 60));
end
$$;
comment on function auth.request_sign_in_code(text, bytea, text, boolean) is
  'POST /v1/auth/otp/request: unless the address has a live code, store p_code_hash (the API''s HMAC of the address and p_code; 10 minutes) and queue the email carrying p_code, for an active account, or for a new address when p_allow_signup. Otherwise does nothing, silently.';

-- 20 wrong guesses void a code (a new request does not replace a live one), and the proof goes through auth.prove_email_ownership (first proof wins),
-- before the session is opened, so the new session is the one kept.
create or replace function auth.verify_sign_in_code(p_email text, p_code_hash bytea, p_allow_signup boolean) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  c_max_attempts constant int := 20;
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
    perform auth.prove_email_ownership(v_user, null);
  end if;
  return v_user;
end
$$;
comment on function auth.verify_sign_in_code(text, bytea, boolean) is
  'POST /v1/auth/otp/verify: the user the address''s live code signs in, given the API''s HMAC of the address and the presented code (the code is used up; the address is proven: auth.prove_email_ownership; a new address becomes an account when p_allow_signup), or NULL: wrong, expired, used or unknown. A wrong code counts; the 20th voids it.';

-- POST /v1/auth/otp/verify with the sign-in failure limits: the guess counts as a
-- failure first (auth.hit_sign_in_failure), and is taken back when the code was right.
create or replace function auth.verify_sign_in_code_from(
  p_email text, p_code_hash bytea, p_allow_signup boolean, p_network inet,
  p_pair_max int, p_pair_window interval, p_account_max int, p_account_window interval
) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user uuid;
begin
  perform auth.hit_sign_in_failure(p_email, p_network, p_pair_max, p_pair_window, p_account_max, p_account_window);
  v_user := auth.verify_sign_in_code(p_email, p_code_hash, p_allow_signup);
  if v_user is not null then
    perform auth.forgive_sign_in_failure(p_email, p_network);
  end if;
  return v_user;
end
$$;
comment on function auth.verify_sign_in_code_from(text, bytea, boolean, inet, int, interval, int, interval) is
  'POST /v1/auth/otp/verify: auth.verify_sign_in_code from client network p_network, a wrong code counted as a sign-in failure (auth.hit_sign_in_failure).';

-- A live reset token is kept, and no mail is sent, when a reset is asked for again.
create or replace function auth.request_password_reset(p_email text, p_token text, p_reset_url text) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  c_ttl constant interval := interval '30 minutes';
  v_user  uuid;
  v_email text;
begin
  if pg_catalog.length(p_token) < 32 then
    raise exception 'a reset token has at least 32 characters' using errcode = '22023';
  end if;
  select u.id, u.email into v_user, v_email
    from auth.users u
   where pg_catalog.lower(u.email) = pg_catalog.lower(pg_catalog.btrim(p_email)) and u.status = 'active';
  if not found then
    return; -- the caller answers exactly as for a real account
  end if;
  delete from auth.password_reset_tokens where expires_at < pg_catalog.now();
  -- A live token stays: nothing is replaced, nothing is sent.
  if exists (select from auth.password_reset_tokens t where t.user_id = v_user) then
    return;
  end if;
  insert into auth.password_reset_tokens (token_hash, user_id, expires_at)
  values (pg_catalog.sha256(pg_catalog.convert_to(p_token, 'UTF8')), v_user, pg_catalog.now() + c_ttl);
  perform auth.enqueue_email(v_email, 'password_reset',
    pg_catalog.jsonb_build_object('token', p_token, 'reset_url', coalesce(p_reset_url, ''),
                                  'expires_in_minutes', (extract(epoch from c_ttl))::int / 60));
end
$$;
comment on function auth.request_password_reset(text, text, text) is
  'POST /v1/auth/password/forgot: for an active account without a live reset token, store p_token (hashed, 30 minutes) and queue the email (p_reset_url: the link it shows, or NULL). Otherwise does nothing, silently.';

create or replace function auth.begin_oidc_login(p_provider text, p_state text, p_nonce text, p_code_verifier text, p_binding text) returns void
language plpgsql volatile security definer set search_path = '' as $$
begin
  if pg_catalog.length(p_state) < 32 or pg_catalog.length(p_nonce) < 32 or pg_catalog.length(p_binding) < 32 then
    raise exception 'state, nonce and binding need at least 32 characters' using errcode = '22023';
  end if;
  delete from auth.oidc_login_states where expires_at < pg_catalog.now();
  insert into auth.oidc_login_states (state_hash, provider, nonce_hash, code_verifier, expires_at, binding_hash)
  values (pg_catalog.sha256(pg_catalog.convert_to(p_state, 'UTF8')), p_provider,
          pg_catalog.sha256(pg_catalog.convert_to(p_nonce, 'UTF8')), p_code_verifier,
          pg_catalog.now() + interval '10 minutes',
          pg_catalog.sha256(pg_catalog.convert_to(p_binding, 'UTF8')));
end
$$;
comment on function auth.begin_oidc_login(text, text, text, text, text) is
  'GET /v1/auth/oidc/{provider}/start: remember a sign-in in flight for 10 minutes (state, nonce and the browser''s cookie binding hashed).';

create or replace function auth.take_oidc_login(p_provider text, p_state text, p_binding text)
returns table (nonce_hash bytea, code_verifier text)
language plpgsql volatile security definer set search_path = '' as $$
begin
  -- Deleted whatever happens next: a state is used once, and a state presented from
  -- another browser (login CSRF) is burnt, not left for a second try.
  return query
    with taken as (
      delete from auth.oidc_login_states s
       where s.state_hash = pg_catalog.sha256(pg_catalog.convert_to(p_state, 'UTF8'))
      returning s.provider, s.nonce_hash, s.code_verifier, s.expires_at, s.binding_hash)
    select t.nonce_hash, t.code_verifier from taken t
     where t.provider = p_provider and t.expires_at > pg_catalog.now()
       and t.binding_hash = pg_catalog.sha256(pg_catalog.convert_to(coalesce(p_binding, ''), 'UTF8'));
end
$$;
comment on function auth.take_oidc_login(text, text, text) is
  'GET /v1/auth/oidc/{provider}/callback: the nonce hash and PKCE verifier of a live state of this provider whose binding is the browser''s cookie, used up; no row for an unknown, used, expired, other provider''s or other browser''s state.';

set local role rowguard_owner;
