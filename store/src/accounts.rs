//! Accounts: users (who log in with an email and password), revoked tokens, the audit log and
//! the usage alerts raised.

use longrun_domain::{Tier, WorkspaceId};
use sqlx::Row;

use crate::workspaces::{columns_of, insert_workspace};
use crate::{Result, Store, StoreError, Workspace, conflict, new_id, now_ms};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub workspace_id: WorkspaceId,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: i64,
}

/// Accounts one email may own (in as many workspaces).
pub const MAX_ACCOUNTS_PER_EMAIL: i64 = 5;

/// An audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: String,
    pub workspace_id: Option<String>,
    /// Who acted: `key:<id>`, `user:<id>`, `operator`, `system`, or an email that failed.
    pub actor: String,
    /// What happened: `auth.register`, `auth.login`, `auth.login_failed`, `api_key.create`, …
    pub action: String,
    pub target: Option<String>,
    /// JSON object.
    pub data: String,
    pub ip: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    pub workspace_id: Option<&'a str>,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub data: &'a str,
    pub ip: Option<&'a str>,
}

impl Store {
    /// Creates a workspace and its first (admin) user in one transaction. A taken slug is
    /// [`StoreError::Conflict`]; an email may own accounts in several workspaces, up to
    /// [`MAX_ACCOUNTS_PER_EMAIL`] ([`StoreError::LimitReached`]).
    pub async fn register(
        &self,
        slug: &str,
        name: &str,
        tier: Tier,
        email: &str,
        password_hash: &str,
    ) -> Result<(Workspace, User)> {
        let workspace = Workspace::new(slug, name, tier)?;
        let now = workspace.created_at;
        let user = User {
            id: new_id("usr"),
            workspace_id: workspace.id.clone(),
            email: email.to_string(),
            password_hash: password_hash.to_string(),
            role: "admin".into(),
            created_at: now,
        };
        // A new tenant's rows: system scope, as no workspace transaction can exist yet.
        let mut tx = self.system().await?;
        insert_workspace(&mut tx, &workspace).await?;
        insert_user(&mut tx, &user).await?;
        tx.commit().await?;
        Ok((workspace, user))
    }

    /// Adds a user to an existing workspace with `role` (`admin`, `member` or `billing`). The
    /// email may own accounts in several workspaces, up to [`MAX_ACCOUNTS_PER_EMAIL`]
    /// ([`StoreError::LimitReached`]); one that already has an account in this workspace is
    /// [`StoreError::Conflict`].
    pub async fn add_user(
        &self,
        workspace_id: &WorkspaceId,
        email: &str,
        password_hash: &str,
        role: &str,
    ) -> Result<User> {
        let user = User {
            id: new_id("usr"),
            workspace_id: workspace_id.clone(),
            email: email.to_string(),
            password_hash: password_hash.to_string(),
            role: role.to_string(),
            created_at: now_ms(),
        };
        // The per-email count spans workspaces: system scope, like sign-up's.
        let mut tx = self.system().await?;
        insert_user(&mut tx, &user).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The account login checks for this email: the one in workspace `slug` when given, else
    /// the email's first (oldest) account; with its workspace. One account at most, so every
    /// login costs one password check whatever the email owns. A cross-tenant read by nature.
    pub async fn account_for_login(
        &self,
        email: &str,
        slug: Option<&str>,
    ) -> Result<Option<(User, Workspace)>> {
        let sql = format!(
            "SELECT u.id AS user_id, u.email, u.password_hash, u.role, \
                    u.created_at AS user_created_at, {} \
             FROM users u JOIN workspaces w ON w.id = u.workspace_id \
             WHERE u.email = $1 AND ($2 = '' OR w.slug = $2) \
             ORDER BY u.created_at, u.id LIMIT 1",
            columns_of("w")
        );
        let statement = sqlx::query(&sql).bind(email).bind(slug.unwrap_or(""));
        let row = self.system_optional(statement).await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let workspace = Workspace::from_row(&row)?;
        let user = User {
            id: row.try_get("user_id")?,
            workspace_id: workspace.id.clone(),
            email: row.try_get("email")?,
            password_hash: row.try_get("password_hash")?,
            role: row.try_get("role")?,
            created_at: row.try_get("user_created_at")?,
        };
        Ok(Some((user, workspace)))
    }

    /// Revokes a token id until `expires_at` (after which it is dead anyway).
    pub async fn revoke_token(&self, workspace_id: &str, jti: &str, expires_at: i64) -> Result<()> {
        let mut tx = self.tenant(workspace_id).await?;
        sqlx::query(
            "INSERT INTO revoked_tokens (jti, workspace_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(workspace_id)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        // Expired revocations are dead weight: drop the workspace's old ones on the way.
        sqlx::query("DELETE FROM revoked_tokens WHERE workspace_id = $1 AND expires_at < $2")
            .bind(workspace_id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn token_revoked(&self, workspace_id: &str, jti: &str) -> Result<bool> {
        let statement =
            sqlx::query("SELECT 1 FROM revoked_tokens WHERE workspace_id = $1 AND jti = $2")
                .bind(workspace_id)
                .bind(jti);
        let row = self.tenant_optional(workspace_id, statement).await?;
        Ok(row.is_some())
    }

    /// Appends to the audit log.
    pub async fn audit(&self, entry: NewAudit<'_>) -> Result<()> {
        let mut tx = match entry.workspace_id {
            Some(workspace_id) => self.tenant(workspace_id).await?,
            None => self.system().await?,
        };
        sqlx::query(
            "INSERT INTO audit_log (id, workspace_id, actor, action, target, data, ip, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new_id("aud"))
        .bind(entry.workspace_id)
        .bind(entry.actor)
        .bind(entry.action)
        .bind(entry.target)
        .bind(entry.data)
        .bind(entry.ip)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The workspace's audit log, newest first; `before` continues a page.
    pub async fn audit_log(
        &self,
        workspace_id: &str,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        let statement = sqlx::query(
            "SELECT id, workspace_id, actor, action, target, data, ip, created_at FROM audit_log \
             WHERE workspace_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(workspace_id)
        .bind(before)
        .bind(limit);
        let rows = self.tenant_all(workspace_id, statement).await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    workspace_id: row.try_get("workspace_id")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    data: row.try_get("data")?,
                    ip: row.try_get("ip")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Records that an alert was raised; `false` if it had been already (once per threshold,
    /// metric and period, however many processes race).
    pub async fn raise_alert(
        &self,
        workspace_id: &str,
        period: &str,
        metric: &str,
        threshold: i64,
    ) -> Result<bool> {
        let statement = sqlx::query(
            "INSERT INTO usage_alerts (workspace_id, period, metric, threshold, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workspace_id, period, metric, threshold) DO NOTHING",
        )
        .bind(workspace_id)
        .bind(period)
        .bind(metric)
        .bind(threshold)
        .bind(now_ms());
        let inserted = self.tenant_execute(workspace_id, statement).await?;
        Ok(inserted == 1)
    }

    /// Alerts raised in a period: `(metric, threshold, raised at)`.
    pub async fn alerts(
        &self,
        workspace_id: &str,
        period: &str,
    ) -> Result<Vec<(String, i64, i64)>> {
        let statement = sqlx::query(
            "SELECT metric, threshold, created_at FROM usage_alerts \
             WHERE workspace_id = $1 AND period = $2 ORDER BY metric, threshold",
        )
        .bind(workspace_id)
        .bind(period);
        let rows = self.tenant_all(workspace_id, statement).await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }
}

/// Inserts `user` unless its email already owns [`MAX_ACCOUNTS_PER_EMAIL`] accounts
/// ([`StoreError::LimitReached`]) or one in its workspace ([`StoreError::Conflict`]). On an
/// error the transaction is left for the caller to drop (which rolls it back).
async fn insert_user(tx: &mut crate::Tx, user: &User) -> Result<()> {
    let accounts: i64 = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM users WHERE email = $1")
        .bind(&user.email)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    if accounts >= MAX_ACCOUNTS_PER_EMAIL {
        return Err(StoreError::LimitReached {
            what: "accounts of this email",
            limit: MAX_ACCOUNTS_PER_EMAIL,
        });
    }
    sqlx::query(
        "INSERT INTO users (id, workspace_id, email, password_hash, role, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&user.id)
    .bind(user.workspace_id.as_str())
    .bind(&user.email)
    .bind(&user.password_hash)
    .bind(&user.role)
    .bind(user.created_at)
    .execute(&mut **tx)
    .await
    .map_err(conflict("an account of this email in the workspace"))?;
    Ok(())
}
