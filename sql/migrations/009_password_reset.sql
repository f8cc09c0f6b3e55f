-- Password reset by email (POST /v1/auth/password/forgot, /reset). A reset token is 32
-- random bytes, stored as its SHA-256, valid 30 minutes and once; a new request voids
-- the user's older tokens. Resetting revokes every session of the user. The table is
-- reachable only through the two SECURITY DEFINER functions below.
set local role rowguard_owner;

create table auth.password_reset_tokens (
  token_hash bytea primary key constraint password_reset_tokens_token_hash_check check (length(token_hash) = 32),
  user_id    uuid not null references auth.users (id) on delete cascade,
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);
comment on table auth.password_reset_tokens is
  'Live password reset tokens (SHA-256 of the token, never the token). Reachable only through auth.request_password_reset / auth.reset_password.';
create index password_reset_tokens_user_id_idx on auth.password_reset_tokens (user_id);

grant usage on schema auth to rowguard_kernel;

reset role;

---- create above / drop below ----

set local role rowguard_kernel;
drop function if exists auth.reset_password(text, text);
drop function if exists auth.request_password_reset(text, text, text);
set local role rowguard_owner;
drop table auth.password_reset_tokens;
reset role;
