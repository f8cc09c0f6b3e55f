-- RLS coverage: the structural rules every table, policy, function and role must obey.
-- Each rule is a query listing its violators; the test asserts the list is empty, then
-- plants a violation (rolled back) to prove the query would have caught it.
begin;
create extension if not exists pgtap;
select plan(27);

-- The schemas the API role works in. Any other table the API role can touch counts too.
create function pg_temp.exposed_tables() returns table (oid oid, name text)
language sql stable as $$
  select c.oid, format('%I.%I', n.nspname, c.relname)
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where c.relkind in ('r', 'p')
     and (n.nspname in ('auth', 'app', 'api', 'platform')
          or has_table_privilege('rowguard_api', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'))
     and n.nspname not in ('pg_catalog', 'information_schema')
     and n.nspname not like 'pg\_temp\_%' and n.nspname not like 'pg\_toast%'
$$;

create function pg_temp.tables_without_rls() returns setof text language sql stable as $$
  select t.name from pg_temp.exposed_tables() t join pg_class c on c.oid = t.oid
   where not c.relrowsecurity order by 1
$$;
create function pg_temp.tables_without_forced_rls() returns setof text language sql stable as $$
  select t.name from pg_temp.exposed_tables() t join pg_class c on c.oid = t.oid
   where not c.relforcerowsecurity order by 1
$$;
create function pg_temp.tables_without_policies() returns setof text language sql stable as $$
  select t.name from pg_temp.exposed_tables() t
   where not exists (select from pg_policy p where p.polrelid = t.oid) order by 1
$$;
create function pg_temp.policies_without_comment() returns setof text language sql stable as $$
  select format('%s on %s', p.polname, p.polrelid::regclass)
    from pg_policy p
   where obj_description(p.oid, 'pg_policy') is null order by 1
$$;
-- A policy with no TO clause applies to PUBLIC: every policy must name its role.
create function pg_temp.policies_for_public() returns setof text language sql stable as $$
  select format('%s on %s', p.polname, p.polrelid::regclass)
    from pg_policy p where 0 = any (p.polroles) order by 1
$$;
-- The API role and every role that is a member of it (the server's login roles).
create function pg_temp.api_roles() returns setof oid language sql stable as $$
  with recursive members(oid) as (
    select 'rowguard_api'::regrole::oid
    union
    select am.member from pg_auth_members am join members m on am.roleid = m.oid)
  select oid from members
$$;
create function pg_temp.privileged_api_roles() returns setof text language sql stable as $$
  select r.rolname::text from pg_roles r
   where r.oid in (select pg_temp.api_roles()) and (r.rolsuper or r.rolbypassrls) order by 1
$$;
create function pg_temp.objects_owned_by_api_roles() returns setof text language sql stable as $$
  select c.oid::regclass::text from pg_class c where c.relowner in (select pg_temp.api_roles())
  union all
  select p.oid::regprocedure::text from pg_proc p where p.proowner in (select pg_temp.api_roles())
  union all
  select n.nspname::text from pg_namespace n where n.nspowner in (select pg_temp.api_roles())
  order by 1
$$;
-- Tenant tables: every table in app but the tenants themselves.
create function pg_temp.tenant_tables_without_org_id() returns setof text language sql stable as $$
  select c.oid::regclass::text
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where n.nspname = 'app' and c.relkind in ('r', 'p') and c.relname <> 'organizations'
     and not exists (select from pg_attribute a
                      where a.attrelid = c.oid and a.attname = 'org_id'
                        and a.atttypid = 'uuid'::regtype and a.attnotnull)
   order by 1
$$;
-- A foreign key between two tenant tables must carry org_id on both sides, so a row can
-- never point into another tenant. (References to app.organizations(id) are the tenant key.)
create function pg_temp.foreign_keys_without_tenant() returns setof text language sql stable as $$
  select format('%s on %s', k.conname, k.conrelid::regclass)
    from pg_constraint k
    join pg_class src on src.oid = k.conrelid
    join pg_class dst on dst.oid = k.confrelid
   where k.contype = 'f'
     and k.confrelid <> 'app.organizations'::regclass
     and exists (select from pg_attribute a where a.attrelid = src.oid and a.attname = 'org_id')
     and exists (select from pg_attribute a where a.attrelid = dst.oid and a.attname = 'org_id')
     and not exists (
       select from unnest(k.conkey, k.confkey) as pair(src_att, dst_att)
        where (select attname from pg_attribute where attrelid = src.oid and attnum = pair.src_att) = 'org_id'
          and (select attname from pg_attribute where attrelid = dst.oid and attnum = pair.dst_att) = 'org_id')
   order by 1
$$;
-- Every tenant table (org_id, in auth or app, and the tenants themselves) but the named
-- derived ones is audited: an
-- enabled AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW trigger calling app.audit_row_change,
-- with no WHEN condition and no column list that would let a change through unrecorded.
create function pg_temp.tenant_tables_without_audit() returns setof text language sql stable as $$
  select c.oid::regclass::text
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where n.nspname in ('auth', 'app') and c.relkind in ('r', 'p')
     and c.oid <> 'app.audit_log'::regclass
     -- Derived from audited rows (the finance rollups) or a replay of an audited write
     -- (idempotency keys): the only tenant tables not audited, by name.
     and c.oid::regclass::text not in ('app.finance_daily_totals', 'app.finance_daily_currency_totals', 'app.finance_tag_totals',
                                       'app.finance_monthly_totals', 'app.finance_monthly_currency_totals',
                                       'app.finance_idempotency_keys')
     and (c.oid = 'app.organizations'::regclass
          or exists (select from pg_attribute a
                      where a.attrelid = c.oid and a.attname = 'org_id' and not a.attisdropped))
     and not exists (
       select from pg_trigger tg
        where tg.tgrelid = c.oid and tg.tgfoid = 'app.audit_row_change'::regproc
          and tg.tgenabled <> 'D'
          and tg.tgtype & 1 = 1      -- FOR EACH ROW
          and tg.tgtype & 66 = 0     -- AFTER (not BEFORE, not INSTEAD OF)
          and tg.tgtype & 28 = 28    -- INSERT (4), DELETE (8) and UPDATE (16)
          and tg.tgqual is null
          and cardinality(tg.tgattr::int2[]) = 0)
   order by 1
$$;
create function pg_temp.unsafe_definer_functions() returns setof text language sql stable as $$
  select p.oid::regprocedure::text
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
   where n.nspname in ('auth', 'app', 'api', 'platform') and p.prosecdef
     and (n.nspname = 'api'
          or p.proowner <> 'rowguard_kernel'::regrole
          or not coalesce('search_path=""' = any (p.proconfig), false))
   order by 1
$$;
create function pg_temp.functions_public_may_execute() returns setof text language sql stable as $$
  select p.oid::regprocedure::text
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
   where n.nspname in ('auth', 'app', 'api', 'platform')
     and has_function_privilege('public', p.oid, 'EXECUTE')
   order by 1
$$;

-- ------------------------------------------------------------------ the rules hold
select is(array(select pg_temp.tables_without_rls()), '{}', 'every exposed table has RLS enabled');
select is(array(select pg_temp.tables_without_forced_rls()), '{}', 'every exposed table has RLS forced (the owner is no exception)');
select is(array(select pg_temp.tables_without_policies()), '{}', 'every exposed table has at least one policy');
select is(array(select pg_temp.policies_without_comment()), '{}', 'every policy has a COMMENT ON POLICY');
select is(array(select pg_temp.policies_for_public()), '{}', 'every policy names its role (none applies to PUBLIC)');
select is(array(select pg_temp.privileged_api_roles()), '{}', 'neither rowguard_api nor any login role in it is superuser or BYPASSRLS');
select is(array(select pg_temp.objects_owned_by_api_roles()), '{}', 'the API roles own nothing');
select is(array(select pg_temp.tenant_tables_without_org_id()), '{}', 'every tenant table has org_id uuid not null');
select is(array(select pg_temp.foreign_keys_without_tenant()), '{}', 'every foreign key between tenant tables includes org_id');
select is(array(select pg_temp.tenant_tables_without_audit()), '{}', 'every tenant table has the audit trigger (app.audit_row_change)');
select is(array(select pg_temp.unsafe_definer_functions()), '{}', 'SECURITY DEFINER functions: kernel-owned, search_path pinned, none in api');
select is(array(select pg_temp.functions_public_may_execute()), '{}', 'PUBLIC may execute no rowguard function');
select is((select array[rolsuper, rolbypassrls, rolcanlogin] from pg_roles where rolname = 'rowguard_kernel'),
          array[false, false, false], 'rowguard_kernel (owner of the SECURITY DEFINER helpers) cannot log in or bypass RLS');
select ok(exists (select from pg_class where oid = 'app.projects'::regclass), 'sanity: the checks above looked at real tables');
select cmp_ok((select count(*) from pg_temp.exposed_tables()), '>=', 5::bigint, 'sanity: at least the five kernel tables are exposed');

-- ------------------------------------------------------------------ and would catch a slip
-- Every violation is planted on a table created here: none of these statements locks a
-- live table (a foreign key to app.projects would lock it, so would disabling one of its
-- triggers), so the file runs beside a serving deployment.
create table app.canary (org_id uuid not null, id int primary key);
grant select on app.canary to rowguard_api;
select ok('app.canary' = any (array(select pg_temp.tables_without_rls())), 'a new table without RLS is caught');
select ok('app.canary' = any (array(select pg_temp.tables_without_forced_rls())), 'a new table without FORCE is caught');
select ok('app.canary' = any (array(select pg_temp.tables_without_policies())), 'a new table without policies is caught');
create table public.stray (id int);
grant select on public.stray to rowguard_api;
select ok('public.stray' = any (array(select pg_temp.tables_without_rls())), 'a table elsewhere that the API role can read is caught');

alter table app.canary enable row level security;
create policy canary_select on app.canary for select using (true);
select ok('canary_select on app.canary' = any (array(select pg_temp.policies_without_comment())), 'a policy without comment is caught');
select ok('canary_select on app.canary' = any (array(select pg_temp.policies_for_public())), 'a policy for PUBLIC is caught');

create table app.canary_child (org_id uuid not null, canary_id int references app.canary (id));
select ok('canary_child_canary_id_fkey on app.canary_child' = any (array(select pg_temp.foreign_keys_without_tenant())),
          'a foreign key that skips org_id is caught');
select ok('app.canary' = any (array(select pg_temp.tenant_tables_without_audit())), 'a new tenant table without the audit trigger is caught');
create trigger canary_child_audit after insert on app.canary_child for each row execute function app.audit_row_change();
select ok('app.canary_child' = any (array(select pg_temp.tenant_tables_without_audit())), 'an audit trigger missing UPDATE or DELETE is caught');
create table app.canary_audited (org_id uuid not null, id int);
create trigger canary_audited_audit after insert or update or delete on app.canary_audited
  for each row execute function app.audit_row_change();
select ok(not 'app.canary_audited' = any (array(select pg_temp.tenant_tables_without_audit())), 'a tenant table with the audit trigger passes');
alter table app.canary_audited disable trigger canary_audited_audit;
select ok('app.canary_audited' = any (array(select pg_temp.tenant_tables_without_audit())), 'a disabled audit trigger is caught');
create function app.canary_definer() returns int language sql security definer as 'select 1';
select ok('app.canary_definer()' = any (array(select pg_temp.unsafe_definer_functions())),
          'a SECURITY DEFINER function without pinned search_path is caught');

select * from finish();
rollback;
