-- Email sign-in codes are stored as a keyed hash. 008 stored the SHA-256 of the code: a
-- 6-digit code has a million values, so whoever read auth.email_sign_in_codes (a leaked
-- backup, a replica, a DBA) inverted every hash in microseconds and could sign in as any
-- address with a live code. The API now computes HMAC-SHA256(key, lower(email) || 0x00
-- || code) with a key derived from its token signing key (HKDF-SHA256, info "rowguard
-- sign-in code v1"; api/sign_in_code.go), which the database never sees, and passes the
-- hash: auth.request_sign_in_code stores it (it still gets the code, for the email's body
-- alone: the outbox empties the payload once sent), auth.verify_sign_in_code compares it
-- (the presented code never reaches SQL).
--
-- The new functions take the hash, so the old signatures are dropped (policies/sign_in.sql
-- grants the new ones). Codes stored under the old hash can no longer verify: they are
-- deleted (at most 10 minutes old; their owners ask for a new one).
set local role rowguard_owner;

-- TRUNCATE, not DELETE: row-level security hides every row from the owner (FORCE) and
-- the migrating role may be neither a superuser nor the kernel; it ignores RLS.
truncate auth.email_sign_in_codes;
comment on table auth.email_sign_in_codes is
  'The live email sign-in code of an address (HMAC-SHA256 of the address and code, keyed by the API, never the code). Reachable only through auth.request_sign_in_code / auth.verify_sign_in_code.';
comment on column auth.email_sign_in_codes.code_hash is
  'HMAC-SHA256(key, lower(email) || 0x00 || code), computed by the API with a key derived from its token signing key; the database never sees the key, so this table does not reveal a code.';

grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

drop function auth.request_sign_in_code(text, text, boolean);
drop function auth.verify_sign_in_code(text, text, boolean);

create function auth.request_sign_in_code(p_email text, p_code_hash bytea, p_code text, p_allow_signup boolean) returns void
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
  insert into auth.email_sign_in_codes (email, code_hash, expires_at)
  values (v_key, p_code_hash, pg_catalog.now() + c_ttl)
  on conflict (email) do update
    set code_hash = excluded.code_hash, expires_at = excluded.expires_at,
        attempts = 0, created_at = excluded.created_at;
  perform auth.enqueue_email(coalesce(v_recipient, pg_catalog.btrim(p_email)), 'sign_in_code',
    pg_catalog.jsonb_build_object('code', p_code,
                                  'expires_in_minutes', (extract(epoch from c_ttl))::int / 60));
end
$$;
comment on function auth.request_sign_in_code(text, bytea, text, boolean) is
  'POST /v1/auth/otp/request: replace the address''s code with p_code_hash (the API''s HMAC of the address and p_code; 10 minutes) and queue the email carrying p_code, for an active account, or for a new address when p_allow_signup. Otherwise does nothing, silently.';

create function auth.verify_sign_in_code(p_email text, p_code_hash bytea, p_allow_signup boolean) returns uuid
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
  update auth.users set email_verified_at = pg_catalog.now()
   where id = v_user and email_verified_at is null;
  return v_user;
end
$$;
comment on function auth.verify_sign_in_code(text, bytea, boolean) is
  'POST /v1/auth/otp/verify: the user the address''s live code signs in, given the API''s HMAC of the address and the presented code (the code is used up; a new address becomes an account when p_allow_signup), or NULL: wrong, expired, used or unknown. A wrong code counts; the 5th voids it.';

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;

---- create above / drop below ----

-- Back to 008: the SHA-256 of the code, computed in SQL. Codes stored under the HMAC
-- cannot verify any more: deleted (TRUNCATE, as above).
set local role rowguard_owner;
truncate auth.email_sign_in_codes;
comment on table auth.email_sign_in_codes is
  'The live email sign-in code of an address (SHA-256 of the code, never the code). Reachable only through auth.request_sign_in_code / auth.verify_sign_in_code.';
comment on column auth.email_sign_in_codes.code_hash is null;

grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

drop function auth.verify_sign_in_code(text, bytea, boolean);
drop function auth.request_sign_in_code(text, bytea, text, boolean);

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
-- The grants to rowguard_api are policies/'s (installed only at the latest migration).
