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
    /// JSON object of per-workspace limits that replace the tier's.
    pub quota_overrides: Option<String>,
    /// Where usage alerts are POSTed, if set.
    pub alert_webhook_url: Option<String>,
    pub created_at: i64,
}

impl Workspace {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            slug: row.try_get("slug")?,
            name: row.try_get("name")?,
            tier: row.try_get("tier")?,
            quota_overrides: row.try_get("quota_overrides")?,
            alert_webhook_url: row.try_get("alert_webhook_url")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

pub(crate) const COLUMNS: &str =
    "id, slug, name, tier, quota_overrides, alert_webhook_url, created_at";

impl Store {
    /// Creates a workspace. A taken slug is [`StoreError::Conflict`].
    pub async fn create_workspace(&self, slug: &str, name: &str, tier: &str) -> Result<Workspace> {
        let workspace = Workspace {
            id: new_id("ws"),
            slug: slug.to_string(),
            name: name.to_string(),
            tier: tier.to_string(),
            quota_overrides: None,
            alert_webhook_url: None,
            created_at: now_ms(),
        };
        let mut tx = self.system().await?;
        sqlx::query(
            "INSERT INTO workspaces (id, slug, name, tier, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&workspace.id)
        .bind(&workspace.slug)
        .bind(&workspace.name)
        .bind(&workspace.tier)
        .bind(workspace.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| match unique_violation(&e) {
            Some(_) => StoreError::Conflict("workspace slug"),
            None => e.into(),
        })?;
        tx.commit().await?;
        Ok(workspace)
    }

    /// Finds a workspace by slug: an operator's lookup, across tenants.
    pub async fn workspace_by_slug(&self, slug: &str) -> Result<Option<Workspace>> {
        let mut tx = self.system().await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM workspaces WHERE slug = $1"))
            .bind(slug)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        row.as_ref().map(Workspace::from_row).transpose()
    }

    pub async fn workspace(&self, workspace_id: &str) -> Result<Option<Workspace>> {
        let mut tx = self.tenant(workspace_id).await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM workspaces WHERE id = $1"))
            .bind(workspace_id)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        row.as_ref().map(Workspace::from_row).transpose()
    }

    /// The workspace's webhook signing secret, set to `candidate` the first time it is asked
    /// for. Webhooks are signed with it (HMAC), so it is kept, not hashed.
    pub async fn webhook_secret(&self, workspace_id: &str, candidate: &str) -> Result<String> {
        let mut tx = self.tenant(workspace_id).await?;
        let row = sqlx::query(
            "UPDATE workspaces SET webhook_secret = COALESCE(webhook_secret, $1) \
             WHERE id = $2 RETURNING webhook_secret",
        )
        .bind(candidate)
        .bind(workspace_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("workspace"))?;
        tx.commit().await?;
        Ok(row.try_get(0)?)
    }

    /// Moves a workspace to another tier.
    pub async fn set_tier(&self, workspace_id: &str, tier: &str) -> Result<()> {
        self.update_workspace(workspace_id, "tier", Some(tier))
            .await
    }

    /// Replaces the workspace's quota overrides (a JSON object, or none).
    pub async fn set_quota_overrides(
        &self,
        workspace_id: &str,
        overrides: Option<&str>,
    ) -> Result<()> {
        self.update_workspace(workspace_id, "quota_overrides", overrides)
            .await
    }

    pub async fn set_alert_webhook_url(&self, workspace_id: &str, url: Option<&str>) -> Result<()> {
        self.update_workspace(workspace_id, "alert_webhook_url", url)
            .await
    }

    async fn update_workspace(
        &self,
        workspace_id: &str,
        column: &str,
        value: Option<&str>,
    ) -> Result<()> {
        // `column` is one of this module's own constants, never input.
        let mut tx = self.tenant(workspace_id).await?;
        let changed = sqlx::query(&format!(
            "UPDATE workspaces SET {column} = $1 WHERE id = $2"
        ))
        .bind(value)
        .bind(workspace_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        if changed == 0 {
            return Err(StoreError::NotFound("workspace"));
        }
        Ok(())
    }
}

/// Takes the workspace row's lock (Postgres) or the write lock (SQLite, whose transactions
/// begin IMMEDIATE) for the rest of `tx`, so counts checked after it cannot be overtaken by
/// a concurrent writer of the same workspace.
pub(crate) async fn lock_workspace(tx: &mut crate::Tx, workspace_id: &str) -> Result<()> {
    let locked = sqlx::query("UPDATE workspaces SET admissions = admissions WHERE id = $1")
        .bind(workspace_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if locked == 0 {
        return Err(crate::StoreError::NotFound("workspace"));
    }
    Ok(())
}
