-- Sign-in by a one-time code sent by email (POST /v1/auth/otp/request, /verify).
-- One live code per address: a new request replaces the old one. Codes are stored as
-- SHA-256 hashes, expire after 10 minutes, work once, and die after 5 wrong guesses.
-- The table is reachable only through the two SECURITY DEFINER functions below.
set local role rowguard_owner;

-- Accounts made by an email code or OpenID Connect have no password. Password login
-- treats a NULL hash exactly like a wrong password.
alter table auth.users alter column password_hash drop not null;
comment on column auth.users.password_hash is
  'argon2id in PHC string format, computed by the API; NULL: the account has no password (made by an email code or OpenID Connect). Never granted to rowguard_api for SELECT.';
-- Shared with other branches (invitations): added only if missing.
alter table auth.users add column if not exists email_verified_at timestamptz;
comment on column auth.users.email_verified_at is
  'When the user last proved they read this address (an email code, a password reset, a provider''s verified email); NULL: never.';

create table auth.email_sign_in_codes (
  -- lower(btrim(address)): the account's key, whether or not the account exists yet.
  email      text primary key
             constraint email_sign_in_codes_email_check check (email = lower(btrim(email)) and length(email) <= 254),
  code_hash  bytea not null constraint email_sign_in_codes_code_hash_check check (length(code_hash) = 32),
  expires_at timestamptz not null,
  attempts   int not null default 0,
  created_at timestamptz not null default now()
);
comment on table auth.email_sign_in_codes is
  'The live email sign-in code of an address (SHA-256 of the code, never the code). Reachable only through auth.request_sign_in_code / auth.verify_sign_in_code.';
create index email_sign_in_codes_expires_at_idx on auth.email_sign_in_codes (expires_at);
alter table auth.email_sign_in_codes enable row level security;
alter table auth.email_sign_in_codes force row level security;

grant usage on schema auth to rowguard_kernel;
grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

create function auth.request_sign_in_code(p_email text, p_code text, p_allow_signup boolean) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  c_ttl constant interval := interval '10 minutes';
  v_key       text := pg_catalog.lower(pg_catalog.btrim(p_email));
  v_recipient text;
  v_status    auth.user_status;
begin
  if p_code !~ '^[0-9]{6,10}$' then
    raise exception 'a sign-in code is 6 to 10 digits' using errcode = '22023';
  end if;
  select u.email, u.status into v_recipient, v_status
    from auth.users u where pg_catalog.lower(u.email) = v_key;
  -- No account (and no sign-up by code) or a disabled one: no code, no email, and the
  -- caller answers exactly as for a real account.
  if v_status is distinct from 'active' and not (v_status is null and p_allow_signup) then
    return;
  end if;

  delete from auth.email_sign_in_codes where expires_at < pg_catalog.now();
  insert into auth.email_sign_in_codes (email, code_hash, expires_at)
  values (v_key, pg_catalog.sha256(pg_catalog.convert_to(p_code, 'UTF8')), pg_catalog.now() + c_ttl)
  on conflict (email) do update
    set code_hash = excluded.code_hash, expires_at = excluded.expires_at,
        attempts = 0, created_at = excluded.created_at;
  perform auth.enqueue_email(coalesce(v_recipient, pg_catalog.btrim(p_email)), 'sign_in_code',
    pg_catalog.jsonb_build_object('code', p_code,
                                  'expires_in_minutes', (extract(epoch from c_ttl))::int / 60));
end
$$;
comment on function auth.request_sign_in_code(text, text, boolean) is
  'POST /v1/auth/otp/request: replace the address''s code with p_code (hashed, 10 minutes) and queue the email, for an active account, or for a new address when p_allow_signup. Otherwise does nothing, silently.';

create function auth.verify_sign_in_code(p_email text, p_code text, p_allow_signup boolean) returns uuid
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
  if v_code.code_hash <> pg_catalog.sha256(pg_catalog.convert_to(p_code, 'UTF8')) then
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
  update auth.users set email_verified_at = pg_catalog.now()
   where id = v_user and email_verified_at is null;
  return v_user;
end
$$;
comment on function auth.verify_sign_in_code(text, text, boolean) is
  'POST /v1/auth/otp/verify: the user the address''s live code signs in (the code is used up; a new address becomes an account when p_allow_signup), or NULL: wrong, expired, used or unknown. A wrong code counts; the 5th voids it.';

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;

---- create above / drop below ----

set local role rowguard_kernel;
drop function auth.verify_sign_in_code(text, text, boolean);
drop function auth.request_sign_in_code(text, text, boolean);
set local role rowguard_owner;
drop table auth.email_sign_in_codes;
-- email_verified_at stays: another migration may have added it first (add column if not
-- exists), and it holds no secret. Accounts without a password get an unusable one
-- (as the migrating role: the owner itself sees no row of a FORCE RLS table).
reset role;
update auth.users set password_hash = '' where password_hash is null;
set local role rowguard_owner;
alter table auth.users alter column password_hash set not null;
reset role;
