//! Agent profiles: a workspace's named configurations (model, system prompt, tools, limits).
//! Tools, limits and settings are the typed agent document ([`crate::agent_document`]),
//! stored as JSON text.

use longrun_domain::{AgentName, RunLimits, WorkspaceId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::agent_document::{AgentSettings, AgentTool, StoredLimits, WebhookTool};
use crate::workspaces::Cap;
use crate::{Result, Store, StoreError, new_id, now_ms, parsed};

#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub id: String,
    pub workspace_id: WorkspaceId,
    pub name: AgentName,
    pub model: String,
    pub system_prompt: String,
    pub tools: Vec<AgentTool>,
    /// Defaults for each run's budget (a run may only tighten them).
    pub limits: RunLimits,
    pub settings: AgentSettings,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Agent {
    /// The webhook tool of this name, with its URL and secret as stored now.
    pub fn webhook_tool(&self, name: &str) -> Option<&WebhookTool> {
        self.tools.iter().find_map(|tool| match tool {
            AgentTool::Webhook(webhook) if webhook.name == name => Some(webhook),
            _ => None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewAgent<'a> {
    pub name: &'a AgentName,
    pub model: &'a str,
    pub system_prompt: &'a str,
    pub tools: &'a [AgentTool],
    pub limits: &'a RunLimits,
    pub settings: &'a AgentSettings,
}

impl NewAgent<'_> {
    /// The JSON text of the tools and of the limits with the settings.
    fn documents(&self) -> Result<(String, String)> {
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
        let tools = serde_json::to_string(self.tools).map_err(corrupt)?;
        let limits = serde_json::to_string(&StoredLimits {
            limits: *self.limits,
            settings: self.settings.clone(),
        })
        .map_err(corrupt)?;
        Ok((tools, limits))
    }
}

const COLUMNS: &str =
    "id, workspace_id, name, model, system_prompt, tools, limits, created_at, updated_at";

impl Agent {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let tools = parsed(row, "tools", |text| {
            serde_json::from_str::<Vec<AgentTool>>(text)
        })?;
        let stored = parsed(row, "limits", |text| {
            serde_json::from_str::<StoredLimits>(text)
        })?;
        Ok(Self {
            id: row.try_get("id")?,
            workspace_id: parsed(row, "workspace_id", WorkspaceId::parse)?,
            name: parsed(row, "name", AgentName::parse)?,
            model: row.try_get("model")?,
            system_prompt: row.try_get("system_prompt")?,
            tools,
            limits: stored.limits,
            settings: stored.settings,
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
        let (tools, limits) = new.documents()?;
        let agent = Agent {
            id: new_id("ag"),
            workspace_id: WorkspaceId::parse(workspace_id)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            name: new.name.clone(),
            model: new.model.to_string(),
            system_prompt: new.system_prompt.to_string(),
            tools: new.tools.to_vec(),
            limits: *new.limits,
            settings: new.settings.clone(),
            created_at: now,
            updated_at: now,
        };
        let cap = max_agents.map(|limit| Cap {
            count_sql: "SELECT CAST(COUNT(*) AS BIGINT) FROM agents WHERE workspace_id = $1",
            what: "agents",
            limit,
        });
        let sql =
            format!("INSERT INTO agents ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        let insert = sqlx::query(&sql)
            .bind(&agent.id)
            .bind(agent.workspace_id.as_str())
            .bind(agent.name.as_str())
            .bind(&agent.model)
            .bind(&agent.system_prompt)
            .bind(&tools)
            .bind(&limits)
            .bind(agent.created_at)
            .bind(agent.updated_at);
        self.insert_capped(workspace_id, cap, insert, "agent")
            .await?;
        Ok(agent)
    }

    /// Replaces an agent's definition (its name stays); `None` if there is no such agent.
    pub async fn update_agent(
        &self,
        workspace_id: &str,
        new: NewAgent<'_>,
    ) -> Result<Option<Agent>> {
        let (tools, limits) = new.documents()?;
        let sql = format!(
            "UPDATE agents SET model = $1, system_prompt = $2, tools = $3, limits = $4, \
                 updated_at = $5 \
             WHERE workspace_id = $6 AND name = $7 RETURNING {COLUMNS}"
        );
        let statement = sqlx::query(&sql)
            .bind(new.model)
            .bind(new.system_prompt)
            .bind(&tools)
            .bind(&limits)
            .bind(now_ms())
            .bind(workspace_id)
            .bind(new.name.as_str());
        let row = self.tenant_optional(workspace_id, statement).await?;
        row.as_ref().map(Agent::from_row).transpose()
    }

    /// Deletes an agent; runs already submitted keep their snapshot of it.
    pub async fn delete_agent(&self, workspace_id: &str, name: &str) -> Result<bool> {
        let statement = sqlx::query("DELETE FROM agents WHERE workspace_id = $1 AND name = $2")
            .bind(workspace_id)
            .bind(name);
        Ok(self.tenant_execute(workspace_id, statement).await? == 1)
    }

    pub async fn agent(&self, workspace_id: &str, name: &str) -> Result<Option<Agent>> {
        let sql = format!("SELECT {COLUMNS} FROM agents WHERE workspace_id = $1 AND name = $2");
        let statement = sqlx::query(&sql).bind(workspace_id).bind(name);
        let row = self.tenant_optional(workspace_id, statement).await?;
        row.as_ref().map(Agent::from_row).transpose()
    }

    /// A page of the workspace's agents by name, after `after` (a name).
    pub async fn list_agents(
        &self,
        workspace_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Agent>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM agents WHERE workspace_id = $1 AND name > $2 \
             ORDER BY name LIMIT $3"
        );
        let statement = sqlx::query(&sql)
            .bind(workspace_id)
            .bind(after.unwrap_or(""))
            .bind(limit);
        let rows = self.tenant_all(workspace_id, statement).await?;
        rows.iter().map(Agent::from_row).collect()
    }
}
