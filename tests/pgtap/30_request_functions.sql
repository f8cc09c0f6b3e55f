-- The functions the HTTP layer calls: auth.begin_request refuses dead sessions and
-- foreign organizations; api.* turn what RLS hid or refused into the documented codes
-- (RG401/RG403/RG404/RG409, 42501). These are the statuses the REST API answers.
begin;
create extension if not exists pgtap;
select plan(23);
\ir fixtures/tenants.sql

select id as alice_sid from auth.sessions where user_id = :alice \gset
select id as mary_sid from auth.sessions where user_id = :mary \gset
select id as sam_sid from auth.sessions where user_id = :sam \gset

set local role rowguard_api;
select lives_ok(format('select auth.begin_request(%L, %L, %L)', :alice, :'alice_sid', :org_a), 'a live session acting in its own org starts a request');
select is(current_setting('app.user_id'), :alice::text, 'begin_request sets app.user_id');
select is(current_setting('app.org_id'), :org_a::text, 'begin_request sets app.org_id');
select throws_ok(format('select auth.begin_request(%L, %L, %L)', :alice, :'alice_sid', :org_b), 'RG404', 'organization not found',
                 'another tenant''s org id answers "not found"');
select throws_ok(format('select auth.begin_request(%L, %L, %L)', :alice, gen_random_uuid(), :org_a), 'RG401', null,
                 'an unknown session is refused');
select throws_ok(format('select auth.begin_request(%L, %L, null)', :alice, :'mary_sid'), 'RG401', null,
                 'a session of another user is refused');
reset role;
update auth.sessions set revoked_at = now() where id = :'sam_sid';
update auth.users set status = 'disabled' where id = :mary;
set local role rowguard_api;
select throws_ok(format('select auth.begin_request(%L, %L, null)', :sam, :'sam_sid'), 'RG401', null,
                 'a revoked session is refused at once');
select throws_ok(format('select auth.begin_request(%L, %L, %L)', :mary, :'mary_sid', :org_a), 'RG401', null,
                 'a disabled user is refused at once');
reset role;
update auth.sessions set last_used_at = now() - interval '2 minutes' where id = :'alice_sid';
set local role rowguard_api;
select auth.begin_request(:alice, :'alice_sid', null);
reset role;
select is((select last_used_at from auth.sessions where id = :'alice_sid'), now(), 'a session idle for over a minute is touched');
update auth.sessions set last_used_at = now() - interval '30 seconds' where id = :'alice_sid';
set local role rowguard_api;
select auth.begin_request(:alice, :'alice_sid', null);
reset role;
select is((select last_used_at from auth.sessions where id = :'alice_sid'), now() - interval '30 seconds',
          'a session used within the minute is not written again');
set local role rowguard_api;
select is((select count(*) from auth.credentials_for('ALICE@acme.test')), 1::bigint, 'login lookup is case-insensitive');
select is((select count(*) from auth.credentials_for('nobody@acme.test')), 0::bigint, 'login lookup of an unknown email is empty');

-- api.* error codes
reset role;
update auth.users set status = 'active' where id = :mary;
-- Enabling revives no session (51_disable_user); the checks below need mary's back.
update auth.sessions set revoked_at = null, revoked_reason = null where user_id = :mary and revoked_reason = 'disabled';
set local role rowguard_api;
select auth.begin_request(:mary, :'mary_sid', :org_a);
select throws_ok($$select api.create_project('Mary''s', null)$$, '42501', null, 'MEMBER create_project → 42501 (403)');
select throws_ok($$select api.update_project('aaaaaaaa-0000-4000-8000-0000000000a1', '{"name":"x"}')$$, 'RG404', 'project not found',
                 'MEMBER update_project of a project she is not a member of → RG404 (invisible to her)');
reset role;
insert into app.project_members (org_id, project_id, user_id, role) values (:org_a, :proj_a, :mary, 'VIEWER');
set local role rowguard_api;
select throws_ok($$select api.update_project('aaaaaaaa-0000-4000-8000-0000000000a1', '{"name":"x"}')$$, 'RG403', null,
                 'project VIEWER update_project of a visible project → RG403');
select throws_ok($$select api.update_project('bbbbbbbb-0000-4000-8000-0000000000b1', '{"name":"x"}')$$, 'RG404', 'project not found',
                 'update_project of another tenant''s project → RG404, same as a missing one');
select throws_ok($$select api.get_project('bbbbbbbb-0000-4000-8000-0000000000b1')$$, 'RG404', 'project not found',
                 'get_project of another tenant''s project → RG404');
select throws_ok($$select api.delete_organization()$$, 'RG403', null, 'MEMBER delete_organization → RG403');

select auth.begin_request(:alice, :'alice_sid', :org_a);
select throws_ok($$select api.create_project('apollo', null)$$, 'RG409', null, 'a duplicate project name (any case) → RG409');
select throws_ok($$select api.create_project('   ', null)$$, '23514', null, 'a blank project name → 23514 (422)');
select is((api.create_organization('pgtap fixture Globex', null)::jsonb)->>'slug' <> 'pgtap-fixture-globex', true, 'a derived slug that collides gets a suffix');
select throws_ok($$select api.create_organization('Globex', 'pgtap-fixture-globex')$$, 'RG409', null, 'an explicit slug that collides → RG409');
select is((api.list_projects(50, null)::jsonb)->'items'->0->>'name', 'Apollo', 'list_projects returns the org''s projects');

select * from finish();
rollback;
