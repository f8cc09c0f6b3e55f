-- Analytics of a project's ledger, computed from the rollups (never the ledger itself):
-- the calendar months of a period from app.finance_monthly_currency_totals (summary,
-- trends; migration 032) or app.finance_monthly_totals (per category: the breakdown), and
-- at most 16 days of each partial first and last month from the daily rollups of the same
-- grain (app.finance_daily_currency_totals, app.finance_daily_totals), added, or
-- subtracted from their month (api.finance_period_parts); analytics READ (their select
-- policies). A 24-month period of any ledger reads at most 26 months × kinds × currencies
-- (× categories) monthly rows and 32 days of daily ones, whatever its size (issue 19: at
-- 1,000,000 records, ~4,000 and ~26,000 daily rows before). Amounts are decimal strings; a period is
-- [from, to], both dates inclusive; currencies are never added together except in a
-- requested base currency, at the organization's rates. Numeric sums, differences and
-- products are exact, so a month's total is the sum of its days' to the last digit: the
-- answers are those of the daily rollups (tests/e2e/finance_oracle_test.go compares both
-- on random ledgers).

-- How a period [p_from, p_to] (NULL: unbounded) is read: the months [m_lo, m_hi) from the
-- monthly rollup, and the days in `days` from the daily rollups, each day *added* when it
-- lies outside [m_lo, m_hi) and *subtracted* when inside. The whole calendar months of the
-- period are always in [m_lo, m_hi). A partial first or last month is read the cheaper way:
-- its days in the period (added), or, when fewer days of that month lie outside the
-- period, the whole month minus those (issue 19: from the 2nd of a month, the month minus
-- its 1st, one day instead of 30). Numeric sums are exact, so either way the totals are
-- those of the days in the period to the last digit; a month read at most 16 days of
-- daily rows whatever the edges. [m_lo, m_hi) stays one range (the partial months are
-- next to the whole ones); both are 'infinity' and days empty when the period is empty.
create function api.finance_period_parts(p_from date, p_to date, out m_lo date, out m_hi date, out days date[])
language plpgsql immutable as $$
declare
  v_f     date;  -- the whole months: [v_f, v_t)
  v_t     date;
  v_parts daterange[] := '{}';
  v_part  daterange;
  v_first date;
  v_last  date;
  v_a     date;
  v_b     date;
begin
  days := '{}';
  if p_from > p_to then
    m_lo := 'infinity';
    m_hi := 'infinity';
    return;
  end if;
  v_f := case when p_from is null then '-infinity' else (date_trunc('month', p_from - 1) + interval '1 month')::date end;
  v_t := case when p_to is null then 'infinity' else date_trunc('month', p_to + 1)::date end;
  if v_f < v_t then
    m_lo := v_f;
    m_hi := v_t;
    if p_from < v_f then
      v_parts := v_parts || daterange(p_from, v_f);
    end if;
    if p_to >= v_t then
      v_parts := v_parts || daterange(v_t, p_to, '[]');
    end if;
  else
    -- No whole month: one partial month, or two next to each other. The empty range sits
    -- at the last one's month, so that taking either whole keeps [m_lo, m_hi) one range.
    m_lo := date_trunc('month', p_to)::date;
    m_hi := m_lo;
    if m_lo <= p_from then
      v_parts := array[daterange(p_from, p_to, '[]')];
    else
      v_parts := array[daterange(p_from, m_lo), daterange(m_lo, p_to, '[]')];
    end if;
  end if;
  foreach v_part in array v_parts loop
    v_a := lower(v_part);
    v_b := upper(v_part) - 1;
    v_first := date_trunc('month', v_a)::date;
    v_last := (v_first + interval '1 month')::date - 1;
    if (v_a - v_first) + (v_last - v_b) + 1 < v_b - v_a + 1 then
      -- The month (one more row per group) minus the days outside the period.
      m_lo := least(m_lo, v_first);
      m_hi := greatest(m_hi, v_last + 1);
      days := days || array(select d::date from generate_series(v_first, v_a - 1, interval '1 day') d)
                   || array(select d::date from generate_series(v_b + 1, v_last, interval '1 day') d);
    else
      days := days || array(select d::date from generate_series(v_a, v_b, interval '1 day') d);
    end if;
  end loop;
end
$$;

create function api.money(p numeric) returns text
language sql immutable as $$
  select round(coalesce(p, 0), 2)::text
$$;

-- Summary, breakdown and trends run their statements on generic plans, planned once per
-- connection (plan_cache_mode, set for the call): each is a range scan of a rollup's
-- primary key from (org, project, first month or day), the right plan for any tenant's
-- size. Left to choose, PL/pgSQL's plan cache sometimes re-planned them on every call (a
-- custom plan each time; at 100k records, backend CPU per call, custom plans vs the kept
-- generic one: summary 2.4 vs 0.5 ms, in a base currency 5.1 vs 1.6, breakdown 4.1 vs
-- 1.6; the plain summary left to choose: 1.0).
create function api.finance_summary(p_project_id uuid, p_from date, p_to date, p_base_currency text) returns json
language plpgsql stable set plan_cache_mode = force_generic_plan as $$
declare
  v_by_currency json;
  v_base        json;
  v_lo          date := coalesce(p_from, '-infinity');
  v_hi          date := coalesce(p_to, 'infinity');
  v_mlo         date;
  v_mhi         date;
  v_days        date[];
  v_first       date;  -- the period's first bucket day: the rates are read from the latest on or before it
begin
  perform api.require_project_level(p_project_id, 'analytics', 'READ');
  perform api.require_currency(p_base_currency, 'base');
  select w.m_lo, w.m_hi, w.days into v_mlo, v_mhi, v_days from api.finance_period_parts(p_from, p_to) w;
  v_first := least(v_mlo, v_lo);
  if p_base_currency is null then
    -- Per currency only: the months and the signed days (api.finance_period_parts) summed
    -- in one pass; a currency whose days in the period hold no record is not listed.
    select coalesce(json_agg(json_build_object(
             'currency', c.currency,
             'income', api.money(c.income), 'expense', api.money(c.expense), 'net', api.money(c.income - c.expense),
             'income_count', c.income_count, 'expense_count', c.expense_count, 'count', c.income_count + c.expense_count)
             order by c.currency), '[]'::json)
      into v_by_currency
      from (select t.currency,
                   coalesce(sum(t.amount_sum) filter (where t.kind = 'income'), 0) as income,
                   coalesce(sum(t.amount_sum) filter (where t.kind = 'expense'), 0) as expense,
                   coalesce(sum(t.record_count) filter (where t.kind = 'income'), 0) as income_count,
                   coalesce(sum(t.record_count) filter (where t.kind = 'expense'), 0) as expense_count
              from (select m.currency, m.kind, m.record_count, m.amount_sum
                      from app.finance_monthly_currency_totals m
                     where m.org_id = app.current_org_id() and m.project_id = p_project_id
                       and m.month >= v_mlo and m.month < v_mhi and m.record_count > 0
                    union all
                    select d.currency, d.kind,
                           case when d.day >= v_mlo and d.day < v_mhi then -d.record_count else d.record_count end,
                           case when d.day >= v_mlo and d.day < v_mhi then -d.amount_sum else d.amount_sum end
                      from unnest(v_days) x(day)
                     join app.finance_daily_currency_totals d on d.day = x.day
                     where d.org_id = app.current_org_id() and d.project_id = p_project_id
                       and d.record_count > 0) t
             group by t.currency
            having sum(t.record_count) > 0) c;
    return json_build_object('from', p_from, 'to', p_to, 'currencies', v_by_currency, 'base', null);
  end if;
  -- In a base currency every day's amounts are converted at that day's rate: the latest
  -- direct rate (currency → base) on or before the day, else the inverse of the latest
  -- opposite one (base → currency); none, and the currency is listed in missing_rates. The rates are read per currency of the period, each direction as two arrays
  -- sorted by date (`rated`): the latest rate on or before the period's first bucket and
  -- those after it up to the period's end, two index probes each (the primary key: org,
  -- from, to, date), however long the organization's history; a bucket takes
  -- rates[width_bucket(day, dates)] (the last date on or before its day; 0, i.e. NULL,
  -- before the first).
  --
  -- A month read from the monthly rollup (with the days subtracted from it) is one bucket
  -- on its first day, at that day's rate: exact when the rate of every day of the month
  -- is the same, i.e. when no rate between that currency and the base is dated inside the
  -- month after its first day (numeric products are exact: a×r − b×r = (a−b)×r). The
  -- (month, currency) pairs where one is (`unsteady`, found in the same arrays) are read
  -- day by day instead: their days in the period, each its own bucket. Buckets are not
  -- grouped: each row is converted at its bucket's rate and summed per currency (exact
  -- again); a bucket is missing its rate only if records remain in it (a bucket's count,
  -- the records of its days in the period, is never negative, so a currency is rated
  -- when its rows without a rate add up to no record).
  with parts as (
         select m.month as day, m.month, m.currency, m.kind, m.record_count, m.amount_sum
           from app.finance_monthly_currency_totals m
          where m.org_id = app.current_org_id() and m.project_id = p_project_id
            and m.month >= v_mlo and m.month < v_mhi and m.record_count > 0
         union all
         -- A day inside [v_mlo, v_mhi) is subtracted from its month's bucket.
         select case when d.day >= v_mlo and d.day < v_mhi then date_trunc('month', d.day)::date else d.day end,
                date_trunc('month', d.day)::date, d.currency, d.kind,
                case when d.day >= v_mlo and d.day < v_mhi then -d.record_count else d.record_count end,
                case when d.day >= v_mlo and d.day < v_mhi then -d.amount_sum else d.amount_sum end
           from unnest(v_days) x(day)
          join app.finance_daily_currency_totals d on d.day = x.day
          where d.org_id = app.current_org_id() and d.project_id = p_project_id
            and d.record_count > 0),
       rated as (
         select c.currency, r.d_dates, r.d_rates, r.i_dates, r.i_rates
           from (select distinct p.currency from parts p where p.currency <> p_base_currency) c
          cross join lateral (
                 select array_agg(x.rate_date order by x.rate_date) filter (where x.direct) as d_dates,
                        array_agg(x.rate order by x.rate_date) filter (where x.direct) as d_rates,
                        array_agg(x.rate_date order by x.rate_date) filter (where not x.direct) as i_dates,
                        array_agg(1 / x.rate order by x.rate_date) filter (where not x.direct) as i_rates
                   from ((select true as direct, x.rate_date, x.rate from app.exchange_rates x
                           where x.org_id = app.current_org_id() and x.from_currency = c.currency
                             and x.to_currency = p_base_currency and x.rate_date <= v_first
                           order by x.rate_date desc limit 1)
                         union all
                         select true, x.rate_date, x.rate from app.exchange_rates x
                          where x.org_id = app.current_org_id() and x.from_currency = c.currency
                            and x.to_currency = p_base_currency and x.rate_date > v_first and x.rate_date <= v_hi
                         union all
                         (select false, x.rate_date, x.rate from app.exchange_rates x
                           where x.org_id = app.current_org_id() and x.from_currency = p_base_currency
                             and x.to_currency = c.currency and x.rate_date <= v_first
                           order by x.rate_date desc limit 1)
                         union all
                         select false, x.rate_date, x.rate from app.exchange_rates x
                          where x.org_id = app.current_org_id() and x.from_currency = p_base_currency
                            and x.to_currency = c.currency and x.rate_date > v_first and x.rate_date <= v_hi) x) r),
       -- Rates dated after v_hi change no day of the period; those dated inside a month
       -- after v_hi (a last month read as the month minus its days after the period) leave
       -- its days in the period at the month's first day's rate: steady for the answer.
       unsteady as (
         select distinct r.currency, date_trunc('month', x.day)::date as month
           from rated r
          cross join lateral unnest(r.d_dates || r.i_dates) x(day)
          where x.day > v_mlo and x.day < v_mhi and x.day <> date_trunc('month', x.day)::date),
       buckets as (
         select p.day, p.currency, p.kind, p.record_count, p.amount_sum
           from parts p
          where not exists (select from unsteady u where u.month = p.month and u.currency = p.currency)
         union all
         -- An unsteady month's days in the period, one index range each (offset 0: a
         -- nested loop, never a scan of the project's every day).
         select d.day, d.currency, d.kind, d.record_count, d.amount_sum
           from unsteady u
          cross join lateral (
                 select d.day, d.currency, d.kind, d.record_count, d.amount_sum
                   from app.finance_daily_currency_totals d
                  where d.org_id = app.current_org_id() and d.project_id = p_project_id and d.currency = u.currency
                    and d.day >= greatest(u.month, v_lo) and d.day <= least((u.month + interval '1 month')::date - 1, v_hi)
                    and d.record_count > 0
                 offset 0) d),
       per_currency as (
         select t.currency,
                coalesce(sum(t.amount_sum) filter (where t.kind = 'income'), 0) as income,
                coalesce(sum(t.amount_sum) filter (where t.kind = 'expense'), 0) as expense,
                coalesce(sum(t.record_count) filter (where t.kind = 'income'), 0) as income_count,
                coalesce(sum(t.record_count) filter (where t.kind = 'expense'), 0) as expense_count,
                coalesce(sum(t.record_count) filter (where k.rate is null), 0) = 0 as rated,
                coalesce(sum(t.amount_sum * k.rate) filter (where t.kind = 'income'), 0) as base_income,
                coalesce(sum(t.amount_sum * k.rate) filter (where t.kind = 'expense'), 0) as base_expense
           from buckets t
           left join rated r on r.currency = t.currency
          cross join lateral (
                 select case when t.currency = p_base_currency then 1
                             else coalesce(r.d_rates[width_bucket(t.day, r.d_dates)],
                                           r.i_rates[width_bucket(t.day, r.i_dates)]) end as rate) k
          group by t.currency
         having sum(t.record_count) > 0)
  select coalesce(json_agg(json_build_object(
           'currency', c.currency,
           'income', api.money(c.income), 'expense', api.money(c.expense), 'net', api.money(c.income - c.expense),
           'income_count', c.income_count, 'expense_count', c.expense_count, 'count', c.income_count + c.expense_count)
           order by c.currency), '[]'::json),
         -- Converted only when every bucket has a rate; the currencies lacking one are named.
         json_build_object(
           'currency', p_base_currency,
           'income', case when coalesce(bool_and(c.rated), true) then api.money(sum(c.base_income)) end,
           'expense', case when coalesce(bool_and(c.rated), true) then api.money(sum(c.base_expense)) end,
           'net', case when coalesce(bool_and(c.rated), true) then api.money(sum(c.base_income) - sum(c.base_expense)) end,
           'missing_rates', coalesce(array_to_json(array_agg(c.currency order by c.currency) filter (where not c.rated)), '[]'::json))
    into v_by_currency, v_base
    from per_currency c;
  return json_build_object('from', p_from, 'to', p_to, 'currencies', v_by_currency, 'base', v_base);
end
$$;
comment on function api.finance_summary(uuid, date, date, text) is
  'GET …/analytics/summary: analytics READ. Income, expense, net and counts per currency in [from, to]; with base, the totals converted at each day''s rate (NULL amounts and missing_rates when a rate is missing).';

create function api.finance_category_breakdown(p_project_id uuid, p_from date, p_to date, p_kind app.finance_kind) returns json
language plpgsql stable set plan_cache_mode = force_generic_plan as $$
declare
  v_items  json;
  v_mlo    date;
  v_mhi    date;
  v_days   date[];
begin
  perform api.require_project_level(p_project_id, 'analytics', 'READ');
  select w.m_lo, w.m_hi, w.days into v_mlo, v_mhi, v_days from api.finance_period_parts(p_from, p_to) w;
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
                     and m.month >= v_mlo and m.month < v_mhi
                     and (p_kind is null or m.kind = p_kind) and m.record_count > 0
                  union all
                  -- A day inside [v_mlo, v_mhi) is subtracted from its month (api.finance_period_parts).
                  select d.kind, d.currency, d.category_id,
                         case when d.day >= v_mlo and d.day < v_mhi then -d.amount_sum else d.amount_sum end,
                         case when d.day >= v_mlo and d.day < v_mhi then -d.record_count else d.record_count end
                    from unnest(v_days) x(day)
                   join app.finance_daily_totals d on d.day = x.day
                   where d.org_id = app.current_org_id() and d.project_id = p_project_id
                     and (p_kind is null or d.kind = p_kind) and d.record_count > 0) t
           group by t.kind, t.currency, t.category_id
          having sum(t.record_count) > 0) s
    left join app.finance_categories c on c.org_id = app.current_org_id() and c.id = s.category_id;
  return json_build_object('from', p_from, 'to', p_to, 'kind', p_kind, 'items', v_items);
end
$$;
comment on function api.finance_category_breakdown(uuid, date, date, app.finance_kind) is
  'GET …/analytics/categories: analytics READ. Total and count per category, kind and currency in [from, to], each with its share (0–1, 4 decimals) of its kind and currency.';

create function api.finance_trends(p_project_id uuid, p_interval text, p_from date, p_to date) returns json
language plpgsql stable set plan_cache_mode = force_generic_plan as $$
declare
  v_step  interval := case p_interval when 'week' then interval '1 week' else interval '1 month' end;
  v_first  date;
  v_items  json;
  v_mlo    date;
  v_mhi    date;
  v_days   date[];
begin
  perform api.require_project_level(p_project_id, 'analytics', 'READ');
  -- Defaults: up to today, the last 12 periods.
  p_to := coalesce(p_to, current_date);
  p_from := coalesce(p_from, (date_trunc(p_interval, p_to::timestamp) - 11 * v_step)::date);
  v_first := date_trunc(p_interval, p_from::timestamp)::date;
  if (p_to - p_from) > 3700 then
    raise exception 'a trend spans at most 10 years' using errcode = 'RG422', column = 'to';
  end if;
  -- Monthly periods: the months from the per-currency monthly rollup, the partial first
  -- and last read as api.finance_period_parts says. Weeks: the days (none
  -- is a whole month).
  if p_interval = 'month' then
    select w.m_lo, w.m_hi, w.days into v_mlo, v_mhi, v_days from api.finance_period_parts(p_from, p_to) w;
  else
    v_mlo := 'infinity';
    v_mhi := 'infinity';
  end if;
  with buckets as (
         select m.month as day, m.currency, m.kind, m.record_count, m.amount_sum
           from app.finance_monthly_currency_totals m
          where m.org_id = app.current_org_id() and m.project_id = p_project_id
            and m.month >= v_mlo and m.month < v_mhi and m.record_count > 0
         union all
         -- Monthly: the days of v_days, those inside [v_mlo, v_mhi) subtracted from their month.
         select d.day, d.currency, d.kind,
                case when d.day >= v_mlo and d.day < v_mhi then -d.record_count else d.record_count end,
                case when d.day >= v_mlo and d.day < v_mhi then -d.amount_sum else d.amount_sum end
           from unnest(v_days) x(day)
          join app.finance_daily_currency_totals d on d.day = x.day
          where p_interval = 'month' and d.org_id = app.current_org_id() and d.project_id = p_project_id
            and d.record_count > 0
         union all
         -- Weekly: every day.
         select t.day, t.currency, t.kind, t.record_count, t.amount_sum
           from app.finance_daily_currency_totals t
          where p_interval <> 'month' and t.org_id = app.current_org_id() and t.project_id = p_project_id
            and t.day between p_from and p_to and t.record_count > 0),
       totals as (
         select date_trunc(p_interval, t.day::timestamp)::date as period, t.currency,
                coalesce(sum(t.amount_sum) filter (where t.kind = 'income'), 0) as income,
                coalesce(sum(t.amount_sum) filter (where t.kind = 'expense'), 0) as expense,
                sum(t.record_count) as count
           from buckets t
          group by 1, 2
         having sum(t.record_count) > 0),
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
