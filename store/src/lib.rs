//! longrun's storage: a sqlx pool over Postgres or SQLite, the migrations runner, and one
//! module per table group.
//!
//! Invariants:
//! - SQL lives here and nowhere else; callers get typed rows and domain errors.
//! - Every query of tenant data takes the workspace id and filters on it. The only
//!   cross-tenant reads are the operator's (billing export), and they say so in their name.
//! - Queries are written once in portable SQL (`$N` placeholders, ids as text, times as epoch
//!   milliseconds, JSON as text) and run unchanged on both backends through `AnyPool`.

mod accounts;
mod agent_document;
mod agents;
mod api_keys;
mod billing;
mod cancel;
mod continuation;
mod dispatch;
mod events;
mod idempotency;
mod ids;
mod live;
mod mcp_servers;
mod messages;
mod migrate;
mod run_filters;
mod runs;
mod schema;
mod steps;
mod usage;
mod waiting;
mod workspaces;

pub use accounts::{AuditEntry, MAX_ACCOUNTS_PER_EMAIL, NewAudit, User};
pub use agent_document::{
    AgentSettings, AgentTool, ClientTool, McpSelection, McpToolSet, McpToolUse, WebhookTool,
};
pub use agents::{Agent, NewAgent};
pub use api_keys::{ApiKey, AuthenticatedKey, MAX_LIVE_KEYS, NewApiKey, hash_secret};
pub use billing::{ExportCursor, ExportRow, GroupBy, UsageGroup};
pub use cancel::MAX_POLLED_RUNS;
pub use dispatch::{PendingCommand, PendingStart};
pub use events::{LiveEvent, NewEvent, RunEvent};
pub use idempotency::{IdempotencyBegin, IdempotencyPolicy};
pub use ids::{new_id, new_run_id};
pub use longrun_domain::{DAY_MS, UsageTotals, day_label};
pub use mcp_servers::{McpServer, McpToolDefinition, NewMcpServer};
pub use messages::{NewMessage, StoredMessage};
pub use migrate::{MigrationReport, latest_migration_version};
pub use run_filters::{
    MAX_INDEXED_KEY_BYTES, MAX_INDEXED_VALUE_BYTES, MAX_METADATA_FILTERS, RunListFilter,
    indexed_pairs,
};
pub use runs::{Admission, AdmitOutcome, InsertRunOutcome, NewRun, Run, RunFinish};
pub use schema::ToolSchema;
pub use steps::{RunStart, StepEvent, StepOutcome, StepWrite, TurnRead};
pub use usage::{LedgerOutcome, NewUsageEvent, UsageKind};
pub use waiting::PendingCall;
pub use workspaces::Workspace;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Row};
use tokio::sync::broadcast;

/// Which database a [`Store`] talks to. The SQL is the same; a few operational statements
/// (locking, pragmas) differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Errors at the storage boundary. Database faults stay opaque (`Database`); constraint
/// violations that mean something to a caller become domain variants.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: expected sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    #[error("could not prepare the database directory {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A count cap (agents, keys of a workspace) would be exceeded.
    #[error("the workspace already has its {limit} {what}")]
    LimitReached { what: &'static str, limit: i64 },
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    #[error("migration {version} failed: {source}")]
    Migration {
        version: i64,
        #[source]
        source: sqlx::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Whether the database could not be reached or dropped the connection under the query
    /// (a restart, a failover, `pg_terminate_backend`, an exhausted pool): the same request
    /// may well succeed when retried, so callers answer "unavailable", not "internal".
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Database(err) if unavailable(err))
    }
}

/// See [`StoreError::is_unavailable`].
fn unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE class 08: connection exception; 57P01-57P03: the server shuts down or does
        // not take connections yet; 53300: too many connections.
        sqlx::Error::Database(db)
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some() =>
        {
            db.code().is_some_and(|code| {
                code.starts_with("08") || code.starts_with("57P0") || code == "53300"
            })
        }
        _ => false,
    }
}

/// Connection settings beyond the URL.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// How long a query waits for a connection, and SQLite for a lock.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// The store: a pool plus the channel that carries freshly written run events to live
/// subscribers. On SQLite the channel is fed by this process's own writes; on Postgres by
/// `LISTEN` (see [`Store::listen_for_events`]), so writers in other processes reach it too.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    live: broadcast::Sender<LiveEvent>,
    /// Run ids whose cancellation was requested (see the `cancel` module).
    cancels: broadcast::Sender<String>,
    /// The connection URL, kept for the Postgres `LISTEN` connection.
    url: std::sync::Arc<str>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Store {
    /// Opens a pool for a `sqlite://` or `postgres://` URL. SQLite files (and their folder) are
    /// created when missing and run in WAL mode with a busy timeout, so an API and a worker
    /// process can share one file.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let (backend, url) = normalise_url(url)?;
        let connect_options = AnyConnectOptions::from_str(&url)?;
        let busy_timeout_ms = options.acquire_timeout.as_millis();
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                // SQLite serialises writers anyway; a few readers is all WAL can use.
                Backend::Sqlite => options.max_connections.min(8),
                Backend::Postgres => options.max_connections,
            })
            .acquire_timeout(options.acquire_timeout)
            // No ping before each use (a round trip per transaction): `begin` notices a dropped
            // connection on its first statement and takes another one.
            .test_before_acquire(false)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    match backend {
                        Backend::Sqlite => {
                            let pragmas = format!(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {busy_timeout_ms};"
                            );
                            conn.execute(sqlx::raw_sql(&pragmas)).await?;
                        }
                        // Work as the application role, to which row-level security applies
                        // (a superuser or table owner would bypass it). Before the first
                        // migration the role does not exist yet; `migrate` switches then.
                        Backend::Postgres => {
                            conn.execute(sqlx::raw_sql(
                                "SELECT set_config('role', 'longrun_app', false) \
                                 WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'longrun_app')",
                            ))
                            .await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(connect_options)
            .await?;
        let (live, _) = broadcast::channel(4096);
        let (cancels, _) = broadcast::channel(1024);
        Ok(Self {
            pool,
            backend,
            live,
            cancels,
            url: url.into(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The raw pool, for callers that must check connectivity (readiness probes).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Subscribes to freshly written run events (see [`LiveEvent`]). Deliveries are hints:
    /// a subscriber that lags or misses one reads the stored events from the database.
    pub fn subscribe_live(&self) -> broadcast::Receiver<LiveEvent> {
        self.live.subscribe()
    }
}

/// A database transaction, scoped (on Postgres) to one workspace or to the system.
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// One statement with its binds, ready to run.
pub(crate) type Statement<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// One statement in its own transaction, committed: `$begin` opens the transaction in its
/// scope, `$fetch` runs the statement (and `$then` maps what it returns).
macro_rules! one_statement {
    ($name:ident, $begin:ident($($scope:ident: $scope_ty:ty)?), $fetch:ident $(. $then:ident)? -> $out:ty) => {
        pub(crate) async fn $name(
            &self,
            $($scope: $scope_ty,)?
            statement: Statement<'_>,
        ) -> Result<$out> {
            let mut tx = self.$begin($($scope)?).await?;
            let out = statement.$fetch(&mut *tx).await?$(.$then())?;
            tx.commit().await?;
            Ok(out)
        }
    };
}

/// One statement in a transaction of a workspace (see [`Store::tenant`]): the shapes every
/// single-statement read and write of tenant data takes; and the same shapes for the few
/// cross-tenant statements (see [`Store::system`]).
impl Store {
    one_statement!(tenant_execute, tenant(workspace_id: &str), execute.rows_affected -> u64);
    one_statement!(tenant_optional, tenant(workspace_id: &str), fetch_optional -> Option<sqlx::any::AnyRow>);
    one_statement!(tenant_one, tenant(workspace_id: &str), fetch_one -> sqlx::any::AnyRow);
    one_statement!(tenant_all, tenant(workspace_id: &str), fetch_all -> Vec<sqlx::any::AnyRow>);
    one_statement!(system_optional, system(), fetch_optional -> Option<sqlx::any::AnyRow>);
    one_statement!(system_all, system(), fetch_all -> Vec<sqlx::any::AnyRow>);
}

/// The `VALUES` rows of a multi-row insert: `rows` groups of `columns` placeholders numbered
/// from `$1` row by row, each group closed by `tail` (say, a placeholder all rows share).
pub(crate) fn value_rows(rows: usize, columns: usize, tail: &str) -> String {
    let row = |r: usize| {
        let placeholders: Vec<String> = (1..=columns)
            .map(|c| format!("${}", r * columns + c))
            .collect();
        format!("({}{tail})", placeholders.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

/// Reads a typed value stored as text (an id, a status, a tier), calling a value that does
/// not parse corrupt instead of trusting it.
pub(crate) fn parsed<T, E: std::fmt::Display>(
    row: &sqlx::any::AnyRow,
    column: &str,
    parse: impl FnOnce(&str) -> std::result::Result<T, E>,
) -> Result<T> {
    let text: String = row.try_get(column)?;
    parse(&text).map_err(|e| StoreError::Corrupt(format!("{column} {text:?}: {e}")))
}

impl Store {
    /// A transaction in which row-level security (Postgres) shows only the rows of
    /// `workspace_id`: a query that forgot its `WHERE workspace_id` still cannot read another
    /// tenant's rows. On SQLite a plain transaction.
    pub(crate) async fn tenant(&self, workspace_id: &str) -> Result<Tx> {
        match literal(workspace_id) {
            Some(id) => {
                self.begin(format!(
                    "BEGIN; SELECT set_config('longrun.workspace_id', {id}, true)"
                ))
                .await
            }
            // Not an id this store hands out: no transaction may see any tenant's rows with it.
            None => Err(StoreError::NotFound("workspace")),
        }
    }

    /// A transaction for the few operations that are cross-tenant by nature: finding the
    /// workspace of an API key or an email, operator commands, the billing export, repairs.
    pub(crate) async fn system(&self) -> Result<Tx> {
        self.begin("BEGIN; SELECT set_config('longrun.scope', 'system', true)".to_string())
            .await
    }

    /// Begins a transaction, on Postgres with `postgres_begin` (a `BEGIN` and the scope's
    /// setting, sent as one simple query: one round trip). Pooled connections are not pinged
    /// before use: a connection the server dropped fails here, on its first statement, and
    /// the transaction begins again on another one, so a restarted database stays invisible
    /// to callers.
    ///
    /// SQLite transactions take the write lock up front: a deferred transaction that reads and
    /// then writes cannot wait for a concurrent writer (SQLite returns `SQLITE_BUSY` at once,
    /// ignoring `busy_timeout`, to avoid a deadlock), so under load most multi-statement writes
    /// would fail. Taken at `BEGIN`, the lock is simply waited for.
    async fn begin(&self, postgres_begin: String) -> Result<Tx> {
        let statement = match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE".to_string(),
            Backend::Postgres => postgres_begin,
        };
        // After a restart every idle connection is dead: each attempt discards one, and a
        // fresh connection answers at the latest after the pool's size of attempts.
        let attempts = self.pool.options().get_max_connections() + 1;
        let mut attempt = 1;
        loop {
            match self.pool.begin_with(statement.clone()).await {
                Ok(tx) => return Ok(tx),
                // A dropped connection, not a full pool: waiting for the pool again would only
                // double the wait.
                Err(err)
                    if attempt < attempts
                        && unavailable(&err)
                        && !matches!(err, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed) =>
                {
                    attempt += 1;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Rows of `table` visible inside a transaction of `workspace_id` to a query with no
    /// `WHERE` at all: the isolation check of row-level security.
    pub async fn rows_visible_to(&self, workspace_id: &str, table: &str) -> Result<i64> {
        const TABLES: &[&str] = &[
            "workspaces",
            "api_keys",
            "agents",
            "runs",
            "run_events",
            "run_messages",
            "run_metadata",
            "run_commands",
            "usage_events",
            "users",
            "revoked_tokens",
            "audit_log",
            "usage_alerts",
            "idempotency_keys",
            "mcp_servers",
        ];
        if !TABLES.contains(&table) {
            return Err(StoreError::NotFound("table"));
        }
        let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table}");
        let row = self.tenant_one(workspace_id, sqlx::query(&sql)).await?;
        Ok(row.try_get(0)?)
    }
}

/// A workspace id as an SQL string literal, for the one statement that cannot take it as a
/// parameter (the `BEGIN` sent as a simple query); `None` for anything but the characters of
/// the ids this store makes, so nothing can be injected.
fn literal(workspace_id: &str) -> Option<String> {
    let plain = !workspace_id.is_empty()
        && workspace_id.len() <= 128
        && workspace_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    plain.then(|| format!("'{workspace_id}'"))
}

/// Milliseconds since the Unix epoch, the one time format of the store.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn normalise_url(url: &str) -> Result<(Backend, String)> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_string()));
    }
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Err(StoreError::UnsupportedUrl(redact_url(url)));
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    if path.is_empty() {
        return Err(StoreError::UnsupportedUrl(redact_url(url)));
    }
    if path != ":memory:" {
        let data_dir_error = |at: &std::path::Path, source| StoreError::DataDir {
            path: at.display().to_string(),
            source,
        };
        if let Some(parent) = std::path::Path::new(path).parent()
            && !parent.as_os_str().is_empty()
        {
            create_private_dir(parent).map_err(|e| data_dir_error(parent, e))?;
        }
        create_private_file(std::path::Path::new(path))
            .map_err(|e| data_dir_error(std::path::Path::new(path), e))?;
    }
    let query = match query {
        Some(q) if q.contains("mode=") => q.to_string(),
        Some(q) => format!("{q}&mode=rwc"),
        None => "mode=rwc".to_string(),
    };
    Ok((Backend::Sqlite, format!("sqlite://{path}?{query}")))
}

/// Creates a folder (and its parents) that only its owner may enter (0700), when missing.
/// The database holds password hashes and webhook secrets: nobody else on the host should
/// read it. An existing folder is left as the operator made it.
pub fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if path.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// Creates an empty file only its owner may read or write (0600), when missing. SQLite gives
/// its `-wal` and `-shm` files the database file's mode, so they are private too.
fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

/// A URL with any password replaced, safe for error messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`] of `what` (the constraint
/// names no more than which unique rule, and each insert has one), any other error to itself.
pub(crate) fn conflict(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |err| match &err {
        sqlx::Error::Database(db)
            if matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation) =>
        {
            StoreError::Conflict(what)
        }
        _ => err.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_gain_create_mode() {
        let (backend, url) = normalise_url("sqlite::memory:").unwrap();
        assert_eq!(backend, Backend::Sqlite);
        assert_eq!(url, "sqlite://:memory:?mode=rwc");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/x.db");
        let (_, url) = normalise_url(&format!("sqlite://{}?cache=shared", file.display())).unwrap();
        assert!(url.ends_with("?cache=shared&mode=rwc"), "{url}");
        assert!(file.parent().unwrap().is_dir());
    }

    #[test]
    fn a_new_database_and_its_folder_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data/sub/x.db");
        normalise_url(&format!("sqlite://{}", file.display())).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(file.parent().unwrap()), 0o700);
        assert_eq!(mode(&dir.path().join("data")), 0o700);
        assert_eq!(mode(&file), 0o600);
    }

    #[test]
    fn rejects_unknown_schemes_without_leaking_passwords() {
        let err = normalise_url("mysql://root:hunter2@db/x").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("mysql://root:***@db/x"), "{text}");
        assert!(!text.contains("hunter2"));
    }
}
