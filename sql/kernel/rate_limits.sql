-- Rate limits (fixed windows shared by every API instance) and sign-in failure counting
-- per (email, network), so throttling never locks the owner out of every way in.
-- Part of the kernel code package (install.sql).

set local role rowguard_kernel;

-- The generic rate limiter. Counts one hit in bucket and returns 0 when the hit is
-- within p_max hits per p_window, else the whole seconds until the window ends (the
-- Retry-After). A fixed window per bucket: one row, one atomic upsert (INSERT ... ON
-- CONFLICT DO UPDATE takes the row lock), so concurrent hits from any replica count
-- exactly. Name buckets '<action>:<key kind>:<key>', e.g. 'login:address:192.0.2.1',
-- 'login:account:ada@example.com', 'otp:account:...'.
create or replace function auth.hit_rate_limit(p_bucket text, p_max int, p_window interval) returns int
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_hits    int;
  v_ends_at timestamptz;
begin
  if p_bucket is null or p_max is null or p_max < 1 or p_window is null or p_window <= interval '0' then
    raise exception 'hit_rate_limit needs a bucket, p_max >= 1 and a positive window' using errcode = '22023';
  end if;
  insert into auth.rate_limits as l (bucket, window_ends_at, hits)
  values (p_bucket, pg_catalog.clock_timestamp() + p_window, 1)
  on conflict (bucket) do update
     set hits = case when l.window_ends_at <= pg_catalog.clock_timestamp() then 1 else l.hits + 1 end,
         window_ends_at = case when l.window_ends_at <= pg_catalog.clock_timestamp()
                               then pg_catalog.clock_timestamp() + p_window else l.window_ends_at end
  returning l.hits, l.window_ends_at into v_hits, v_ends_at;
  -- Now and then, forget buckets whose window ended long ago (one in ~200 calls).
  if pg_catalog.random() < 0.005 then
    delete from auth.rate_limits l where l.window_ends_at < pg_catalog.clock_timestamp() - interval '1 hour';
  end if;
  if v_hits <= p_max then
    return 0;
  end if;
  return greatest(1, ceil(extract(epoch from v_ends_at - pg_catalog.clock_timestamp())))::int;
end
$$;
comment on function auth.hit_rate_limit(text, int, interval) is
  'Generic rate limiter (fixed window, state shared by every replica): counts a hit, returns 0 when allowed, else the seconds to wait.';

-- The same, raising RG429 (DETAIL: the seconds to wait, sent as Retry-After) when over.
-- The raise rolls the refused hit back: a refused bucket stays refused until its window ends.
create or replace function auth.enforce_rate_limit(p_bucket text, p_max int, p_window interval) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_wait int := auth.hit_rate_limit(p_bucket, p_max, p_window);
begin
  if v_wait > 0 then
    raise exception 'too many attempts: retry in % seconds', v_wait
      using errcode = 'RG429', detail = v_wait::text;
  end if;
end
$$;
comment on function auth.enforce_rate_limit(text, int, interval) is
  'auth.hit_rate_limit that raises RG429 (DETAIL = seconds to wait; the API answers 429 with Retry-After) when the bucket is over its limit.';

-- Whether the account of p_email ever signed in from p_network (an IPv4 address as a
-- /32, an IPv6 /64): one of its sessions, live or not (kept 30 days after they end),
-- was opened from there. Sessions revoked because the address was proven by someone
-- else (email_proven: a squatter's) do not count.
create or replace function auth.is_known_network(p_email text, p_network inet) returns boolean
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

create or replace function auth.sign_in_failure_buckets(p_email text, p_network inet, out pair text, out account text)
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
create or replace function auth.hit_sign_in_failure(
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
create or replace function auth.forgive_sign_in_failure(p_email text, p_network inet) returns void
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

set local role rowguard_owner;
