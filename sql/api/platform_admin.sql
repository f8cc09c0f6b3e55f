-- Platform administration (/v1/admin/...). Every function first requires a platform
-- admin (403 otherwise; the policies would show a non-admin nothing anyway) and records
-- what it did in platform.admin_audit — reads included: looking across tenants is the
-- privileged act.

create function api.require_platform_admin() returns void
language plpgsql stable as $$
begin
  if not app.is_platform_admin() then
    raise exception 'only platform admins may do this' using errcode = 'RG403';
  end if;
end
$$;

create function api.record_admin_action(p_action text, p_org_id uuid, p_details jsonb) returns void
language sql volatile as $$
  insert into platform.admin_audit (actor_user_id, actor, action, org_id, details)
  select app.current_user_id(), u.email, p_action, p_org_id, coalesce(p_details, '{}')
    from auth.users u where u.id = app.current_user_id()
$$;

create function api.tenant_json(o app.organizations, s app.subscriptions) returns json
language sql stable as $$
  select json_build_object(
           'id', o.id, 'name', o.name, 'slug', o.slug, 'created_at', o.created_at,
           'plan', coalesce(s.plan_code, 'free'), 'plan_changed_at', s.plan_changed_at,
           'suspended', s.suspended_at is not null, 'suspended_at', s.suspended_at,
           'suspended_reason', s.suspended_reason,
           'usage', app.plan_usage(o.id))
$$;

create function api.admin_audit_json(a platform.admin_audit) returns json
language sql stable as $$
  select json_build_object('id', a.id, 'at', a.at, 'actor_user_id', a.actor_user_id, 'actor', a.actor,
                           'action', a.action, 'org_id', a.org_id, 'details', a.details)
$$;

create function api.admin_list_tenants(p_limit int, p_cursor uuid, p_suspended boolean) returns json
language plpgsql volatile as $$
declare
  v_items json[];
  v_ids   uuid[];
begin
  perform api.require_platform_admin();
  select array_agg(api.tenant_json(o, s) order by o.id desc), array_agg(o.id order by o.id desc)
    into v_items, v_ids
    from (select o.*
            from app.organizations o
           where o.id < api.cursor_or_max(p_cursor)
             and (p_suspended is null
                  or p_suspended = exists (select from app.subscriptions s
                                            where s.org_id = o.id and s.suspended_at is not null))
           order by o.id desc
           limit p_limit + 1) o
    left join app.subscriptions s on s.org_id = o.id;
  perform api.record_admin_action('tenants.list', null,
    jsonb_build_object('cursor', p_cursor, 'suspended', p_suspended, 'count', least(cardinality(v_ids), p_limit)));
  return api.page_json(v_items, v_ids, p_limit);
end
$$;
comment on function api.admin_list_tenants(int, uuid, boolean) is 'GET /v1/admin/tenants: platform admins; every tenant with plan, standing and usage. Audited.';

create function api.admin_get_tenant(p_org_id uuid) returns json
language plpgsql volatile as $$
declare
  v_tenant json;
begin
  perform api.require_platform_admin();
  select api.tenant_json(o, s) into v_tenant
    from app.organizations o left join app.subscriptions s on s.org_id = o.id
   where o.id = p_org_id;
  if v_tenant is null then
    raise exception 'tenant not found' using errcode = 'RG404';
  end if;
  perform api.record_admin_action('tenant.get', p_org_id, '{}');
  return v_tenant;
end
$$;
comment on function api.admin_get_tenant(uuid) is 'GET /v1/admin/tenants/{tenant_id}: platform admins. Audited.';

create function api.admin_set_plan(p_org_id uuid, p_plan text) returns json
language plpgsql volatile as $$
declare
  v_from text;
begin
  perform api.require_platform_admin();
  if not exists (select from platform.plans p where p.code = p_plan) then
    raise exception 'no such plan' using errcode = 'RG422', column = 'plan';
  end if;
  select s.plan_code into v_from from app.subscriptions s where s.org_id = p_org_id;
  update app.subscriptions s set plan_code = p_plan, plan_changed_at = now() where s.org_id = p_org_id;
  if not found then
    raise exception 'tenant not found' using errcode = 'RG404';
  end if;
  perform api.record_admin_action('tenant.plan', p_org_id, jsonb_build_object('from', v_from, 'to', p_plan));
  return api.admin_get_tenant(p_org_id);
end
$$;
comment on function api.admin_set_plan(uuid, text) is 'POST /v1/admin/tenants/{tenant_id}/plan: platform admins. Audited (from, to).';

create function api.admin_set_suspended(p_org_id uuid, p_suspend boolean, p_reason text) returns json
language plpgsql volatile as $$
begin
  perform api.require_platform_admin();
  update app.subscriptions s
     set suspended_at = case when p_suspend then coalesce(s.suspended_at, now()) end,
         suspended_reason = case when p_suspend then p_reason end
   where s.org_id = p_org_id;
  if not found then
    raise exception 'tenant not found' using errcode = 'RG404';
  end if;
  perform api.record_admin_action(case when p_suspend then 'tenant.suspend' else 'tenant.unsuspend' end, p_org_id,
                                  case when p_suspend then jsonb_build_object('reason', p_reason) else '{}' end);
  return api.admin_get_tenant(p_org_id);
end
$$;
comment on function api.admin_set_suspended(uuid, boolean, text) is 'POST /v1/admin/tenants/{tenant_id}/suspend and /unsuspend: platform admins. Audited.';

create function api.admin_list_audit(p_limit int, p_cursor uuid, p_org_id uuid) returns json
language plpgsql stable as $$
declare
  v_items json[];
  v_ids   uuid[];
begin
  perform api.require_platform_admin();
  select array_agg(api.admin_audit_json(a) order by a.id desc), array_agg(a.id order by a.id desc)
    into v_items, v_ids
    from (select *
            from platform.admin_audit a
           where a.id < api.cursor_or_max(p_cursor)
             and (p_org_id is null or a.org_id = p_org_id)
           order by a.id desc
           limit p_limit + 1) a;
  return api.page_json(v_items, v_ids, p_limit);
end
$$;
comment on function api.admin_list_audit(int, uuid, uuid) is 'GET /v1/admin/audit: platform admins; newest first, optionally one tenant''s.';
