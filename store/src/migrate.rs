//! The migrations runner: applies the embedded SQL of `migrations/<backend>/` in order, once,
//! under a lock so that an API and a worker starting together do not race.
//!
//! Both folders hold the same versions with the same meaning; a unit test checks that every
//! file on disk is embedded here and that the two folders match.

use sha2::{Digest, Sha256};
use sqlx::{Executor, Row};

use crate::{Backend, Result, Store, StoreError, now_ms};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// A migration from its number, its name and its file's stem (the same under
/// `migrations/sqlite/` and `migrations/postgres/`).
macro_rules! migration {
    ($version:literal, $name:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!("../../migrations/sqlite/", $file, ".sql")),
            postgres: include_str!(concat!("../../migrations/postgres/", $file, ".sql")),
        }
    };
}

const MIGRATIONS: &[Migration] = &[
    migration!(1, "initial", "0001_initial"),
    migration!(2, "conversations", "0002_conversations"),
    migration!(3, "tenancy", "0003_tenancy"),
    migration!(4, "row_level_security", "0004_row_level_security"),
    migration!(5, "billing", "0005_billing"),
    migration!(6, "hardening", "0006_hardening"),
    migration!(7, "cancellation", "0007_cancellation"),
    migration!(8, "clients", "0008_clients"),
    migration!(9, "dispatch", "0009_dispatch"),
    migration!(10, "mcp_servers", "0010_mcp_servers"),
    migration!(11, "agent_tools", "0011_agent_tools"),
];

/// What [`Store::migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub applied: Vec<i64>,
    pub current_version: i64,
}

/// The version the code expects the database to be at.
pub fn latest_migration_version() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

// An arbitrary constant shared by every longrun process: the advisory lock's key.
const PG_MIGRATION_LOCK: i64 = 0x6c6f6e6772756e;

impl Store {
    /// Applies every migration not yet applied. Refuses to run if an applied migration's text
    /// changed since it was applied, because the database would no longer match the code.
    pub async fn migrate(&self) -> Result<MigrationReport> {
        let mut conn = self.pool.acquire().await?;
        if self.backend == Backend::Postgres {
            // This connection leaves the pool for good when dropped: whatever fails below (a
            // statement, the COMMIT), it can never serve a request as the owner role, which
            // row-level security does not bind. New connections take longrun_app at connect.
            conn.close_on_drop();
            // Migrations run as the connecting (owner) role, not as longrun_app.
            conn.execute("RESET ROLE").await?;
        }
        match self.backend {
            // IMMEDIATE takes the write lock up front; a deferred transaction that reads and
            // then writes can fail with SQLITE_BUSY instead of waiting.
            Backend::Sqlite => conn.execute("BEGIN IMMEDIATE").await?,
            Backend::Postgres => {
                conn.execute("BEGIN").await?;
                conn.execute(
                    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(PG_MIGRATION_LOCK),
                )
                .await?
            }
        };
        let outcome = self.migrate_locked(&mut conn).await;
        match &outcome {
            Ok(_) => {
                conn.execute("COMMIT").await?;
            }
            Err(_) => {
                // The original error matters more than a failed rollback.
                let _ = conn.execute("ROLLBACK").await;
            }
        }
        outcome
    }

    async fn migrate_locked(&self, conn: &mut sqlx::AnyConnection) -> Result<MigrationReport> {
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                applied_at BIGINT NOT NULL
            )",
        )
        .await?;
        let rows = sqlx::query("SELECT version, checksum FROM schema_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await?;
        let mut applied_before = Vec::with_capacity(rows.len());
        for row in rows {
            applied_before.push((row.try_get::<i64, _>(0)?, row.try_get::<String, _>(1)?));
        }
        let mut report = MigrationReport {
            applied: Vec::new(),
            current_version: applied_before.last().map(|(v, _)| *v).unwrap_or(0),
        };
        for migration in MIGRATIONS {
            let sql = match self.backend {
                Backend::Sqlite => migration.sqlite,
                Backend::Postgres => migration.postgres,
            };
            let checksum = hex::encode(Sha256::digest(sql.as_bytes()));
            if let Some((_, stored)) = applied_before.iter().find(|(v, _)| *v == migration.version)
            {
                if *stored != checksum {
                    return Err(StoreError::Corrupt(format!(
                        "migration {} ({}) changed after it was applied",
                        migration.version, migration.name
                    )));
                }
                continue;
            }
            conn.execute(sqlx::raw_sql(sql))
                .await
                .map_err(|source| StoreError::Migration {
                    version: migration.version,
                    source,
                })?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(migration.version)
            .bind(migration.name)
            .bind(checksum)
            .bind(now_ms())
            .execute(&mut *conn)
            .await?;
            report.applied.push(migration.version);
            report.current_version = migration.version;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn files(dialect: &str) -> BTreeSet<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../migrations")
            .join(dialect);
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect()
    }

    #[test]
    fn both_dialects_have_the_same_migrations_and_all_are_embedded() {
        let sqlite = files("sqlite");
        assert_eq!(sqlite, files("postgres"));
        let embedded: BTreeSet<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(sqlite, embedded);
        let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]));
    }
}
