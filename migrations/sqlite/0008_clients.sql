-- Clients: runs that continue a finished run's conversation or rerun another, the webhooks a
-- run (or its workspace) asks for, and what the runs list filters on (agent, metadata).
-- Same meaning as migrations/postgres/0008_clients.sql (without row-level security).

ALTER TABLE runs ADD COLUMN previous_run_id TEXT;
ALTER TABLE runs ADD COLUMN rerun_of TEXT;
ALTER TABLE runs ADD COLUMN prior_messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN webhook_events TEXT;
CREATE INDEX runs_workspace_agent_idx ON runs (workspace_id, agent_name, id);

ALTER TABLE workspaces ADD COLUMN webhook_url TEXT;
ALTER TABLE workspaces ADD COLUMN webhook_events TEXT;

CREATE TABLE run_metadata (
    run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    workspace_id  TEXT NOT NULL,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX run_metadata_lookup_idx ON run_metadata (workspace_id, key, value, run_id);
