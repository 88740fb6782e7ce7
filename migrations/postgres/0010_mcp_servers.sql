-- A workspace's MCP servers (Model Context Protocol, streamable HTTP transport) and the tools
-- discovered on each. `headers` holds the header values sent with every request (secrets:
-- write-only, never shown by the API, never in workflow history). `tools` is the discovered
-- list (JSON), `tools_version` counts the discoveries that changed it, `needs_refresh` is set
-- when a call found the server's tools no longer matching what an agent was saved with.
-- Same meaning as migrations/sqlite/0010_mcp_servers.sql.

CREATE TABLE mcp_servers (
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    name            TEXT NOT NULL,
    url             TEXT NOT NULL,
    headers         TEXT NOT NULL,
    tools           TEXT NOT NULL,
    tools_version   BIGINT NOT NULL DEFAULT 0,
    needs_refresh   BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    discovered_at   BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

ALTER TABLE mcp_servers ENABLE ROW LEVEL SECURITY;
ALTER TABLE mcp_servers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON mcp_servers USING (longrun_may_see(workspace_id)) WITH CHECK (longrun_may_see(workspace_id));
