//! Runs: one row per submitted agent run, its status, result and running usage totals.
//!
//! The API inserts the row (`queued`) before it starts the workflow; from then on only the
//! worker's activities move it. A terminal row is never moved again, so a late or replayed
//! activity cannot resurrect a finished run.

use std::sync::LazyLock;

use longrun_domain::{AgentName, RunId, RunStatus, WorkspaceId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, Tx, UsageTotals, now_ms, parsed};

/// Statuses after which a run never changes again, as SQL, from [`RunStatus::is_terminal`].
pub(crate) static TERMINAL_SQL: LazyLock<String> =
    LazyLock::new(|| RunStatus::sql_list(RunStatus::is_terminal));

/// Statuses that hold one of the workspace's concurrent-run slots, from
/// [`RunStatus::is_active`].
pub(crate) static ACTIVE_SQL: LazyLock<String> =
    LazyLock::new(|| RunStatus::sql_list(RunStatus::is_active));

/// What a workspace may start now: its concurrency cap and the period's quotas (`None`:
/// unlimited).
#[derive(Debug, Clone, Default)]
pub struct Admission {
    pub max_active_runs: Option<i64>,
    /// Start of the quota period (epoch milliseconds).
    pub period_start_ms: i64,
    pub max_tokens: Option<i64>,
    pub max_agent_ms: Option<i64>,
    /// An `Idempotency-Key` of a run created before this time (epoch ms) is forgotten: the
    /// submission makes a new run.
    pub idempotency_since_ms: i64,
}

#[derive(Debug, Clone)]
pub enum AdmitOutcome {
    Created(Run),
    /// The idempotency key was used before: that run.
    Existing(Run),
    ConcurrencyLimit {
        active: i64,
        limit: i64,
    },
    QuotaExhausted {
        metric: &'static str,
        used: i64,
        limit: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub id: RunId,
    pub workspace_id: WorkspaceId,
    pub agent_name: AgentName,
    pub status: RunStatus,
    pub input: String,
    /// JSON object, as submitted.
    pub metadata: Option<String>,
    pub result: Option<String>,
    /// A structured answer, as JSON text (see [`RunFinish::result_json`]).
    pub result_json: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
    pub workflow_id: String,
    /// Where the finished run is POSTed, if the client asked.
    pub webhook_url: Option<String>,
    /// JSON array of the event kinds POSTed to the webhook; `None`: `run.completed` only.
    pub webhook_events: Option<String>,
    /// The finished run whose conversation this one continues.
    pub previous_run_id: Option<RunId>,
    /// The run this one reran.
    pub rerun_of: Option<RunId>,
    /// Messages copied from the previous run's conversation (they come first).
    pub prior_messages: i64,
    pub step: i64,
    pub usage: UsageTotals,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub updated_at: i64,
    /// The run's workflow is not started yet: a dispatcher starts it (see
    /// [`crate::dispatch`]).
    pub start_pending: bool,
    /// Why it is not started yet, when a dispatcher tried (`scheduler_unavailable`).
    pub start_error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NewRun<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub agent_name: &'a str,
    pub input: &'a str,
    pub metadata: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    /// Hash of the request body, so a reused idempotency key with another body is detected.
    pub request_hash: Option<&'a str>,
    pub workflow_id: &'a str,
    pub webhook_url: Option<&'a str>,
    /// JSON array of event kinds.
    pub webhook_events: Option<&'a str>,
    /// A finished run of the workspace whose conversation the new run continues: admission
    /// copies it (see [`crate::continuation`]).
    pub previous_run_id: Option<&'a str>,
    pub rerun_of: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub enum InsertRunOutcome {
    Created(Run),
    /// A run with this idempotency key already exists in the workspace.
    Existing(Run),
}

#[derive(Debug, Clone)]
pub struct RunFinish<'a> {
    pub status: RunStatus,
    pub result: Option<&'a str>,
    /// A structured answer, as JSON text (valid for the run's `output_schema`).
    pub result_json: Option<&'a str>,
    pub error_code: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub step: i64,
}

pub(crate) const COLUMNS: &str = "id, workspace_id, agent_name, status, input, metadata, result, result_json, error_code, \
    error_message, idempotency_key, request_hash, workflow_id, webhook_url, webhook_events, \
    previous_run_id, rerun_of, prior_messages, step, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, tool_calls, agent_ms, cost_micro_usd, created_at, \
    started_at, finished_at, updated_at, dispatch_state, dispatch_error";

impl Run {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: parsed(row, "id", RunId::parse)?,
            workspace_id: parsed(row, "workspace_id", WorkspaceId::parse)?,
            agent_name: parsed(row, "agent_name", AgentName::parse)?,
            status: parsed(row, "status", |s| {
                RunStatus::parse(s).ok_or("unknown status")
            })?,
            input: row.try_get("input")?,
            metadata: row.try_get("metadata")?,
            result: row.try_get("result")?,
            result_json: row.try_get("result_json")?,
            error_code: row.try_get("error_code")?,
            error_message: row.try_get("error_message")?,
            idempotency_key: row.try_get("idempotency_key")?,
            request_hash: row.try_get("request_hash")?,
            workflow_id: row.try_get("workflow_id")?,
            webhook_url: row.try_get("webhook_url")?,
            webhook_events: row.try_get("webhook_events")?,
            previous_run_id: optional_id(row, "previous_run_id")?,
            rerun_of: optional_id(row, "rerun_of")?,
            prior_messages: row.try_get("prior_messages")?,
            step: row.try_get("step")?,
            usage: UsageTotals {
                input_tokens: row.try_get("input_tokens")?,
                output_tokens: row.try_get("output_tokens")?,
                cache_read_tokens: row.try_get("cache_read_tokens")?,
                cache_write_tokens: row.try_get("cache_write_tokens")?,
                tool_calls: row.try_get("tool_calls")?,
                agent_ms: row.try_get("agent_ms")?,
                cost_micro_usd: row.try_get("cost_micro_usd")?,
            },
            created_at: row.try_get("created_at")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
            updated_at: row.try_get("updated_at")?,
            start_pending: row
                .try_get::<Option<String>, _>("dispatch_state")?
                .as_deref()
                == Some("pending"),
            start_error: row.try_get("dispatch_error")?,
        })
    }

    pub fn is_terminal(&self) -> bool {
        self.status.is_terminal()
    }
}

/// A nullable run id column, checked like the others.
fn optional_id(row: &AnyRow, column: &str) -> Result<Option<RunId>> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| RunId::parse(&t).map_err(|e| StoreError::Corrupt(format!("{column} {t:?}: {e}"))))
        .transpose()
}

impl Store {
    /// Inserts a `queued` run. With an idempotency key that the workspace already used, nothing
    /// is written and the existing run comes back instead, even under concurrent submissions.
    pub async fn insert_run(&self, new: NewRun<'_>) -> Result<InsertRunOutcome> {
        let mut tx = self.tenant(new.workspace_id).await?;
        let outcome = insert_run_in(&mut tx, &new).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Admits a run: under the workspace's lock, so concurrent submissions cannot overtake
    /// each other, checks the concurrency cap and the period's quotas, then inserts it
    /// `queued`. A reused idempotency key returns the existing run without counting it again.
    pub async fn admit_run(&self, new: NewRun<'_>, limits: &Admission) -> Result<AdmitOutcome> {
        self.admit_and_queue(new, limits, |_| None).await
    }

    /// [`Self::admit_run`], and a created run's start request queued in the same transaction:
    /// `start` gives the request (and the dispatcher's lease on it, epoch ms) for the row as
    /// inserted, so a run is never committed without its start (an outage between two
    /// statements would leave it so).
    pub async fn admit_and_queue(
        &self,
        new: NewRun<'_>,
        limits: &Admission,
        start: impl FnOnce(&Run) -> Option<(String, i64)>,
    ) -> Result<AdmitOutcome> {
        let mut tx = self.tenant(new.workspace_id).await?;
        // The write comes first: it takes the workspace row's lock (Postgres) or the database
        // write lock (SQLite) before anything is counted.
        let locked = sqlx::query("UPDATE workspaces SET admissions = admissions + 1 WHERE id = $1")
            .bind(new.workspace_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if locked == 0 {
            return Err(StoreError::NotFound("workspace"));
        }
        if let Some(key) = new.idempotency_key {
            let existing = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM runs WHERE workspace_id = $1 AND idempotency_key = $2"
            ))
            .bind(new.workspace_id)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = existing {
                let run = Run::from_row(&row)?;
                if run.created_at >= limits.idempotency_since_ms {
                    tx.rollback().await?;
                    return Ok(AdmitOutcome::Existing(run));
                }
                // The key expired: the old run lets go of it.
                sqlx::query(
                    "UPDATE runs SET idempotency_key = NULL WHERE workspace_id = $1 AND id = $2",
                )
                .bind(new.workspace_id)
                .bind(run.id.as_str())
                .execute(&mut *tx)
                .await?;
            }
        }
        if let Some(limit) = limits.max_active_runs {
            let active: i64 = sqlx::query(&format!(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM runs \
                 WHERE workspace_id = $1 AND status IN {}",
                *ACTIVE_SQL
            ))
            .bind(new.workspace_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            if active >= limit {
                tx.rollback().await?;
                return Ok(AdmitOutcome::ConcurrencyLimit { active, limit });
            }
        }
        if limits.max_tokens.is_some() || limits.max_agent_ms.is_some() {
            let used = crate::usage::usage_since(&mut tx, new.workspace_id, limits.period_start_ms)
                .await?;
            if let Some(limit) = limits.max_tokens
                && used.tokens() >= limit
            {
                tx.rollback().await?;
                return Ok(AdmitOutcome::QuotaExhausted {
                    metric: "tokens",
                    used: used.tokens(),
                    limit,
                });
            }
            if let Some(limit) = limits.max_agent_ms
                && used.agent_ms >= limit
            {
                tx.rollback().await?;
                return Ok(AdmitOutcome::QuotaExhausted {
                    metric: "agent_ms",
                    used: used.agent_ms,
                    limit,
                });
            }
        }
        let outcome = insert_run_in(&mut tx, &new).await?;
        let outcome = match outcome {
            InsertRunOutcome::Created(mut run) => {
                if let Some(previous) = new.previous_run_id {
                    run.prior_messages =
                        crate::continuation::copy_conversation(&mut tx, &run, previous).await?;
                }
                if let Some((dispatch, lease_until)) = start(&run) {
                    crate::dispatch::queue_start_in(&mut tx, &run, &dispatch, lease_until).await?;
                    run.start_pending = true;
                }
                AdmitOutcome::Created(run)
            }
            InsertRunOutcome::Existing(run) => AdmitOutcome::Existing(run),
        };
        tx.commit().await?;
        Ok(outcome)
    }
}

async fn insert_run_in(tx: &mut Tx, new: &NewRun<'_>) -> Result<InsertRunOutcome> {
    {
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO runs (id, workspace_id, agent_name, status, input, metadata, \
                 idempotency_key, request_hash, workflow_id, webhook_url, created_at, updated_at, \
                 webhook_events, previous_run_id, rerun_of) \
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $10, $9, $9, $11, $12, $13) \
             ON CONFLICT (workspace_id, idempotency_key) DO NOTHING",
        )
        .bind(new.id)
        .bind(new.workspace_id)
        .bind(new.agent_name)
        .bind(new.input)
        .bind(new.metadata)
        .bind(new.idempotency_key)
        .bind(new.request_hash)
        .bind(new.workflow_id)
        .bind(now)
        .bind(new.webhook_url)
        .bind(new.webhook_events)
        .bind(new.previous_run_id)
        .bind(new.rerun_of)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            crate::run_filters::index_metadata(tx, new).await?;
        }
        let (query, value) = if inserted == 1 {
            ("id", new.id)
        } else {
            (
                "idempotency_key",
                new.idempotency_key.ok_or(StoreError::Conflict("run id"))?,
            )
        };
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM runs WHERE workspace_id = $1 AND {query} = $2"
        ))
        .bind(new.workspace_id)
        .bind(value)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound("run"))?;
        let run = Run::from_row(&row)?;
        Ok(if inserted == 1 {
            InsertRunOutcome::Created(run)
        } else {
            InsertRunOutcome::Existing(run)
        })
    }
}

impl Store {
    pub async fn run(&self, workspace_id: &str, run_id: &str) -> Result<Option<Run>> {
        let sql = format!("SELECT {COLUMNS} FROM runs WHERE workspace_id = $1 AND id = $2");
        let statement = sqlx::query(&sql).bind(workspace_id).bind(run_id);
        let row = self.tenant_optional(workspace_id, statement).await?;
        row.as_ref().map(Run::from_row).transpose()
    }

    /// Removes a run whose workflow could not be started, so no row stays `queued` forever and
    /// a retry with the same idempotency key can try again.
    pub async fn delete_unstarted_run(&self, workspace_id: &str, run_id: &str) -> Result<bool> {
        let mut tx = self.tenant(workspace_id).await?;
        // A continuation's copied conversation goes with it (its metadata rows cascade).
        sqlx::query(
            "DELETE FROM run_messages WHERE workspace_id = $1 AND run_id = $2 \
               AND EXISTS (SELECT 1 FROM runs r WHERE r.workspace_id = $1 AND r.id = $2 \
               AND r.status = 'queued' \
               AND NOT EXISTS (SELECT 1 FROM run_events e WHERE e.run_id = r.id))",
        )
        .bind(workspace_id)
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query(
            "DELETE FROM runs WHERE workspace_id = $1 AND id = $2 AND status = 'queued' \
               AND NOT EXISTS (SELECT 1 FROM run_events e WHERE e.run_id = runs.id)",
        )
        .bind(workspace_id)
        .bind(run_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(deleted == 1)
    }

    /// Moves a live run to `status` (running, waiting_input, …). Terminal runs are left alone;
    /// returns whether the row changed.
    pub async fn set_run_status(
        &self,
        workspace_id: &str,
        run_id: &str,
        status: RunStatus,
        step: i64,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE runs SET status = $1, step = $2, updated_at = $3, \
                 started_at = COALESCE(started_at, $3) \
             WHERE workspace_id = $4 AND id = $5 AND status NOT IN {}",
            *TERMINAL_SQL
        );
        let statement = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(step)
            .bind(now_ms())
            .bind(workspace_id)
            .bind(run_id);
        Ok(self.tenant_execute(workspace_id, statement).await? == 1)
    }

    /// Records a run's end. Only the first finish counts: a retried activity finds the run
    /// already terminal and changes nothing. Returns whether this call finished it.
    pub async fn finish_run(
        &self,
        workspace_id: &str,
        run_id: &str,
        finish: RunFinish<'_>,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE runs SET status = $1, result = $2, error_code = $3, error_message = $4, \
                 step = $5, finished_at = $6, updated_at = $6, \
                 started_at = COALESCE(started_at, $6), result_json = $9 \
             WHERE workspace_id = $7 AND id = $8 AND status NOT IN {}",
            *TERMINAL_SQL
        );
        let statement = sqlx::query(&sql)
            .bind(finish.status.as_str())
            .bind(finish.result)
            .bind(finish.error_code)
            .bind(finish.error_message)
            .bind(finish.step)
            .bind(now_ms())
            .bind(workspace_id)
            .bind(run_id)
            .bind(finish.result_json);
        Ok(self.tenant_execute(workspace_id, statement).await? == 1)
    }

    /// How many of the workspace's runs hold a concurrency slot now.
    pub async fn active_runs(&self, workspace_id: &str) -> Result<i64> {
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM runs WHERE workspace_id = $1 AND status IN {}",
            *ACTIVE_SQL
        );
        let statement = sqlx::query(&sql).bind(workspace_id);
        Ok(self.tenant_one(workspace_id, statement).await?.try_get(0)?)
    }

    /// Runs of a workspace with `status` (to resume paused runs, for instance).
    pub async fn runs_with_status(
        &self,
        workspace_id: &str,
        status: RunStatus,
    ) -> Result<Vec<Run>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM runs WHERE workspace_id = $1 AND status = $2 ORDER BY id"
        );
        let statement = sqlx::query(&sql).bind(workspace_id).bind(status.as_str());
        let rows = self.tenant_all(workspace_id, statement).await?;
        rows.iter().map(Run::from_row).collect()
    }

    /// Live runs of every workspace not updated since `before_ms`: candidates for the sweep
    /// that repairs rows of workflows that closed without saying so (timeouts, terminations).
    pub async fn stale_live_runs(&self, before_ms: i64, limit: i64) -> Result<Vec<Run>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM runs WHERE status IN {} AND updated_at < $1 \
                 AND COALESCE(dispatch_state, 'started') = 'started' \
             ORDER BY updated_at LIMIT $2",
            *ACTIVE_SQL
        );
        let rows = self
            .system_all(sqlx::query(&sql).bind(before_ms).bind(limit))
            .await?;
        rows.iter().map(Run::from_row).collect()
    }

    /// Marks a live run as still watched (the sweep found its workflow open).
    pub async fn touch_run(&self, workspace_id: &str, run_id: &str) -> Result<()> {
        let statement =
            sqlx::query("UPDATE runs SET updated_at = $1 WHERE workspace_id = $2 AND id = $3")
                .bind(now_ms())
                .bind(workspace_id)
                .bind(run_id);
        self.tenant_execute(workspace_id, statement).await?;
        Ok(())
    }
}
