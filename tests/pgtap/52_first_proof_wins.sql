-- First proof wins (migration 016): the first time anyone proves they receive mail at
-- an account's address, whoever set its password or holds its sessions without that
-- proof is shut out. auth.prove_email_ownership is the one place this rule lives; the
-- paths that call it (email code, reset, OIDC, invitation) are tested in their files.
begin;
create extension if not exists pgtap;
select plan(11);
\ir fixtures/tenants.sql

-- sam signed up with a password and never proved his address; he has two live sessions
-- and one he logged out of. alice proved hers long ago.
insert into auth.sessions (user_id) values (:sam) returning id as sam_sid2 \gset
insert into auth.sessions (user_id, revoked_at, revoked_reason)
values (:sam, now() - interval '1 day', 'logout') returning id as sam_old_sid \gset
select id as sam_sid from auth.sessions where user_id = :sam and revoked_at is null and id <> :'sam_sid2' \gset
update auth.users set email_verified_at = now() - interval '1 year' where id = :alice;
select count(*) as alice_live from auth.sessions where user_id = :alice and revoked_at is null \gset

select ok(not has_function_privilege('rowguard_api', 'auth.prove_email_ownership(uuid, uuid)', 'execute'),
          'the API role cannot call the rule directly: only kernel functions that checked a secret do');

-- ------------------------------------------------------------ the first proof
select is(auth.prove_email_ownership(:sam, :'sam_sid2'), true, 'the first proof of sam''s address says so');
select isnt((select email_verified_at from auth.users where id = :sam), null, 'his address is now verified');
select is((select password_hash from auth.users where id = :sam), null,
          'the password set before anyone proved the address is wiped');
select is((select revoked_reason from auth.sessions where id = :'sam_sid'), 'email_proven',
          'every other live session is revoked, with the reason email_proven');
select is((select revoked_at from auth.sessions where id = :'sam_sid2'), null,
          'the prover''s own session (p_keep_session_id) lives on');
select is((select revoked_reason from auth.sessions where id = :'sam_old_sid'), 'logout',
          'a session ended earlier keeps its own reason');

-- ------------------------------------------------------------ later proofs change nothing
update auth.users set password_hash = 'set-after-proof' where id = :sam;
select is(auth.prove_email_ownership(:sam, null), false, 'a second proof is not a first one');
select is((select password_hash from auth.users where id = :sam), 'set-after-proof',
          'and keeps a password set after the address was proven');
select is((select count(*) from auth.sessions where user_id = :sam and revoked_at is null), 1::bigint,
          'and revokes nothing');
select is((select count(*) from auth.sessions where user_id = :alice and revoked_at is null), :'alice_live'::bigint,
          'proving sam''s address touches no other user''s sessions');

select * from finish();
rollback;
