-- The role matrix: what each project role grants in each permission domain, the effective
-- level of an org role plus a project grant, and the caller's projects per domain and level.
-- Part of the kernel code package (install.sql).

-- ---------------------------------------------------------------------------------------
-- The matrix, as pure functions (IMMUTABLE: no table, no privilege).
-- ---------------------------------------------------------------------------------------
-- THE role matrix: each project role's default finance and analytics level, as one
-- expression. Every other rule derives from it (README mirrors it; a test compares them).
-- It is a CASE, not a query: an expression-only SQL function is inlined into its
-- caller (and folded to a constant when its arguments are), while a function with a
-- FROM is planned again in every statement that calls it. app.my_project_permissions
-- applies it to every project of every request: as a query over a VALUES list it cost
-- most of that function's time (issue 19, tests/load -writes and -finance).
create or replace function app.domain_default(p_role app.project_role, p_domain app.permission_domain) returns app.domain_level
language sql immutable parallel safe as $$
  select (case p_role
            --                   finance   analytics
            when 'OWNER'   then '{MANAGE,   MANAGE}'::app.domain_level[]
            when 'ADMIN'   then '{MANAGE,   MANAGE}'::app.domain_level[]
            when 'ANALYST' then '{READ,     MANAGE}'::app.domain_level[]
            when 'VIEWER'  then '{READ,     READ}'::app.domain_level[]
          end)[case p_domain when 'finance' then 1 when 'analytics' then 2 end]
$$;
comment on function app.domain_default(app.project_role, app.permission_domain) is
  'THE role matrix: the level a project role grants in a domain when the membership does not override it (NULL role: NULL). app.project_role_matrix() tabulates it.';

create or replace function app.project_role_matrix()
returns table (role app.project_role, finance app.domain_level, analytics app.domain_level)
language sql immutable parallel safe as $$
  select r, app.domain_default(r, 'finance'), app.domain_default(r, 'analytics')
    from pg_catalog.unnest(pg_catalog.enum_range(null::app.project_role)) r
   order by r desc
$$;
comment on function app.project_role_matrix() is
  'The role matrix as a table: each project role''s default finance and analytics level (app.domain_default). docs/roles.md mirrors it; a test compares them.';

create or replace function app.org_role_as_project_role(p_org_role app.org_role) returns app.project_role
language sql immutable parallel safe as $$
  select case p_org_role when 'OWNER' then 'OWNER'::app.project_role
                         when 'ADMIN' then 'ADMIN'::app.project_role end
$$;
comment on function app.org_role_as_project_role(app.org_role) is
  'How an organization role acts in every project of its organization: OWNER as OWNER, ADMIN as ADMIN, MEMBER as nothing.';

create or replace function app.effective_role(p_org_role app.org_role, p_member_role app.project_role) returns app.project_role
language sql immutable parallel safe as $$
  select greatest(app.org_role_as_project_role(p_org_role), p_member_role)
$$;
comment on function app.effective_role(app.org_role, app.project_role) is
  'The project role a user acts with: the greater of their organization role''s and their project membership''s (NULL: no access).';

create or replace function app.effective_level(
  p_org_role app.org_role, p_member_role app.project_role, p_override app.domain_level, p_domain app.permission_domain
) returns app.domain_level
language sql immutable parallel safe as $$
  select greatest(app.domain_default(app.org_role_as_project_role(p_org_role), p_domain),
                  coalesce(p_override, app.domain_default(p_member_role, p_domain)))
$$;
comment on function app.effective_level(app.org_role, app.project_role, app.domain_level, app.permission_domain) is
  'A user''s level in a domain of a project: the greater of what their organization role grants and what their membership grants (its override, else its role''s default).';

set local role rowguard_kernel;

create or replace function app.my_project_ids(p_min_role app.project_role default 'VIEWER') returns uuid[]
language plpgsql stable security definer set search_path = '' as $$
begin
  return array(select m.project_id from app.my_project_permissions() m where m.role >= p_min_role);
end
$$;
comment on function app.my_project_ids(app.project_role) is
  'Projects of the current organization where the caller acts with at least p_min_role. Policies: project_id = any ((select app.my_project_ids(''ADMIN''))) — computed once per statement.';

create or replace function app.my_domain_project_ids(p_domain app.permission_domain, p_min_level app.domain_level) returns uuid[]
language plpgsql stable security definer set search_path = '' as $$
begin
  return array(select m.project_id from app.my_project_permissions() m
                where case p_domain when 'finance' then m.finance else m.analytics end >= p_min_level);
end
$$;
comment on function app.my_domain_project_ids(app.permission_domain, app.domain_level) is
  'Projects of the current organization where the caller''s level in p_domain is at least p_min_level. For domain tables: project_id = any ((select app.my_domain_project_ids(''finance'', ''READ''))) — once per statement.';

create or replace function app.within_my_project_permission(
  p_project_id uuid, p_role app.project_role, p_finance app.domain_level, p_analytics app.domain_level
) returns boolean
language plpgsql stable security definer set search_path = '' as $$
begin
  return exists (
    select from app.my_project_permissions() m
     where m.project_id = p_project_id
       and p_role <= m.role
       and coalesce(p_finance, app.domain_default(p_role, 'finance')) <= m.finance
       and coalesce(p_analytics, app.domain_default(p_role, 'analytics')) <= m.analytics);
end
$$;
comment on function app.within_my_project_permission(uuid, app.project_role, app.domain_level, app.domain_level) is
  'No escalation: is a project grant (role, levels or role defaults) at most what the caller holds in that project? WITH CHECK of single-row grant writes only (project_members, invitation_projects).';

-- The caller's projects, with role and levels; none of a deleted organization.
create or replace function app.my_project_permissions()
returns table (project_id uuid, role app.project_role, finance app.domain_level, analytics app.domain_level)
language plpgsql stable security definer set search_path = '' as $$
declare
  v_org_id   uuid := nullif(pg_catalog.current_setting('app.org_id', true), '')::uuid;
  v_user_id  uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
  v_org_role app.org_role;
begin
  select m.role into v_org_role
    from app.memberships m
    join app.organizations o on o.id = m.org_id
   where m.org_id = v_org_id and m.user_id = v_user_id and o.deleted_at is null;
  if v_org_role is null then
    return;
  end if;
  if v_org_role >= 'ADMIN' then
    return query
      select p.id, app.effective_role(v_org_role, pm.role),
             app.effective_level(v_org_role, pm.role, pm.finance, 'finance'),
             app.effective_level(v_org_role, pm.role, pm.analytics, 'analytics')
        from app.projects p
        left join app.project_members pm on pm.project_id = p.id and pm.user_id = v_user_id
       where p.org_id = v_org_id;
  else
    return query
      select pm.project_id, pm.role,
             app.effective_level(v_org_role, pm.role, pm.finance, 'finance'),
             app.effective_level(v_org_role, pm.role, pm.analytics, 'analytics')
        from app.project_members pm
       where pm.user_id = v_user_id and pm.org_id = v_org_id;
  end if;
end
$$;
comment on function app.my_project_permissions() is
  'The projects of the current (live) organization the caller may see, each with the caller''s effective role, finance and analytics level. Kernel of every project-scoped policy.';

set local role rowguard_owner;
