-- Sessions: refresh, logout, the session list, password change. The tables behind them
-- (auth.sessions, auth.refresh_tokens) are not granted to rowguard_api: these functions
-- call the kernel's SECURITY DEFINER helpers, which answer about the caller only.
--
-- Revocation is instant because auth.begin_request, the first statement of every
-- request, reads the session row: a revoked session fails the very next request.

-- POST /v1/auth/refresh. Returns {"outcome": "rotated" | "replayed", user, session_id,
-- session_expires_at[, successor_sealed]} or {"outcome": "reused" | "invalid"}: a reuse
-- must commit the session's revocation, so it is an answer, not an exception. A replay
-- within the grace window carries the successor already issued (sealed by the API,
-- base64), never a new token. The per-account limit is checked after the token named
-- its user; over it, RG429 rolls the rotation back.
create function api.refresh_session(
  p_token_hash bytea, p_new_token_hash bytea, p_new_token_sealed bytea, p_reuse_grace interval,
  p_account_max int, p_account_window interval
) returns json
language plpgsql volatile as $$
declare
  r record;
begin
  select * into r from auth.rotate_refresh_token(p_token_hash, p_new_token_hash, p_new_token_sealed, p_reuse_grace);
  if r.outcome not in ('rotated', 'replayed') then
    return json_build_object('outcome', r.outcome);
  end if;
  perform auth.enforce_rate_limit('refresh:account:' || r.user_id, p_account_max, p_account_window);
  perform set_config('app.user_id', r.user_id::text, true);
  return json_build_object('outcome', r.outcome, 'user', api.user_json(r.user_id),
    'session_id', r.session_id, 'session_expires_at', r.expires_at,
    'successor_sealed', encode(r.successor_sealed, 'base64'));
end
$$;
comment on function api.refresh_session(bytea, bytea, bytea, interval, int, interval) is
  'POST /v1/auth/refresh: rotates a refresh token (auth.rotate_refresh_token), or hands a replay within the grace window the successor already issued; rate-limited per account.';

-- POST /v1/auth/logout: the request's own session.
create function api.logout() returns json
language plpgsql volatile as $$
begin
  perform auth.revoke_my_session(app.current_session_id(), 'logout');
  return null;
end
$$;
comment on function api.logout() is 'POST /v1/auth/logout: revokes the session of the access token.';

-- POST /v1/auth/logout-all: every session of the caller, this one included.
create function api.logout_all() returns json
language plpgsql volatile as $$
begin
  perform auth.revoke_my_sessions(null, 'logout_all');
  return null;
end
$$;
comment on function api.logout_all() is 'POST /v1/auth/logout-all: revokes every session of the caller.';

-- GET /v1/auth/sessions. A user has a handful of live sessions: one list, no pages.
create function api.list_sessions() returns json
language plpgsql stable as $$
begin
  return json_build_object('items', coalesce((
    select json_agg(json_build_object(
             'id', s.id, 'user_agent', s.user_agent, 'ip', host(s.ip),
             'created_at', s.created_at, 'last_used_at', s.last_used_at,
             'expires_at', s.expires_at, 'current', s.id = app.current_session_id())
           order by s.last_used_at desc, s.id)
      from auth.my_sessions() s), '[]'::json));
end
$$;
comment on function api.list_sessions() is 'GET /v1/auth/sessions: the caller''s live sessions, the current one flagged.';

-- DELETE /v1/auth/sessions/{session_id}: another user's session answers like a missing one.
create function api.delete_session(p_session_id uuid) returns json
language plpgsql volatile as $$
begin
  if not auth.revoke_my_session(p_session_id, 'removed') then
    raise exception 'session not found' using errcode = 'RG404';
  end if;
  return null;
end
$$;
comment on function api.delete_session(uuid) is 'DELETE /v1/auth/sessions/{session_id}: revokes one of the caller''s live sessions.';

-- POST /v1/auth/password, step 1: the hash to verify current_password against. Each
-- call counts against the caller's password-attempt limit (a stolen access token must
-- not become an oracle for the password).
create function api.current_password_hash(p_attempts_max int, p_attempts_window interval) returns json
language plpgsql volatile as $$
begin
  perform auth.enforce_rate_limit('password:account:' || app.current_user_id(), p_attempts_max, p_attempts_window);
  return json_build_object('password_hash', auth.my_password_hash());
end
$$;
comment on function api.current_password_hash(int, interval) is 'POST /v1/auth/password: the caller''s password hash (null: the account has none), verified by the API; rate-limited per account.';

-- POST /v1/auth/password, step 2: the new hash; every other session of the caller ends.
-- A change with the current password (verified by the API) is itself the fresh proof;
-- one without it needs a reauthentication within 5 minutes (RGR03), e.g. by emailed code.
create function api.change_password(p_new_password_hash text, p_current_password_verified boolean) returns json
language plpgsql volatile as $$
begin
  if p_current_password_verified then
    perform auth.record_reauthentication('password_change');
  else
    perform auth.require_recent_reauthentication();
  end if;
  update auth.users set password_hash = p_new_password_hash where id = app.current_user_id();
  perform auth.revoke_my_sessions(app.current_session_id(), 'password_changed');
  return null;
end
$$;
comment on function api.change_password(text, boolean) is 'POST /v1/auth/password: sets the caller''s new password hash and revokes their other sessions; without a verified current password, only after a recent reauthentication.';

-- POST /v1/auth/reauthenticate {password}, after the API verified it against
-- api.current_password_hash (rate-limited with the password change).
create function api.reauthenticated_by_password() returns json
language plpgsql volatile as $$
begin
  perform auth.record_reauthentication('password');
  return api.reauthentication_json();
end
$$;
comment on function api.reauthenticated_by_password() is 'POST /v1/auth/reauthenticate {password}: records the proof on the session.';

-- POST /v1/auth/reauthenticate {code}: {"ok": false} when wrong, expired or used (the
-- guess must count, so it is an answer, not an exception).
create function api.reauthenticate_by_code(p_code_hash bytea) returns json
language plpgsql volatile as $$
begin
  if not auth.verify_reauthentication_code(p_code_hash) then
    return json_build_object('ok', false);
  end if;
  return api.reauthentication_json();
end
$$;
comment on function api.reauthenticate_by_code(bytea) is 'POST /v1/auth/reauthenticate {code}: checks the session''s emailed code and records the proof.';

-- POST /v1/auth/reauthenticate/code: a code to the caller's address (one per session).
create function api.request_reauthentication_code(p_code_hash bytea, p_code text, p_max int, p_window interval) returns json
language plpgsql volatile as $$
begin
  perform auth.enforce_rate_limit('reauth-code:account:' || app.current_user_id(), p_max, p_window);
  perform auth.request_reauthentication_code(p_code_hash, p_code);
  return null;
end
$$;
comment on function api.request_reauthentication_code(bytea, text, int, interval) is 'POST /v1/auth/reauthenticate/code: emails the caller a step-up code for this session (10 minutes, 5 guesses); rate-limited per account.';

create function api.reauthentication_json() returns json
language sql stable as $$
  select json_build_object('ok', true, 'reauthenticated_at', now(), 'valid_until', now() + interval '5 minutes')
$$;
comment on function api.reauthentication_json() is 'The answer of a successful reauthentication: when, and until when destructive acts are allowed.';
