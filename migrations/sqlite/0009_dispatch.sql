-- Outages pause runs, they never fail them: runs wait for their workflow's start, and
-- commands for their delivery, while Temporal does not answer. Same meaning as
-- migrations/postgres/0009_dispatch.sql (without row-level security).

ALTER TABLE runs ADD COLUMN dispatch_state TEXT;
ALTER TABLE runs ADD COLUMN dispatch TEXT;
ALTER TABLE runs ADD COLUMN dispatch_after INTEGER;
ALTER TABLE runs ADD COLUMN dispatch_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN dispatch_error TEXT;
CREATE INDEX runs_dispatch_pending_idx ON runs (dispatch_after) WHERE dispatch_state = 'pending';

CREATE TABLE run_commands (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    run_id          TEXT NOT NULL REFERENCES runs (id),
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    deliver_after   INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    delivered_at    INTEGER,
    outcome         TEXT
);
CREATE INDEX run_commands_pending_idx ON run_commands (deliver_after, id) WHERE delivered_at IS NULL;
CREATE INDEX run_commands_run_idx ON run_commands (run_id, id);
