//! A workspace's MCP servers (Model Context Protocol, streamable HTTP): where each is, the
//! headers sent with every request to it, and the tools last discovered on it.
//!
//! Header values are secrets: they are read here by the activities that talk to the server
//! and never leave this crate towards a client or a workflow history (the API shows header
//! names only).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::workspaces::Cap;
use crate::{Result, Store, StoreError, conflict, now_ms};

/// One tool as an MCP server declared it in `tools/list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McpToolDefinition {
    /// The tool's name on the server (what `tools/call` names).
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The tool's `inputSchema` (a JSON Schema object).
    pub input_schema: Value,
    /// [`McpToolDefinition::definition_hash`] of this definition.
    pub hash: String,
}

impl McpToolDefinition {
    /// A definition with its hash computed.
    pub fn new(name: String, description: String, input_schema: Value) -> Self {
        let hash = Self::definition_hash(&name, &description, &input_schema);
        Self {
            name,
            description,
            input_schema,
            hash,
        }
    }

    /// SHA-256 (hex) of the definition's canonical JSON (keys sorted at every level), so the
    /// same definition always has the same hash whatever order the server wrote it in.
    pub fn definition_hash(name: &str, description: &str, input_schema: &Value) -> String {
        let mut text = String::new();
        canonical(
            &serde_json::json!({
                "name": name, "description": description, "input_schema": input_schema,
            }),
            &mut text,
        );
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}

fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// An MCP server of a workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct McpServer {
    pub workspace_id: String,
    pub name: String,
    pub url: String,
    /// Sent with every request; the values are secrets (write-only).
    pub headers: Vec<(String, String)>,
    /// The tools of the last successful discovery.
    pub tools: Vec<McpToolDefinition>,
    /// How many discoveries changed the tool list (0: never discovered).
    pub tools_version: i64,
    /// A call found the server's tools no longer matching an agent's snapshot of them.
    pub needs_refresh: bool,
    /// Why the last discovery failed, when it did.
    pub last_error: Option<String>,
    pub discovered_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What `POST /v1/mcp-servers` stores.
#[derive(Debug, Clone)]
pub struct NewMcpServer<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub headers: &'a [(String, String)],
}

const COLUMNS: &str = "workspace_id, name, url, headers, tools, tools_version, needs_refresh, \
                       last_error, discovered_at, created_at, updated_at";

impl McpServer {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let corrupt = |column: &str, e: serde_json::Error| {
            StoreError::Corrupt(format!("mcp_servers.{column}: {e}"))
        };
        let headers: String = row.try_get("headers")?;
        let tools: String = row.try_get("tools")?;
        let needs_refresh: i64 = row.try_get("needs_refresh")?;
        Ok(Self {
            workspace_id: row.try_get("workspace_id")?,
            name: row.try_get("name")?,
            url: row.try_get("url")?,
            headers: serde_json::from_str(&headers).map_err(|e| corrupt("headers", e))?,
            tools: serde_json::from_str(&tools).map_err(|e| corrupt("tools", e))?,
            tools_version: row.try_get("tools_version")?,
            needs_refresh: needs_refresh != 0,
            last_error: row.try_get("last_error")?,
            discovered_at: row.try_get("discovered_at")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

impl Store {
    /// Registers an MCP server; a name taken in the workspace is [`StoreError::Conflict`], and
    /// a workspace that already has `max_servers` is [`StoreError::LimitReached`] (counted
    /// under the workspace row's lock).
    pub async fn create_mcp_server(
        &self,
        workspace_id: &str,
        new: NewMcpServer<'_>,
        max_servers: i64,
    ) -> Result<McpServer> {
        let now = now_ms();
        let headers =
            serde_json::to_string(new.headers).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let cap = Cap {
            count_sql: "SELECT CAST(COUNT(*) AS BIGINT) FROM mcp_servers WHERE workspace_id = $1",
            what: "MCP servers",
            limit: max_servers,
        };
        let mut tx = cap
            .check(self.tenant(workspace_id).await?, workspace_id)
            .await?;
        let row = sqlx::query(&format!(
            "INSERT INTO mcp_servers ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, '[]', 0, 0, NULL, NULL, $5, $5) RETURNING {COLUMNS}"
        ))
        .bind(workspace_id)
        .bind(new.name)
        .bind(new.url)
        .bind(&headers)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict("MCP server"))?;
        let server = McpServer::from_row(&row)?;
        tx.commit().await?;
        Ok(server)
    }

    pub async fn mcp_server(&self, workspace_id: &str, name: &str) -> Result<Option<McpServer>> {
        let sql =
            format!("SELECT {COLUMNS} FROM mcp_servers WHERE workspace_id = $1 AND name = $2");
        let statement = sqlx::query(&sql).bind(workspace_id).bind(name);
        let row = self.tenant_optional(workspace_id, statement).await?;
        row.as_ref().map(McpServer::from_row).transpose()
    }

    /// The workspace's MCP servers by name (at most `limit`; a workspace holds few).
    pub async fn list_mcp_servers(&self, workspace_id: &str, limit: i64) -> Result<Vec<McpServer>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM mcp_servers WHERE workspace_id = $1 ORDER BY name LIMIT $2"
        );
        let statement = sqlx::query(&sql).bind(workspace_id).bind(limit);
        let rows = self.tenant_all(workspace_id, statement).await?;
        rows.iter().map(McpServer::from_row).collect()
    }

    /// Removes a server; agents saved with its tools keep their snapshot, and their calls to
    /// it become error results.
    pub async fn delete_mcp_server(&self, workspace_id: &str, name: &str) -> Result<bool> {
        let statement =
            sqlx::query("DELETE FROM mcp_servers WHERE workspace_id = $1 AND name = $2")
                .bind(workspace_id)
                .bind(name);
        Ok(self.tenant_execute(workspace_id, statement).await? == 1)
    }

    /// Stores a successful discovery: the tool list, its version bumped when the list differs
    /// from the stored one, `needs_refresh` and `last_error` cleared. `None`: no such server.
    pub async fn record_mcp_discovery(
        &self,
        workspace_id: &str,
        name: &str,
        tools: &[McpToolDefinition],
    ) -> Result<Option<McpServer>> {
        let text = serde_json::to_string(tools).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.tenant(workspace_id).await?;
        let current = sqlx::query(
            "SELECT tools, tools_version FROM mcp_servers WHERE workspace_id = $1 AND name = $2",
        )
        .bind(workspace_id)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(current) = current else {
            tx.rollback().await?;
            return Ok(None);
        };
        let stored: String = current.try_get("tools")?;
        let version: i64 = current.try_get("tools_version")?;
        let same = serde_json::from_str::<Vec<McpToolDefinition>>(&stored)
            .is_ok_and(|stored| stored == tools);
        let version = if same && version > 0 {
            version
        } else {
            version + 1
        };
        let now = now_ms();
        let row = sqlx::query(&format!(
            "UPDATE mcp_servers SET tools = $1, tools_version = $2, needs_refresh = 0, \
                 last_error = NULL, discovered_at = $3, updated_at = $3 \
             WHERE workspace_id = $4 AND name = $5 RETURNING {COLUMNS}"
        ))
        .bind(&text)
        .bind(version)
        .bind(now)
        .bind(workspace_id)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        let server = McpServer::from_row(&row)?;
        tx.commit().await?;
        Ok(Some(server))
    }

    /// Records why a discovery failed (the stored tool list stays).
    pub async fn record_mcp_failure(
        &self,
        workspace_id: &str,
        name: &str,
        error: &str,
    ) -> Result<()> {
        let statement = sqlx::query(
            "UPDATE mcp_servers SET last_error = $1, updated_at = $2 \
             WHERE workspace_id = $3 AND name = $4",
        )
        .bind(error)
        .bind(now_ms())
        .bind(workspace_id)
        .bind(name);
        self.tenant_execute(workspace_id, statement).await?;
        Ok(())
    }

    /// Flags a server whose tools changed under an agent's snapshot; a refresh clears it.
    pub async fn flag_mcp_refresh(&self, workspace_id: &str, name: &str) -> Result<()> {
        let statement = sqlx::query(
            "UPDATE mcp_servers SET needs_refresh = 1, updated_at = $1 \
             WHERE workspace_id = $2 AND name = $3",
        )
        .bind(now_ms())
        .bind(workspace_id)
        .bind(name);
        self.tenant_execute(workspace_id, statement).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_hashes_ignore_key_order_and_see_every_change() {
        let a = serde_json::json!({"type": "object", "properties": {"a": {"type": "number"}}});
        let b: Value =
            serde_json::from_str(r#"{"properties": {"a": {"type": "number"}}, "type": "object"}"#)
                .unwrap();
        let hash = |schema: &Value| McpToolDefinition::definition_hash("add", "Adds.", schema);
        assert_eq!(hash(&a), hash(&b));
        let c = serde_json::json!({"type": "object", "properties": {"a": {"type": "string"}}});
        assert_ne!(hash(&a), hash(&c));
        assert_ne!(
            hash(&a),
            McpToolDefinition::definition_hash("add", "Adds two.", &a)
        );
    }
}
