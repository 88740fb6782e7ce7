-- Row-level security on the tenant tables: a second wall behind the workspace id every query
-- takes. A transaction of a workspace sets `longrun.workspace_id` (SET LOCAL); the few
-- cross-tenant reads (authentication by key, the billing export, repairs) set
-- `longrun.scope = 'system'`. Anything else sees no rows. The application works as the
-- non-superuser role longrun_app (superusers and table owners bypass RLS; FORCE makes owners
-- subject to it too). SQLite: see migrations/sqlite/0004_row_level_security.sql.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'longrun_app') THEN
        CREATE ROLE longrun_app NOLOGIN;
    END IF;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO longrun_app', current_schema());
    EXECUTE format(
        'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO longrun_app',
        current_schema()
    );
    -- Tables of later migrations too.
    EXECUTE format(
        'ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO longrun_app',
        current_schema()
    );
    -- The migrating role switches to longrun_app after migrating; it must be a member.
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT longrun_app TO %I', current_user);
    END IF;
END
$$;

CREATE FUNCTION longrun_may_see(workspace text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('longrun.scope', true), '') = 'system'
        OR workspace = nullif(current_setting('longrun.workspace_id', true), '')
$$;

ALTER TABLE workspaces ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspaces FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON workspaces USING (longrun_may_see(id)) WITH CHECK (longrun_may_see(id));

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON api_keys USING (longrun_may_see(workspace_id)) WITH CHECK (longrun_may_see(workspace_id));

ALTER TABLE agents ENABLE ROW LEVEL SECURITY;
ALTER TABLE agents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON agents USING (longrun_may_see(workspace_id)) WITH CHECK (longrun_may_see(workspace_id));

ALTER TABLE runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE runs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON runs USING (longrun_may_see(workspace_id)) WITH CHECK (longrun_may_see(workspace_id));

ALTER TABLE run_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE run_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON run_events USING (longrun_may_see(workspace_id)) WITH CHECK (longrun_may_see(workspace_id));

ALTER TABLE run_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE run_messages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON run_messages USING (longrun_may_see(workspace_id)) WITH CHECK (longrun_may_see(workspace_id));

ALTER TABLE usage_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON usage_events USING (longrun_may_see(workspace_id)) WITH CHECK (longrun_may_see(workspace_id));

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON users USING (longrun_may_see(workspace_id)) WITH CHECK (longrun_may_see(workspace_id));

ALTER TABLE revoked_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE revoked_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON revoked_tokens USING (longrun_may_see(workspace_id)) WITH CHECK (longrun_may_see(workspace_id));

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON audit_log USING (longrun_may_see(workspace_id)) WITH CHECK (longrun_may_see(workspace_id));

ALTER TABLE usage_alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_alerts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON usage_alerts USING (longrun_may_see(workspace_id)) WITH CHECK (longrun_may_see(workspace_id));
