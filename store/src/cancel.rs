//! Cancellation requests, delivered to workers without Temporal heartbeats.
//!
//! Temporal's cancellation stays the source of truth for the workflow, but it reaches an
//! in-flight activity only through that activity's next heartbeat, and heartbeats are what a
//! waiting run pays for. So the cancel route also stamps the run (`cancel_requested_at`) and
//! notifies: on Postgres with `NOTIFY longrun_cancel` (every worker that runs
//! [`Store::listen_for_events`] hears it), on SQLite through this process's channel, and
//! workers in other processes poll the stamps of the runs they have calls in flight for
//! ([`Store::cancel_requests_among`]).

use sqlx::Row;
use tokio::sync::broadcast;

use crate::runs::TERMINAL_SQL;
use crate::{Backend, Result, Store, now_ms};

pub(crate) const CHANNEL: &str = "longrun_cancel";

/// Most run ids one polling query asks about.
pub const MAX_POLLED_RUNS: usize = 500;

impl Store {
    /// Records that a run should stop and tells the workers; whether the run was live (a
    /// finished run is left as it is).
    pub async fn request_cancel(&self, workspace_id: &str, run_id: &str) -> Result<bool> {
        let mut tx = self.tenant(workspace_id).await?;
        let sql = format!(
            "UPDATE runs SET cancel_requested_at = COALESCE(cancel_requested_at, $1) \
             WHERE workspace_id = $2 AND id = $3 AND status NOT IN {}",
            *TERMINAL_SQL
        );
        let live = sqlx::query(&sql)
            .bind(now_ms())
            .bind(workspace_id)
            .bind(run_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if live && self.backend == Backend::Postgres {
            // Delivered on commit.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(run_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        if live {
            // This process's workers (on Postgres the NOTIFY reaches them too; twice is fine).
            let _ = self.cancels.send(run_id.to_string());
        }
        Ok(live)
    }

    /// The runs among `run_ids` whose cancellation was requested: what a worker polls for the
    /// runs it has calls in flight for, where no notification reaches it (SQLite across
    /// processes) or one may have been missed (a LISTEN connection that reconnected).
    /// Cross-tenant by nature: a worker serves every workspace. At most
    /// [`MAX_POLLED_RUNS`] ids are asked about.
    pub async fn cancel_requests_among(&self, run_ids: &[String]) -> Result<Vec<String>> {
        let run_ids = &run_ids[..run_ids.len().min(MAX_POLLED_RUNS)];
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=run_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id FROM runs WHERE id IN ({}) AND cancel_requested_at IS NOT NULL",
            placeholders.join(", ")
        );
        let mut statement = sqlx::query(&sql);
        for id in run_ids {
            statement = statement.bind(id.as_str());
        }
        let rows = self.system_all(statement).await?;
        rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
    }

    /// Run ids whose cancellation was requested, as this process hears of them (see the
    /// module's documentation). Deliveries are hints: pollers catch what a lagging
    /// subscriber misses.
    pub fn subscribe_cancellations(&self) -> broadcast::Receiver<String> {
        self.cancels.subscribe()
    }
}
