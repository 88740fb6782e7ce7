-- Billing: daily rollups of the ledger (what quota checks read for past days), the days
-- rolled up, and the index the export pages through. Same meaning as
-- migrations/sqlite/0005_billing.sql.

CREATE TABLE usage_daily (
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id),
    day                 TEXT NOT NULL,
    agent_name          TEXT NOT NULL,
    -- '' for units with no model (tool calls and their time).
    model               TEXT NOT NULL,
    input_tokens        BIGINT NOT NULL,
    output_tokens       BIGINT NOT NULL,
    cache_read_tokens   BIGINT NOT NULL,
    cache_write_tokens  BIGINT NOT NULL,
    tool_calls          BIGINT NOT NULL,
    agent_ms            BIGINT NOT NULL,
    cost_micro_usd      BIGINT NOT NULL,
    ledger_rows         BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, day, agent_name, model)
);
CREATE INDEX usage_daily_day_idx ON usage_daily (day);

CREATE TABLE usage_rollups (
    day          TEXT PRIMARY KEY,
    ledger_rows  BIGINT NOT NULL,
    rolled_at    BIGINT NOT NULL
);

CREATE INDEX usage_events_time_idx ON usage_events (occurred_at, id);

ALTER TABLE usage_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON usage_daily USING (longrun_may_see(workspace_id)) WITH CHECK (longrun_may_see(workspace_id));
