-- Removes the kernel (and the policies that call it) so the migrations can go down:
-- `rowguard migrate --to N` runs it, in the same transaction as nothing else, before the
-- down migrations. Not part of install.sql (tern never runs this file by itself).
--
-- What goes: every policy in the rowguard schemas, every trigger whose function lives
-- there, and every function there that no table needs. What stays: the functions a column
-- default, a CHECK constraint or an index depends on (app.uuid_v7, app.is_iso_currency,
-- app.tags_valid, app.finance_tag_keys), which belong to their migrations. The api schema
-- is dropped separately.
do $$
declare
  r record;
begin
  for r in select p.policyname, p.schemaname, p.tablename
             from pg_catalog.pg_policies p
            where p.schemaname in ('auth', 'app', 'platform')
  loop
    execute format('drop policy %I on %I.%I', r.policyname, r.schemaname, r.tablename);
  end loop;

  for r in select t.tgname, t.tgrelid::regclass as tbl
             from pg_catalog.pg_trigger t
             join pg_catalog.pg_proc f on f.oid = t.tgfoid
             join pg_catalog.pg_namespace n on n.oid = f.pronamespace
            where not t.tgisinternal
              and n.nspname in ('auth', 'app', 'platform')
  loop
    execute format('drop trigger %I on %s', r.tgname, r.tbl);
  end loop;

  for r in select f.oid::regprocedure as fn
             from pg_catalog.pg_proc f
             join pg_catalog.pg_namespace n on n.oid = f.pronamespace
            where n.nspname in ('auth', 'app', 'platform')
              and not exists (
                    select from pg_catalog.pg_depend d
                     where d.refclassid = 'pg_catalog.pg_proc'::regclass
                       and d.refobjid = f.oid
                       and d.classid in ('pg_catalog.pg_attrdef'::regclass,
                                         'pg_catalog.pg_constraint'::regclass,
                                         'pg_catalog.pg_class'::regclass))
  loop
    execute format('drop function %s', r.fn);
  end loop;
end
$$;
