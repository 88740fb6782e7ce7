//! Test databases: a SQLite file in a temporary folder, or a fresh schema in the Postgres
//! database named by `LONGRUN_TEST_DATABASE_URL`. The integration tests of the `longrun`
//! package use this file too (through `#[path]`), so both suites make databases one way.

use std::sync::Arc;

use longrun_store::{Store, StoreOptions};

/// A test database. A clone is the same database (for a second instance on it); the SQLite
/// folder lives as long as any clone does.
#[derive(Clone)]
pub struct TestDb {
    pub url: String,
    _dir: Option<Arc<tempfile::TempDir>>,
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        Self {
            url,
            _dir: Some(Arc::new(dir)),
        }
    }

    /// A database of the test's own at `url` (migrated on first open).
    #[allow(dead_code)]
    pub fn at(url: String) -> Self {
        Self { url, _dir: None }
    }

    /// A fresh schema in `LONGRUN_TEST_DATABASE_URL`. Without one this test cannot run, and
    /// fails saying so: `scripts/test` leaves every test named `…postgres…` out of the run
    /// (reported as skipped) when the variable is unset, so none passes without running.
    pub async fn postgres() -> Self {
        let base = std::env::var("LONGRUN_TEST_DATABASE_URL").expect(
            "LONGRUN_TEST_DATABASE_URL is unset: run the suite with scripts/test, which leaves \
             the Postgres tests out, or set it",
        );
        let schema = fresh_schema(&base).await;
        let separator = if base.contains('?') { '&' } else { '?' };
        Self {
            url: format!("{base}{separator}options=-c%20search_path%3D{schema}"),
            _dir: None,
        }
    }

    pub async fn open(&self) -> Store {
        let store = Store::connect(&self.url, &StoreOptions::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    }
}

/// Creates `lr_test_<uuidv7>` and drops such schemas left by runs over two hours old.
async fn fresh_schema(url: &str) -> String {
    use sqlx::{Connection, Executor, Row};
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let schema = format!("lr_test_{}", longrun_store::new_run_id());
    conn.execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .unwrap();
    let cutoff_ms = longrun_store::now_ms() - 2 * 3600 * 1000;
    let rows = sqlx::query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'lr\\_test\\_%'")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    for row in rows {
        let name: String = row.get(0);
        let created_ms = name
            .strip_prefix("lr_test_")
            .and_then(|id| i64::from_str_radix(id.get(..12)?, 16).ok());
        if created_ms.is_some_and(|ms| ms < cutoff_ms) {
            let _ = conn
                .execute(format!("DROP SCHEMA IF EXISTS {name} CASCADE").as_str())
                .await;
        }
    }
    conn.close().await.unwrap();
    schema
}
