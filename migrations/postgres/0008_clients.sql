-- Clients: runs that continue a finished run's conversation or rerun another, the webhooks a
-- run (or its workspace) asks for, and what the runs list filters on (agent, metadata).
-- Same meaning as migrations/sqlite/0008_clients.sql.

ALTER TABLE runs ADD COLUMN previous_run_id TEXT;
ALTER TABLE runs ADD COLUMN rerun_of TEXT;
-- Messages copied from the previous run's conversation at admission (seq 0 .. n-1).
ALTER TABLE runs ADD COLUMN prior_messages BIGINT NOT NULL DEFAULT 0;
-- JSON array of event kinds POSTed to the run's webhook URL; NULL: `run.completed` only.
ALTER TABLE runs ADD COLUMN webhook_events TEXT;
CREATE INDEX runs_workspace_agent_idx ON runs (workspace_id, agent_name, id);

-- The workspace's default webhook for runs that name none.
ALTER TABLE workspaces ADD COLUMN webhook_url TEXT;
ALTER TABLE workspaces ADD COLUMN webhook_events TEXT;

-- A run's metadata as key/value pairs (scalar values, short keys and values), so that the
-- runs list can filter on `metadata.<key>=<value>` through an index.
CREATE TABLE run_metadata (
    run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    workspace_id  TEXT NOT NULL,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX run_metadata_lookup_idx ON run_metadata (workspace_id, key, value, run_id);

ALTER TABLE run_metadata ENABLE ROW LEVEL SECURITY;
ALTER TABLE run_metadata FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON run_metadata USING (longrun_may_see(workspace_id)) WITH CHECK (longrun_may_see(workspace_id));
