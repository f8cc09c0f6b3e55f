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

drop function if exists auth.rotate_refresh_token(bytea, bytea, interval);

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;

---- create above / drop below ----

set local role rowguard_kernel;
drop function if exists auth.verify_sign_in_code_from(text, bytea, boolean, inet, int, interval, int, interval);
drop function if exists auth.forgive_sign_in_failure(text, inet);
drop function if exists auth.hit_sign_in_failure(text, inet, int, interval, int, interval);
drop function if exists auth.sign_in_failure_buckets(text, inet);
drop function if exists auth.is_known_network(text, inet);
drop function if exists auth.rotate_refresh_token(bytea, bytea, bytea, interval);
set local role rowguard_owner;
drop index auth.sessions_user_id_ip_idx;
drop index auth.refresh_tokens_sealed_idx;
drop index auth.refresh_tokens_one_live_per_session;
alter table auth.refresh_tokens
  drop constraint refresh_tokens_successor_check,
  drop column successor_sealed,
  drop column successor_hash;

reset role;
