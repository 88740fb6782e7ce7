-- The agent loop: conversations kept in the store (workflow histories carry only the new
-- messages of each step), completion webhooks, and the workspace's webhook signing secret.
-- Same meaning as migrations/sqlite/0002_conversations.sql.

CREATE TABLE run_messages (
    run_id        TEXT NOT NULL REFERENCES runs (id),
    seq           BIGINT NOT NULL,
    workspace_id  TEXT NOT NULL,
    role          TEXT NOT NULL,
    content       TEXT NOT NULL,
    meta          TEXT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

ALTER TABLE runs ADD COLUMN webhook_url TEXT;
ALTER TABLE workspaces ADD COLUMN webhook_secret TEXT;
