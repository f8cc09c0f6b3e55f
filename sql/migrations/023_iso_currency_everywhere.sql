-- A currency is an ISO 4217 code wherever it appears. Financial records and exchange
-- rates have checked app.is_iso_currency (migration 013) since they exist; services and
-- plans only checked the shape (three capital letters), so a service priced in "XXQ"
-- was accepted while a record in "XXQ" was refused. Now every currency column carries
-- the same rule, as a CHECK named <table>_<column>_check (the API names the field from
-- it): app.services, platform.plans, and the finance rollups (written only from
-- financial records, which are checked: the rule there guards the rollups from a
-- hand-written row).
--
-- Existing rows that break the rule are not guessed at: nothing knows which currency
-- "XXQ" meant, and rewriting a price's currency would change what customers are shown.
-- The migration refuses instead, before changing anything, naming the rows (up to 20)
-- and how many there are; the hint says how to fix them. Fix them, then migrate again:
--   update app.services set currency = 'EUR' where id = '…';
-- tests/pgtap/46_currency.sql and internal/database/currency_migration_test.go prove it.
--
-- The look for offending rows runs as the migrating role (a superuser): the owner is
-- under FORCE ROW LEVEL SECURITY and would see none. A role that cannot see them
-- still gets a refusal, from the constraint's validation, without the list.
do $$
declare
  v_count int;
  v_rows  text;
begin
  select count(*), string_agg(format('%s %s (organization %s): %s', t.what, t.id, t.org_id, t.currency), '; ')
           filter (where t.n <= 20)
    into v_count, v_rows
    from (select b.*, row_number() over (order by b.what, b.org_id, b.id) as n
            from (select 'service' as what, s.org_id::text as org_id, s.id::text as id, s.currency
                    from app.services s where not app.is_iso_currency(s.currency)
                  union all
                  select 'plan', '-', p.code, p.currency
                    from platform.plans p where not app.is_iso_currency(p.currency)) b) t;
  if v_count > 0 then
    raise exception '% row(s) have a currency that is not an ISO 4217 code', v_count
      using errcode = 'check_violation',
            detail = v_rows,
            hint = 'Set each to the ISO 4217 code it meant (update app.services set currency = ''EUR'' where id = ''…''; '
                   'update platform.plans set currency = ''EUR'' where code = ''…''), then migrate again.';
  end if;
end
$$;

set local role rowguard_owner;

alter table app.services drop constraint services_currency_check;
alter table app.services add constraint services_currency_check check (app.is_iso_currency(currency));
comment on constraint services_currency_check on app.services is 'An ISO 4217 code (app.is_iso_currency), as everywhere a currency appears.';

alter table platform.plans drop constraint plans_currency_check;
alter table platform.plans add constraint plans_currency_check check (app.is_iso_currency(currency));
comment on constraint plans_currency_check on platform.plans is 'An ISO 4217 code (app.is_iso_currency), as everywhere a currency appears.';

alter table app.finance_daily_totals
  add constraint finance_daily_totals_currency_check check (app.is_iso_currency(currency));
alter table app.finance_daily_currency_totals
  add constraint finance_daily_currency_totals_currency_check check (app.is_iso_currency(currency));
reset role;

---- create above / drop below ----

set local role rowguard_owner;

alter table app.finance_daily_currency_totals drop constraint finance_daily_currency_totals_currency_check;
alter table app.finance_daily_totals drop constraint finance_daily_totals_currency_check;

alter table platform.plans drop constraint plans_currency_check;
alter table platform.plans add constraint plans_currency_check check (currency ~ '^[A-Z]{3}$');

alter table app.services drop constraint services_currency_check;
alter table app.services add constraint services_currency_check check (currency ~ '^[A-Z]{3}$');
reset role;
