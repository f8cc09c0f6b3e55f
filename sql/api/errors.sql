-- Turning "row-level security hid the row" into the right answer. An UPDATE or DELETE
-- whose USING clause rejects a row changes nothing and raises nothing; the caller then
-- asks whether the row is at least visible: visible → the role is too low (403);
-- invisible → it does not exist for this caller (404, never a hint it exists elsewhere).
create function api.raise_hidden_or_forbidden(p_visible boolean, p_what text) returns void
language plpgsql as $$
begin
  if p_visible then
    raise exception 'your role does not allow changing this %', p_what using errcode = 'RG403';
  end if;
  raise exception '% not found', p_what using errcode = 'RG404';
end
$$;

-- A currency given as a filter or a path value (a body's currency is checked by its
-- column's CHECK): the same rule, app.is_iso_currency, named after the parameter.
create function api.require_currency(p_code text, p_field text) returns void
language plpgsql stable as $$
begin
  if p_code is not null and not app.is_iso_currency(p_code) then
    raise exception 'not an ISO 4217 currency code' using errcode = 'RG422', column = p_field;
  end if;
end
$$;
comment on function api.require_currency(text, text) is
  'RG422 naming p_field unless p_code is NULL or an ISO 4217 code (app.is_iso_currency, the rule of every currency column).';
