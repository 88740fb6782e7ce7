//! Agent profiles: a workspace's named configurations (model, system prompt, tools, limits).
//! Tools and limits are JSON documents whose shape the API owns; the store keeps them as text.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, new_id, now_ms, unique_violation};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub model: String,
    pub system_prompt: String,
    /// JSON array of tool declarations.
    pub tools: String,
    /// JSON object of limits.
    pub limits: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewAgent<'a> {
    pub name: &'a str,
    pub model: &'a str,
    pub system_prompt: &'a str,
    pub tools: &'a str,
    pub limits: &'a str,
}

const COLUMNS: &str =
    "id, workspace_id, name, model, system_prompt, tools, limits, created_at, updated_at";

impl Agent {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            name: row.try_get("name")?,
            model: row.try_get("model")?,
            system_prompt: row.try_get("system_prompt")?,
            tools: row.try_get("tools")?,
            limits: row.try_get("limits")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

impl Store {
    /// Creates an agent; a name taken in the workspace is [`StoreError::Conflict`], and a
    /// workspace that already has `max_agents` is [`StoreError::LimitReached`] (counted under
    /// the workspace row's lock, so concurrent creations cannot overshoot).
    pub async fn create_agent(
        &self,
        workspace_id: &str,
        new: NewAgent<'_>,
        max_agents: Option<i64>,
    ) -> Result<Agent> {
        let now = now_ms();
        let agent = Agent {
            id: new_id("ag"),
            workspace_id: workspace_id.to_string(),
            name: new.name.to_string(),
            model: new.model.to_string(),
            system_prompt: new.system_prompt.to_string(),
            tools: new.tools.to_string(),
            limits: new.limits.to_string(),
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.tenant(workspace_id).await?;
        if let Some(limit) = max_agents {
            crate::workspaces::lock_workspace(&mut tx, workspace_id).await?;
            let count: i64 =
                sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM agents WHERE workspace_id = $1")
                    .bind(workspace_id)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get(0)?;
            if count >= limit {
                tx.rollback().await?;
                return Err(StoreError::LimitReached {
                    what: "agents",
                    limit,
                });
            }
        }
        sqlx::query(&format!(
            "INSERT INTO agents ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&agent.id)
        .bind(&agent.workspace_id)
        .bind(&agent.name)
        .bind(&agent.model)
        .bind(&agent.system_prompt)
        .bind(&agent.tools)
        .bind(&agent.limits)
        .bind(agent.created_at)
        .bind(agent.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| match unique_violation(&e) {
            Some(_) => StoreError::Conflict("agent"),
            None => e.into(),
        })?;
        tx.commit().await?;
        Ok(agent)
    }

    /// Replaces an agent's definition (its name stays); `None` if there is no such agent.
    pub async fn update_agent(
        &self,
        workspace_id: &str,
        new: NewAgent<'_>,
    ) -> Result<Option<Agent>> {
        let mut tx = self.tenant(workspace_id).await?;
        let row = sqlx::query(&format!(
            "UPDATE agents SET model = $1, system_prompt = $2, tools = $3, limits = $4, \
                 updated_at = $5 \
             WHERE workspace_id = $6 AND name = $7 RETURNING {COLUMNS}"
        ))
        .bind(new.model)
        .bind(new.system_prompt)
        .bind(new.tools)
        .bind(new.limits)
        .bind(now_ms())
        .bind(workspace_id)
        .bind(new.name)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.as_ref().map(Agent::from_row).transpose()
    }

    /// Deletes an agent; runs already submitted keep their snapshot of it.
    pub async fn delete_agent(&self, workspace_id: &str, name: &str) -> Result<bool> {
        let mut tx = self.tenant(workspace_id).await?;
        let deleted = sqlx::query("DELETE FROM agents WHERE workspace_id = $1 AND name = $2")
            .bind(workspace_id)
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted == 1)
    }

    pub async fn agent(&self, workspace_id: &str, name: &str) -> Result<Option<Agent>> {
        let mut tx = self.tenant(workspace_id).await?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM agents WHERE workspace_id = $1 AND name = $2"
        ))
        .bind(workspace_id)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.as_ref().map(Agent::from_row).transpose()
    }

    /// A page of the workspace's agents by name, after `after` (a name).
    pub async fn list_agents(
        &self,
        workspace_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Agent>> {
        let mut tx = self.tenant(workspace_id).await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM agents WHERE workspace_id = $1 AND name > $2 \
             ORDER BY name LIMIT $3"
        ))
        .bind(workspace_id)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(Agent::from_row).collect()
    }
}
