-- Who is asking: the helpers every policy calls. Plain functions read the
-- transaction-local settings; the membership helpers are SECURITY DEFINER and run as
-- rowguard_kernel, whose reads are the *_kernel policies in tenancy.sql and identity.sql.

grant execute on function
  app.current_user_id(),
  app.current_org_id(),
  app.current_org_role(),
  app.my_org_ids(),
  app.uuid_v7()
to rowguard_api;

-- The kernel's own policies call app.current_user_id().
grant execute on function app.current_user_id(), app.current_org_id() to rowguard_kernel;

-- The first statement of every authenticated request (and, on a read replica, the wait
-- for the primary's WAL position that comes before it), and the login lookup.
grant execute on function
  auth.begin_request(uuid, uuid, uuid),
  auth.await_replay(pg_lsn, interval),
  auth.credentials_for(text)
to rowguard_api;

-- Building blocks every api.* function uses (JSON shapes, errors, cursors).
grant execute on function
  api.raise_hidden_or_forbidden(boolean, text),
  api.require_currency(text, text),
  api.user_json(uuid),
  api.organization_json(app.organizations, app.org_role),
  api.project_json(app.projects, json),
  api.page_json(json[], uuid[], int),
  api.cursor_or_max(uuid),
  api.slugify(text)
to rowguard_api;
