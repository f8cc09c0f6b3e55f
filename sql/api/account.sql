-- DELETE /v1/auth/me (issue 18): the caller deletes their account, restorable for 30
-- days (POST /v1/auth/restore, which signs in: api/identity.go), erased after that by
-- `rowguard purge-deleted`. Everything is decided in the kernel (auth.delete_account):
-- the step-up, the last-OWNER refusal, what ends at once and what waits for the purge.
create function api.delete_me() returns json
language plpgsql volatile as $$
begin
  perform auth.delete_account();
  -- now() is the transaction's time: the deleted_at auth.delete_account wrote.
  return json_build_object('deleted_at', now(), 'purge_after', now() + auth.account_grace());
end
$$;
comment on function api.delete_me() is
  'DELETE /v1/auth/me: needs a fresh proof (RGR03); RG409 naming the organizations of which the caller is the last OWNER; else the account is pending deletion (auth.delete_account) until purge_after.';
