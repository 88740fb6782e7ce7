//! Workspace API keys. The secret is shown once at creation and stored only as a SHA-256 hash;
//! a key is found by its short public prefix and then compared by hash.

use longrun_domain::{ApiKeyId, WorkspaceId};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::workspaces::{Cap, columns_of};
use crate::{Result, Store, StoreError, Workspace, new_id, now_ms, parsed};

/// A key as listed: never the secret or its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub role: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// What creating a key needs. The caller generates the secret (with the OS CSPRNG) so that the
/// store never sees more than it keeps: the prefix and the hash.
#[derive(Debug, Clone)]
pub struct NewApiKey<'a> {
    pub workspace_id: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub prefix: &'a str,
    pub secret_hash: &'a str,
}

/// A key that authenticated a request, with its workspace.
#[derive(Debug, Clone)]
pub struct AuthenticatedKey {
    pub key: ApiKey,
    pub workspace: Workspace,
}

/// SHA-256 of a key's secret, hex-encoded: what the store keeps.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Live (unrevoked) keys a workspace may hold: enough for every service and person, and a
/// bound on what one authentication's prefix lookup and one list can meet.
pub const MAX_LIVE_KEYS: i64 = 100;

/// `last_used_at` is written at most this often per key, so authentication is a read.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

/// The key columns, named so they stand beside a workspace's in one row.
const COLUMNS: &str = "k.id AS key_id, k.workspace_id AS key_workspace_id, k.name AS key_name, \
     k.role, k.prefix, k.created_at AS key_created_at, k.last_used_at";

impl ApiKey {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: parsed(row, "key_id", ApiKeyId::parse)?,
            workspace_id: parsed(row, "key_workspace_id", WorkspaceId::parse)?,
            name: row.try_get("key_name")?,
            role: row.try_get("role")?,
            prefix: row.try_get("prefix")?,
            created_at: row.try_get("key_created_at")?,
            last_used_at: row.try_get("last_used_at")?,
        })
    }
}

impl Store {
    /// Creates a key; a workspace that already has [`MAX_LIVE_KEYS`] live keys is
    /// [`StoreError::LimitReached`].
    pub async fn create_api_key(&self, new: NewApiKey<'_>) -> Result<ApiKey> {
        let corrupt = |e: longrun_domain::IdError| StoreError::Corrupt(e.to_string());
        let key = ApiKey {
            id: ApiKeyId::parse(&new_id("key")).map_err(corrupt)?,
            workspace_id: WorkspaceId::parse(new.workspace_id).map_err(corrupt)?,
            name: new.name.to_string(),
            role: new.role.to_string(),
            prefix: new.prefix.to_string(),
            created_at: now_ms(),
            last_used_at: None,
        };
        let cap = Cap {
            count_sql: "SELECT CAST(COUNT(*) AS BIGINT) FROM api_keys \
                        WHERE workspace_id = $1 AND revoked_at IS NULL",
            what: "live API keys",
            limit: MAX_LIVE_KEYS,
        };
        let insert = sqlx::query(
            "INSERT INTO api_keys (id, workspace_id, name, role, prefix, secret_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(key.id.as_str())
        .bind(key.workspace_id.as_str())
        .bind(&key.name)
        .bind(&key.role)
        .bind(&key.prefix)
        .bind(new.secret_hash)
        .bind(key.created_at);
        self.insert_capped(new.workspace_id, Some(cap), insert, "api key")
            .await?;
        Ok(key)
    }

    /// Finds the live (not revoked) key with this prefix whose hash matches, and its workspace.
    /// The hash comparison is constant-time.
    pub async fn authenticate_api_key(
        &self,
        prefix: &str,
        secret_hash: &str,
    ) -> Result<Option<AuthenticatedKey>> {
        // Which workspace a key belongs to is what authentication finds out: a cross-tenant
        // read by nature.
        let sql = format!(
            "SELECT {COLUMNS}, k.secret_hash, {} \
             FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id \
             WHERE k.prefix = $1 AND k.revoked_at IS NULL",
            columns_of("w")
        );
        let rows = self.system_all(sqlx::query(&sql).bind(prefix)).await?;
        for row in rows {
            let stored: String = row.try_get("secret_hash")?;
            if !constant_time_eq(stored.as_bytes(), secret_hash.as_bytes()) {
                continue;
            }
            let key = ApiKey::from_row(&row)?;
            let workspace = Workspace::from_row(&row)?;
            let now = now_ms();
            if key
                .last_used_at
                .is_none_or(|t| now - t > LAST_USED_GRANULARITY_MS)
            {
                let statement = sqlx::query(
                    "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND workspace_id = $3",
                )
                .bind(now)
                .bind(key.id.as_str())
                .bind(key.workspace_id.as_str());
                self.tenant_execute(&key.workspace_id, statement).await?;
            }
            return Ok(Some(AuthenticatedKey { key, workspace }));
        }
        Ok(None)
    }

    /// A page of the workspace's live keys, oldest first, after the key `after`.
    pub async fn list_api_keys(
        &self,
        workspace_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ApiKey>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_keys k \
             WHERE k.workspace_id = $1 AND k.revoked_at IS NULL AND k.id > $2 \
             ORDER BY k.id LIMIT $3"
        );
        let statement = sqlx::query(&sql)
            .bind(workspace_id)
            .bind(after.unwrap_or(""))
            .bind(limit);
        let rows = self.tenant_all(workspace_id, statement).await?;
        rows.iter().map(ApiKey::from_row).collect()
    }

    /// Revokes a key at once; returns whether a live key of the workspace was revoked.
    pub async fn revoke_api_key(&self, workspace_id: &str, key_id: &str) -> Result<bool> {
        let statement = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 \
             WHERE workspace_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(workspace_id)
        .bind(key_id);
        Ok(self.tenant_execute(workspace_id, statement).await? == 1)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert_eq!(hash_secret("x").len(), 64);
    }
}
