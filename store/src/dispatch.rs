//! What waits for Temporal: runs admitted but whose workflow is not started yet, and commands
//! (signals, approvals, cancellations) it could not take at once. Admission never waits for
//! Temporal: it commits the run with what its workflow starts with, and a dispatcher starts
//! it, retrying while Temporal does not answer. Commands wait in `run_commands` and are
//! delivered in order, one run at a time, when it answers.
//!
//! Several dispatchers may run (one per API process): a claim is a lease (`dispatch_after`,
//! `deliver_after` in the future), so two of them rarely do the same work, and when they do
//! (a lease that ran out) a start is idempotent by workflow id and a command by its own key.

use sqlx::Row;

use crate::{Backend, Result, Run, Store, StoreError, Tx, new_id, now_ms};

/// A run waiting for its workflow's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingStart {
    pub run_id: String,
    pub workspace_id: String,
    pub workflow_id: String,
    /// What the workflow starts with (JSON, the API's to read).
    pub dispatch: String,
    /// Tries so far, this one included.
    pub attempts: i64,
}

/// A command waiting for delivery to a run's workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCommand {
    pub id: String,
    pub workspace_id: String,
    pub run_id: String,
    pub workflow_id: String,
    pub kind: String,
    /// JSON, the API's to read.
    pub payload: String,
    pub attempts: i64,
}

/// Queues a run's start in the admission's transaction: the dispatcher that admitted it
/// tries at once (it holds a lease until `lease_until`); any dispatcher after that.
pub(crate) async fn queue_start_in(
    tx: &mut Tx,
    run: &Run,
    dispatch: &str,
    lease_until: i64,
) -> Result<()> {
    let queued = sqlx::query(
        "UPDATE runs SET dispatch_state = 'pending', dispatch = $1, dispatch_after = $2 \
         WHERE workspace_id = $3 AND id = $4",
    )
    .bind(dispatch)
    .bind(lease_until)
    .bind(run.workspace_id.as_str())
    .bind(run.id.as_str())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    match queued {
        1 => Ok(()),
        _ => Err(StoreError::NotFound("run")),
    }
}

impl Store {
    /// Claims up to `limit` runs whose start is due, leasing each until `now + lease_ms`.
    /// Cross-tenant by nature: a dispatcher serves every workspace.
    pub async fn claim_starts(&self, limit: i64, lease_ms: i64) -> Result<Vec<PendingStart>> {
        let now = now_ms();
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            // SQLite's transactions take the write lock at BEGIN: claims queue up anyway.
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE runs SET dispatch_after = $1, dispatch_attempts = dispatch_attempts + 1 \
             WHERE id IN (SELECT id FROM runs WHERE dispatch_state = 'pending' \
                 AND dispatch_after <= $2 ORDER BY dispatch_after LIMIT $3 {lock}) \
             RETURNING id, workspace_id, workflow_id, dispatch, dispatch_attempts"
        );
        let statement = sqlx::query(&sql).bind(now + lease_ms).bind(now).bind(limit);
        let rows = self.system_all(statement).await?;
        rows.iter()
            .map(|row| {
                Ok(PendingStart {
                    run_id: row.try_get("id")?,
                    workspace_id: row.try_get("workspace_id")?,
                    workflow_id: row.try_get("workflow_id")?,
                    dispatch: row
                        .try_get::<Option<String>, _>("dispatch")?
                        .unwrap_or_default(),
                    attempts: row.try_get("dispatch_attempts")?,
                })
            })
            .collect()
    }

    /// The workflow is started: the run stops waiting (its start request is dropped).
    /// `false` only when the run was withdrawn meanwhile (cancelled before it started): the
    /// workflow just started must then be cancelled. A run another dispatcher marked started
    /// already (its lease ran out while this start was slow, and the next claim started the
    /// same workflow id) is started: `true`.
    pub async fn mark_started(&self, workspace_id: &str, run_id: &str) -> Result<bool> {
        let statement = sqlx::query(
            "UPDATE runs SET dispatch_state = 'started', dispatch = NULL, dispatch_error = NULL \
             WHERE workspace_id = $1 AND id = $2 AND dispatch_state IN ('pending', 'started')",
        )
        .bind(workspace_id)
        .bind(run_id);
        Ok(self.tenant_execute(workspace_id, statement).await? == 1)
    }

    /// Takes back a run whose workflow was not started yet (it is cancelled before it
    /// began); whether it was still waiting.
    pub async fn withdraw_start(&self, workspace_id: &str, run_id: &str) -> Result<bool> {
        let statement = sqlx::query(
            "UPDATE runs SET dispatch_state = 'withdrawn', dispatch = NULL \
             WHERE workspace_id = $1 AND id = $2 AND dispatch_state = 'pending'",
        )
        .bind(workspace_id)
        .bind(run_id);
        Ok(self.tenant_execute(workspace_id, statement).await? == 1)
    }

    /// The start failed (Temporal did not answer): tried again at `retry_at`; `reason` is
    /// what clients are told meanwhile.
    pub async fn defer_start(
        &self,
        workspace_id: &str,
        run_id: &str,
        retry_at: i64,
        reason: &str,
    ) -> Result<()> {
        let statement = sqlx::query(
            "UPDATE runs SET dispatch_after = $1, dispatch_error = $2 \
             WHERE workspace_id = $3 AND id = $4 AND dispatch_state = 'pending'",
        )
        .bind(retry_at)
        .bind(reason)
        .bind(workspace_id)
        .bind(run_id);
        self.tenant_execute(workspace_id, statement).await?;
        Ok(())
    }

    /// Whether the run's workflow was started (runs admitted before the dispatcher existed
    /// were started at admission; a withdrawn run never starts, and counts as not started).
    pub async fn is_started(&self, workspace_id: &str, run_id: &str) -> Result<bool> {
        let statement =
            sqlx::query("SELECT dispatch_state FROM runs WHERE workspace_id = $1 AND id = $2")
                .bind(workspace_id)
                .bind(run_id);
        let row = self
            .tenant_optional(workspace_id, statement)
            .await?
            .ok_or(StoreError::NotFound("run"))?;
        let state: Option<String> = row.try_get(0)?;
        Ok(matches!(state.as_deref(), None | Some("started")))
    }

    /// Queues a command for a run's workflow; its id.
    pub async fn queue_command(
        &self,
        workspace_id: &str,
        run_id: &str,
        kind: &str,
        payload: &str,
    ) -> Result<String> {
        let id = new_id("cmd");
        let now = now_ms();
        let statement = sqlx::query(
            "INSERT INTO run_commands (id, workspace_id, run_id, kind, payload, created_at, \
                 deliver_after) \
             SELECT $1, $2, $3, $4, $5, $6, $6 FROM runs WHERE workspace_id = $2 AND id = $3",
        )
        .bind(&id)
        .bind(workspace_id)
        .bind(run_id)
        .bind(kind)
        .bind(payload)
        .bind(now);
        match self.tenant_execute(workspace_id, statement).await? {
            1 => Ok(id),
            _ => Err(StoreError::NotFound("run")),
        }
    }

    /// Whether commands of the run wait for delivery: a new one must then wait behind them,
    /// so the run sees them in order.
    pub async fn has_queued_commands(&self, workspace_id: &str, run_id: &str) -> Result<bool> {
        let statement = sqlx::query(
            "SELECT 1 FROM run_commands \
             WHERE workspace_id = $1 AND run_id = $2 AND delivered_at IS NULL",
        )
        .bind(workspace_id)
        .bind(run_id);
        Ok(self
            .tenant_optional(workspace_id, statement)
            .await?
            .is_some())
    }

    /// Claims up to `limit` due commands, the oldest waiting one of each started run only (a
    /// run's commands go one at a time, in order), leasing each until `now + lease_ms`.
    /// Cross-tenant by nature.
    pub async fn claim_commands(&self, limit: i64, lease_ms: i64) -> Result<Vec<PendingCommand>> {
        let now = now_ms();
        let statement = sqlx::query(
            "UPDATE run_commands SET deliver_after = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT c.id FROM run_commands c JOIN runs r ON r.id = c.run_id \
                 WHERE c.delivered_at IS NULL AND c.deliver_after <= $2 \
                   AND COALESCE(r.dispatch_state, 'started') = 'started' \
                   AND NOT EXISTS (SELECT 1 FROM run_commands e WHERE e.run_id = c.run_id \
                       AND e.delivered_at IS NULL AND e.id < c.id) \
                 ORDER BY c.id LIMIT $3) \
             RETURNING id, workspace_id, run_id, kind, payload, attempts",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit);
        let rows = self.system_all(statement).await?;
        let mut commands = Vec::with_capacity(rows.len());
        for row in &rows {
            let workspace_id: String = row.try_get("workspace_id")?;
            let run_id: String = row.try_get("run_id")?;
            let workflow =
                sqlx::query("SELECT workflow_id FROM runs WHERE id = $1").bind(run_id.as_str());
            let workflow_id: String = self
                .system_optional(workflow)
                .await?
                .ok_or(StoreError::NotFound("run"))?
                .try_get(0)?;
            commands.push(PendingCommand {
                id: row.try_get("id")?,
                workspace_id,
                run_id,
                workflow_id,
                kind: row.try_get("kind")?,
                payload: row.try_get("payload")?,
                attempts: row.try_get("attempts")?,
            });
        }
        Ok(commands)
    }

    /// The command reached the workflow (or was refused by it: `outcome` says how).
    pub async fn command_delivered(
        &self,
        workspace_id: &str,
        id: &str,
        outcome: Option<&str>,
    ) -> Result<()> {
        let statement = sqlx::query(
            "UPDATE run_commands SET delivered_at = $1, outcome = $2 \
             WHERE workspace_id = $3 AND id = $4",
        )
        .bind(now_ms())
        .bind(outcome)
        .bind(workspace_id)
        .bind(id);
        self.tenant_execute(workspace_id, statement).await?;
        Ok(())
    }

    /// Delivery failed (Temporal did not answer): tried again at `retry_at`.
    pub async fn defer_command(&self, workspace_id: &str, id: &str, retry_at: i64) -> Result<()> {
        let statement = sqlx::query(
            "UPDATE run_commands SET deliver_after = $1 WHERE workspace_id = $2 AND id = $3",
        )
        .bind(retry_at)
        .bind(workspace_id)
        .bind(id);
        self.tenant_execute(workspace_id, statement).await?;
        Ok(())
    }
}
