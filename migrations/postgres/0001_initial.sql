-- The skeleton's tables. Same meaning as migrations/sqlite/0001_initial.sql.
-- Ids are text, times are epoch milliseconds, JSON is text.

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL,
    name        TEXT NOT NULL,
    tier        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT workspaces_slug_key UNIQUE (slug)
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT,
    CONSTRAINT api_keys_secret_hash_key UNIQUE (secret_hash)
);
CREATE INDEX api_keys_prefix_idx ON api_keys (prefix);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id, id);

CREATE TABLE agents (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id),
    name           TEXT NOT NULL,
    model          TEXT NOT NULL,
    system_prompt  TEXT NOT NULL,
    tools          TEXT NOT NULL,
    limits         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    CONSTRAINT agents_workspace_name_key UNIQUE (workspace_id, name)
);

CREATE TABLE runs (
    id                  TEXT PRIMARY KEY,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id),
    agent_name          TEXT NOT NULL,
    status              TEXT NOT NULL,
    input               TEXT NOT NULL,
    metadata            TEXT,
    result              TEXT,
    error_code          TEXT,
    error_message       TEXT,
    idempotency_key     TEXT,
    request_hash        TEXT,
    workflow_id         TEXT NOT NULL,
    step                BIGINT NOT NULL DEFAULT 0,
    last_event_seq      BIGINT NOT NULL DEFAULT 0,
    input_tokens        BIGINT NOT NULL DEFAULT 0,
    output_tokens       BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens   BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens  BIGINT NOT NULL DEFAULT 0,
    tool_calls          BIGINT NOT NULL DEFAULT 0,
    agent_ms            BIGINT NOT NULL DEFAULT 0,
    cost_micro_usd      BIGINT NOT NULL DEFAULT 0,
    created_at          BIGINT NOT NULL,
    started_at          BIGINT,
    finished_at         BIGINT,
    updated_at          BIGINT NOT NULL,
    CONSTRAINT runs_workspace_idempotency_key UNIQUE (workspace_id, idempotency_key)
);
-- Run ids are UUIDv7, so ordering by id is ordering by creation time.
CREATE INDEX runs_workspace_id_idx ON runs (workspace_id, id);
CREATE INDEX runs_workspace_status_idx ON runs (workspace_id, status, id);

CREATE TABLE run_events (
    run_id        TEXT NOT NULL REFERENCES runs (id),
    seq           BIGINT NOT NULL,
    workspace_id  TEXT NOT NULL,
    kind          TEXT NOT NULL,
    dedupe_key    TEXT NOT NULL,
    data          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (run_id, seq),
    CONSTRAINT run_events_dedupe_key UNIQUE (run_id, dedupe_key)
);

-- The usage ledger: append-only; the idempotency key makes every billable step land once.
CREATE TABLE usage_events (
    id                  TEXT PRIMARY KEY,
    idempotency_key     TEXT NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id),
    run_id              TEXT NOT NULL,
    agent_name          TEXT NOT NULL,
    step                BIGINT NOT NULL,
    kind                TEXT NOT NULL,
    provider            TEXT,
    model               TEXT,
    tool_name           TEXT,
    input_tokens        BIGINT NOT NULL DEFAULT 0,
    output_tokens       BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens   BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens  BIGINT NOT NULL DEFAULT 0,
    tool_calls          BIGINT NOT NULL DEFAULT 0,
    agent_ms            BIGINT NOT NULL DEFAULT 0,
    cost_micro_usd      BIGINT NOT NULL DEFAULT 0,
    price_version       TEXT,
    occurred_at         BIGINT NOT NULL,
    CONSTRAINT usage_events_idempotency_key UNIQUE (idempotency_key)
);
CREATE INDEX usage_events_workspace_time_idx ON usage_events (workspace_id, occurred_at);
CREATE INDEX usage_events_run_idx ON usage_events (run_id);
