-- Analytics of a project's ledger, computed from the rollups (never the ledger itself):
-- the whole calendar months of a period from app.finance_monthly_totals, its partial first
-- and last months day by day from app.finance_daily_currency_totals (summary, trends) or
-- app.finance_daily_totals (per category: the breakdown); analytics READ (their select
-- policies). A 24-month period of any ledger reads at most 24 months × categories × kinds
-- × currencies monthly rows and two partial months of daily ones, whatever its size
-- (issue 19: at 1,000,000 records, ~4,000 and ~26,000 daily rows before). Amounts are
-- decimal strings; a period is [from, to], both dates inclusive; currencies are never
-- added together except in a requested base currency, at the organization's rates.
-- Numeric sums and products are exact, so a month's total is the sum of its days' to the
-- last digit: the answers are those of the daily rollups (tests/e2e/finance_oracle_test.go
-- compares both on random ledgers).

-- The whole calendar months inside [p_from, p_to] (NULL: unbounded) as [m_from, m_to):
-- both the first day of a month; both 'infinity' (none) when no month fits. The days of
-- [p_from, p_to] outside it are the partial edge months.
create function api.finance_whole_months(p_from date, p_to date, out m_from date, out m_to date)
language sql immutable as $$
  select case when f < t then f else 'infinity' end, case when f < t then t else 'infinity' end
    from (select case when p_from is null then '-infinity'::date
                      else (date_trunc('month', p_from - 1) + interval '1 month')::date end as f,
                 case when p_to is null then 'infinity'::date
                      else date_trunc('month', p_to + 1)::date end as t) b
$$;

create function api.money(p numeric) returns text
language sql immutable as $$
  select round(coalesce(p, 0), 2)::text
$$;

-- The rate of 1 p_from in p_to on p_day: the latest entered on or before it, directly or
-- as the inverse of the opposite rate; NULL when none.
create function api.rate_on(p_from text, p_to text, p_day date) returns numeric
language sql stable as $$
  select case when p_from = p_to then 1 else coalesce(
    (select x.rate from app.exchange_rates x
      where x.org_id = app.current_org_id() and x.from_currency = p_from and x.to_currency = p_to and x.rate_date <= p_day
      order by x.rate_date desc limit 1),
    (select 1 / x.rate from app.exchange_rates x
      where x.org_id = app.current_org_id() and x.from_currency = p_to and x.to_currency = p_from and x.rate_date <= p_day
      order by x.rate_date desc limit 1)) end
$$;

create function api.finance_summary(p_project_id uuid, p_from date, p_to date, p_base_currency text) returns json
language plpgsql stable as $$
declare
  v_by_currency json;
  v_base        json;
  v_lo          date := coalesce(p_from, '-infinity');
  v_hi          date := coalesce(p_to, 'infinity');
  v_mfrom       date;
  v_mto         date;
begin
  perform api.require_project_level(p_project_id, 'analytics', 'READ');
  perform api.require_currency(p_base_currency, 'base');
  select w.m_from, w.m_to into v_mfrom, v_mto from api.finance_whole_months(p_from, p_to) w;
  -- One pass over the rollup: per currency, and per day too when a base currency is asked
  -- for (each day at its rate); without one, day is NULL and there are as many groups as
  -- currencies (tests/load, 1,000,000 rows: summary p50 5.1 → 2.5 ms).
  -- Each day's rate is api.rate_on's (the latest direct rate on or before the day, else
  -- the inverse of the latest opposite one), found in one sorted pass instead of two
  -- index probes per day and currency: the organization's rates to and from the base
  -- are merged into the days in date order, and every day takes the last rate seen
  -- before it (rates of the same date come first). tests/load, 24 months at 1,000,000
  -- records: hundreds of ms → a few ms.
  --
  -- A whole month counts as one day, its first, at that day's rate: exact when the rate
  -- of every day of the month is the same, i.e. when no rate between that currency and
  -- the base is dated inside the month after its first day. The (month, currency) pairs
  -- where one is ("unsteady") are read day by day instead, as all days were before.
  with unsteady as (
         select distinct date_trunc('month', x.rate_date)::date as month,
                case when x.to_currency = p_base_currency then x.from_currency else x.to_currency end as currency
           from app.exchange_rates x
          where p_base_currency is not null and x.org_id = app.current_org_id()
            and (x.to_currency = p_base_currency or x.from_currency = p_base_currency)
            and x.rate_date > v_mfrom and x.rate_date < v_mto
            and x.rate_date <> date_trunc('month', x.rate_date)::date),
       buckets as (
         select m.month as day, m.currency, m.kind, m.record_count, m.amount_sum
           from app.finance_monthly_totals m
          where m.org_id = app.current_org_id() and m.project_id = p_project_id
            and m.month >= v_mfrom and m.month < v_mto and m.record_count > 0
            and not exists (select from unsteady u where u.month = m.month and u.currency = m.currency)
         union all
         select t.day, t.currency, t.kind, t.record_count, t.amount_sum
           from app.finance_daily_currency_totals t
          where t.org_id = app.current_org_id() and t.project_id = p_project_id
            and t.day >= v_lo and t.day <= v_hi and t.day < v_mfrom and t.record_count > 0
         union all
         select t.day, t.currency, t.kind, t.record_count, t.amount_sum
           from app.finance_daily_currency_totals t
          where t.org_id = app.current_org_id() and t.project_id = p_project_id
            and t.day >= v_lo and t.day <= v_hi and t.day >= v_mto and t.record_count > 0
         union all
         select t.day, t.currency, t.kind, t.record_count, t.amount_sum
           from unsteady u
           join app.finance_daily_currency_totals t
             on t.org_id = app.current_org_id() and t.project_id = p_project_id and t.currency = u.currency
            and t.day >= u.month and t.day < (u.month + interval '1 month')::date and t.record_count > 0),
       g as (
         select case when p_base_currency is not null then t.day end as day, t.currency,
                coalesce(sum(t.amount_sum) filter (where t.kind = 'income'), 0) as income,
                coalesce(sum(t.amount_sum) filter (where t.kind = 'expense'), 0) as expense,
                coalesce(sum(t.record_count) filter (where t.kind = 'income'), 0) as income_count,
                coalesce(sum(t.record_count) filter (where t.kind = 'expense'), 0) as expense_count
           from buckets t
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
comment on function api.finance_summary(uuid, date, date, text) is
  'GET …/analytics/summary: analytics READ. Income, expense, net and counts per currency in [from, to]; with base, the totals converted at each day''s rate (NULL amounts and missing_rates when a rate is missing).';

create function api.finance_category_breakdown(p_project_id uuid, p_from date, p_to date, p_kind app.finance_kind) returns json
language plpgsql stable as $$
declare
  v_items  json;
  v_lo     date := coalesce(p_from, '-infinity');
  v_hi     date := coalesce(p_to, 'infinity');
  v_mfrom  date;
  v_mto    date;
begin
  perform api.require_project_level(p_project_id, 'analytics', 'READ');
  select w.m_from, w.m_to into v_mfrom, v_mto from api.finance_whole_months(p_from, p_to) w;
  select coalesce(json_agg(json_build_object(
           'category_id', s.category_id, 'name', c.name, 'archived', c.archived, 'kind', s.kind,
           'currency', s.currency, 'total', api.money(s.total), 'count', s.count,
           'share', round(s.total / nullif(s.kind_total, 0), 4)::text)
           order by s.kind, s.currency, s.total desc, c.name), '[]'::json)
    into v_items
    from (select t.kind, t.currency, t.category_id, sum(t.amount_sum) as total, sum(t.record_count) as count,
                 sum(sum(t.amount_sum)) over (partition by t.kind, t.currency) as kind_total
            from (select m.kind, m.currency, m.category_id, m.amount_sum, m.record_count
                    from app.finance_monthly_totals m
                   where m.org_id = app.current_org_id() and m.project_id = p_project_id
                     and m.month >= v_mfrom and m.month < v_mto
                     and (p_kind is null or m.kind = p_kind) and m.record_count > 0
                  union all
                  select d.kind, d.currency, d.category_id, d.amount_sum, d.record_count
                    from app.finance_daily_totals d
                   where d.org_id = app.current_org_id() and d.project_id = p_project_id
                     and d.day >= v_lo and d.day <= v_hi and d.day < v_mfrom
                     and (p_kind is null or d.kind = p_kind) and d.record_count > 0
                  union all
                  select d.kind, d.currency, d.category_id, d.amount_sum, d.record_count
                    from app.finance_daily_totals d
                   where d.org_id = app.current_org_id() and d.project_id = p_project_id
                     and d.day >= v_lo and d.day <= v_hi and d.day >= v_mto
                     and (p_kind is null or d.kind = p_kind) and d.record_count > 0) t
           group by t.kind, t.currency, t.category_id) s
    left join app.finance_categories c on c.org_id = app.current_org_id() and c.id = s.category_id;
  return json_build_object('from', p_from, 'to', p_to, 'kind', p_kind, 'items', v_items);
end
$$;
comment on function api.finance_category_breakdown(uuid, date, date, app.finance_kind) is
  'GET …/analytics/categories: analytics READ. Total and count per category, kind and currency in [from, to], each with its share (0–1, 4 decimals) of its kind and currency.';

create function api.finance_trends(p_project_id uuid, p_interval text, p_from date, p_to date) returns json
language plpgsql stable as $$
declare
  v_step  interval := case p_interval when 'week' then interval '1 week' else interval '1 month' end;
  v_first  date;
  v_items  json;
  v_mfrom  date;
  v_mto    date;
begin
  perform api.require_project_level(p_project_id, 'analytics', 'READ');
  -- Defaults: up to today, the last 12 periods.
  p_to := coalesce(p_to, current_date);
  p_from := coalesce(p_from, (date_trunc(p_interval, p_to::timestamp) - 11 * v_step)::date);
  v_first := date_trunc(p_interval, p_from::timestamp)::date;
  if (p_to - p_from) > 3700 then
    raise exception 'a trend spans at most 10 years' using errcode = 'RG422', column = 'to';
  end if;
  -- Monthly periods: the whole months from the monthly rollup (summed over categories),
  -- the partial first and last from the days. Weeks: the days (none is a whole month).
  if p_interval = 'month' then
    select w.m_from, w.m_to into v_mfrom, v_mto from api.finance_whole_months(p_from, p_to) w;
  else
    v_mfrom := 'infinity';
    v_mto := 'infinity';
  end if;
  with buckets as (
         select m.month as day, m.currency, m.kind, m.record_count, m.amount_sum
           from app.finance_monthly_totals m
          where m.org_id = app.current_org_id() and m.project_id = p_project_id
            and m.month >= v_mfrom and m.month < v_mto and m.record_count > 0
         union all
         select t.day, t.currency, t.kind, t.record_count, t.amount_sum
           from app.finance_daily_currency_totals t
          where t.org_id = app.current_org_id() and t.project_id = p_project_id
            and t.day between p_from and p_to and t.day < v_mfrom and t.record_count > 0
         union all
         select t.day, t.currency, t.kind, t.record_count, t.amount_sum
           from app.finance_daily_currency_totals t
          where t.org_id = app.current_org_id() and t.project_id = p_project_id
            and t.day between p_from and p_to and t.day >= v_mto and t.record_count > 0),
       totals as (
         select date_trunc(p_interval, t.day::timestamp)::date as period, t.currency,
                coalesce(sum(t.amount_sum) filter (where t.kind = 'income'), 0) as income,
                coalesce(sum(t.amount_sum) filter (where t.kind = 'expense'), 0) as expense,
                sum(t.record_count) as count
           from buckets t
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
comment on function api.finance_trends(uuid, text, date, date) is
  'GET …/analytics/trends: analytics READ. Income, expense, net and count per month or ISO week (period = its first day) and currency, every period from from to to present (zeros when empty). Default: the 12 periods up to today.';

create function api.finance_recent(p_project_id uuid, p_limit int) returns json
language plpgsql stable as $$
begin
  perform api.require_project_level(p_project_id, 'analytics', 'READ');
  perform api.require_project_level(p_project_id, 'finance', 'READ');
  return json_build_object('items', coalesce(
    (select json_agg(api.financial_record_json(r) order by r.occurred_on desc, r.id desc)
       from (select * from app.financial_records r
              where r.org_id = app.current_org_id() and r.project_id = p_project_id and r.deleted_at is null
              order by r.occurred_on desc, r.id desc
              limit p_limit) r), '[]'::json));
end
$$;
comment on function api.finance_recent(uuid, int) is
  'GET …/analytics/recent: analytics READ and finance READ (it shows records). The latest live records by occurred_on.';
