-- The role matrix, GENERATED: one declared expectation per (table, command[, target])
-- naming the actors Postgres must allow; every actor × every expectation is then tried
-- as that actor (one probe statement, rolled back) and compared with what Postgres did.
-- No cell is written by hand: the actors and both expectation tables are generated into
-- fixtures/role_matrix_expectations.sql from internal/policyreport/expectations.go, the
-- same table `rowguard policies who-can` proves on a live database and reports in words.
-- A table the API role can reach without an expectation for each of its four commands
-- fails the coverage test at the end.
--
-- Actors (fixtures/tenants.sql + fixtures/projects.sql), all acting in org A:
--   org_owner alice, org_admin adam, org_member mary (in no project),
--   proj_owner olga, proj_admin paul, analyst ana, viewer vic (org MEMBERs with that
--   project role in Apollo), viewer_finance_manage vera (Apollo VIEWER with a finance
--   MANAGE override), analyst_finance_none ada (Apollo ANALYST with finance NONE),
--   viewer_analytics_none val (Apollo VIEWER with analytics NONE), viewer_domains_none
--   nell (Apollo VIEWER with both NONE), stranger bob (OWNER of org B, with a forged org A context),
--   platform_admin sam (member of nothing), anonymous (no user).
-- "Allowed" means: a SELECT returns the target row, an INSERT succeeds, an UPDATE or
-- DELETE touches the target row. Refused means RLS hid it, or 42501 / RG403 / RG409.
-- A second declared table, each actor's effective role and finance/analytics levels in
-- Apollo, is compared the same way with the kernel helpers (app.my_project_ids for every
-- role threshold, app.my_domain_project_ids for every domain and level).
begin;
create extension if not exists pgtap;
\ir fixtures/tenants.sql
\ir fixtures/projects.sql
\ir fixtures/bookings.sql
\ir fixtures/finance.sql
\ir fixtures/matrix.sql
\ir fixtures/role_matrix_expectations.sql

select plan((select count(*)::int from expectation) * (select count(*)::int from actor)
            + (select count(*)::int from actor) * (4 + 2 * 3) + 3);

select is(pg_temp.in_apollo(a.user_id, format('app.my_project_ids(%L)', r)), coalesce(x.role >= r, false),
          format('%s acts in Apollo as %s or more: %s', a.name, r, coalesce(x.role >= r, false)))
  from actor a join permission_expectation x on x.actor = a.name
 cross join unnest(enum_range(null::app.project_role)) r
 order by a.ord, r;
select is(pg_temp.in_apollo(a.user_id, format('app.my_domain_project_ids(%L, %L)', d, l)),
          coalesce(case d when 'finance' then x.finance else x.analytics end >= l, false),
          format('%s has %s %s or more in Apollo: %s', a.name, d, l, coalesce(case d when 'finance' then x.finance else x.analytics end >= l, false)))
  from actor a join permission_expectation x on x.actor = a.name
 cross join unnest(enum_range(null::app.permission_domain)) d
 cross join unnest(enum_range(null::app.domain_level)) l
 order by a.ord, d, l;

select is(pg_temp.allowed(a.user_id, e.probe), a.name = any (e.allowed),
          format('%s %s %s as %s: %s', e.tbl, e.cmd, e.variant, a.name,
                 case when a.name = any (e.allowed) then 'allowed' else 'refused' end))
  from expectation e cross join actor a
 order by e.ord, a.ord;

-- Coverage: every table the API role can reach, every command, has an expectation.
select is(array(select format('%s %s', t, c)
                  from (select format('%I.%I', n.nspname, c.relname) as t
                          from pg_class c join pg_namespace n on n.oid = c.relnamespace
                         where c.relkind in ('r', 'p') and n.nspname in ('auth', 'app', 'platform')) tables(t)
                 cross join unnest(array['select', 'insert', 'update', 'delete']) as c
                 where not exists (select from expectation e where e.tbl = tables.t and e.cmd = c)
                 order by 1),
          '{}'::text[], 'every table × command of auth, app and platform has a declared expectation');
select ok(exists (select from expectation e, unnest(e.allowed) x where x not in (select name from actor)) is false,
          'every actor named in an expectation exists');
select is((select count(*)::int from permission_expectation), (select count(*)::int from actor), 'every actor has a permission expectation');

select * from finish();
rollback;
