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

reset role;

---- create above / drop below ----

set local role rowguard_kernel;
drop function if exists auth.prove_email_ownership(uuid, uuid);
reset role;
update auth.sessions set revoked_reason = 'removed' where revoked_reason = 'email_proven';
set local role rowguard_owner;
alter table auth.sessions drop constraint if exists sessions_revoked_reason_check;
alter table auth.sessions add constraint sessions_revoked_reason_check
  check (revoked_reason in ('logout', 'logout_all', 'removed', 'password_changed', 'refresh_token_reused', 'password_reset', 'disabled'));
reset role;
