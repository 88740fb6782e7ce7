-- Hardening: an email may own accounts in several workspaces (so sign-up never tells whether
-- an email has one), and the remembered answers of Idempotency-Keys on run routes. Same
-- meaning as migrations/postgres/0006_hardening.sql. SQLite cannot drop a table constraint:
-- the users table is rebuilt (nothing references it).

CREATE TABLE users_new (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id),
    email          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    CONSTRAINT users_workspace_email_key UNIQUE (workspace_id, email)
);
INSERT INTO users_new (id, workspace_id, email, password_hash, role, created_at)
    SELECT id, workspace_id, email, password_hash, role, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE INDEX users_email_idx ON users (email);

CREATE TABLE idempotency_keys (
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id),
    idem_key         TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    state            TEXT NOT NULL,
    response_status  INTEGER,
    response_body    TEXT,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, idem_key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (workspace_id, expires_at);
