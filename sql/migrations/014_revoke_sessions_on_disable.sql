-- Disabling a user revokes their sessions, so that auth.begin_request, the first
-- statement of every request, reads the session row alone.
--
-- Until now begin_request joined auth.users to refuse a disabled user's live sessions:
-- a second table (and its indexes) locked, probed and joined on every request of every
-- user, to catch an event that happens to almost nobody. The event now does the work
-- once: a trigger revokes every live session of a user whose status leaves 'active'
-- (revoked_reason 'disabled', which 011 already allows), and auth.open_session locks
-- the user row (FOR SHARE) while it checks the status, so a sign-in racing the disable
-- either finishes first (and its session is revoked by the trigger) or waits and is
-- refused. Re-enabling an account revives no session: its owner signs in again.
--
-- Also: auth.set_user_status, the kernel function behind `rowguard admin disable|enable
-- EMAIL`, which records each change in platform.admin_audit.
set local role rowguard_owner;

-- Users disabled before this migration keep no live session: begin_request no longer
-- looks at their status.
update auth.sessions s
   set revoked_at = now(), revoked_reason = 'disabled'
  from auth.users u
 where u.id = s.user_id
   and u.status <> 'active'
   and s.revoked_at is null;
reset role;

---- create above / drop below ----

set local role rowguard_owner;
drop trigger if exists users_revoke_sessions_when_disabled on auth.users;
drop function if exists auth.set_user_status(text, auth.user_status);
drop function if exists auth.revoke_sessions_of_disabled_user();

reset role;
