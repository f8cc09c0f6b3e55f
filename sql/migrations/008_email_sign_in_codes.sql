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

grant usage on schema auth to rowguard_kernel;

reset role;

---- create above / drop below ----

set local role rowguard_kernel;
drop function if exists auth.verify_sign_in_code(text, text, boolean);
drop function if exists auth.request_sign_in_code(text, text, boolean);
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
