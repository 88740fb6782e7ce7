-- A workspace's MCP servers and the tools discovered on each. Same meaning as
-- migrations/postgres/0010_mcp_servers.sql (without row-level security).

CREATE TABLE mcp_servers (
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    name            TEXT NOT NULL,
    url             TEXT NOT NULL,
    headers         TEXT NOT NULL,
    tools           TEXT NOT NULL,
    tools_version   INTEGER NOT NULL DEFAULT 0,
    needs_refresh   INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    discovered_at   INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, name)
);
