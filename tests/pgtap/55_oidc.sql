-- OpenID Connect: the API role cannot touch auth.oidc_login_states or auth.identities,
-- only call auth.begin_oidc_login / auth.take_oidc_login / auth.oidc_sign_in. States are
-- hashed, single use, per provider and short-lived; a provider account maps to one
-- user; linking by email takes an unverified account away from whoever squatted it.
begin;
create extension if not exists pgtap;
select plan(18);
\ir fixtures/tenants.sql

\set state '''pgtap-state-0123456789abcdefghijklmnopqrstuv'''
\set nonce '''pgtap-nonce-0123456789abcdefghijklmnopqrstuv'''
\set verifier '''pgtap-verifier-0123456789abcdefghijklmnopqrs'''
\set binding '''pgtap-binding-0123456789abcdefghijklmnopqrst'''
select is(array(select t || ' ' || p
                  from unnest(array['auth.oidc_login_states', 'auth.identities']) t,
                       unnest(array['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES']) p
                 where has_table_privilege('rowguard_api', t, p)),
          '{}'::text[], 'the API role holds no privilege on auth.oidc_login_states or auth.identities');
set local role rowguard_api;
select throws_ok('select * from auth.oidc_login_states', '42501', null, 'reading the states directly is refused');
select throws_ok('select * from auth.identities', '42501', null, 'reading the identities directly is refused');

select auth.begin_oidc_login('google', :state, :nonce, :verifier, :binding);
reset role;
-- (Found by its hashed nonce, unique to this file: a live deployment has other states.)
select is((select state_hash from auth.oidc_login_states where nonce_hash = sha256(convert_to(:nonce, 'UTF8'))),
          sha256(convert_to(:state, 'UTF8')), 'the state is stored as its SHA-256');
select is((select nonce_hash from auth.oidc_login_states where state_hash = sha256(convert_to(:state, 'UTF8'))),
          sha256(convert_to(:nonce, 'UTF8')), 'so is the nonce');
set local role rowguard_api;
select is((select count(*) from auth.take_oidc_login('okta', :state, :binding)), 0::bigint, 'another provider cannot take the state');
select auth.begin_oidc_login('google', :state || 'x', :nonce, :verifier, :binding);
select is((select count(*) from auth.take_oidc_login('google', :state || 'x', :binding || 'other')), 0::bigint, 'another browser (another binding) cannot take the state');
select is((select count(*) from auth.take_oidc_login('google', :state || 'x', :binding)), 0::bigint, '... and the state it presented is burnt: not even its own browser takes it after');
select auth.begin_oidc_login('google', :state || 'b', :nonce, :verifier, :binding);
select is((select code_verifier from auth.take_oidc_login('google', :state || 'b', :binding)), :verifier, 'the right provider, in the browser that started it, takes it, with its verifier');
select is((select count(*) from auth.take_oidc_login('google', :state || 'b', :binding)), 0::bigint, 'once');
select auth.begin_oidc_login('google', :state || 'c', :nonce, :verifier, :binding);
reset role;
update auth.oidc_login_states set expires_at = now() - interval '1 second' where state_hash = sha256(convert_to(:state || 'c', 'UTF8'));
set local role rowguard_api;
select is((select count(*) from auth.take_oidc_login('google', :state || 'c', :binding)), 0::bigint, 'an expired state is refused');

-- Linking.
select is(auth.oidc_sign_in('google', 'g-alice', 'ALICE@acme.test'), :alice::uuid, 'a provider-verified email links to its account');
select is(auth.oidc_sign_in('google', 'g-alice', 'alice-new@acme.test'), :alice::uuid, 'the provider account stays that user whatever its email');
reset role;
select is((select password_hash from auth.users where id = :alice), null, 'the never-verified account lost its password');
select is((select count(*) from auth.sessions where user_id = :alice and revoked_at is null), 0::bigint, 'and its sessions');
update auth.users set email_verified_at = now() where id = :bob;
set local role rowguard_api;
select auth.oidc_sign_in('google', 'g-bob', 'bob@globex.test');
reset role;
select is((select password_hash from auth.users where id = :bob), 'x', 'a verified account keeps its password');
set local role rowguard_api;
select isnt(auth.oidc_sign_in('google', 'g-new', 'newcomer@pgtap.test'), null, 'an unknown email becomes a new user');
reset role;
select is((select count(*) from auth.users where email = 'newcomer@pgtap.test' and password_hash is null and email_verified_at is not null),
          1::bigint, 'password-less and verified');

select * from finish();
rollback;
