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
alter table auth.password_reset_tokens enable row level security;
alter table auth.password_reset_tokens force row level security;

grant usage on schema auth to rowguard_kernel;
grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

create function auth.request_password_reset(p_email text, p_token text, p_reset_url text) returns void
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
  delete from auth.password_reset_tokens where user_id = v_user or expires_at < pg_catalog.now();
  insert into auth.password_reset_tokens (token_hash, user_id, expires_at)
  values (pg_catalog.sha256(pg_catalog.convert_to(p_token, 'UTF8')), v_user, pg_catalog.now() + c_ttl);
  perform auth.enqueue_email(v_email, 'password_reset',
    pg_catalog.jsonb_build_object('token', p_token, 'reset_url', coalesce(p_reset_url, ''),
                                  'expires_in_minutes', (extract(epoch from c_ttl))::int / 60));
end
$$;
comment on function auth.request_password_reset(text, text, text) is
  'POST /v1/auth/password/forgot: for an active account, replace its reset tokens with p_token (hashed, 30 minutes) and queue the email (p_reset_url: the link it shows, or NULL). Otherwise does nothing, silently.';

create function auth.reset_password(p_token text, p_password_hash text) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user    uuid;
  v_expires timestamptz;
begin
  -- Used up whatever happens next: a token is tried once.
  delete from auth.password_reset_tokens
   where token_hash = pg_catalog.sha256(pg_catalog.convert_to(p_token, 'UTF8'))
  returning user_id, expires_at into v_user, v_expires;
  if v_user is null or v_expires <= pg_catalog.now() then
    return null;
  end if;
  update auth.users
     set password_hash = p_password_hash,
         email_verified_at = coalesce(email_verified_at, pg_catalog.now())
   where id = v_user and status = 'active';
  if not found then
    return null;
  end if;
  -- Whoever knew the old password is signed out everywhere, at their next request.
  update auth.sessions set revoked_at = pg_catalog.now()
   where user_id = v_user and revoked_at is null;
  return v_user;
end
$$;
comment on function auth.reset_password(text, text) is
  'POST /v1/auth/password/reset: set the password (p_password_hash, argon2id from the API) of the token''s active user, mark the email verified, revoke every session; the token is used up. NULL: unknown, used or expired token.';

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;

---- create above / drop below ----

set local role rowguard_kernel;
drop function auth.reset_password(text, text);
drop function auth.request_password_reset(text, text, text);
set local role rowguard_owner;
drop table auth.password_reset_tokens;
reset role;
