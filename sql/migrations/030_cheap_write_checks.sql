-- What a write pays for its CHECK constraints (issue 19, tests/load -writes). PostgreSQL
-- prepares a table's CHECK expressions again at every INSERT or UPDATE statement: it
-- reads each from the catalog's text and runs the planner's constant folding on it.
--   * app.is_iso_currency, a SQL function, was inlined there: its body (a 180-code array)
--     parsed and analysed again at every statement, for every table that checks a
--     currency. A financial record's insert paid it four times (the ledger and its three
--     rollups: ~20 % of the write's CPU with all its triggers, perf on a psql loop).
--   * app.tags_valid, a SQL function with subqueries, cannot be inlined: PostgreSQL 15
--     parsed and planned its body at every statement that checked it.
-- Both functions become PL/pgSQL with the same answers (PL/pgSQL keeps what it compiled
-- and planned for the session), with their search_path pinned: a cached plan is
-- re-analysed and re-planned whenever it runs under another search_path than the last
-- time, and these run both under the caller's (the ledger's CHECKs) and under the
-- kernel's '' (the rollups' CHECKs, written by SECURITY DEFINER triggers) in every
-- record write; pinned, a call costs ~1-2 µs. The rules are the same: no row is checked
-- again.
set local role rowguard_owner;

create or replace function app.is_iso_currency(p_code text) returns boolean
language plpgsql immutable parallel safe set search_path = '' as $$
begin
  return p_code = any ('{AED,AFN,ALL,AMD,ANG,AOA,ARS,AUD,AWG,AZN,BAM,BBD,BDT,BGN,BHD,BIF,BMD,BND,BOB,BOV,BRL,BSD,BTN,BWP,BYN,BZD,CAD,CDF,CHE,CHF,CHW,CLF,CLP,CNY,COP,COU,CRC,CUC,CUP,CVE,CZK,DJF,DKK,DOP,DZD,EGP,ERN,ETB,EUR,FJD,FKP,GBP,GEL,GHS,GIP,GMD,GNF,GTQ,GYD,HKD,HNL,HTG,HUF,IDR,ILS,INR,IQD,IRR,ISK,JMD,JOD,JPY,KES,KGS,KHR,KMF,KPW,KRW,KWD,KYD,KZT,LAK,LBP,LKR,LRD,LSL,LYD,MAD,MDL,MGA,MKD,MMK,MNT,MOP,MRU,MUR,MVR,MWK,MXN,MXV,MYR,MZN,NAD,NGN,NIO,NOK,NPR,NZD,OMR,PAB,PEN,PGK,PHP,PKR,PLN,PYG,QAR,RON,RSD,RUB,RWF,SAR,SBD,SCR,SDG,SEK,SGD,SHP,SLE,SLL,SOS,SRD,SSP,STN,SVC,SYP,SZL,THB,TJS,TMT,TND,TOP,TRY,TTD,TWD,TZS,UAH,UGX,USD,USN,UYI,UYU,UYW,UZS,VED,VES,VND,VUV,WST,XAF,XAG,XAU,XBA,XBB,XBC,XBD,XCD,XDR,XOF,XPD,XPF,XPT,XSU,XUA,YER,ZAR,ZMW,ZWG,ZWL}'::text[]);
end
$$;
comment on function app.is_iso_currency(text) is 'Is p_code an active ISO 4217 code (upper case)? PL/pgSQL, not SQL: a SQL function here was inlined, i.e. parsed again, at every statement its CHECKs ran in (migration 030).';

create or replace function app.tags_valid(p_tags text[]) returns boolean
language plpgsql immutable parallel safe set search_path = '' as $$
declare
  v_n   int;
  v_tag text;
begin
  -- The same answers as the SQL expression of migration 013 (NULL for NULL), without a
  -- query for the one-dimensional arrays the API writes; any other shape is answered by
  -- that expression itself.
  if p_tags is null then
    return null;
  end if;
  v_n := pg_catalog.cardinality(p_tags);
  if v_n = 0 then
    return true;
  end if;
  if v_n > 20 or pg_catalog.array_position(p_tags, null) is not null then
    return false;
  end if;
  if pg_catalog.array_ndims(p_tags) > 1 then
    return (select bool_and(t ~ '^[a-z0-9][a-z0-9_.:-]{0,49}$') from unnest(p_tags) t) is not false
       and (select count(distinct t) = count(*) from unnest(p_tags) t);
  end if;
  foreach v_tag in array p_tags loop
    if v_tag !~ '^[a-z0-9][a-z0-9_.:-]{0,49}$' then
      return false;
    end if;
  end loop;
  for i in pg_catalog.array_lower(p_tags, 1) .. pg_catalog.array_upper(p_tags, 1) - 1 loop
    if p_tags[i] = any (p_tags[i + 1:]) then
      return false;
    end if;
  end loop;
  return true;
end
$$;
comment on function app.tags_valid(text[]) is 'At most 20 distinct tags, each 1–50 of a-z 0-9 _ . : - (starting with a letter or digit). PL/pgSQL (migration 030): as SQL it was planned again at every statement its CHECK ran in.';

reset role;

---- create above / drop below ----

set local role rowguard_owner;

create or replace function app.tags_valid(p_tags text[]) returns boolean
language sql immutable parallel safe as $$
  select cardinality(p_tags) <= 20
     and array_position(p_tags, null) is null
     and (select bool_and(t ~ '^[a-z0-9][a-z0-9_.:-]{0,49}$') from unnest(p_tags) t) is not false
     and (select count(distinct t) = count(*) from unnest(p_tags) t)
$$;
comment on function app.tags_valid(text[]) is 'At most 20 distinct tags, each 1–50 of a-z 0-9 _ . : - (starting with a letter or digit).';

create or replace function app.is_iso_currency(p_code text) returns boolean
language sql immutable parallel safe as $$
  select p_code = any ('{AED,AFN,ALL,AMD,ANG,AOA,ARS,AUD,AWG,AZN,BAM,BBD,BDT,BGN,BHD,BIF,BMD,BND,BOB,BOV,BRL,BSD,BTN,BWP,BYN,BZD,CAD,CDF,CHE,CHF,CHW,CLF,CLP,CNY,COP,COU,CRC,CUC,CUP,CVE,CZK,DJF,DKK,DOP,DZD,EGP,ERN,ETB,EUR,FJD,FKP,GBP,GEL,GHS,GIP,GMD,GNF,GTQ,GYD,HKD,HNL,HTG,HUF,IDR,ILS,INR,IQD,IRR,ISK,JMD,JOD,JPY,KES,KGS,KHR,KMF,KPW,KRW,KWD,KYD,KZT,LAK,LBP,LKR,LRD,LSL,LYD,MAD,MDL,MGA,MKD,MMK,MNT,MOP,MRU,MUR,MVR,MWK,MXN,MXV,MYR,MZN,NAD,NGN,NIO,NOK,NPR,NZD,OMR,PAB,PEN,PGK,PHP,PKR,PLN,PYG,QAR,RON,RSD,RUB,RWF,SAR,SBD,SCR,SDG,SEK,SGD,SHP,SLE,SLL,SOS,SRD,SSP,STN,SVC,SYP,SZL,THB,TJS,TMT,TND,TOP,TRY,TTD,TWD,TZS,UAH,UGX,USD,USN,UYI,UYU,UYW,UZS,VED,VES,VND,VUV,WST,XAF,XAG,XAU,XBA,XBB,XBC,XBD,XCD,XDR,XOF,XPD,XPF,XPT,XSU,XUA,YER,ZAR,ZMW,ZWG,ZWL}'::text[])
$$;
comment on function app.is_iso_currency(text) is 'Is p_code an active ISO 4217 currency code (upper case)?';

reset role;
