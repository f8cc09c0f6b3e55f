-- First proof wins. An account's email address is only a claim until a secret that
-- went to that mailbox alone comes back (an emailed code, a reset token, an OIDC ID
-- token with email_verified, an invitation token nobody else saw). Until then, the
-- password and the sessions of the account may be a squatter's: someone who signed the
-- address up before its owner arrived. So the first time ownership is proven, by any
-- way in, the account is handed to the prover alone: its password is wiped and every
-- session but the prover's own is revoked (reason 'email_proven').
--
-- One function, auth.prove_email_ownership, holds this rule; every path that proves an
-- address calls it instead of setting email_verified_at itself. It is a kernel helper:
-- no API role may execute it (policies/ grants it to nobody), only the SECURITY DEFINER
-- functions that checked the secret.
set local role rowguard_owner;

alter table auth.sessions drop constraint if exists sessions_revoked_reason_check;
alter table auth.sessions add constraint sessions_revoked_reason_check
  check (revoked_reason in ('logout', 'logout_all', 'removed', 'password_changed', 'refresh_token_reused',
                            'password_reset', 'disabled', 'email_proven'));

grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

create function auth.prove_email_ownership(p_user_id uuid, p_keep_session_id uuid default null) returns boolean
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_first boolean;
begin
  update auth.users u
     set email_verified_at = pg_catalog.now(), password_hash = null
   where u.id = p_user_id and u.email_verified_at is null
  returning true into v_first;
  if v_first is null then
    return false; -- proven before (or no such user): nothing to hand over
  end if;
  update auth.sessions s
     set revoked_at = pg_catalog.now(), revoked_reason = 'email_proven'
   where s.user_id = p_user_id
     and s.revoked_at is null
     and s.id is distinct from p_keep_session_id;
  return true;
end
$$;
comment on function auth.prove_email_ownership(uuid, uuid) is
  'First proof wins: marks the user''s email verified; if it was not, wipes the password and revokes every session except p_keep_session_id (reason email_proven), since whoever set them never proved the address. True on that first proof. Called only by kernel functions that checked a mailbox secret.';
revoke execute on function auth.prove_email_ownership(uuid, uuid) from public;

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;

---- create above / drop below ----

set local role rowguard_kernel;
drop function auth.prove_email_ownership(uuid, uuid);
reset role;
update auth.sessions set revoked_reason = 'removed' where revoked_reason = 'email_proven';
set local role rowguard_owner;
alter table auth.sessions drop constraint if exists sessions_revoked_reason_check;
alter table auth.sessions add constraint sessions_revoked_reason_check
  check (revoked_reason in ('logout', 'logout_all', 'removed', 'password_changed', 'refresh_token_reused', 'password_reset', 'disabled'));
reset role;
