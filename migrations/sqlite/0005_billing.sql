-- Billing: daily rollups of the ledger (what quota checks read for past days), the days
-- rolled up, and the index the export pages through. Same meaning as
-- migrations/postgres/0005_billing.sql.

CREATE TABLE usage_daily (
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id),
    day                 TEXT NOT NULL,
    agent_name          TEXT NOT NULL,
    -- '' for units with no model (tool calls and their time).
    model               TEXT NOT NULL,
    input_tokens        INTEGER NOT NULL,
    output_tokens       INTEGER NOT NULL,
    cache_read_tokens   INTEGER NOT NULL,
    cache_write_tokens  INTEGER NOT NULL,
    tool_calls          INTEGER NOT NULL,
    agent_ms            INTEGER NOT NULL,
    cost_micro_usd      INTEGER NOT NULL,
    ledger_rows         INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, day, agent_name, model)
);
CREATE INDEX usage_daily_day_idx ON usage_daily (day);

CREATE TABLE usage_rollups (
    day          TEXT PRIMARY KEY,
    ledger_rows  INTEGER NOT NULL,
    rolled_at    INTEGER NOT NULL
);

CREATE INDEX usage_events_time_idx ON usage_events (occurred_at, id);
