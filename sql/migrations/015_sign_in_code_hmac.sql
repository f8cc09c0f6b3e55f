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

drop function if exists auth.request_sign_in_code(text, text, boolean);
drop function if exists auth.verify_sign_in_code(text, text, boolean);

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;

---- create above / drop below ----

-- Back to 008's table: codes stored under the HMAC cannot verify with 008's functions
-- (the kernel of that version): deleted (TRUNCATE, as above).
set local role rowguard_owner;
truncate auth.email_sign_in_codes;
comment on table auth.email_sign_in_codes is
  'The live email sign-in code of an address (SHA-256 of the code, never the code). Reachable only through auth.request_sign_in_code / auth.verify_sign_in_code.';
comment on column auth.email_sign_in_codes.code_hash is null;

grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

drop function if exists auth.verify_sign_in_code(text, bytea, boolean);
drop function if exists auth.request_sign_in_code(text, bytea, text, boolean);

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;
-- The grants to rowguard_api are policies/'s (installed only at the latest migration).
