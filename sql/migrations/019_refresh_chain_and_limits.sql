-- One live refresh token per session, and throttling that cannot lock the owner out
-- (issue 12, items 4 and 6).
--
-- 1. The refresh grace window forked the chain. A rotated token presented again within
--    the grace window (several tabs refreshing at once) got a successor of its own: a
--    thief replaying a stolen token inside those seconds held a second live branch of
--    the session, never detected as reuse. Now a session has exactly one live token
--    (a unique partial index says so), and a replay inside the window gets the
--    successor that was already issued: the rotated token's row keeps it sealed
--    (AES-256-GCM under a key the API derives from its signing key, HKDF label
--    "rowguard refresh successor v1"; the database never sees the key), so whoever
--    reads the table cannot use it. Both holders now share one chain: whichever of them
--    rotates next leaves the other with a rotated token, whose next use after the
--    window revokes the session, as before.
--
-- 2. Throttling could lock the owner out. 10 wrong passwords from anywhere made the
--    owner's right password answer 429, and 10 hits on the email-code or reset routes
--    blocked their codes and mails. Now wrong passwords and wrong email codes are
--    counted per (account, client network) and, only from networks the account never
--    signed in from, per account: the owner's own network is never held by the
--    account-wide ceiling (auth.hit_sign_in_failure). A network is an IPv4 address or
--    an IPv6 /64 (the API passes it). Asking for a code or a reset email while one is
--    live keeps the live one and sends nothing, so a flood neither voids the owner's
--    mail nor floods the mailbox; an email code now dies after 20 wrong guesses (it
--    is no longer replaced by each request, so it must survive a few of an attacker's).
set local role rowguard_owner;

-- ----------------------------------------------------------------- the refresh chain
alter table auth.refresh_tokens
  add column successor_hash bytea
      constraint refresh_tokens_successor_hash_check check (length(successor_hash) = 32),
  add column successor_sealed bytea
      constraint refresh_tokens_successor_sealed_check check (length(successor_sealed) between 29 and 256),
  add constraint refresh_tokens_successor_check
      check ((successor_hash is null or rotated_at is not null) and (successor_sealed is null or successor_hash is not null));
comment on column auth.refresh_tokens.successor_hash is
  'SHA-256 of the token this one was rotated into: a replay inside the grace window is answered with that successor, while it is still the session''s live token.';
comment on column auth.refresh_tokens.successor_sealed is
  'The successor token itself, sealed by the API (AES-256-GCM, key derived from its signing key, the predecessor''s hash as associated data): useless to whoever reads the table. Kept only on the live token''s predecessor.';

-- Sessions forked before this migration: the newest live token of each session stays
-- live; the others count as rotated (no successor), so presenting one revokes its
-- session. FORCE row-level security hides every row from the owner, and the migrating
-- role need not be a superuser: lift FORCE for this one statement.
alter table auth.refresh_tokens no force row level security;
update auth.refresh_tokens t set rotated_at = now()
 where t.rotated_at is null
   and exists (select from auth.refresh_tokens n
                where n.session_id = t.session_id and n.rotated_at is null
                  and (n.created_at, n.token_hash) > (t.created_at, t.token_hash));
alter table auth.refresh_tokens force row level security;

create unique index refresh_tokens_one_live_per_session on auth.refresh_tokens (session_id) where rotated_at is null;
create index refresh_tokens_sealed_idx on auth.refresh_tokens (session_id) where successor_sealed is not null;

-- The networks a user signed in from: auth.is_known_network reads sessions by user.
create index sessions_user_id_ip_idx on auth.sessions (user_id, ip);

grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

drop function auth.rotate_refresh_token(bytea, bytea, interval);

-- Outcomes:
--   rotated   the token was the session's live one: p_new_token_hash is now, and the
--             presented token keeps p_new_token_sealed for a replay within the window.
--   replayed  the token was rotated less than p_reuse_grace ago and its successor is
--             still live (several tabs, a lost answer retried): successor_sealed is
--             that successor, for the API to hand out again. Nothing new is issued.
--   reused    the token was rotated longer ago, or its successor was rotated in turn:
--             a stolen token replayed. The whole session is revoked (committed: the
--             caller must not raise after this outcome).
--   invalid   unknown token, or its session is revoked, expired, idle or its user disabled.
create function auth.rotate_refresh_token(
  p_token_hash bytea, p_new_token_hash bytea, p_new_token_sealed bytea, p_reuse_grace interval
) returns table (outcome text, user_id uuid, session_id uuid, expires_at timestamptz, successor_sealed bytea)
language plpgsql volatile security definer set search_path = '' as $$
declare
  r record;
begin
  -- The token's row lock serializes concurrent refreshes of one token: the second one
  -- sees the first one's rotation, and gets its successor.
  select t.rotated_at, t.successor_hash, t.successor_sealed, s.id as session_id, s.user_id,
         s.revoked_at, s.expires_at, s.last_used_at, s.idle_timeout, u.status
    into r
    from auth.refresh_tokens t
    join auth.sessions s on s.id = t.session_id
    join auth.users u on u.id = s.user_id
   where t.token_hash = p_token_hash
     for update of t;
  if not found
     or r.revoked_at is not null
     or r.expires_at <= pg_catalog.now()
     or r.last_used_at + r.idle_timeout <= pg_catalog.now()
     or r.status <> 'active' then
    return query select 'invalid'::text, null::uuid, null::uuid, null::timestamptz, null::bytea;
    return;
  end if;
  if r.rotated_at is not null then
    if r.rotated_at > pg_catalog.now() - coalesce(p_reuse_grace, interval '0')
       and r.successor_sealed is not null
       and exists (select from auth.refresh_tokens n
                    where n.token_hash = r.successor_hash and n.session_id = r.session_id and n.rotated_at is null) then
      update auth.sessions s set last_used_at = pg_catalog.now() where s.id = r.session_id;
      return query select 'replayed'::text, r.user_id, r.session_id, r.expires_at, r.successor_sealed;
      return;
    end if;
    update auth.sessions s set revoked_at = pg_catalog.now(), revoked_reason = 'refresh_token_reused'
     where s.id = r.session_id;
    return query select 'reused'::text, r.user_id, r.session_id, r.expires_at, null::bytea;
    return;
  end if;
  if p_new_token_sealed is null then
    raise exception 'rotation needs the sealed successor' using errcode = '22023';
  end if;
  -- Only the live token's predecessor keeps a sealed successor: the older ones can no
  -- longer be replayed within any window.
  update auth.refresh_tokens t set successor_sealed = null
   where t.session_id = r.session_id and t.successor_sealed is not null;
  update auth.refresh_tokens t
     set rotated_at = pg_catalog.now(), successor_hash = p_new_token_hash, successor_sealed = p_new_token_sealed
   where t.token_hash = p_token_hash;
  insert into auth.refresh_tokens (token_hash, session_id) values (p_new_token_hash, r.session_id);
  update auth.sessions s set last_used_at = pg_catalog.now() where s.id = r.session_id;
  return query select 'rotated'::text, r.user_id, r.session_id, r.expires_at, null::bytea;
end
$$;
comment on function auth.rotate_refresh_token(bytea, bytea, bytea, interval) is
  'POST /v1/auth/refresh: exchanges the session''s live refresh token (by SHA-256) for a new one (its sealed copy kept on the old row); a replay within the grace window gets that same successor back (replayed), never a second live token; a replay after it revokes the session (reused).';

-- ----------------------------------------------------------------- sign-in failures

-- Whether the account of p_email ever signed in from p_network (an IPv4 address as a
-- /32, an IPv6 /64): one of its sessions, live or not (kept 30 days after they end),
-- was opened from there. Sessions revoked because the address was proven by someone
-- else (email_proven: a squatter's) do not count.
create function auth.is_known_network(p_email text, p_network inet) returns boolean
language plpgsql stable security definer set search_path = '' as $$
begin
  if p_network is null then
    return false;
  end if;
  return exists (
    select from auth.users u
      join auth.sessions s on s.user_id = u.id
     where pg_catalog.lower(u.email) = pg_catalog.lower(pg_catalog.btrim(p_email))
       and s.ip <<= p_network
       and s.revoked_reason is distinct from 'email_proven');
end
$$;
comment on function auth.is_known_network(text, inet) is
  'True when the account of p_email opened a session from p_network (IPv4 /32 or IPv6 /64), other than a squatter''s revoked at the first proof of the address.';

create function auth.sign_in_failure_buckets(p_email text, p_network inet, out pair text, out account text)
language sql immutable set search_path = '' as $$
  select 'signin-failure:account-address:' || pg_catalog.left(pg_catalog.lower(pg_catalog.btrim(p_email)), 254)
           || '|' || coalesce(pg_catalog.text(p_network), 'unknown'),
         'signin-failure:account:' || pg_catalog.left(pg_catalog.lower(pg_catalog.btrim(p_email)), 254)
$$;
comment on function auth.sign_in_failure_buckets(text, inet) is
  'The bucket names of sign-in failures for an email: per (email, client network), and per email.';

-- Counts one sign-in attempt (a password or an email code tried) against p_email as a
-- failure, before the proof is checked: per (email, client network), at most p_pair_max
-- per p_pair_window; and, when the account never signed in from that network, per
-- email, at most p_account_max per p_account_window. Over either: RG429 (the raise rolls
-- this hit back). A network the account signed in from is never held by the per-email
-- ceiling: an attacker's guesses from elsewhere cannot lock the owner out there.
-- A proof that then succeeds takes its hit back (auth.forgive_sign_in_failure).
create function auth.hit_sign_in_failure(
  p_email text, p_network inet, p_pair_max int, p_pair_window interval, p_account_max int, p_account_window interval
) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  b record;
begin
  select * into b from auth.sign_in_failure_buckets(p_email, p_network);
  perform auth.enforce_rate_limit(b.pair, p_pair_max, p_pair_window);
  if not auth.is_known_network(p_email, p_network) then
    perform auth.enforce_rate_limit(b.account, p_account_max, p_account_window);
  end if;
end
$$;
comment on function auth.hit_sign_in_failure(text, inet, int, interval, int, interval) is
  'Counts a sign-in attempt as a failure per (email, client network) and, from a network the account never signed in from, per email; RG429 over either limit. auth.forgive_sign_in_failure takes it back on success.';

-- Takes back the hit of an attempt that succeeded: only failures count.
create function auth.forgive_sign_in_failure(p_email text, p_network inet) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  b record;
begin
  select * into b from auth.sign_in_failure_buckets(p_email, p_network);
  update auth.rate_limits l set hits = greatest(l.hits - 1, 0)
   where l.bucket = b.pair
      or (l.bucket = b.account and not auth.is_known_network(p_email, p_network));
end
$$;
comment on function auth.forgive_sign_in_failure(text, inet) is
  'A sign-in that succeeded: removes its hit from the buckets auth.hit_sign_in_failure counted it in.';

-- ----------------------------------------------------------------- email codes

-- Redefined from 015: a live code is kept, and no mail is sent, when one is asked for
-- again; the owner's mail stays valid however often others ask.
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

-- Redefined from 015: 20 wrong guesses void a code (it is no longer replaced by every
-- request), and the proof goes through auth.prove_email_ownership (first proof wins),
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
create function auth.verify_sign_in_code_from(
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

-- ----------------------------------------------------------------- password reset

-- Redefined from 009: a live reset token is kept, and no mail is sent, when a reset is
-- asked for again.
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

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;

---- create above / drop below ----

set local role rowguard_kernel;
drop function auth.verify_sign_in_code_from(text, bytea, boolean, inet, int, interval, int, interval);
drop function auth.forgive_sign_in_failure(text, inet);
drop function auth.hit_sign_in_failure(text, inet, int, interval, int, interval);
drop function auth.sign_in_failure_buckets(text, inet);
drop function auth.is_known_network(text, inet);
drop function auth.rotate_refresh_token(bytea, bytea, bytea, interval);
reset role;

set local role rowguard_owner;
drop index auth.sessions_user_id_ip_idx;
drop index auth.refresh_tokens_sealed_idx;
drop index auth.refresh_tokens_one_live_per_session;
alter table auth.refresh_tokens
  drop constraint refresh_tokens_successor_check,
  drop column successor_sealed,
  drop column successor_hash;
grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

-- auth.rotate_refresh_token as 011 left it.
create function auth.rotate_refresh_token(p_token_hash bytea, p_new_token_hash bytea, p_reuse_grace interval)
returns table (outcome text, user_id uuid, session_id uuid, expires_at timestamptz)
language plpgsql volatile security definer set search_path = '' as $$
declare
  r record;
begin
  select t.rotated_at, s.id as session_id, s.user_id, s.revoked_at, s.expires_at,
         s.last_used_at, s.idle_timeout, u.status
    into r
    from auth.refresh_tokens t
    join auth.sessions s on s.id = t.session_id
    join auth.users u on u.id = s.user_id
   where t.token_hash = p_token_hash
     for update of t;
  if not found
     or r.revoked_at is not null
     or r.expires_at <= pg_catalog.now()
     or r.last_used_at + r.idle_timeout <= pg_catalog.now()
     or r.status <> 'active' then
    return query select 'invalid'::text, null::uuid, null::uuid, null::timestamptz;
    return;
  end if;
  if r.rotated_at is not null and r.rotated_at <= pg_catalog.now() - coalesce(p_reuse_grace, interval '0') then
    update auth.sessions s set revoked_at = pg_catalog.now(), revoked_reason = 'refresh_token_reused'
     where s.id = r.session_id;
    return query select 'reused'::text, r.user_id, r.session_id, r.expires_at;
    return;
  end if;
  if r.rotated_at is null then
    update auth.refresh_tokens t set rotated_at = pg_catalog.now() where t.token_hash = p_token_hash;
  end if;
  insert into auth.refresh_tokens (token_hash, session_id) values (p_new_token_hash, r.session_id);
  update auth.sessions s set last_used_at = pg_catalog.now() where s.id = r.session_id;
  return query select 'rotated'::text, r.user_id, r.session_id, r.expires_at;
end
$$;

-- auth.request_sign_in_code and auth.verify_sign_in_code as 015 left them (but for the
-- proof, which stays auth.prove_email_ownership's: 016 is still applied).
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
  if v_user is not null then
    perform auth.prove_email_ownership(v_user, null);
  end if;
  return v_user;
end
$$;

-- auth.request_password_reset as 009 left it.
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
    return;
  end if;
  delete from auth.password_reset_tokens where user_id = v_user or expires_at < pg_catalog.now();
  insert into auth.password_reset_tokens (token_hash, user_id, expires_at)
  values (pg_catalog.sha256(pg_catalog.convert_to(p_token, 'UTF8')), v_user, pg_catalog.now() + c_ttl);
  perform auth.enqueue_email(v_email, 'password_reset',
    pg_catalog.jsonb_build_object('token', p_token, 'reset_url', coalesce(p_reset_url, ''),
                                  'expires_in_minutes', (extract(epoch from c_ttl))::int / 60));
end
$$;

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;
