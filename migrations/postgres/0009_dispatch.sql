-- Outages pause runs, they never fail them. Admission commits a run with what its workflow
-- will start with (`dispatch`, JSON) and answers at once; a dispatcher starts the workflow,
-- retrying while Temporal does not answer. Signals, approvals, cancellations and messages
-- that Temporal cannot take at once wait in `run_commands` and are delivered in order when it
-- answers. Same meaning as migrations/sqlite/0009_dispatch.sql.

-- 'pending' until the workflow is started, then 'started' (and `dispatch` emptied); runs
-- admitted before this migration count as started (NULL).
ALTER TABLE runs ADD COLUMN dispatch_state TEXT;
ALTER TABLE runs ADD COLUMN dispatch TEXT;
-- No dispatcher tries the run again before this time (epoch ms): a lease while one starts
-- it, a backoff after Temporal did not answer.
ALTER TABLE runs ADD COLUMN dispatch_after BIGINT;
ALTER TABLE runs ADD COLUMN dispatch_attempts BIGINT NOT NULL DEFAULT 0;
-- Why the run is still queued, for clients (`status_reason`).
ALTER TABLE runs ADD COLUMN dispatch_error TEXT;
CREATE INDEX runs_dispatch_pending_idx ON runs (dispatch_after) WHERE dispatch_state = 'pending';

CREATE TABLE run_commands (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    run_id          TEXT NOT NULL REFERENCES runs (id),
    -- message | approval | cancel | complete | resume
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    deliver_after   BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    -- Set once delivered (or refused by the workflow, with `outcome` saying so).
    delivered_at    BIGINT,
    outcome         TEXT
);
CREATE INDEX run_commands_pending_idx ON run_commands (deliver_after, id) WHERE delivered_at IS NULL;
CREATE INDEX run_commands_run_idx ON run_commands (run_id, id);

ALTER TABLE run_commands ENABLE ROW LEVEL SECURITY;
ALTER TABLE run_commands FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON run_commands USING (longrun_may_see(workspace_id)) WITH CHECK (longrun_may_see(workspace_id));
