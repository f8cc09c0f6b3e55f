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

grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;

---- create above / drop below ----

-- Back to 016: pending sign-ups are forgotten (their owners sign up again). The kernel
-- of that version (its sign-in functions) comes with that version's binary.
set local role rowguard_owner;
grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

drop function if exists auth.verify_sign_up(text, bytea);
drop function if exists auth.request_sign_up(text, bytea, text, text, text);
set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
drop table auth.pending_sign_ups;
reset role;
