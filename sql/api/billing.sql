-- Billing: what plan an organization is on, what it may use, what it has used.

create function api.plan_json(p platform.plans) returns json
language sql stable as $$
  select json_build_object('code', p.code, 'name', p.name, 'price', p.price::text, 'currency', p.currency)
$$;

create function api.get_billing() returns json
language plpgsql stable as $$
declare
  v_result json;
begin
  select json_build_object(
           'org_id', o.id,
           'plan', api.plan_json(p),
           'plan_changed_at', s.plan_changed_at,
           'period_start', app.billing_period_start(),
           'period_end', app.billing_period_start() + interval '1 month',
           'usage', app.plan_usage(o.id))
    into v_result
    from app.organizations o
    left join app.subscriptions s on s.org_id = o.id
    join platform.plans p on p.code = coalesce(s.plan_code, 'free')
   where o.id = app.current_org_id();
  if v_result is null then
    raise exception 'organization not found' using errcode = 'RG404';
  end if;
  return v_result;
end
$$;
comment on function api.get_billing() is 'GET /v1/orgs/{org_id}/billing: any member. The plan, the period (calendar month, UTC) and per kind the limit and usage.';

-- ----- checkout ---------------------------------------------------------------------------

create function api.checkout_json(c app.checkout_sessions) returns json
language sql stable as $$
  select json_build_object(
           'id', c.id, 'org_id', c.org_id, 'plan', c.plan_code, 'status', c.status, 'url', c.url,
           'created_by', c.created_by, 'created_at', c.created_at, 'completed_at', c.completed_at)
$$;

-- Only an OWNER buys a plan (the policy checkout_sessions_insert says the same). Asked
-- first, before the plan or the server's payment configuration: a MEMBER hears 403
-- whatever else is wrong, as on every route. The HTTP layer calls it alone when
-- payments are not configured (then answers 503 to the OWNER).
create function api.require_checkout_role() returns json
language plpgsql stable as $$
begin
  if app.current_org_role() is distinct from 'OWNER' then
    raise exception 'only an OWNER starts a checkout' using errcode = 'RG403';
  end if;
  return null;
end
$$;
comment on function api.require_checkout_role() is
  'POST /v1/orgs/{org_id}/billing/checkout: RG403 unless the caller is an OWNER of the current organization; returns NULL.';

-- Step 1 of POST /v1/orgs/{org_id}/billing/checkout: the OWNER's open checkout row, and
-- what the provider needs to price it. The HTTP layer then asks the provider for a
-- session and records it with api.attach_checkout.
create function api.start_checkout(p_plan text) returns json
language plpgsql volatile as $$
declare
  v_plan     platform.plans;
  v_checkout app.checkout_sessions;
begin
  perform api.require_checkout_role();
  select * into v_plan from platform.plans p where p.code = p_plan;
  if v_plan.code is null then
    raise exception 'no such plan' using errcode = 'RG422', column = 'plan';
  end if;
  if v_plan.provider_price_id is null then
    raise exception 'the % plan is not sold through checkout', v_plan.code using errcode = 'RG422', column = 'plan';
  end if;
  if exists (select from app.subscriptions s where s.org_id = app.current_org_id() and s.plan_code = v_plan.code) then
    raise exception 'the organization is already on the % plan', v_plan.code using errcode = 'RG409', column = 'plan';
  end if;
  insert into app.checkout_sessions (org_id, plan_code, created_by)
  values (app.current_org_id(), v_plan.code, app.current_user_id())
  returning * into v_checkout;
  return json_build_object('checkout', api.checkout_json(v_checkout), 'provider_price_id', v_plan.provider_price_id);
end
$$;
comment on function api.start_checkout(text) is 'POST /v1/orgs/{org_id}/billing/checkout, step 1: OWNER only (api.require_checkout_role first, and the policy checkout_sessions_insert → 403).';

create function api.attach_checkout(p_checkout_id uuid, p_provider_session_id text, p_url text) returns json
language plpgsql volatile as $$
declare
  v_checkout app.checkout_sessions;
begin
  update app.checkout_sessions c set provider_session_id = p_provider_session_id, url = p_url
   where c.org_id = app.current_org_id() and c.id = p_checkout_id
  returning c.* into v_checkout;
  if v_checkout.id is null then
    raise exception 'checkout not found' using errcode = 'RG404';
  end if;
  return api.checkout_json(v_checkout);
end
$$;
comment on function api.attach_checkout(uuid, text, text) is 'POST /v1/orgs/{org_id}/billing/checkout, step 2: the provider''s session id and URL.';

create function api.payment_webhook(p_event_id text, p_type text, p_checkout_id uuid,
                                    p_customer_id text, p_subscription_id text) returns json
language sql volatile as $$
  select app.apply_payment_event(p_event_id, p_type, p_checkout_id, p_customer_id, p_subscription_id)
$$;
comment on function api.payment_webhook(text, text, uuid, text, text) is
  'POST /v1/billing/webhook, called only after the HTTP layer verified the provider''s signature.';

create function api.list_plans() returns json
language sql stable as $$
  select coalesce(json_agg(json_build_object(
           'code', p.code, 'name', p.name, 'price', p.price::text, 'currency', p.currency,
           'limits', (select coalesce(json_object_agg(k.kind, l.max_count order by k.kind), '{}')
                        from platform.limit_kinds k
                        left join platform.plan_limits l on l.kind = k.kind and l.plan_code = p.code))
           order by p.position), '[]')
    from platform.plans p
$$;
comment on function api.list_plans() is 'GET /v1/billing/plans: the price list with every plan''s limits (null: unlimited); any signed-in user.';
