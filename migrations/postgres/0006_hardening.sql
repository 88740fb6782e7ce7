-- Hardening: an email may own accounts in several workspaces (so sign-up never tells whether
-- an email has one), and the remembered answers of Idempotency-Keys on run routes. Same
-- meaning as migrations/sqlite/0006_hardening.sql.

ALTER TABLE users DROP CONSTRAINT users_email_key;
ALTER TABLE users ADD CONSTRAINT users_workspace_email_key UNIQUE (workspace_id, email);
CREATE INDEX users_email_idx ON users (email);

-- One row per key a workspace used on a state-changing run route: the request's hash, and
-- once it finished, the answer to replay. Rows expire (`expires_at`) and are swept.
CREATE TABLE idempotency_keys (
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id),
    idem_key         TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    -- 'in_flight' while the first request runs, then 'done'.
    state            TEXT NOT NULL,
    response_status  INTEGER,
    response_body    TEXT,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, idem_key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (workspace_id, expires_at);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON idempotency_keys USING (longrun_may_see(workspace_id)) WITH CHECK (longrun_may_see(workspace_id));
