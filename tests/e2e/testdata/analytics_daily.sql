-- The analytics functions as they were before the monthly rollup (migration 029), read
-- from the daily rollups only: the reference TestFinanceAnalyticsOracle compares the API's
-- answers with, byte for byte. Copied from sql/api/analytics.sql at the commit before
-- issue 19's monthly rollup, without the permission checks (the test calls them as the
-- superuser, with app.org_id set). Never change them: they are the "before".
create schema analytics_daily;

create function analytics_daily.finance_summary(p_project_id uuid, p_from date, p_to date, p_base_currency text) returns json
language plpgsql stable as $$
declare
  v_by_currency json;
  v_base        json;
begin
  -- One pass over the rollup: per currency, and per day too when a base currency is asked
  -- for (each day at its rate); without one, day is NULL and there are as many groups as
  -- currencies (tests/load, 1,000,000 rows: summary p50 5.1 → 2.5 ms).
  -- Each day's rate is the latest direct rate on or before the day, else
  -- the inverse of the latest opposite one), found in one sorted pass instead of two
  -- index probes per day and currency: the organization's rates to and from the base
  -- are merged into the days in date order, and every day takes the last rate seen
  -- before it (rates of the same date come first). tests/load, 24 months at 1,000,000
  -- records: hundreds of ms → a few ms.
  with g as (
         select case when p_base_currency is not null then t.day end as day, t.currency,
                coalesce(sum(t.amount_sum) filter (where t.kind = 'income'), 0) as income,
                coalesce(sum(t.amount_sum) filter (where t.kind = 'expense'), 0) as expense,
                coalesce(sum(t.record_count) filter (where t.kind = 'income'), 0) as income_count,
                coalesce(sum(t.record_count) filter (where t.kind = 'expense'), 0) as expense_count
           from app.finance_daily_currency_totals t
          where t.org_id = app.current_org_id() and t.project_id = p_project_id
            and t.day >= coalesce(p_from, '-infinity') and t.day <= coalesce(p_to, 'infinity')
            and t.record_count > 0
          group by 1, 2),
       events as (
         select g.day, g.currency, true as is_day, null::numeric as direct, null::numeric as inverse,
                g.income, g.expense, g.income_count, g.expense_count
           from g
         union all
         select x.rate_date, x.from_currency, false, x.rate, null, null, null, null, null
           from app.exchange_rates x
          where p_base_currency is not null and x.org_id = app.current_org_id() and x.to_currency = p_base_currency
            and x.rate_date <= coalesce(p_to, 'infinity')
         union all
         select x.rate_date, x.to_currency, false, null, 1 / x.rate, null, null, null, null
           from app.exchange_rates x
          where p_base_currency is not null and x.org_id = app.current_org_id() and x.from_currency = p_base_currency
            and x.rate_date <= coalesce(p_to, 'infinity')),
       marked as (
         select e.*, count(e.direct) over w as direct_seen, count(e.inverse) over w as inverse_seen
           from events e
         window w as (partition by e.currency order by e.day, e.is_day)),
       per_day as (
         select m.day, m.currency, m.income, m.expense, m.income_count, m.expense_count, m.is_day,
                case when p_base_currency is null then null
                     when m.currency = p_base_currency then 1
                     else coalesce(max(m.direct) over (partition by m.currency, m.direct_seen),
                                   max(m.inverse) over (partition by m.currency, m.inverse_seen)) end as rate
           from marked m),
       per_currency as (
         select d.currency, sum(d.income) as income, sum(d.expense) as expense,
                sum(d.income_count) as income_count, sum(d.expense_count) as expense_count
           from per_day d where d.is_day group by d.currency)
  select (select coalesce(json_agg(json_build_object(
                   'currency', c.currency,
                   'income', api.money(c.income), 'expense', api.money(c.expense), 'net', api.money(c.income - c.expense),
                   'income_count', c.income_count, 'expense_count', c.expense_count, 'count', c.income_count + c.expense_count)
                   order by c.currency), '[]'::json)
            from per_currency c),
         -- Converted only when every day has a rate; the currencies lacking one are named.
         (select json_build_object(
                   'currency', p_base_currency,
                   'income', case when coalesce(bool_and(d.rate is not null), true) then api.money(sum(d.income * d.rate)) end,
                   'expense', case when coalesce(bool_and(d.rate is not null), true) then api.money(sum(d.expense * d.rate)) end,
                   'net', case when coalesce(bool_and(d.rate is not null), true) then api.money(sum((d.income - d.expense) * d.rate)) end,
                   'missing_rates', coalesce(array_to_json(array_agg(distinct d.currency) filter (where d.rate is null)), '[]'::json))
            from per_day d
           where p_base_currency is not null and d.is_day
          having p_base_currency is not null)
    into v_by_currency, v_base;
  return json_build_object('from', p_from, 'to', p_to, 'currencies', v_by_currency, 'base', v_base);
end
$$;

create function analytics_daily.finance_category_breakdown(p_project_id uuid, p_from date, p_to date, p_kind app.finance_kind) returns json
language plpgsql stable as $$
declare
  v_items json;
begin
  select coalesce(json_agg(json_build_object(
           'category_id', s.category_id, 'name', c.name, 'archived', c.archived, 'kind', s.kind,
           'currency', s.currency, 'total', api.money(s.total), 'count', s.count,
           'share', round(s.total / nullif(s.kind_total, 0), 4)::text)
           order by s.kind, s.currency, s.total desc, c.name), '[]'::json)
    into v_items
    from (select t.kind, t.currency, t.category_id, sum(t.amount_sum) as total, sum(t.record_count) as count,
                 sum(sum(t.amount_sum)) over (partition by t.kind, t.currency) as kind_total
            from app.finance_daily_totals t
           where t.org_id = app.current_org_id() and t.project_id = p_project_id
             and t.day >= coalesce(p_from, '-infinity') and t.day <= coalesce(p_to, 'infinity')
             and (p_kind is null or t.kind = p_kind)
             and t.record_count > 0
           group by t.kind, t.currency, t.category_id) s
    left join app.finance_categories c on c.org_id = app.current_org_id() and c.id = s.category_id;
  return json_build_object('from', p_from, 'to', p_to, 'kind', p_kind, 'items', v_items);
end
$$;

create function analytics_daily.finance_trends(p_project_id uuid, p_interval text, p_from date, p_to date) returns json
language plpgsql stable as $$
declare
  v_step  interval := case p_interval when 'week' then interval '1 week' else interval '1 month' end;
  v_first date;
  v_items json;
begin
  -- Defaults: up to today, the last 12 periods.
  p_to := coalesce(p_to, current_date);
  p_from := coalesce(p_from, (date_trunc(p_interval, p_to::timestamp) - 11 * v_step)::date);
  v_first := date_trunc(p_interval, p_from::timestamp)::date;
  if (p_to - p_from) > 3700 then
    raise exception 'a trend spans at most 10 years' using errcode = 'RG422', column = 'to';
  end if;
  with totals as (
         select date_trunc(p_interval, t.day::timestamp)::date as period, t.currency,
                coalesce(sum(t.amount_sum) filter (where t.kind = 'income'), 0) as income,
                coalesce(sum(t.amount_sum) filter (where t.kind = 'expense'), 0) as expense,
                sum(t.record_count) as count
           from app.finance_daily_currency_totals t
          where t.org_id = app.current_org_id() and t.project_id = p_project_id
            and t.day between p_from and p_to and t.record_count > 0
          group by 1, 2),
       periods as (
         select g::date as period from generate_series(v_first::timestamp, p_to::timestamp, v_step) g),
       currencies as (select distinct currency from totals)
  select coalesce(json_agg(json_build_object(
           'period', p.period, 'currency', c.currency,
           'income', api.money(t.income), 'expense', api.money(t.expense),
           'net', api.money(coalesce(t.income, 0) - coalesce(t.expense, 0)), 'count', coalesce(t.count, 0))
           order by p.period, c.currency), '[]'::json)
    into v_items
    from periods p cross join currencies c
    left join totals t on t.period = p.period and t.currency = c.currency;
  return json_build_object('interval', p_interval, 'from', p_from, 'to', p_to, 'items', v_items);
end
$$;
