-- Invitations bind to proven identities and to the authority of whoever issues them.
--
-- 1. A token the API showed to anyone proves nothing about a mailbox. Tokens go by
--    email only; a development switch may still put one in the API answer, and then
--    the invitation records it (token_disclosed_at). Accepting requires a verified
--    email matching the invitation, except with a token that was never disclosed: it
--    came from the mailbox alone, so accepting with it proves the address (first proof
--    wins: auth.prove_email_ownership).
-- 2. Authority at every (re)issue: app.invitation_within_authority checks, against the
--    actor's roles at that moment, the invited org role and every project grant. Create
--    (api.create_invitation) and resend (trigger invitations_reissue: whoever re-tokens
--    an invitation must hold all it grants, and becomes its inviter) check the caller;
--    accept checks the inviter now, and refuses the whole invitation when they no
--    longer hold it (RGL09, invitation-lapsed).
-- 3. auth.claim_emails_to: the sender's claim for one address, so `rowguard seed-demo`
--    can read its demo accounts' invitation emails (their tokens are in no answer).
set local role rowguard_owner;

alter table app.invitations add column token_disclosed_at timestamptz;
comment on column app.invitations.token_disclosed_at is
  'When the current token was shown in an API answer (ROWGUARD_DEV_INVITATION_TOKENS_IN_RESPONSES); NULL: it went only to the mailbox. A disclosed token proves nothing about the address: accepting with it needs a verified email.';
comment on column app.invitations.invited_by is
  'Who issued the current token: the creator, or whoever resent it last. Accepting checks their authority at that moment (app.invitation_within_authority).';

reset role;

---- create above / drop below ----

set local role rowguard_owner;
drop trigger if exists invitations_reissue on app.invitations;
grant create on schema app to rowguard_kernel;
set local role rowguard_kernel;
drop function if exists app.invitation_reissued();
drop function if exists auth.claim_emails_to(text, interval);
drop function if exists app.my_inviter_ids();
drop function if exists app.invitation_within_my_authority(uuid);
drop function if exists app.invitation_within_authority(uuid, uuid);
set local role rowguard_owner;
revoke create on schema app from rowguard_kernel;
alter table app.invitations drop column token_disclosed_at;
reset role;
