//! The sweep: repairs run rows whose workflow closed without recording it. A run's own
//! `finish_run` activity records every ending the workflow sees, but some endings it cannot
//! see: the execution timeout (the tier's longest run), a termination by an operator, a
//! workflow that failed for good. Until repaired, such a row would hold a concurrency slot
//! forever.

use std::time::Duration;

use serde_json::json;
use temporalio_client::{Client, WorkflowExecutionStatus};
use temporalio_common::UntypedWorkflow;

use longrun_domain::{EventKind, RunStatus};
use longrun_store::{NewEvent, RunFinish, Store, now_ms};

/// How long a live run may go without a write before the sweep looks at its workflow.
pub const QUIET_FOR: Duration = Duration::from_secs(120);

/// One pass: looks at up to `batch` quiet live runs; returns how many it repaired.
pub async fn sweep_once(store: &Store, client: &Client, quiet_for: Duration, batch: i64) -> usize {
    let before = now_ms() - quiet_for.as_millis() as i64;
    let runs = match store.stale_live_runs(before, batch).await {
        Ok(runs) => runs,
        Err(err) => {
            tracing::warn!(error = %err, "sweep: cannot list quiet runs");
            return 0;
        }
    };
    let mut repaired = 0;
    for run in runs {
        let handle = client.get_workflow_handle::<UntypedWorkflow>(run.workflow_id.clone());
        let status = match handle.describe(Default::default()).await {
            Ok(description) => Some(description.status()),
            Err(temporalio_client::errors::WorkflowInteractionError::NotFound(_)) => None,
            Err(err) => {
                tracing::warn!(run = %run.id, error = %err, "sweep: cannot describe the workflow");
                continue;
            }
        };
        let ending = match status {
            Some(WorkflowExecutionStatus::Running) => {
                // Alive and merely quiet (waiting for a person, or paused).
                let _ = store.touch_run(&run.workspace_id, &run.id).await;
                continue;
            }
            Some(WorkflowExecutionStatus::TimedOut) => (
                RunStatus::TimedOut,
                "timed_out",
                "the run reached its tier's longest duration",
            ),
            Some(WorkflowExecutionStatus::Terminated) => (
                RunStatus::Failed,
                "terminated",
                "the run's workflow was terminated",
            ),
            Some(WorkflowExecutionStatus::Canceled) => {
                (RunStatus::Cancelled, "cancelled", "the run was cancelled")
            }
            Some(WorkflowExecutionStatus::Completed)
            | Some(WorkflowExecutionStatus::ContinuedAsNew) => {
                // The workflow finished without the row saying so (the store was down at the
                // end). Its result is in Temporal; mark the row for the operator.
                (
                    RunStatus::Failed,
                    "result_not_recorded",
                    "the run finished but its result was not recorded",
                )
            }
            Some(_) => (
                RunStatus::Failed,
                "workflow_failed",
                "the run's workflow failed",
            ),
            None => (
                RunStatus::Failed,
                "workflow_missing",
                "the run's workflow does not exist",
            ),
        };
        let (status, code, message) = ending;
        let finished = store
            .finish_run(
                &run.workspace_id,
                &run.id,
                RunFinish {
                    status,
                    result: None,
                    result_json: None,
                    error_code: Some(code),
                    error_message: Some(message),
                    step: run.step,
                },
            )
            .await;
        if let Ok(true) = finished {
            let data = json!({
                "status": status,
                "result": null,
                "error": { "code": code, "message": message },
                "steps": run.step,
                "repaired": true,
            });
            let _ = store
                .append_event(NewEvent {
                    workspace_id: &run.workspace_id,
                    run_id: &run.id,
                    kind: EventKind::RunCompleted,
                    dedupe_key: "run.completed",
                    data: &data.to_string(),
                })
                .await;
            tracing::info!(run = %run.id, status = status.as_str(), code, "sweep: repaired a run whose workflow closed");
            repaired += 1;
        }
    }
    repaired
}

/// Sweeps every `every` until the process stops.
pub async fn run(store: Store, client: Client, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        sweep_once(&store, &client, QUIET_FOR, 200).await;
    }
}
