//! Workspaces: the tenants. A workspace's slug is its stable public name (used in workflow ids
//! and Temporal search attributes); its id is the key every other table carries.

use longrun_domain::{QuotaOverrides, Tier, WorkspaceId, WorkspaceSlug};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, conflict, new_id, now_ms, parsed};

#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub slug: WorkspaceSlug,
    pub name: String,
    pub tier: Tier,
    /// Per-workspace limits that replace the tier's.
    pub quota_overrides: QuotaOverrides,
    /// Where usage alerts are POSTed, if set.
    pub alert_webhook_url: Option<String>,
    /// The webhook of runs that name none, if set.
    pub webhook_url: Option<String>,
    /// JSON array of the event kinds POSTed to `webhook_url`.
    pub webhook_events: Option<String>,
    pub created_at: i64,
}

impl Workspace {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self> {
        let overrides: Option<String> = row.try_get("quota_overrides")?;
        Ok(Self {
            id: parsed(row, "id", WorkspaceId::parse)?,
            slug: parsed(row, "slug", WorkspaceSlug::parse)?,
            name: row.try_get("name")?,
            tier: parsed(row, "tier", Tier::parse)?,
            quota_overrides: match overrides {
                Some(json) => serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt(format!("quota_overrides: {e}")))?,
                None => QuotaOverrides::default(),
            },
            alert_webhook_url: row.try_get("alert_webhook_url")?,
            webhook_url: row.try_get("webhook_url")?,
            webhook_events: row.try_get("webhook_events")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl Workspace {
    /// A new workspace, not stored yet.
    pub(crate) fn new(slug: &str, name: &str, tier: Tier) -> Result<Self> {
        let corrupt = |e: longrun_domain::IdError| StoreError::Corrupt(e.to_string());
        Ok(Self {
            id: WorkspaceId::parse(&new_id("ws")).map_err(corrupt)?,
            slug: WorkspaceSlug::parse(slug).map_err(corrupt)?,
            name: name.to_string(),
            tier,
            quota_overrides: QuotaOverrides::default(),
            alert_webhook_url: None,
            webhook_url: None,
            webhook_events: None,
            created_at: now_ms(),
        })
    }
}

/// Inserts a new workspace in `tx`; a taken slug is [`StoreError::Conflict`].
pub(crate) async fn insert_workspace(tx: &mut crate::Tx, workspace: &Workspace) -> Result<()> {
    sqlx::query(
        "INSERT INTO workspaces (id, slug, name, tier, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(workspace.id.as_str())
    .bind(workspace.slug.as_str())
    .bind(&workspace.name)
    .bind(workspace.tier.as_str())
    .bind(workspace.created_at)
    .execute(&mut **tx)
    .await
    .map_err(conflict("workspace slug"))?;
    Ok(())
}

/// [`COLUMNS`] of a workspace joined as `alias`, for rows that carry one beside another row.
pub(crate) fn columns_of(alias: &str) -> String {
    COLUMNS
        .split(", ")
        .map(|column| format!("{alias}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) const COLUMNS: &str = "id, slug, name, tier, quota_overrides, alert_webhook_url, webhook_url, webhook_events, created_at";

impl Store {
    /// Creates a workspace. A taken slug is [`StoreError::Conflict`].
    pub async fn create_workspace(&self, slug: &str, name: &str, tier: Tier) -> Result<Workspace> {
        let workspace = Workspace::new(slug, name, tier)?;
        let mut tx = self.system().await?;
        insert_workspace(&mut tx, &workspace).await?;
        tx.commit().await?;
        Ok(workspace)
    }

    /// Finds a workspace by slug: an operator's lookup, across tenants.
    pub async fn workspace_by_slug(&self, slug: &str) -> Result<Option<Workspace>> {
        let sql = format!("SELECT {COLUMNS} FROM workspaces WHERE slug = $1");
        let row = self.system_optional(sqlx::query(&sql).bind(slug)).await?;
        row.as_ref().map(Workspace::from_row).transpose()
    }

    pub async fn workspace(&self, workspace_id: &str) -> Result<Option<Workspace>> {
        let mut tx = self.tenant(workspace_id).await?;
        let workspace = read(&mut tx, workspace_id).await?;
        tx.commit().await?;
        Ok(workspace)
    }

    /// The workspace's webhook signing secret (Standard Webhooks, `whsec_` and 32 random
    /// bytes in base64), made the first time it is asked for. Webhooks are signed with it
    /// (HMAC), so it is kept, not hashed.
    pub async fn webhook_secret(&self, workspace_id: &str) -> Result<String> {
        use base64::Engine;
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| StoreError::Corrupt(format!("no randomness for a secret: {e}")))?;
        let candidate = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        );
        let statement = sqlx::query(
            "UPDATE workspaces SET webhook_secret = COALESCE(webhook_secret, $1) \
             WHERE id = $2 RETURNING webhook_secret",
        )
        .bind(&candidate)
        .bind(workspace_id);
        let row = self
            .tenant_optional(workspace_id, statement)
            .await?
            .ok_or(StoreError::NotFound("workspace"))?;
        Ok(row.try_get(0)?)
    }

    /// Moves a workspace to another tier.
    pub async fn set_tier(&self, workspace_id: &str, tier: Tier) -> Result<()> {
        self.update_workspace(workspace_id, "tier", Some(tier.as_str()))
            .await
    }

    /// Replaces the workspace's quota overrides.
    pub async fn set_quota_overrides(
        &self,
        workspace_id: &str,
        overrides: &QuotaOverrides,
    ) -> Result<()> {
        let json =
            serde_json::to_string(overrides).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.update_workspace(workspace_id, "quota_overrides", Some(&json))
            .await
    }

    pub async fn set_alert_webhook_url(&self, workspace_id: &str, url: Option<&str>) -> Result<()> {
        self.update_workspace(workspace_id, "alert_webhook_url", url)
            .await
    }

    /// Sets the webhook of the workspace's runs that name none, and the event kinds (a JSON
    /// array) it receives.
    pub async fn set_run_webhook(
        &self,
        workspace_id: &str,
        url: Option<&str>,
        events: Option<&str>,
    ) -> Result<()> {
        let statement = sqlx::query(
            "UPDATE workspaces SET webhook_url = $1, webhook_events = $2 WHERE id = $3",
        )
        .bind(url)
        .bind(events)
        .bind(workspace_id);
        if self.tenant_execute(workspace_id, statement).await? == 0 {
            return Err(StoreError::NotFound("workspace"));
        }
        Ok(())
    }

    async fn update_workspace(
        &self,
        workspace_id: &str,
        column: &str,
        value: Option<&str>,
    ) -> Result<()> {
        // `column` is one of this module's own constants, never input.
        let sql = format!("UPDATE workspaces SET {column} = $1 WHERE id = $2");
        let statement = sqlx::query(&sql).bind(value).bind(workspace_id);
        if self.tenant_execute(workspace_id, statement).await? == 0 {
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

/// A cap on how many rows of one kind a workspace may hold.
pub(crate) struct Cap {
    /// Counts the workspace's rows of the kind (`$1`: the workspace id).
    pub(crate) count_sql: &'static str,
    /// The rows, as [`StoreError::LimitReached`] names them.
    pub(crate) what: &'static str,
    pub(crate) limit: i64,
}

impl Cap {
    /// Counts under the workspace row's lock (see [`lock_workspace`]), so that concurrent
    /// creations cannot overshoot: `tx` back while the workspace holds fewer than `limit`,
    /// else rolled back and [`StoreError::LimitReached`].
    pub(crate) async fn check(&self, mut tx: crate::Tx, workspace_id: &str) -> Result<crate::Tx> {
        lock_workspace(&mut tx, workspace_id).await?;
        let count: i64 = sqlx::query(self.count_sql)
            .bind(workspace_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if count >= self.limit {
            tx.rollback().await?;
            return Err(StoreError::LimitReached {
                what: self.what,
                limit: self.limit,
            });
        }
        Ok(tx)
    }
}

impl Store {
    /// Inserts one row of the workspace in a transaction of its own, when given, under `cap`
    /// (see [`Cap::check`]); a unique violation is [`StoreError::Conflict`] of `what`.
    pub(crate) async fn insert_capped(
        &self,
        workspace_id: &str,
        cap: Option<Cap>,
        insert: crate::Statement<'_>,
        what: &'static str,
    ) -> Result<()> {
        let mut tx = self.tenant(workspace_id).await?;
        if let Some(cap) = cap {
            tx = cap.check(tx, workspace_id).await?;
        }
        insert.execute(&mut *tx).await.map_err(conflict(what))?;
        tx.commit().await?;
        Ok(())
    }
}

/// The workspace, read inside a transaction of it.
pub(crate) async fn read(tx: &mut crate::Tx, workspace_id: &str) -> Result<Option<Workspace>> {
    let sql = format!("SELECT {COLUMNS} FROM workspaces WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(workspace_id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(Workspace::from_row).transpose()
}
