-- Step-up: a fresh proof (password or emailed code) before destructive acts.
-- Part of the kernel code package (install.sql).

set local role rowguard_kernel;

-- The step-up rule. 5 minutes: long enough to confirm and act, short enough that a
-- token stolen later finds it expired.
create or replace function auth.require_recent_reauthentication() returns void
language plpgsql stable security definer set search_path = '' as $$
begin
  if not exists (
    select from auth.sessions s
     where s.id = nullif(pg_catalog.current_setting('app.session_id', true), '')::uuid
       and s.user_id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid
       and s.reauthenticated_at > pg_catalog.now() - interval '5 minutes') then
    raise exception 'this action needs a fresh proof of identity: reauthenticate (password or emailed code) and retry within 5 minutes'
      using errcode = 'RGR03', hint = 'POST /v1/auth/reauthenticate';
  end if;
end
$$;
comment on function auth.require_recent_reauthentication() is
  'Raises RGR03 (403 reauthentication-required) unless the current session (app.session_id) reauthenticated within the last 5 minutes.';

-- Records a proof of the current session. Kernel-internal and for the API after it
-- verified the password (the API asserts who is asking, as it does at sign-in).
create or replace function auth.record_reauthentication(p_method text) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_session uuid := nullif(pg_catalog.current_setting('app.session_id', true), '')::uuid;
  v_user    uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
begin
  update auth.sessions s set reauthenticated_at = pg_catalog.now()
   where s.id = v_session and s.user_id = v_user and s.revoked_at is null;
  if not found then
    raise exception 'the session is not valid' using errcode = 'RG401';
  end if;
  insert into auth.reauthentications (user_id, session_id, method, request_id)
  values (v_user, v_session, p_method, nullif(pg_catalog.current_setting('app.request_id', true), ''));
end
$$;
comment on function auth.record_reauthentication(text) is
  'The current session just proved its user again (p_method: password, code, password_change): sets reauthenticated_at and writes auth.reauthentications.';

create or replace function auth.request_reauthentication_code(p_code_hash bytea, p_code text) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  c_ttl constant interval := interval '10 minutes';
  v_session uuid := nullif(pg_catalog.current_setting('app.session_id', true), '')::uuid;
  v_user    uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
  v_email   text;
begin
  if p_code is null or p_code !~ '^[0-9]{6,10}$' then
    raise exception 'a code is 6 to 10 digits' using errcode = '22023';
  end if;
  if p_code_hash is null or pg_catalog.length(p_code_hash) <> 32 then
    raise exception 'a code hash is 32 bytes (HMAC-SHA256)' using errcode = '22023';
  end if;
  select u.email into v_email from auth.users u where u.id = v_user;
  if v_email is null or v_session is null then
    raise exception 'the session is not valid' using errcode = 'RG401';
  end if;
  delete from auth.reauthentication_codes where expires_at < pg_catalog.now();
  insert into auth.reauthentication_codes (session_id, user_id, code_hash, expires_at)
  values (v_session, v_user, p_code_hash, pg_catalog.now() + c_ttl)
  on conflict (session_id) do update
    set code_hash = excluded.code_hash, expires_at = excluded.expires_at,
        attempts = 0, created_at = excluded.created_at;
  perform auth.enqueue_email(v_email, 'reauthentication_code',
    pg_catalog.jsonb_build_object('code', p_code,
                                  'expires_in_minutes', (extract(epoch from c_ttl))::int / 60));
end
$$;
comment on function auth.request_reauthentication_code(bytea, text) is
  'POST /v1/auth/reauthenticate/code: replace the current session''s step-up code with p_code_hash (10 minutes) and email p_code to its user.';

create or replace function auth.verify_reauthentication_code(p_code_hash bytea) returns boolean
language plpgsql volatile security definer set search_path = '' as $$
declare
  c_max_attempts constant int := 5;
  v_session uuid := nullif(pg_catalog.current_setting('app.session_id', true), '')::uuid;
  v_user    uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
  v_code    auth.reauthentication_codes;
begin
  select * into v_code from auth.reauthentication_codes c
   where c.session_id = v_session and c.user_id = v_user for update;
  if not found then
    return false;
  end if;
  if v_code.expires_at <= pg_catalog.now() then
    delete from auth.reauthentication_codes c where c.session_id = v_session;
    return false;
  end if;
  if v_code.code_hash is distinct from p_code_hash then
    -- Returns (not raises), so that the count commits.
    if v_code.attempts + 1 >= c_max_attempts then
      delete from auth.reauthentication_codes c where c.session_id = v_session;
    else
      update auth.reauthentication_codes c set attempts = c.attempts + 1 where c.session_id = v_session;
    end if;
    return false;
  end if;
  delete from auth.reauthentication_codes c where c.session_id = v_session;
  perform auth.record_reauthentication('code');
  -- The code went only to the account's mailbox: ownership of the address is proven
  -- (first proof wins; this session is the prover's and stays).
  perform auth.prove_email_ownership(v_user, v_session);
  return true;
end
$$;
comment on function auth.verify_reauthentication_code(bytea) is
  'POST /v1/auth/reauthenticate {code}: true when p_code_hash is the current session''s live code (used up; records the proof, and proves the mailbox); false when wrong (counted; the 5th voids it), expired or absent.';

set local role rowguard_owner;
