//! Workspaces: the tenants. A workspace's slug is its stable public name (used in workflow ids
//! and Temporal search attributes); its id is the key every other table carries.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, new_id, now_ms, unique_violation};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub tier: String,
    pub created_at: i64,
}

impl Workspace {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            slug: row.try_get("slug")?,
            name: row.try_get("name")?,
            tier: row.try_get("tier")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

const COLUMNS: &str = "id, slug, name, tier, created_at";

impl Store {
    /// Creates a workspace. A taken slug is [`StoreError::Conflict`].
    pub async fn create_workspace(&self, slug: &str, name: &str, tier: &str) -> Result<Workspace> {
        let workspace = Workspace {
            id: new_id("ws"),
            slug: slug.to_string(),
            name: name.to_string(),
            tier: tier.to_string(),
            created_at: now_ms(),
        };
        sqlx::query(
            "INSERT INTO workspaces (id, slug, name, tier, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&workspace.id)
        .bind(&workspace.slug)
        .bind(&workspace.name)
        .bind(&workspace.tier)
        .bind(workspace.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| match unique_violation(&e) {
            Some(_) => StoreError::Conflict("workspace slug"),
            None => e.into(),
        })?;
        Ok(workspace)
    }

    pub async fn workspace_by_slug(&self, slug: &str) -> Result<Option<Workspace>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM workspaces WHERE slug = $1"))
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Workspace::from_row).transpose()
    }

    /// The workspace's webhook signing secret, set to `candidate` the first time it is asked
    /// for. Webhooks are signed with it (HMAC), so it is kept, not hashed.
    pub async fn webhook_secret(&self, workspace_id: &str, candidate: &str) -> Result<String> {
        let row = sqlx::query(
            "UPDATE workspaces SET webhook_secret = COALESCE(webhook_secret, $1) \
             WHERE id = $2 RETURNING webhook_secret",
        )
        .bind(candidate)
        .bind(workspace_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("workspace"))?;
        Ok(row.try_get(0)?)
    }

    pub async fn workspace(&self, workspace_id: &str) -> Result<Option<Workspace>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM workspaces WHERE id = $1"))
            .bind(workspace_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Workspace::from_row).transpose()
    }
}
