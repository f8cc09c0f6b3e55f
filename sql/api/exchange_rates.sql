-- Exchange rates an organization enters (never fetched from a rate service): members read,
-- org OWNER/ADMIN write (policies exchange_rates_*). The analytics summary converts with them.

create function api.exchange_rate_json(x app.exchange_rates) returns json
language sql stable as $$
  select json_build_object('date', x.rate_date, 'from_currency', x.from_currency, 'to_currency', x.to_currency,
                           'rate', trim_scale(x.rate)::text, 'created_at', x.created_at)
$$;

create function api.list_exchange_rates(p_limit int, p_cursor text, p_from_currency text, p_to_currency text) returns json
language plpgsql stable as $$
declare
  -- The cursor is the last item's key "<FROM>_<TO>_<date>"; keys compare descending.
  v_after  text[] := coalesce(string_to_array(p_cursor, '_'), array['ZZZ', 'ZZZ', 'infinity']);
  v_items  json[];
  v_keys   text[];
begin
  perform api.require_currency(p_from_currency, 'from_currency');
  perform api.require_currency(p_to_currency, 'to_currency');
  select array_agg(api.exchange_rate_json(x) order by x.from_currency desc, x.to_currency desc, x.rate_date desc),
         array_agg(x.from_currency || '_' || x.to_currency || '_' || x.rate_date
                   order by x.from_currency desc, x.to_currency desc, x.rate_date desc)
    into v_items, v_keys
    from (select *
            from app.exchange_rates x
           where x.org_id = app.current_org_id()
             and (x.from_currency, x.to_currency, x.rate_date) < (v_after[1], v_after[2], v_after[3]::date)
             and (p_from_currency is null or x.from_currency = p_from_currency)
             and (p_to_currency is null or x.to_currency = p_to_currency)
           order by x.from_currency desc, x.to_currency desc, x.rate_date desc
           limit p_limit + 1) x;
  return json_build_object(
           'items', coalesce(array_to_json(v_items[1:p_limit]), '[]'::json),
           'next_cursor', case when cardinality(v_keys) > p_limit then v_keys[p_limit] end);
end
$$;
comment on function api.list_exchange_rates(int, text, text, text) is
  'GET /v1/orgs/{org_id}/exchange-rates: any member; by pair, latest date first; keyset cursor "<FROM>_<TO>_<date>".';

create function api.put_exchange_rate(p jsonb) returns json
language plpgsql volatile as $$
declare
  v_rate app.exchange_rates;
begin
  insert into app.exchange_rates as x (org_id, rate_date, from_currency, to_currency, rate)
  values (app.current_org_id(), (p->>'date')::date, p->>'from_currency', p->>'to_currency', (p->>'rate')::numeric)
  on conflict (org_id, from_currency, to_currency, rate_date) do update set rate = excluded.rate
  returning x.* into v_rate;
  return api.exchange_rate_json(v_rate);
end
$$;
comment on function api.put_exchange_rate(jsonb) is
  'PUT /v1/orgs/{org_id}/exchange-rates: org OWNER/ADMIN; sets the rate of one pair from one date (replacing it when it exists).';

create function api.delete_exchange_rate(p_from_currency text, p_to_currency text, p_date date) returns json
language plpgsql volatile as $$
begin
  perform api.require_currency(p_from_currency, 'from_currency');
  perform api.require_currency(p_to_currency, 'to_currency');
  delete from app.exchange_rates x
   where x.org_id = app.current_org_id()
     and x.from_currency = p_from_currency and x.to_currency = p_to_currency and x.rate_date = p_date;
  if not found then
    -- A member sees the rate but may not delete it (403); no such rate is 404.
    perform api.raise_hidden_or_forbidden(
      exists (select from app.exchange_rates x
               where x.org_id = app.current_org_id()
                 and x.from_currency = p_from_currency and x.to_currency = p_to_currency and x.rate_date = p_date),
      'exchange rate');
  end if;
  return null;
end
$$;
comment on function api.delete_exchange_rate(text, text, date) is
  'DELETE /v1/orgs/{org_id}/exchange-rates/{from_currency}/{to_currency}/{date}: org OWNER/ADMIN (policy exchange_rates_delete); the summary then converts those days at the rate before it.';
