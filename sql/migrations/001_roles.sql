-- Roles are cluster-global, so several rowguard databases may share them: create each
-- only when it is missing. This migration needs CREATEROLE (or superuser) the first time.
--
--   rowguard_owner   owns every schema, table and plain function. NOLOGIN, no BYPASSRLS:
--                    every table is FORCE ROW LEVEL SECURITY, so even the owner sees no
--                    row that a policy does not grant it.
--   rowguard_kernel  owns the few SECURITY DEFINER helpers (membership lookups, session
--                    checks). NOLOGIN, no BYPASSRLS: what it may read is itself written as
--                    policies `TO rowguard_kernel` in policies/, so a DBA audits it in SQL.
--   rowguard_api     the group role of the server's login role. Holds only the grants in
--                    policies/. NOLOGIN, NOSUPERUSER, NOBYPASSRLS, owns nothing.
do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'rowguard_owner') then
    create role rowguard_owner nologin nosuperuser nobypassrls;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'rowguard_kernel') then
    create role rowguard_kernel nologin nosuperuser nobypassrls;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'rowguard_api') then
    create role rowguard_api nologin nosuperuser nobypassrls;
  end if;
  -- Whoever runs the migrations acts as the owner and the kernel (a superuser already can).
  if not pg_catalog.pg_has_role(current_user, 'rowguard_owner', 'member') then
    execute format('grant rowguard_owner to %I', current_user);
  end if;
  if not pg_catalog.pg_has_role(current_user, 'rowguard_kernel', 'member') then
    execute format('grant rowguard_kernel to %I', current_user);
  end if;
  execute format('grant create on database %I to rowguard_owner', current_database());
end
$$;

-- Functions are executable by PUBLIC by default; ours are granted one by one in policies/.
alter default privileges for role rowguard_owner revoke execute on functions from public;
alter default privileges for role rowguard_kernel revoke execute on functions from public;

---- create above / drop below ----

alter default privileges for role rowguard_owner grant execute on functions to public;
alter default privileges for role rowguard_kernel grant execute on functions to public;
do $$
begin
  execute format('revoke create on database %I from rowguard_owner', current_database());
end
$$;
-- The roles themselves stay: other databases in this cluster may still use them.
