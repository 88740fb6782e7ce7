-- Tenancy: users and their tokens, the audit log, usage alerts, per-workspace quota overrides.
-- Same meaning as migrations/sqlite/0003_tenancy.sql.

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id),
    email          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email)
);

-- Logged-out JWTs, until they would have expired anyway.
CREATE TABLE revoked_tokens (
    jti           TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    expires_at    BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id            TEXT PRIMARY KEY,
    -- NULL for what belongs to no workspace (a login attempt for an unknown email).
    workspace_id  TEXT,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    target        TEXT,
    data          TEXT NOT NULL,
    ip            TEXT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX audit_log_workspace_idx ON audit_log (workspace_id, id);

-- One row per alert raised: once per threshold, metric and period.
CREATE TABLE usage_alerts (
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    period        TEXT NOT NULL,
    metric        TEXT NOT NULL,
    threshold     BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, period, metric, threshold)
);

ALTER TABLE workspaces ADD COLUMN quota_overrides TEXT;
ALTER TABLE workspaces ADD COLUMN alert_webhook_url TEXT;
-- Admissions take this row's lock first, so concurrent submissions of one workspace queue up
-- and the concurrency cap holds.
ALTER TABLE workspaces ADD COLUMN admissions BIGINT NOT NULL DEFAULT 0;

CREATE INDEX runs_workspace_active_idx ON runs (workspace_id, status);
